"""The local backend's adapters, built like the Google backend's (functions.adapters.google.factory): DuckDB as
the warehouse, a folder as the bucket, an in-process task queue and locally signed URLs, all under one folder.
One object serves both identities here: the read-only and read-write ports are the same adapters."""

from __future__ import annotations

from pathlib import Path

from functions.adapters.local.object_store import LocalObjectStore
from functions.adapters.local.signer import LocalUrlSigner, local_secret
from functions.adapters.local.task_queue import InProcessTaskQueue
from functions.adapters.local.warehouse import LocalWarehouse
from functions.callers import secret_header_checker
from functions.core import keys
from functions.ports import Backend, Clock, Deliver, InProcess, ReadOnlyPorts, ReadWritePorts

TASK_BACKOFF_SECONDS = 1.0  # first pause before a retried delivery (doubling, at most 30 s)
POLL_SECONDS = (0.01, 0.05)  # a local listing costs ~0.1 ms: a waiting request looks often


def local_warehouse(root: Path, clock: Clock, exports: int) -> LocalWarehouse:
    """The warehouse of DUMP_LOCAL_DIR, as the backend builds it (the command line loads tables into it);
    `exports`: DuckDB exports running at once (DUMP_LOCAL_EXPORTS)."""
    return LocalWarehouse(root, root / "bucket", clock, exports)


def build_local_backend(root: Path, token_secret: str, prewarm_secret: str, task_max_attempts: int, exports: int,
                        clock: Clock, *, wake_waiters: bool) -> Backend:
    """`wake_waiters`: a waiting request wakes when the bucket changes (off under a test's clock, which keeps
    its own time)."""
    store = LocalObjectStore(root / "bucket")
    warehouse = local_warehouse(root, clock, exports)
    # a delivery holds a queue thread while it waits on its export: as many as exports run at once
    queue = InProcessTaskQueue(None, exports, task_max_attempts, TASK_BACKOFF_SECONDS, clock)
    secret = local_secret(token_secret, root)  # one key per purpose is derived from it
    signer = LocalUrlSigner(keys.derive(secret, keys.DOWNLOAD_SIGNATURES))

    def connect_worker(deliver: Deliver) -> None:
        queue.deliver = deliver

    check_task_caller = secret_header_checker(
        "X-Worker-Secret", keys.worker_door_secret(secret),
        "the worker key derived from DUMP_TOKEN_SECRET (python main.py worker-key prints it)",
        "let the server's in-process queue deliver tasks")
    check_prewarm_caller = secret_header_checker("X-Prewarm-Secret", prewarm_secret, "PREWARM_SECRET",
                                                 "run: python main.py prewarm")
    return Backend(ReadOnlyPorts(warehouse, store), ReadWritePorts(warehouse, store, queue, signer),
                   keys.derive(secret, keys.STREAM_TOKENS), check_task_caller, check_prewarm_caller, POLL_SECONDS,
                   InProcess(signer.check, connect_worker), closers=[queue.close, warehouse.close],
                   changes=store.changes if wake_waiters else None)
