"""The one decision of what to do next for a target, shared by the dump function and pre-warming."""

from __future__ import annotations

from datetime import timedelta

import pytest

from functions.catalogue import ClockPauses, ExportCatalogue
from functions.core.dump_query import DumpQuery
from functions.core.model import FailureKind, Format, ObjectInfo, Variant
from functions.core.next_step import Fail, Queue, Serve, Wait, failure_error, next_step
from functions.core.publish import Failure, failure_bytes, revision_state
from functions.core.target import Target
from functions.lookup_pool import NoPool
from tests.support.clock import FakeClock

T0 = FakeClock().now()
COOLDOWN = timedelta(seconds=60)
PREFIX = "dumps/t/csv/abc/"
FAILED = Failure("boom")


def listing(*leaves: str, at=T0) -> list[ObjectInfo]:
    return [ObjectInfo(PREFIX + leaf, 10, at) for leaf in leaves]


def step(leaves, failure=None, after=0, queued=0):
    return next_step(revision_state(listing(*leaves)), failure, T0 + timedelta(seconds=after), COOLDOWN, queued)


def test_published_is_served_and_nothing_is_queued_first():
    assert step(["1/part-0.csv", "1/manifest.json"]) == Serve(1, PREFIX + "1/manifest.json")
    assert step([]) == Queue(1)
    assert step(["1/part-0.csv"]) == Queue(1)  # running, or cut off by a restart: the same attempt again


def test_a_failure_is_reported_for_the_cooldown_then_a_new_attempt_is_queued():
    assert step(["1/failed.json"], FAILED, after=15) == Fail(FAILED, 45)
    assert step(["1/failed.json"], FAILED, after=60) == Queue(2)
    assert step(["1/failed.json"], Failure("slow down", FailureKind.TRANSIENT), after=1) == Queue(2)


def test_a_caller_waiting_for_its_attempt_waits_then_hears_of_its_failure_at_once():
    assert step(["2/part-0.csv"], queued=2) == Wait(2)
    assert step(["1/failed.json"], FAILED, after=600, queued=2) == Wait(2)  # an older failure: ours is coming
    assert step(["1/failed.json", "2/failed.json"], FAILED, after=600, queued=2) == Fail(FAILED, 1)
    assert step(["2/failed.json"], Failure("again", FailureKind.TRANSIENT), queued=2) == Queue(3)


@pytest.mark.parametrize("kind,code", [(FailureKind.TABLE_GONE, "not_found"), (FailureKind.TOO_LARGE, "too_large"),
                                       (FailureKind.FAILED, "export_failed"), (FailureKind.TRANSIENT, "export_failed")])
def test_failure_kinds_become_errors_with_advice(kind, code):
    error = failure_error(Failure("why", kind), Variant(Format.CSV), 7)
    assert error.code == code and error.headers == {"Retry-After": "7"} and "7 s" in error.hint


class Bucket:
    """A bucket whose listing grows as the (fake) clock moves: attempt 1 fails transiently at 1 s."""

    def __init__(self, clock):
        self.clock = clock

    def list(self, prefix):
        return listing("1/failed.json", at=T0) if self.clock.monotonic() >= 1 else []

    def read_bytes(self, name):
        return failure_bytes("quota", FailureKind.TRANSIENT, T0)


class Queued:
    def __init__(self):
        self.names = []

    def enqueue(self, name, payload):
        self.names.append(name)
        return True


def test_wait_for_follows_the_clock_and_queues_the_next_attempt_after_a_transient_failure():
    clock, queue = FakeClock(), Queued()
    catalogue = ExportCatalogue(None, Bucket(clock), queue, clock, COOLDOWN, (0.25, 1.0), NoPool(),
                                timedelta(minutes=5), ClockPauses(clock))
    target = Target("t", Variant(Format.CSV), "abc", DumpQuery())
    assert catalogue.wait_for(target, 1, 5.0) == Wait(2)  # no real time passes: the fake clock sleeps
    assert queue.names == [target.task_name(2)] and 5.0 <= clock.monotonic() < 6.5
