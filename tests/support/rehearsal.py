"""Pieces of the deploy rehearsal: functions-framework processes, and small local stand-ins for what only
Google has (an OAuth token endpoint, OIDC certificates, the OIDC token Cloud Tasks attaches) and for one
emulator gap (bqemulator writes EXPORT DATA files to disk, not to the GCS emulator).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import requests
from google.auth import crypt, jwt
from tests.support.servers import ServerThread


Handler = Callable[[str, str, dict, bytes], tuple[int, dict, bytes]]  # method, path, headers, body -> answer


class LocalHttp:
    """An HTTP server on 127.0.0.1 (free port) in a thread, answering with `handle`; `close()` stops it."""

    def __init__(self, handle: Handler):
        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def _any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, answer = handle(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._running = ServerThread(self._server, "local-http")

    def close(self) -> None:
        self._running.stop()


def json_answer(value, status: int = 200) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(value).encode()


def token_endpoint() -> LocalHttp:
    """OAuth2 token endpoint for a throwaway service-account key (Google's would mint a real access token)."""
    return LocalHttp(lambda *_: json_answer({"access_token": "rehearsal-access-token", "expires_in": 3600,
                                             "token_type": "Bearer"}))


def certs_endpoint(kid: str, certificate_pem: str) -> LocalHttp:
    """OIDC_CERTS_URL of the rehearsal: the test key's certificate where Google publishes its own."""
    return LocalHttp(lambda *_: json_answer({kid: certificate_pem}))


def oidc_token(private_pem: str, kid: str, audience: str, email: str) -> str:
    """The token Cloud Tasks or Cloud Scheduler would attach, signed by the test key instead of Google's."""
    now = int(time.time())
    claims = {"iss": "https://accounts.google.com", "aud": audience, "email": email, "email_verified": True,
              "sub": "rehearsal", "iat": now, "exp": now + 600}
    return jwt.encode(crypt.RSASigner.from_string(private_pem, key_id=kid), claims).decode()


class Relay:
    """Forwards every request to `target`, first adding headers from `extra_headers()` and passing `after`."""

    HOP = {"host", "content-length", "connection", "transfer-encoding", "content-encoding", "keep-alive"}

    def __init__(self, target: Callable[[], str], extra_headers: Callable[[], dict] = dict,
                 after: Callable[[str, str], None] = lambda method, path: None):
        self.forwarded: list[tuple[str, str, int]] = []
        self._session = requests.Session()

        def handle(method, path, headers, body):
            sent = {k: v for k, v in headers.items() if k.lower() not in self.HOP}
            sent.update(extra_headers())
            answer = self._session.request(method, target() + path, headers=sent, data=body, timeout=120)
            after(method, path)
            self.forwarded.append((method, path, answer.status_code))
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in self.HOP}
            return answer.status_code, kept, answer.content

        self._http = LocalHttp(handle)
        self.url = self._http.url

    def close(self) -> None:
        self._http.close()
        self._session.close()


class ExportBridge:
    """EMULATOR BRIDGE: bqemulator writes EXPORT DATA files under `export_root`, not into fake-gcs-server.

    Placed in front of bqemulator as BIGQUERY_API_ENDPOINT, it uploads every new export file of `bucket`
    into fake-gcs-server through the storage API before it answers any jobs call, so a job seen DONE has
    its files in the bucket, as on BigQuery.
    """

    def __init__(self, bigquery_endpoint: str, export_root: Path, bucket):
        self.export_root, self.bucket, self.uploaded = export_root, bucket, set()
        self._lock = threading.Lock()
        self._relay = Relay(lambda: bigquery_endpoint, after=self._after)
        self.url = self._relay.url

    def _after(self, method: str, path: str) -> None:
        if "/jobs" in path or "/queries" in path:
            self.sync()

    def sync(self) -> None:
        folder = self.export_root / self.bucket.name
        with self._lock:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []:
                name = path.relative_to(folder).as_posix()
                if name not in self.uploaded:
                    self.bucket.blob(name).upload_from_filename(str(path))
                    self.uploaded.add(name)

    def close(self) -> None:
        self._relay.close()
