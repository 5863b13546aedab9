"""Many calls of one kind, made a few at a time: the piece tasks a fan-out queues, the objects a join deletes.

A 1,000-file json export queues 1,000 tasks after its export wait, and its join deletes about 4,000 objects (files,
pieces): one after the other, at 30-100 ms a call, that is 30-100 s of the 60 s a delivery keeps for assembly after
its wait, and 2-7 minutes of the joining delivery's deadline; PARALLEL_CALLS at a time, a sixteenth of that.

Plain threads, not a ThreadPoolExecutor: an executor refuses new work once the interpreter has begun to exit (the
local server stopping while a delivery still cleans up), and the delivery would then fail instead of finishing.
"""

from __future__ import annotations

import threading
from typing import Callable, Iterable, TypeVar

PARALLEL_CALLS = 16

Item = TypeVar("Item")
Result = TypeVar("Result")


def call_each(function: Callable[[Item], Result], items: Iterable[Item]) -> list[Result]:
    """`function` of every item, PARALLEL_CALLS in flight at once, results in the items' order. After an error no
    new call starts; it is raised once the calls already started have ended."""
    pending = list(items)
    if len(pending) <= 1:
        return [function(item) for item in pending]
    results: list = [None] * len(pending)
    errors: list[BaseException] = []
    lock = threading.Lock()
    next_index = iter(range(len(pending)))

    def work() -> None:
        while True:
            with lock:
                index = None if errors else next(next_index, None)
            if index is None:
                return
            try:
                results[index] = function(pending[index])
            except BaseException as error:  # re-raised in the caller's thread
                with lock:
                    errors.append(error)

    workers = [threading.Thread(target=work, name=f"call-each-{n}", daemon=True)
               for n in range(min(PARALLEL_CALLS, len(pending)))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return results
