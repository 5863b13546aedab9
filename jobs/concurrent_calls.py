"""Many calls of one kind, made a few at a time: the piece tasks a fan-out queues, the objects a join deletes.

A 1,000-file json export queues 1,000 tasks after its export wait, and its join deletes about 4,000 objects (files,
pieces): one after the other, at 30-100 ms a call, that is 30-100 s of the 60 s a delivery keeps for assembly after
its wait, and 2-7 minutes of the joining delivery's deadline; PARALLEL_CALLS at a time, a sixteenth of that.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

PARALLEL_CALLS = 16

Item = TypeVar("Item")
Result = TypeVar("Result")


def call_each(function: Callable[[Item], Result], items: Iterable[Item]) -> list[Result]:
    """`function` of every item, PARALLEL_CALLS in flight at once, results in the items' order; the first error
    is raised once the calls already started have ended."""
    pending = list(items)
    if len(pending) <= 1:
        return [function(item) for item in pending]
    with ThreadPoolExecutor(min(PARALLEL_CALLS, len(pending)), thread_name_prefix="call-each") as pool:
        return list(pool.map(function, pending))
