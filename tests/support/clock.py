"""A clock tests move by hand: sleeping advances it instead of waiting."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


class FakeClock:
    def __init__(self, start: datetime | None = None):
        self.start = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
        self.elapsed = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.elapsed += max(0.0, seconds)


class ShiftedClock:
    """The real clock moved by `offset`: for tests that must run real exports but see a later wall time."""

    def __init__(self, inner, offset: timedelta = timedelta(0)):
        self.inner, self.offset = inner, offset

    def now(self) -> datetime:
        return self.inner.now() + self.offset

    def monotonic(self) -> float:
        return self.inner.monotonic()

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)
