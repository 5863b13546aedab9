"""Many calls of one kind a few at a time (jobs.concurrent_calls): a fan-out's piece tasks and a join's deletes are
not made one after the other (issue 19: a 1,000-file json export queues 1,000 tasks and deletes ~4,000 objects,
which one by one would eat its deliveries' deadlines). Each test's calls wait at a barrier that only calls made at
the same moment can pass: made one after the other, the first waits alone until the barrier breaks."""

from __future__ import annotations

import threading

import pytest

from functions.core import layout
from jobs.concurrent_calls import PARALLEL_CALLS, call_each
from functions.wiring import build_worker
from tests.support.held_tasks import HeldTasks
from tests.test_ckan_pieces import load, part_files

WAIT = 30  # a barrier's timeout: only reached when the calls do not run at the same moment (the test then fails)


def test_calls_run_at_the_same_moment_and_answer_in_order():
    barrier = threading.Barrier(PARALLEL_CALLS, timeout=WAIT)
    assert call_each(lambda n: barrier.wait() is not None and n * 2, range(PARALLEL_CALLS)) == \
        [n * 2 for n in range(PARALLEL_CALLS)]


def test_the_first_error_is_raised_once_the_calls_already_started_have_ended():
    started, ended = [], []

    def call(n):
        started.append(n)
        if n == 1:
            raise ValueError("one failed")
        ended.append(n)
        return n

    with pytest.raises(ValueError, match="one failed"):
        call_each(call, range(100))
    assert 1 in started and sorted(ended) == sorted(n for n in started if n != 1)  # none still running; the
    # calls not started yet are not made (a fan-out's delivery is retried and queues them then)


class MeetingQueue(HeldTasks):
    """Records the piece tasks; each enqueue waits until `parties` of them are in flight."""

    def __init__(self, parties: int):
        super().__init__()
        self.barrier, self.lock = threading.Barrier(parties, timeout=WAIT), threading.Lock()

    def enqueue(self, name, payload):
        self.barrier.wait()
        with self.lock:
            return super().enqueue(name, payload)


class MeetingStore:
    """The bucket, but each delete waits until `parties` of them are in flight."""

    def __init__(self, store, parties: int):
        self.store, self.barrier = store, threading.Barrier(parties, timeout=WAIT)

    def __getattr__(self, name):
        return getattr(self.store, name)

    def delete(self, name):
        self.barrier.wait()
        self.store.delete(name)


def test_a_fan_out_queues_its_pieces_at_the_same_moment(make_app, tmp_path):
    app = make_app(DUMP_SHARD_BYTES=1, DUMP_WAIT_SECONDS=0)
    load(app, tmp_path)
    files = len(part_files(app))  # before the export: none; DuckDB writes three (one row group each)
    writes = app.backend.read_write
    queue = MeetingQueue(parties=3)
    worker = build_worker(writes.warehouse, writes.store, queue, app.clock, app.worker.settings)
    revision = layout.revision_of(app.backend.read_only.tables.table_modified("wide"))
    outcome = worker.deliver({"resource_id": "wide", "format": "json", "revision": revision, "attempt": 1})
    assert outcome.reason == "pieces queued", outcome
    assert files == 0 and len(queue.tasks) == len(part_files(app)) == 3


def test_a_delivery_deletes_its_leftovers_at_the_same_moment(make_app):
    app = make_app()
    store = app.backend.read_write.store
    names = [f"dumps/x/csv/1/1/part-{i}.csv" for i in range(PARALLEL_CALLS)]
    for name in names:
        store.write_bytes(name, b"a\n", "text/csv")
    worker = build_worker(app.backend.read_write.warehouse, MeetingStore(store, PARALLEL_CALLS), None, app.clock,
                          app.worker.settings)
    assert worker.collector.delete_all(names) == PARALLEL_CALLS
    assert store.list("dumps/x/") == []
