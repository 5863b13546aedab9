"""An in-process task queue with Cloud Tasks' contract: named tasks, dedup by name, delivered again until done."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Mapping

from functions.core.delivery import Outcome, Status
from functions.ports import Clock

log = logging.getLogger(__name__)

DEDUP_SECONDS = 3600  # Cloud Tasks refuses a task name for about an hour


class InProcessTaskQueue:
    def __init__(self, deliver: Callable[..., Outcome] | None, workers: int, max_attempts: int,
                 backoff_seconds: float, clock: Clock):
        self.deliver = deliver
        self.clock = clock
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="local-task")
        self._names: dict[str, float] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._pending: set = set()

    def enqueue(self, name: str, payload: Mapping) -> bool:
        now = self.clock.monotonic()
        with self._lock:
            seen = self._names.get(name)
            if seen is not None and now - seen < DEDUP_SECONDS:
                return False
            self._names[name] = now
        future = self._executor.submit(self._run, name, dict(payload))
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return True

    def _forget(self, future) -> None:
        with self._lock:
            self._pending.discard(future)

    def drain(self, timeout: float) -> bool:
        """Wait for every queued task to finish (the command line does, before its process exits)."""
        from concurrent.futures import wait

        with self._lock:
            pending = list(self._pending)
        return not wait(pending, timeout=timeout).not_done

    def _run(self, name: str, payload: dict) -> None:
        assert self.deliver is not None, "the wiring connects the queue to this process's worker"
        for attempt in range(1, self.max_attempts + 1):
            if self._closed.is_set():
                return
            try:
                outcome = self.deliver(payload, last=attempt == self.max_attempts)
            except Exception:  # a crash in the worker is a failed delivery, as over HTTP
                log.exception("task %s: delivery %d raised", name, attempt)
                outcome = Outcome(Status.RAISED)
            if outcome.done:
                return
            log.info("task %s: delivery %d came to %s, retrying", name, attempt, outcome.reason)
            self._closed.wait(min(self.backoff_seconds * 2 ** (attempt - 1), 30))
        log.warning("task %s: gave up after %d deliveries", name, self.max_attempts)

    def close(self) -> None:
        self._closed.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
