"""Path routing for the three functions-framework targets and the local all-in-one server.

Each target receives every path (functions-framework does no routing), so each routes itself;
the local server is simply the union of their routes plus the local object downloads.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

from werkzeug.exceptions import MethodNotAllowed, NotFound as NoRoute
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from functions.dump import handle_dump
from functions.http import json_response
from functions.objects import handle_object
from functions.prewarm import handle_prewarm
from functions.services import Services
from functions.stream import handle_stream
from jobs.export_worker import handle_task_request


OPENAPI = Path(__file__).with_name("openapi.json")


def _healthz(request: Request, services: Services) -> Response:
    return json_response({"status": "ok", "backend": services.config.backend})


@functools.cache
def _openapi_bytes() -> bytes:
    return OPENAPI.read_bytes()


def _openapi(request: Request, services: Services) -> Response:
    """The HTTP API's description (tests/test_openapi.py keeps it in step with these route tables)."""
    return Response(_openapi_bytes(), content_type="application/json")


DUMP_RULES = [
    Rule("/healthz", endpoint=_healthz, methods=["GET", "HEAD"]),
    Rule("/openapi.json", endpoint=_openapi, methods=["GET"]),
    Rule("/datastore/dump/prewarm", endpoint=handle_prewarm, methods=["POST"]),
    Rule("/datastore/dump/<path:resource_id>", endpoint=handle_dump, methods=["GET", "HEAD"]),
]
WORKER_RULES = [
    Rule("/tasks/export", endpoint=handle_task_request, methods=["POST"]),
    Rule("/", endpoint=handle_task_request, methods=["POST"]),
]
STREAM_RULES = [Rule("/stream/<path:resource_id>", endpoint=handle_stream, methods=["GET", "HEAD"])]
LOCAL_RULES = [Rule("/_objects/<path:name>", endpoint=handle_object, methods=["GET", "HEAD"])]


def router(*rule_sets: list[Rule]) -> Callable[[Request, Services], Response]:
    url_map = Map([Rule(r.rule, endpoint=r.endpoint, methods=r.methods) for rules in rule_sets for r in rules],
                  strict_slashes=False, merge_slashes=False)

    def dispatch(request: Request, services: Services) -> Response:
        adapter = url_map.bind("bqdump.invalid")  # paths only: the Host header is the caller's, unchecked
        try:
            endpoint, arguments = adapter.match(request.path, method=request.method)
        except MethodNotAllowed as exc:
            return json_response({"error": "method_not_allowed", "message": f"{request.method} is not allowed here.",
                                  "hint": f"Use {', '.join(sorted(exc.valid_methods or []))}."}, 405,
                                 {"Allow": ", ".join(sorted(exc.valid_methods or []))})
        except NoRoute:
            return json_response({"error": "not_found", "message": f"Nothing is served at {request.path}.",
                                  "hint": "Download a table from /datastore/dump/<resource_id>?format=csv."}, 404)
        return endpoint(request, services, **arguments)

    return dispatch


dump_target = router(DUMP_RULES)
worker_target = router(WORKER_RULES)
stream_target = router(STREAM_RULES)
local_target = router(DUMP_RULES, WORKER_RULES, STREAM_RULES, LOCAL_RULES)
