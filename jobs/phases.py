"""How long the worker's phases take: a small port the wiring hands the worker (one recorder per delivery), so the
task's log line and the benchmarks read the same timings without patching anything."""

from __future__ import annotations

from contextlib import AbstractContextManager, contextmanager
from typing import Callable, Iterator, Protocol

from functions.core.target import Target


class PhaseRecorder(Protocol):
    """Times one delivery's phases; a phase may hold others (`assemble` holds `header`, `compose`, `merge`)."""

    def phase(self, name: str) -> AbstractContextManager[None]: ...

    def seconds(self) -> dict[str, float]: ...  # what the task's log line reports


PhaseRecorders = Callable[[Target], PhaseRecorder]  # a new recorder for each delivery, told what it exports


class PhaseTimes:
    """The default recorder: the outermost phases' durations (export, assemble, cleanup), for the task's log line."""

    def __init__(self, monotonic: Callable[[], float]):
        self.monotonic = monotonic
        self._seconds: dict[str, float] = {}
        self._depth = 0

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started, outermost = self.monotonic(), self._depth == 0
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if outermost:
                self._seconds[name] = self._seconds.get(name, 0.0) + self.monotonic() - started

    def seconds(self) -> dict[str, float]:
        return {name: round(value, 3) for name, value in self._seconds.items()}


def phase_times(monotonic: Callable[[], float]) -> PhaseRecorders:
    """Recorders that only feed the log line: what the wiring hands the worker unless a benchmark gives its own."""
    return lambda _target: PhaseTimes(monotonic)
