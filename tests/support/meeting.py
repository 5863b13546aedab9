"""Proof that calls overlap, without timing: a wrapped call waits at a barrier until the others have arrived.

If the calls ran one after the other, the first would wait alone until the barrier's timeout and raise
threading.BrokenBarrierError instead of answering.
"""

from __future__ import annotations

import threading


class MeetsOthers:
    """`inner` (a real adapter) whose method `name` first waits at `barrier`; `threads` notes who called it."""

    def __init__(self, inner, name: str, barrier: threading.Barrier):
        self.inner, self.name, self.barrier = inner, name, barrier
        self.threads: list[threading.Thread] = []

    def __getattr__(self, attr):
        value = getattr(self.inner, attr)
        if attr != self.name:
            return value

        def after_meeting(*args, **kwargs):
            self.threads.append(threading.current_thread())
            self.barrier.wait()
            return value(*args, **kwargs)

        return after_meeting
