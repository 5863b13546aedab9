"""A small pool shared by the requests of one process, for the call a request makes beside its own.

A dump request asks for the table's `modified` itself while a pool thread lists the bucket, so a cache hit
waits for one round trip instead of two. The pool never deadlocks or starves under load: its calls wait for
nothing but their own I/O, and a call no pool thread has begun by the time its caller wants the answer is
taken back and made by the caller (then the request is as slow as one without the pool, never slower).
So the pool may be smaller than the request concurrency (functions-framework's THREADS).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class Pending(Generic[T]):
    """A call started in the pool, or left for the caller when the pool could not take it."""

    def __init__(self, future: Future | None, call: Callable[[], T]):
        self._future, self._call = future, call

    def result(self) -> T:
        """The call's answer (or its exception); made here if no pool thread has begun it."""
        if self._future is None or self._future.cancel():
            return self._call()
        return self._future.result()

    def abandon(self) -> None:
        """The caller no longer needs the answer: a call not begun is dropped, one running finishes unread."""
        if self._future is not None:
            self._future.cancel()


class LookupPool:
    def __init__(self, threads: int):
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lookup")

    def start(self, call: Callable[[], T]) -> Pending[T]:
        try:
            return Pending(self._executor.submit(call), call)
        except RuntimeError:  # shut down (the process is closing): the caller makes the call itself
            return Pending(None, call)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class NoPool:
    """Every call made by its caller, one after the other: the lookup as it was before the pool."""

    def start(self, call: Callable[[], T]) -> Pending[T]:
        return Pending(None, call)

    def close(self) -> None:
        pass
