"""The one factory that builds adapters from settings, lazily and once per process; handlers receive the result."""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

from functions.core import keys
from functions.ports import Authorizer, ObjectStore, TaskQueue, UrlSigner, Warehouse
from functions.settings import Config, load_config


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def allow_every_caller(headers: Mapping[str, str]) -> None:
    """Task and pre-warm calls on the local backend come from this process (or this machine's loopback)."""


@dataclass
class Services:
    """Everything a handler needs. `store` is the read-write identity's view of the bucket; `reader` the
    read-only identity's (cache lookups, streaming reads). On the local backend they are one object."""

    config: Config
    warehouse: Warehouse
    store: ObjectStore
    queue: TaskQueue
    signer: UrlSigner
    authorizer: Authorizer
    token_secret: bytes  # the stream-token key (functions.core.keys.STREAM_TOKENS), not the configured secret
    reader: ObjectStore | None = None
    check_task_caller: Callable[[Mapping[str, str]], None] = allow_every_caller
    check_prewarm_caller: Callable[[Mapping[str, str]], None] = allow_every_caller
    clock: Callable[[], datetime] = utc_now
    poll_seconds: tuple[float, float] = (0.25, 1.0)  # first and longest pause while a request waits for an export
    closers: list = field(default_factory=list)

    def __post_init__(self):
        if self.reader is None:
            self.reader = self.store

    def close(self) -> None:
        for close in self.closers:
            close()


def build_services(env: Mapping[str, str]) -> Services:
    config = load_config(env)
    from functions.auth import build_authorizer

    authorizer = build_authorizer(env)
    if config.backend == "google":
        from functions.adapters.google.factory import build_google_services

        return build_google_services(config, authorizer)
    return build_local_services(config, authorizer)


def build_local_services(config: Config, authorizer: Authorizer) -> Services:
    from functions.adapters.local.object_store import LocalObjectStore
    from functions.adapters.local.signer import LocalUrlSigner
    from functions.adapters.local.task_queue import InProcessTaskQueue
    from functions.adapters.local.warehouse import LocalWarehouse
    from functions.callers import secret_header_checker
    from jobs.export_worker import deliver_task

    root = config.local_dir
    store = LocalObjectStore(root / "bucket")
    warehouse = LocalWarehouse(root, store.root)
    queue = InProcessTaskQueue()
    secret = local_secret(config, root)
    services = Services(config, warehouse, store, queue, LocalUrlSigner(keys.derive(secret, keys.DOWNLOAD_SIGNATURES)),
                        authorizer, keys.derive(secret, keys.STREAM_TOKENS),
                        check_task_caller=secret_header_checker(
                            "X-Worker-Secret", keys.worker_door_secret(secret),
                            "the worker key derived from DUMP_TOKEN_SECRET (functions.core.keys.worker_door_secret)",
                            "let the server's in-process queue deliver tasks"),
                        check_prewarm_caller=secret_header_checker(
                            "X-Prewarm-Secret", config.prewarm_secret, "PREWARM_SECRET", "run: python main.py prewarm"),
                        poll_seconds=(0.01, 0.05))  # a local listing costs ~0.1 ms: look often
    queue.deliver = lambda payload: deliver_task(services, payload).status
    services.closers += [queue.close, warehouse.close]
    return services


def local_secret(config: Config, root: Path) -> bytes:
    """DUMP_TOKEN_SECRET, else a random key kept (mode 0600) in the local folder so links survive restarts."""
    if config.token_secret:
        return config.token_secret.encode()
    root.mkdir(parents=True, exist_ok=True)
    path = root / "token-secret.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_hex(32).encode())
    return path.read_bytes().strip()


_services: Services | None = None
_lock = threading.Lock()


def services() -> Services:
    """Process-wide services for the functions-framework targets, built on first use."""
    global _services
    with _lock:
        if _services is None:
            _services = build_services(os.environ)
        return _services
