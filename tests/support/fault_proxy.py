"""A reverse proxy for tests and benchmarks, put in front of an emulator to make its calls slow or faulty.

    with FaultProxy(gcs_emulator.endpoint, delay=0.05) as proxy:   # client api_endpoint=proxy.url
        proxy.add_fault("GET", r"/o/.*alt=media", CUT, nth=2)      # the 2nd download is cut mid-body
        ...
        proxy.count("GET", r"/storage/v1/b/[^/]+/o\\?")             # how many object listings went through

Every call waits `delay` seconds before it is forwarded. A fault matches by method ("*": any) and a regex
searched in the path with its query; `nth` (1-based) picks one matching call, None every one. Faults:
ERROR answers `status` without asking the emulator; STALL holds the call `stall_seconds` (or until the proxy
stops) then drops the connection unanswered; CUT forwards the call, sends the response's headers and
`cut_after` bytes of its body (default: half), then drops the connection.

Response bodies stream through in 64 KiB pieces (request bodies, i.e. uploads, are read whole before they
are forwarded); only JSON answers (metadata, at most 1 MiB) are read whole, to
point the emulator's own address in them (fake-gcs-server's mediaLink, resumable upload Locations) back
at the proxy, so no call goes around it. Runs in threads of the caller's process on a free 127.0.0.1 port.
"""

from __future__ import annotations

import http.client
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit
from tests.support.servers import ServerThread

ERROR, STALL, CUT = "error", "stall", "cut"
PIECE = 64 * 1024
REWRITE_LIMIT = 1 << 20
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade"}


@dataclass
class Fault:
    method: str
    path: re.Pattern
    action: str
    nth: int | None = None
    status: int = 503
    stall_seconds: float = 60.0
    cut_after: int | None = None
    matched: int = 0

    def applies(self, method: str, target: str) -> bool:
        """Counts the call if it matches; True when this is the call to fail."""
        if self.method not in ("*", method) or not self.path.search(target):
            return False
        self.matched += 1
        return self.nth is None or self.matched == self.nth


class FaultProxy:
    def __init__(self, upstream: str, delay: float = 0.0, timeout: float = 120.0):
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname, parts.port
        self.delay, self.timeout = delay, timeout
        self.calls: list[tuple[str, str]] = []  # (method, path?query) in arrival order
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._running: ServerThread | None = None

    def start(self) -> "FaultProxy":
        self._running = ServerThread(self._server, f"fault-proxy-{self.port}")
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._running is not None:
            self._running.stop()
        with self._lock:
            for sock in list(self._open):  # idle keep-alive connections: their threads stop reading
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def add_fault(self, method: str, path: str, action: str, *, nth: int | None = None, status: int = 503,
                  stall_seconds: float = 60.0, cut_after: int | None = None) -> Fault:
        if action not in (ERROR, STALL, CUT):
            raise ValueError(f"unknown fault {action!r}")
        fault = Fault(method.upper(), re.compile(path), action, nth, status, stall_seconds, cut_after)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()

    def count(self, method: str, path: str) -> int:
        """Calls so far whose method matches ("*": any) and whose path with query contains a match of `path`."""
        pattern = re.compile(path)
        with self._lock:
            return sum(1 for m, t in self.calls if method in ("*", m) and pattern.search(t))

    def _arrived(self, method: str, target: str) -> Fault | None:
        with self._lock:
            self.calls.append((method, target))
            chosen = None
            for fault in self._faults:
                if fault.applies(method, target) and chosen is None:
                    chosen = fault
            return chosen


def _handler(proxy: FaultProxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else headers and body in two writes wait for a delayed ACK (40 ms)
        upstream: http.client.HTTPConnection | None = None

        def setup(self):
            super().setup()
            with proxy._lock:
                proxy._open.add(self.connection)

        def finish(self):
            with proxy._lock:
                proxy._open.discard(self.connection)
            if self.upstream is not None:
                self.upstream.close()
            try:
                super().finish()
            except OSError:
                pass

        def log_message(self, *args):
            pass

        def do_any(self):
            body = self._request_body()
            fault = proxy._arrived(self.command, self.path)
            if proxy.delay:
                time.sleep(proxy.delay)
            if fault and fault.action == ERROR:
                return self._answer_error(fault.status)
            if fault and fault.action == STALL:
                proxy._stopping.wait(fault.stall_seconds)
                self.close_connection = True
                return
            try:
                response = self._forward(body)
            except OSError:
                self._answer_error(502)
                return
            try:
                self._relay(response, fault.cut_after if fault else None, cut=bool(fault))
            except OSError:  # the client went away, or the emulator did mid-body: drop both ends quietly
                self.close_connection = True
                if self.upstream is not None:
                    self.upstream.close()
                    self.upstream = None

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_any

        def _request_body(self) -> bytes | None:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                pieces = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(pieces)
                    pieces.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else None

        def _forward(self, body: bytes | None) -> http.client.HTTPResponse:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Host"] = f"{proxy.upstream_host}:{proxy.upstream_port}"
            if body is not None:
                headers["Content-Length"] = str(len(body))
            for attempt in (1, 2):  # a kept-alive upstream connection may have been closed by the emulator
                if self.upstream is None:
                    self.upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port,
                                                               timeout=proxy.timeout)
                    self.upstream.connect()
                    self.upstream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                try:
                    self.upstream.request(self.command, self.path, body=body, headers=headers)
                    return self.upstream.getresponse()
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                    self.upstream.close()
                    self.upstream = None
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

        def _relay(self, response: http.client.HTTPResponse, cut_after: int | None, cut: bool) -> None:
            headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            no_body = self.command == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200
            rewrite = (not no_body and "json" in (response.getheader("Content-Type") or "")
                       and int(response.getheader("Content-Length") or REWRITE_LIMIT + 1) <= REWRITE_LIMIT)
            if no_body:
                response.read()
                response.close()
                self._send_head(response.status, response.reason, headers)
                return
            if rewrite:
                data = self._pointed_at_proxy(response.read())
                response.close()
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(data))))
                self._send_head(response.status, response.reason, headers)
                if cut:
                    self.wfile.write(data[:len(data) // 2 if cut_after is None else cut_after])
                    return self._drop()
                self.wfile.write(data)
                return
            length = response.getheader("Content-Length")
            chunked = length is None
            if chunked:
                headers.append(("Transfer-Encoding", "chunked"))
            self._send_head(response.status, response.reason, headers)
            limit = None
            if cut:
                limit = cut_after if cut_after is not None else (int(length) // 2 if length else PIECE)
            sent = 0
            try:
                while True:
                    piece = response.read1(PIECE) if limit is None else response.read1(min(PIECE, limit - sent))
                    if not piece:
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                    sent += len(piece)
                    if limit is not None and sent >= limit:
                        return self._drop()
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
                if cut:
                    self._drop()
            finally:
                response.close()
                if cut and self.upstream is not None:
                    self.upstream.close()
                    self.upstream = None

        def _pointed_at_proxy(self, data: bytes) -> bytes:
            own = f"{proxy.upstream_host}:{proxy.upstream_port}".encode()
            return data.replace(own, f"127.0.0.1:{proxy.port}".encode())

        def _send_head(self, status: int, reason: str, headers: list[tuple[str, str]]) -> None:
            self.send_response_only(status, reason)
            for key, value in headers:
                if key.lower() == "location":
                    value = self._pointed_at_proxy(value.encode("latin-1")).decode("latin-1")
                self.send_header(key, value)
            self.end_headers()

        def _answer_error(self, status: int) -> None:
            body = (b'{"error": {"code": %d, "message": "fault proxy: injected error", "errors": []}}' % status)
            self.send_response_only(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _drop(self) -> None:
            """Closes the client's connection at once (RST where the OS allows): a cut, not a clean end."""
            self.close_connection = True
            self.wfile.flush()
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass

    return Handler
