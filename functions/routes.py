"""Path routing for the three functions-framework targets and the local all-in-one server.

Each target receives every path (functions-framework does no routing), so each routes itself;
the local server is simply the union of their routes plus the local object downloads. Each route names
its handler and the door (the handler's dependencies) it is called with; unknown paths and methods are
DumpErrors too, answered by `functions.http` like every other error.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from werkzeug.exceptions import MethodNotAllowed as NoMethod, NotFound as NoRoute
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from functions.core.cors import CorsPolicy
from functions.core.errors import MethodNotAllowed, NotFound
from functions.dump import DumpDoor, handle_dump
from functions.http import error_response, json_response
from functions.objects import ObjectsDoor, handle_object
from functions.prewarm import PrewarmDoor, handle_prewarm
from functions.stream import StreamDoor, handle_follow, handle_stream
from functions.worker_door import WorkerDoor, handle_task_request


OPENAPI = Path(__file__).with_name("openapi.json")


@dataclass(frozen=True)
class Doors:
    """Each door's dependencies, built by `functions.wiring`."""

    backend: str
    cors: CorsPolicy  # CORS_ORIGINS: headers on every answer of the dump function, and its preflights
    dump: DumpDoor
    worker: WorkerDoor
    stream: StreamDoor
    prewarm: PrewarmDoor
    objects: ObjectsDoor | None  # the local backend's signed downloads (served by the local server only)


def _healthz(request: Request, backend: str) -> Response:
    return json_response({"status": "ok", "backend": backend})


@functools.cache
def _openapi_bytes() -> bytes:
    return OPENAPI.read_bytes()


def _openapi(request: Request, backend: str) -> Response:
    """The HTTP API's description (tests/test_openapi.py keeps it in step with these route tables)."""
    return Response(_openapi_bytes(), content_type="application/json")


DUMP_RULES = [
    Rule("/healthz", endpoint=(_healthz, "backend"), methods=["GET", "HEAD"]),
    Rule("/openapi.json", endpoint=(_openapi, "backend"), methods=["GET"]),
    Rule("/datastore/dump/prewarm", endpoint=(handle_prewarm, "prewarm"), methods=["POST"]),
    Rule("/datastore/dump/<path:resource_id>", endpoint=(handle_dump, "dump"), methods=["GET", "HEAD"]),
]
WORKER_RULES = [
    Rule("/tasks/export", endpoint=(handle_task_request, "worker"), methods=["POST"]),
    Rule("/", endpoint=(handle_task_request, "worker"), methods=["POST"]),
]
STREAM_RULES = [
    Rule("/stream/<path:resource_id>", endpoint=(handle_stream, "stream"), methods=["GET", "HEAD"]),
    Rule("/follow/<path:resource_id>", endpoint=(handle_follow, "stream"), methods=["GET", "HEAD"]),
]
LOCAL_RULES = [Rule("/_objects/<path:name>", endpoint=(handle_object, "objects"), methods=["GET", "HEAD"])]


def router(*rule_sets: list[Rule], cors: bool = False) -> Callable[[Request, Doors], Response]:
    """`cors`: every answer (routed, 404, 405, errors) carries the CORS headers, and OPTIONS is a preflight."""
    url_map = Map([Rule(r.rule, endpoint=r.endpoint, methods=r.methods) for rules in rule_sets for r in rules],
                  strict_slashes=False, merge_slashes=False)

    def dispatch(request: Request, doors: Doors) -> Response:
        if not cors:
            return route(request, doors)
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS":
            return Response(status=204, headers=doors.cors.preflight_headers(
                origin, request.headers.get("Access-Control-Request-Method"),
                request.headers.get("Access-Control-Request-Headers")))
        response = route(request, doors)
        for name, value in doors.cors.response_headers(origin).items():
            if name == "Vary":
                response.vary.add(value)
            else:
                response.headers[name] = value
        return response

    def route(request: Request, doors: Doors) -> Response:
        adapter = url_map.bind("bqdump.invalid")  # paths only: the Host header is the caller's, unchecked
        try:
            (handler, door), arguments = adapter.match(request.path, method=request.method)
        except NoMethod as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            return error_response(MethodNotAllowed(f"{request.method} is not allowed here.", f"Use {allowed}.",
                                                   headers={"Allow": allowed}))
        except NoRoute:
            return error_response(NotFound(f"Nothing is served at {request.path}.",
                                           "Download a table from /datastore/dump/<resource_id>?format=csv."))
        served = getattr(doors, door)
        if served is None:  # the local server over the Google backend: downloads are Cloud Storage's
            return error_response(NotFound(f"Nothing is served at {request.path}.",
                                           "Follow the signed URL the dump URL redirects to."))
        return handler(request, served, **arguments)

    return dispatch


dump_target = router(DUMP_RULES, cors=True)
worker_target = router(WORKER_RULES)
stream_target = router(STREAM_RULES, cors=True)  # a browser follows the 302 here: same CORS as the bucket
local_target = router(DUMP_RULES, WORKER_RULES, STREAM_RULES, LOCAL_RULES, cors=True)  # LOCAL_RULES: as the bucket's
