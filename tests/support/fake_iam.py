"""A stand-in for the IAM Credentials API's signBlob (no emulator has one): signs with a throwaway key.

It answers on a free 127.0.0.1 port in threads of the caller's process, records every call (path,
Authorization header, JSON body) and can wait `delay` seconds before answering, like a remote call.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.contract import keys
from tests.support.servers import ServerThread


class FakeIam:
    def __init__(self, key, delay: float = 0.0):
        self.key, self.delay = key, delay
        self.calls: list[tuple[str, str | None, dict]] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.running = ServerThread(self.server, "fake-iam")

    @property
    def sign_calls(self) -> int:
        with self._lock:
            return len(self.calls)

    def close(self) -> None:
        self.running.stop()

    def __enter__(self) -> "FakeIam":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _handler(fake: FakeIam):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # answer in one round trip, without waiting for a delayed ACK

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with fake._lock:
                fake.calls.append((self.path, self.headers.get("Authorization"), body))
            if fake.delay:
                time.sleep(fake.delay)
            signed = keys.sign(fake.key, base64.b64decode(body["payload"]))
            answer = json.dumps({"keyId": "k1", "signedBlob": keys.b64(signed)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    return Handler
