"""Servers in tests bind 127.0.0.1: a free port to hand a process, and a server thread that stops at once."""

from __future__ import annotations

import socket
import threading
import time
from socketserver import BaseServer
from typing import Callable

import requests


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it; bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    """`server.serve_forever` on a daemon thread, stopped by `stop()` without serve_forever's poll.

    The loop blocks in select with no timeout (no 0.5 s wake-ups); `stop()` asks for the shutdown, then opens
    a connection so the loop's select returns, sees the request and ends before accepting that connection.
    """

    def __init__(self, server: BaseServer, name: str = "test-server"):
        self.server = server
        self.port: int = server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=server.serve_forever, args=(None,), name=name, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        stopper = threading.Thread(target=self.server.shutdown, daemon=True)
        stopper.start()
        while stopper.is_alive():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                pass  # the loop ended already and the socket is closing
            stopper.join(0.01)
        self.server.server_close()
        self.thread.join(10)


def wait_serving(url: str, timeout: float = 60, check_alive: Callable[[], None] = lambda: None) -> None:
    """Wait until the server at `url` answers HTTP (GET /healthz; a target without that route answers 404,
    which is serving too). A refused connection or a slow first answer (a busy machine, imports still running)
    means not ready yet; `check_alive` raises when the server's process has died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check_alive()
        try:
            requests.get(url + "/healthz", timeout=(1, 10))
            return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.1)
    check_alive()
    raise AssertionError(f"{url} did not answer within {timeout} s")
