"""One local process serving all three targets (plus signed object downloads) on 127.0.0.1:$PORT."""

from __future__ import annotations

import json
import logging
from http.client import responses
from typing import Callable

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request

from functions import routes
from functions.core.model import Format
from functions.dump import SERVER_URL
from functions.host_guard import guard_host
from functions.routes import Doors
from functions.wiring import App, app as default_app

log = logging.getLogger("bqdump")


class RedactingRequestHandler(WSGIRequestHandler):
    """Access log without query strings: they carry signatures and streaming tokens."""

    def log_request(self, code="-", size="-") -> None:
        path = getattr(self, "path", None) or "(unparsed request line)"  # unset when the request line is malformed
        self.log("info", '"%s %s" %s %s', self.command or "-", path.split("?", 1)[0], code, size)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server answers requests it cannot parse itself: in HTML, quoting the request line (and any
        signature in it) in the log and the status line. Here: JSON like every other error, quoting nothing."""
        self.log("error", "refused a request the server could not parse: %d", code)
        body = (json.dumps(unparsed_request_error(code)) + "\n").encode()
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # the default before the line is parsed: 0.9 would drop the headers
            self.request_version = "HTTP/1.0"
        self.send_response(code)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def unparsed_request_error(code: int) -> dict:
    return {"error": "invalid_request" if code < 500 else "unsupported",
            "message": f"The HTTP request could not be parsed ({code} {responses.get(code, '')}).".replace(" )", ")"),
            "hint": "Send an HTTP/1.1 request line: METHOD /path?query HTTP/1.1, then headers."}


def wsgi_app(doors: Doors, server_url: Callable[[], str] = lambda: ""):
    @Request.application
    def application(request: Request):
        request.environ[SERVER_URL] = server_url()
        return routes.local_target(request, doors)

    return guard_host(application)


def make_local_server(doors: Doors, host: str = "127.0.0.1", port: int = 0):
    """A threaded server; port 0 picks a free one (tests read `server.port`). Links point at the bound address."""
    bound: list[str] = []
    server = make_server(host, port, wsgi_app(doors, lambda: bound[0]), threaded=True,
                         request_handler=RedactingRequestHandler)
    shown = f"[{host}]" if ":" in host else host
    bound.append(f"http://{shown}:{server.port}")
    return server


def serving_words(base: str, tables: list[str]) -> str:
    """What `make run` shows once it serves: a download URL per table, and one per format for the first."""
    lines = [f"bqdump serving on {base}  (health: {base}/healthz; Ctrl-C stops it)"]
    if not tables:
        return "\n".join(lines + ["  no tables yet: python main.py load <resource_id> <file> (python main.py load "
                                   "--help lists the formats), then", f"  {base}/datastore/dump/<resource_id>?format=csv"])
    lines += [f"  {base}/datastore/dump/{table}?format=csv" for table in tables]
    lines.append(f"  every format (add &compression=gzip to any but parquet, &bom=true for Excel), e.g. {tables[0]}:")
    lines += [f"  {base}/datastore/dump/{tables[0]}?format={fmt.value}" for fmt in Format if fmt is not Format.CSV]
    return "\n".join(lines)


def serve(port: int) -> None:
    built: App = default_app()
    server = make_local_server(built.doors, "127.0.0.1", port)
    base = f"http://127.0.0.1:{server.port}"
    print(serving_words(base, built.catalogue.list_tables()), flush=True)  # flushed: make run may be piped
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        built.close()
