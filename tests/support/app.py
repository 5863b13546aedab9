"""Building the app the way the entry points do (functions.wiring), over real files, and serving it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from functions.local_server import make_local_server
from functions.ports import Backend, ReadOnlyPorts, ReadWritePorts
from functions.routes import Doors
from functions.wiring import App, assemble
from tests.support.servers import ServerThread


def local_env(root: Path, **overrides) -> dict:
    env = {"DUMP_LOCAL_DIR": str(root), "DUMP_BACKEND": "local", "DUMP_TOKEN_SECRET": "test-secret",
           "DUMP_WAIT_SECONDS": "10"}
    env.update({key: str(value) for key, value in overrides.items()})
    return env


class LiveServer:
    """The local server on a free port over `doors` (an App's, or narrower ones a test built)."""

    def __init__(self, doors: Doors):
        self.doors = doors
        self.server = make_local_server(doors, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.running: ServerThread | None = None

    def __enter__(self):
        self.running = ServerThread(self.server, "local-server")
        return self

    def __exit__(self, *exc):
        if self.running is not None:
            self.running.stop()


def with_ports(backend: Backend, *, tables=None, bucket=None, warehouse=None, store=None, queue=None,
               signer=None) -> Backend:
    """The backend with some ports replaced (an observed, held or bridged view); the others as its factory built them."""
    reads, writes = backend.read_only, backend.read_write
    return replace(backend,
                   read_only=ReadOnlyPorts(tables or reads.tables, bucket or reads.bucket),
                   read_write=ReadWritePorts(warehouse or writes.warehouse, store or writes.store,
                                             queue or writes.queue, signer or writes.signer))


def rebuilt(app: App, **ports) -> App:
    """The app assembled again by the wiring, over some replaced ports (see `with_ports`)."""
    return assemble(app.config, with_ports(app.backend, **ports), app.doors.dump.authorizer, app.clock)


def doors_with_catalogue(app: App, *, tables=None, bucket=None, queue=None) -> Doors:
    """The doors of the app rebuilt to read through another read-only tables or bucket view, or to queue into
    another queue."""
    return rebuilt(app, tables=tables, bucket=bucket, queue=queue).doors


class HeldQueue:
    """A task queue that accepts every task and never delivers one: the export never finishes."""

    def enqueue(self, name, payload) -> bool:
        return True
