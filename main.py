"""Entry points only: three functions-framework targets, and the command line (serve, load, demo).

    functions-framework --target dump            the HTTP function
    functions-framework --target export_worker   the Cloud Tasks worker
    functions-framework --target stream          the streaming function
    python main.py serve | load <rid> <file> | demo
"""

import sys

import flask
import functions_framework

from functions import routes
from functions.host_guard import guard_host
from functions.wiring import app

if __name__ != "__main__":
    app()  # deployed: the whole app is built now, so a missing or malformed setting stops start-up, naming it
    if flask.has_app_context():  # functions-framework runs this module inside its app's context
        flask.current_app.wsgi_app = guard_host(flask.current_app.wsgi_app)  # type: ignore[method-assign]


@functions_framework.http
def dump(request):
    return routes.dump_target(request, app().doors)


@functions_framework.http
def export_worker(request):
    return routes.worker_target(request, app().doors)


@functions_framework.http
def stream(request):
    return routes.stream_target(request, app().doors)


if __name__ == "__main__":
    from functions.cli import main

    sys.exit(main(sys.argv[1:]))
