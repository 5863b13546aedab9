"""The one composition root: builds, once per process and on first use, the small objects the doors use.

Imported only by entry points (main.py, functions.cli, functions.local_server, benchmarks, tests); nothing
else imports it (an ast test checks). It reads the environment once, here, and hands each object only
what it uses: the export catalogue (read-only identity) with its lookup pool, the export worker (read-write
identity), the signer (behind the signed-URL cache), the authorizer, the doors' caller checks and one clock.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Mapping

import requests

from functions.adapters.system_clock import SYSTEM_CLOCK
from functions.access_log import logs_deliveries
from functions.auth import build_authorizer
from functions.catalogue import ClockPauses, ExportCatalogue
from functions.core.follow import follow_wait_seconds
from functions.dump import DumpDoor, DumpSettings
from functions.lookup_pool import LookupPool
from functions.objects import ObjectsDoor
from functions.ports import Authorizer, Backend, Clock, ObjectStore, TaskQueue, Warehouse
from functions.prewarm import PrewarmDoor
from functions.routes import Doors
from functions.settings import Config, Settings, load_settings
from functions.signing_cache import MAX_URLS, CachingUrlSigner
from functions.stream import StreamDoor
from functions.worker_door import WorkerDoor
from jobs.export_worker import ExportWorker, WorkerSettings
from jobs.garbage import GarbageCollector
from jobs.phases import PhaseRecorders, phase_times
from jobs.publisher import Publisher

LOOKUP_THREADS = 8  # listings beside requests' metadata calls; a listing no thread takes up is made by its request


@dataclass
class App:
    """What one process built: the doors the routes call, and the parts the command line and tests reach."""

    config: Config
    clock: Clock
    backend: Backend
    catalogue: ExportCatalogue
    worker: ExportWorker
    doors: Doors
    closers: list[Callable[[], None]]

    def close(self) -> None:
        for close in self.backend.closers + self.closers:
            close()


def build_app(env: Mapping[str, str], clock: Clock = SYSTEM_CLOCK, phases: PhaseRecorders | None = None) -> App:
    """The environment is parsed and checked here, once (load_settings): every other object gets parsed values."""
    settings = load_settings(env)
    return assemble(settings.core, build_backend(settings, clock), build_authorizer(settings.auth, requests.Session()),
                    clock, phases)


def build_backend(settings: Settings, clock: Clock, **google_seams) -> Backend:
    """The configured backend, from its own factory; `google_seams` (credentials, certs_url, iam_endpoint) are
    for tests that run the Google backend against emulators and stand-ins."""
    if settings.google is not None:
        from functions.adapters.google.factory import build_google_backend

        return build_google_backend(settings.google, settings.core.token_secret, clock, **google_seams)
    from functions.adapters.local.factory import build_local_backend

    core = settings.core
    return build_local_backend(core.local_dir, core.token_secret, core.prewarm_secret, core.task_max_attempts,
                               core.local_exports, clock, wake_waiters=clock is SYSTEM_CLOCK)  # a test's clock keeps its own time


def build_worker(warehouse: Warehouse, store: ObjectStore, queue: TaskQueue | None, clock: Clock,
                 settings: WorkerSettings, phases: PhaseRecorders | None = None) -> ExportWorker:
    """The export worker and its collaborators; `phases`: a benchmark's recorders (default: the log line's)."""
    return ExportWorker(warehouse, store, queue, Publisher(store, warehouse, clock),
                        GarbageCollector(store, clock, settings.url_lifetime, settings.query_cap,
                                         settings.protected_for),
                        phases or phase_times(clock.monotonic), clock, settings)


def assemble(config: Config, backend: Backend, authorizer: Authorizer, clock: Clock,
             phases: PhaseRecorders | None = None) -> App:
    """Each door gets what it uses; tests call this with a Backend whose parts they replaced."""
    url_lifetime = timedelta(hours=config.url_expiry_hours)
    lookups = LookupPool(LOOKUP_THREADS)
    touch_interval = timedelta(seconds=config.query_touch_seconds)
    reads, writes = backend.read_only, backend.read_write
    catalogue = ExportCatalogue(reads.tables, reads.bucket, writes.queue, clock,
                                timedelta(seconds=config.failure_cooldown_seconds), backend.poll_seconds, lookups,
                                touch_interval, backend.changes or ClockPauses(clock))
    piece_queue = None if getattr(writes.queue, "queues_nothing", False) else writes.queue
    worker = build_worker(writes.warehouse, writes.store, piece_queue, clock,
                          WorkerSettings(config.compose, config.shard_bytes, config.worker_wait_seconds, url_lifetime,
                                         config.query_cap, touch_interval), phases)
    signer = writes.signer
    if config.signed_url_window_seconds:
        signer = CachingUrlSigner(signer, clock.now, timedelta(seconds=config.signed_url_window_seconds), MAX_URLS)
    dump = DumpDoor(catalogue, signer, authorizer, backend.stream_key, clock,
                    DumpSettings(config.wait_seconds, url_lifetime, config.stream_token_seconds, config.public_url,
                                 config.stream_url, config.bounds))
    worker_door = WorkerDoor(worker.deliver, backend.check_task_caller, config.task_max_attempts, clock)
    objects = None
    if backend.in_process is not None:  # the local backend: its queue delivers here, its links are served here
        backend.in_process.connect_worker(logs_deliveries(worker.deliver, clock))
        objects = ObjectsDoor(writes.store, backend.in_process.check_link, clock)
    doors = Doors(config.backend, config.cors_origins, dump, worker_door,
                  StreamDoor(catalogue, backend.stream_key, clock, follow_wait_seconds(config.stream_timeout_seconds)),
                  PrewarmDoor(catalogue, backend.check_prewarm_caller, clock), objects)
    return App(config, clock, backend, catalogue, worker, doors, closers=[lookups.close])


_app: App | None = None
_lock = threading.Lock()


def app() -> App:
    """The process-wide app of the functions-framework targets and the local server, built on first use."""
    global _app
    with _lock:
        if _app is None:
            _app = build_app(os.environ)
        return _app
