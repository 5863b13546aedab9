"""An object store observed, for tests and benchmarks: every byte read through the port (ranged, whole, or
through a reader), the whole-object reads among them, and each compose call and its time."""

from __future__ import annotations

import time


class ObservedStore:
    def __init__(self, inner):
        self.inner = inner
        self.bytes_read = self.whole_reads = self.composes = 0
        self.compose_seconds = 0.0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def read_range(self, name, start, length, chunk_size):
        for chunk in self.inner.read_range(name, start, length, chunk_size):
            self.bytes_read += len(chunk)
            yield chunk

    def read_bytes(self, name):
        self.whole_reads += 1
        data = self.inner.read_bytes(name)
        self.bytes_read += len(data)
        return data

    def open_reader(self, name):
        self.whole_reads += 1
        return _CountingReader(self.inner.open_reader(name), self)

    def compose(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.inner.compose(*args, **kwargs)
        finally:
            self.composes += 1
            self.compose_seconds += time.perf_counter() - start


class _CountingReader:
    def __init__(self, handle, owner: ObservedStore):
        self.handle, self.owner = handle, owner

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def read(self, size=-1):
        data = self.handle.read(size)
        self.owner.bytes_read += len(data)
        return data

    def readinto(self, buffer):
        count = self.handle.readinto(buffer)
        self.owner.bytes_read += count or 0
        return count

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()
