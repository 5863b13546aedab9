"""A real adapter observed, for tests and benchmarks: the one wrapper that counts what a test needs to see.

Every method call is recorded (name, arguments, seconds) and passed through unchanged. What streams out is
counted as it is consumed: bytes answered whole, chunks of iterators (and whether each iterator was closed),
bytes read through readers. A test subclasses it to change one method and keeps the rest observed.
"""

from __future__ import annotations

import threading
import time
from types import GeneratorType
from typing import Any


class Observed:
    def __init__(self, inner: Any):
        self.inner = inner
        self.calls: list[tuple[str, tuple, dict, float]] = []
        self.bytes_read = self.chunks = self.streams_closed = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if not callable(value):
            return value

        def observed(*args, **kwargs):
            started = time.perf_counter()
            try:
                result = value(*args, **kwargs)
            finally:
                with self._lock:
                    self.calls.append((name, args, kwargs, time.perf_counter() - started))
            return self._follow(result)

        return observed

    def count(self, *names: str) -> int:
        """Calls of any of `names` so far."""
        with self._lock:
            return sum(1 for call in self.calls if call[0] in names)

    def arguments(self, name: str) -> list[tuple]:
        """The positional arguments of each call of `name`, in order."""
        with self._lock:
            return [call[1] for call in self.calls if call[0] == name]

    def seconds(self, name: str) -> float:
        with self._lock:
            return sum(call[3] for call in self.calls if call[0] == name)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.bytes_read = self.chunks = self.streams_closed = 0

    def _add(self, size: int, chunk: bool = False) -> None:
        with self._lock:
            self.bytes_read += size
            self.chunks += chunk

    def _follow(self, result: Any) -> Any:
        if isinstance(result, (bytes, bytearray)):
            self._add(len(result))
        elif isinstance(result, GeneratorType):
            return self._stream(result)
        elif hasattr(result, "__enter__") and hasattr(result, "read"):
            return _Reader(result, self)
        return result

    def _stream(self, inner):
        try:
            for chunk in inner:
                self._add(len(chunk), chunk=True)
                yield chunk
        finally:
            inner.close()
            with self._lock:
                self.streams_closed += 1


class _Reader:
    """A file handed out by the observed adapter: the bytes read through it are counted."""

    def __init__(self, handle, owner: Observed):
        self.handle, self.owner = handle, owner

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def read(self, size=-1):
        data = self.handle.read(size)
        self.owner._add(len(data))
        return data

    def readinto(self, buffer):
        count = self.handle.readinto(buffer)
        self.owner._add(count or 0)
        return count

    def __enter__(self):
        self.handle.__enter__()
        return self

    def __exit__(self, *exc):
        return self.handle.__exit__(*exc)
