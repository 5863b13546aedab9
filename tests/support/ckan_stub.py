"""A real CKAN stand-in on 127.0.0.1: `resource_show` with a chosen behaviour per resource and token.

Behaviours: allowed (200, success true), denied (403), missing (404), slow (sleeps `slow_seconds`
first), garbage (200, not JSON), no_success (200, JSON without `success`). "Down" is `stop()` or
`unused_port()`. Every request is counted and recorded, thread-safely.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.support.servers import ServerThread

ANY_TOKEN = object()
BEHAVIOURS = ("allowed", "denied", "missing", "slow", "garbage", "no_success")


class CkanStub:
    def __init__(self, slow_seconds: float = 0.5):
        self.slow_seconds = slow_seconds
        self.requests: list[tuple[str, str | None]] = []
        self._rules: dict[tuple[str, object], str] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._running: ServerThread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.requests)

    def behave(self, resource_id: str, behaviour: str, token: object = ANY_TOKEN) -> "CkanStub":
        """`token=None` is the anonymous caller; ANY_TOKEN is the fallback for this resource."""
        assert behaviour in BEHAVIOURS, behaviour
        self._rules[(resource_id, token)] = behaviour
        return self

    def start(self) -> "CkanStub":
        self._running = ServerThread(self._server, "ckan-stub")
        return self

    def stop(self) -> None:
        """Idempotent, so a test may stop the portal itself and the fixture still cleans up."""
        if self._stopped:
            return
        self._stopped = True
        if self._running is not None:
            self._running.stop()

    def _answer(self, resource_id: str, authorization: str | None) -> str:
        with self._lock:
            self.requests.append((resource_id, authorization))
        rule = self._rules.get((resource_id, authorization))
        return rule or self._rules.get((resource_id, ANY_TOKEN), "missing")


@pytest.fixture
def ckan_stub():
    """A started stub, stopped after the test; import it into a test module to use it."""
    stub = CkanStub(slow_seconds=0.5).start()
    yield stub
    stub.stop()


def _handler_for(stub: CkanStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/api/3/action/resource_show":
                return self._send(404, b"<html>Not Found</html>", "text/html")
            resource_id = parse_qs(parts.query).get("id", [""])[0]
            behaviour = stub._answer(resource_id, self.headers.get("Authorization"))
            if behaviour == "slow":
                time.sleep(stub.slow_seconds)
                behaviour = "allowed"
            if behaviour == "garbage":
                return self._send(200, b"<html>Maintenance</html>", "text/html")
            status, body = {
                "allowed": (200, {"success": True, "result": {"id": resource_id}}),
                "denied": (403, {"success": False, "error": {"__type": "Authorization Error"}}),
                "missing": (404, {"success": False, "error": {"__type": "Not Found Error"}}),
                "no_success": (200, {"result": {"id": resource_id}}),
            }[behaviour]
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (a timeout test); nothing to tell it

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
