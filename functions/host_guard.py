"""WSGI middleware for both entry points (the local server, functions-framework's Flask app): a Host header
that is no host name gets a JSON 400 here, before werkzeug's or Flask's own parsing answers HTML or crashes."""

from __future__ import annotations

from functions.core.errors import InvalidRequest
from functions.core.hosts import valid_host
from functions.http import error_response


def guard_host(app):
    def guarded(environ, start_response):
        host = environ.get("HTTP_HOST", "")
        if not valid_host(host.encode("latin-1", "replace").decode("utf-8", "replace")):
            refusal = InvalidRequest("The Host header is not a valid host name.",
                                     "Send this service's own host name (and port) in Host.")
            return error_response(refusal)(environ, start_response)
        return app(environ, start_response)

    return guarded
