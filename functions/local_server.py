"""One local process serving all three targets (plus signed object downloads) on 127.0.0.1:$PORT."""

from __future__ import annotations

import logging

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request

from functions import routes
from functions.routes import Doors
from functions.wiring import App, app as default_app

log = logging.getLogger("bqdump")


class RedactingRequestHandler(WSGIRequestHandler):
    """Access log without query strings: they carry signatures and streaming tokens."""

    def log_request(self, code="-", size="-") -> None:
        self.log("info", '"%s %s" %s %s', self.command, self.path.split("?", 1)[0], code, size)


def wsgi_app(doors: Doors):
    @Request.application
    def application(request: Request):
        return routes.local_target(request, doors)

    return application


def make_local_server(doors: Doors, host: str = "127.0.0.1", port: int = 0):
    """A threaded server; port 0 picks a free one (tests read `server.port`)."""
    return make_server(host, port, wsgi_app(doors), threaded=True, request_handler=RedactingRequestHandler)


def serve(port: int) -> None:
    built: App = default_app()
    server = make_local_server(built.doors, "127.0.0.1", port)
    base = f"http://127.0.0.1:{server.port}"
    tables = built.catalogue.list_tables()
    print(f"bqdump serving on {base}  (health: {base}/healthz)")
    for table in tables or ["<resource_id>"]:
        print(f"  {base}/datastore/dump/{table}?format=csv   (tsv, ndjson, parquet)")
    if not tables:
        print("  no tables yet: python main.py load <resource_id> <file.csv|.ndjson|.parquet>")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        built.close()
