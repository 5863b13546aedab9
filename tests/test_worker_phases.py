"""The worker's phases, timed through the recorder the wiring gives it (jobs.phases): the task's log line reports
the outermost ones, and a recorder of one's own (a benchmark's) sees every phase of a real delivery."""

from __future__ import annotations

from contextlib import contextmanager

from functions.core.target import Target
from functions.wiring import build_worker
from jobs.phases import PhaseTimes
from tests.support.tables import load_numbers
from tests.test_worker import task


def test_the_log_line_reports_the_outermost_phases_and_adds_up_repeats():
    ticks = iter(range(100))
    times = PhaseTimes(lambda: float(next(ticks)))
    with times.phase("export"):
        pass
    with times.phase("cleanup"):
        with times.phase("gc"):
            pass
    with times.phase("export"):
        pass
    assert times.seconds() == {"export": 2.0, "cleanup": 2.0}  # ticks: export 0-1, cleanup 2-4 (gc 3), export 5-6


class Recording(PhaseTimes):
    """What a benchmark gives the worker: every phase, in the order it starts, besides the log line's times."""

    def __init__(self, monotonic, seen: list):
        super().__init__(monotonic)
        self.seen = seen

    @contextmanager
    def phase(self, name):
        self.seen.append(name)
        with super().phase(name):
            yield


def test_a_recorder_of_ones_own_sees_every_phase_of_a_delivery(make_app, tmp_path):
    app = make_app(DUMP_SHARD_BYTES=3_000)  # many files: a header object composed with them
    load_numbers(app, "numbers", 3000, tmp_path)
    seen: list[str] = []
    targets: list[Target] = []

    def recorders(target: Target) -> Recording:
        targets.append(target)
        return Recording(app.clock.monotonic, seen)

    ports = app.backend.read_write
    worker = build_worker(ports.warehouse, ports.store, None, app.clock, app.worker.settings, recorders)
    result = worker.deliver(task(app, "numbers"))
    assert result.body()["status"] == "published" and set(result.body()["seconds"]) == {"export", "assemble", "cleanup"}
    assert seen == ["export", "assemble", "header", "compose", "cleanup", "leftovers", "gc"]
    assert [(t.resource_id, t.variant.key) for t in targets] == [("numbers", "csv")]
