"""The lookup pool on its own: answers and errors come back to the caller; what no thread began is the caller's."""

from __future__ import annotations

import threading

import pytest

from functions.lookup_pool import LookupPool, NoPool

WAIT = 10


@pytest.fixture
def pool():
    started = LookupPool(1)
    yield started
    started.close()


def test_a_call_runs_on_a_pool_thread_and_its_error_reaches_the_caller(pool):
    assert pool.start(lambda: threading.current_thread().name).result().startswith("lookup")

    def fails():
        raise LookupError("no such thing")

    with pytest.raises(LookupError, match="no such thing"):
        pool.start(fails).result()


def test_an_abandoned_call_no_thread_began_is_never_made(pool):
    release, made = threading.Event(), []
    busy = pool.start(lambda: release.wait(WAIT))
    queued = pool.start(lambda: made.append(1))
    queued.abandon()
    release.set()
    assert busy.result() is True
    pool.start(lambda: None).result()  # the pool's one thread has run everything queued before this
    assert made == []


def test_without_a_pool_the_caller_makes_the_call_when_it_asks_for_the_answer():
    made = []
    pending = NoPool().start(lambda: made.append(threading.current_thread()) or "answer")
    assert made == []
    assert pending.result() == "answer" and made == [threading.current_thread()]
