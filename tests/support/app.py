"""Building the app the way the entry points do (functions.wiring), over real files, and serving it."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from functions.local_server import make_local_server
from functions.routes import Doors


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
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def doors_with_catalogue(app, *, tables=None, bucket=None, queue=None) -> Doors:
    """The app's doors, reading through another read-only tables or bucket view or queueing into another queue
    (with the app's lookup pool)."""
    from functions.catalogue import ExportCatalogue

    catalogue = ExportCatalogue(tables or app.backend.tables, bucket or app.backend.bucket,
                                queue or app.backend.queue, app.clock, app.catalogue.cooldown,
                                app.catalogue.poll_seconds, app.catalogue.lookups, app.catalogue.touch_interval,
                                app.catalogue.changes)
    doors = app.doors
    return replace(doors, dump=replace(doors.dump, catalogue=catalogue),
                   stream=replace(doors.stream, catalogue=catalogue),
                   prewarm=replace(doors.prewarm, catalogue=catalogue))


class HeldQueue:
    """A task queue that accepts every task and never delivers one: the export never finishes."""

    def enqueue(self, name, payload) -> bool:
        return True
