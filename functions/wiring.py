"""The one composition root: builds, once per process and on first use, the small objects the doors use.

Imported only by entry points (main.py, functions.cli, functions.local_server, benchmarks, tests); nothing
else imports it (an ast test checks). It reads the environment once, here, and hands each object only
what it uses: the export catalogue (read-only identity) with its lookup pool, the export worker (read-write
identity), the signer (behind the signed-URL cache), the authorizer, the doors' caller checks and one clock.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Mapping

import requests

from functions.adapters.system_clock import SYSTEM_CLOCK
from functions.access_log import logs_deliveries
from functions.adapters.local.signer import LocalUrlSigner
from functions.auth import build_authorizer
from functions.catalogue import ExportCatalogue
from functions.callers import secret_header_checker
from functions.core import keys
from functions.core.follow import follow_wait_seconds
from functions.dump import DumpDoor, DumpSettings
from functions.lookup_pool import LookupPool
from functions.objects import ObjectsDoor
from functions.ports import Authorizer, Backend, Clock
from functions.prewarm import PrewarmDoor
from functions.routes import Doors
from functions.settings import Config, load_settings
from functions.signing_cache import CachingUrlSigner
from functions.stream import StreamDoor
from functions.worker_door import WorkerDoor
from jobs.export_worker import ExportWorker, WorkerSettings

LOOKUP_THREADS = 8  # listings beside requests' metadata calls; a listing no thread takes up is made by its request
LOCAL_TASK_BACKOFF_SECONDS = 1.0  # first pause before a retried delivery (doubling, at most 30 s)


@dataclass
class App:
    """What one process built: the doors the routes call, and the parts the command line and tests reach."""

    config: Config
    clock: Clock
    backend: Backend
    catalogue: ExportCatalogue
    worker: ExportWorker
    doors: Doors
    closers: list = field(default_factory=list)

    def close(self) -> None:
        for close in self.backend.closers + self.closers:
            close()


def build_app(env: Mapping[str, str], clock: Clock = SYSTEM_CLOCK) -> App:
    """The environment is parsed and checked here, once (load_settings): every other object gets parsed values."""
    settings = load_settings(env)
    config = settings.core
    if settings.google is not None:
        from functions.adapters.google.factory import build_google_backend

        backend = build_google_backend(settings.google, config.token_secret, clock)
    else:
        backend = build_local_backend(config, clock)
    return assemble(config, backend, build_authorizer(settings.auth, requests.Session()), clock)


def build_local_backend(config: Config, clock: Clock) -> Backend:
    from functions.adapters.local.object_store import LocalObjectStore
    from functions.adapters.local.signer import local_secret
    from functions.adapters.local.task_queue import InProcessTaskQueue
    from functions.adapters.local.warehouse import LocalWarehouse

    root = config.local_dir
    store = LocalObjectStore(root / "bucket")
    warehouse = LocalWarehouse(root, store.root, clock, config.local_exports)
    # a delivery holds a queue thread while it waits on its export: as many as exports run at once
    queue = InProcessTaskQueue(None, config.local_exports, config.task_max_attempts, LOCAL_TASK_BACKOFF_SECONDS,
                               clock)  # assemble() connects it to this process's worker
    secret = local_secret(config.token_secret, root)  # one key per purpose is derived from it
    download_key = keys.derive(secret, keys.DOWNLOAD_SIGNATURES)
    return Backend(warehouse, store, warehouse, store, queue, LocalUrlSigner(download_key),
                   keys.derive(secret, keys.STREAM_TOKENS), download_key,
                   check_task_caller=secret_header_checker(
                       "X-Worker-Secret", keys.worker_door_secret(secret),
                       "the worker key derived from DUMP_TOKEN_SECRET (python main.py worker-key prints it)",
                       "let the server's in-process queue deliver tasks"),
                   check_prewarm_caller=secret_header_checker("X-Prewarm-Secret", config.prewarm_secret,
                                                              "PREWARM_SECRET", "run: python main.py prewarm"),
                   poll_seconds=(0.01, 0.05),  # a local listing costs ~0.1 ms: look often
                   closers=[queue.close, warehouse.close],
                   changes=store.changes if clock is SYSTEM_CLOCK else None)  # a test's clock keeps its own time


def assemble(config: Config, backend: Backend, authorizer: Authorizer, clock: Clock) -> App:
    """Each door gets what it uses; tests call this with a Backend whose parts they replaced."""
    url_lifetime = timedelta(hours=config.url_expiry_hours)
    lookups = LookupPool(LOOKUP_THREADS)
    touch_interval = timedelta(seconds=config.query_touch_seconds)
    catalogue = ExportCatalogue(backend.tables, backend.bucket, backend.queue, clock,
                                timedelta(seconds=config.failure_cooldown_seconds), backend.poll_seconds, lookups,
                                touch_interval, backend.changes)
    piece_queue = None if getattr(backend.queue, "queues_nothing", False) else backend.queue
    worker = ExportWorker(backend.warehouse, backend.store, clock,
                          WorkerSettings(config.compose, config.shard_bytes, config.worker_wait_seconds, url_lifetime,
                                         config.query_cap, touch_interval, config.bounds), piece_queue)
    if hasattr(backend.queue, "deliver"):  # the local in-process queue delivers to this process's worker
        backend.queue.deliver = logs_deliveries(worker.deliver, clock)
    signer = backend.signer
    if config.signed_url_window_seconds:
        signer = CachingUrlSigner(signer, clock.now, timedelta(seconds=config.signed_url_window_seconds))
    dump = DumpDoor(catalogue, signer, authorizer, backend.stream_key, clock,
                    DumpSettings(config.wait_seconds, url_lifetime, config.stream_token_seconds, config.public_url,
                                 config.stream_url, config.bounds))
    worker_door = WorkerDoor(worker.deliver, backend.check_task_caller, config.task_max_attempts, clock)
    doors = Doors(config.backend, config.cors_origins, dump, worker_door,
                  StreamDoor(catalogue, backend.stream_key, clock, follow_wait_seconds(config.stream_timeout_seconds)),
                  PrewarmDoor(catalogue, backend.check_prewarm_caller, clock),
                  ObjectsDoor(backend.store, LocalUrlSigner(backend.download_key).check, clock))
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
