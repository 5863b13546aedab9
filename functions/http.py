"""Error-to-HTTP mapping in one place, and the small response helpers the handlers share."""

from __future__ import annotations

import functools
import json
import logging
import select
import socket
from typing import Mapping, cast

from werkzeug.wrappers import Request, Response

from functions.core import errors
from functions.core.errors import DumpError

log = logging.getLogger("bqdump")

STATUS = {  # the one place a domain error becomes an HTTP status
    errors.InvalidRequest: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.MethodNotAllowed: 405,
    errors.TooLarge: 413,
    errors.RangeNotSatisfiable: 416,
    errors.ExportFailed: 502,
    errors.Unavailable: 503,
}


def headers_of(request: Request) -> Mapping[str, str]:
    """The request's headers as the ports read them: werkzeug's Headers is a case-insensitive read-only mapping,
    which its type hints do not declare."""
    return cast(Mapping[str, str], request.headers)


def status_of(error: DumpError) -> int:
    return next((status for kind, status in STATUS.items() if isinstance(error, kind)), 500)


def json_response(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    """Werkzeug drops the body of a HEAD answer itself and keeps its Content-Length."""
    payload = (json.dumps(body, indent=1) + "\n").encode()
    return Response(payload, status=status, headers=headers or {}, content_type="application/json")


def error_response(error: DumpError) -> Response:
    return json_response(error.body(), status_of(error), error.headers)


def handles_errors(handler):
    """Every DumpError becomes its JSON answer; anything else is logged and answered as JSON too, never as HTML."""

    @functools.wraps(handler)
    def wrapper(request: Request, *args, **kwargs) -> Response:
        try:
            return handler(request, *args, **kwargs)
        except DumpError as error:
            return error_response(error)
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.path)
            return json_response(
                {"error": "internal", "message": "bqdump hit an unexpected error.",
                 "hint": "Try again; if it persists, report it to the portal's administrators."},
                500)

    return wrapper


def wants_html(request: Request) -> bool:
    accept = request.accept_mimetypes
    return accept.best_match(["application/json", "text/html"]) == "text/html" and "text/html" in request.headers.get(
        "Accept", "")


def _socket(environ):
    """The client connection under the WSGI server: werkzeug's (local server) or gunicorn's (functions-framework)."""
    return environ.get("werkzeug.socket") or environ.get("gunicorn.socket")


def client_gone(environ) -> bool:
    """True when the client closed its connection (a read would end): checked between waits, so a follower whose
    client went away ends and frees its thread. Data waiting to be read (a pipelined request) is not an end."""
    connection = _socket(environ)
    if connection is None:
        return False
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def cut_connection(environ) -> None:
    """Ends a response whose headers (and first bytes) went out: the connection is shut down, so the chunked
    body is never terminated and every client reports an incomplete transfer instead of a short file."""
    connection = _socket(environ)
    if connection is not None:
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
