"""Shared fixtures: real local services over real files, and the local server on a free port."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import settings


from functions.local_server import make_local_server
from functions.services import build_services

DATA = Path(__file__).parent / "data"

# Property tests: enough examples to meet the rare classes (Unicode digits, 5,000-digit numbers); no
# per-example deadline, since two cores are shared with other work.
settings.register_profile("bqdump", max_examples=300, deadline=None)
settings.load_profile("bqdump")


def local_env(root: Path, **overrides) -> dict:
    env = {"DUMP_LOCAL_DIR": str(root), "DUMP_BACKEND": "local", "DUMP_TOKEN_SECRET": "test-secret",
           "DUMP_WAIT_SECONDS": "10"}
    env.update({key: str(value) for key, value in overrides.items()})
    return env


@pytest.fixture
def make_services(tmp_path):
    built = []

    def make(**overrides):
        services = build_services(local_env(tmp_path / f"bqdump{len(built)}", **overrides))
        built.append(services)
        return services

    yield make
    for services in built:
        services.close()


class LiveServer:
    def __init__(self, services):
        self.services = services
        self.server = make_local_server(services, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def serve():
    """serve(services) starts the local server on a free port; the test's teardown stops it."""
    servers = []

    def start(services) -> LiveServer:
        live = LiveServer(services).__enter__()
        servers.append(live)
        return live

    yield start
    for live in servers:
        live.__exit__()


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "".join(row + "\n" for row in rows))
    return path
