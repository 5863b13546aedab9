"""The worker's garbage collection: deletes what functions.core.gc selects. Deleting is best effort (correctness
never depends on it): an object that cannot be deleted is logged and left for the next run or the bucket's
lifecycle rule."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Iterable

from functions.core import gc, layout
from functions.core.target import Target
from functions.ports import Clock, ObjectStore
from jobs.concurrent_calls import call_each

log = logging.getLogger("bqdump.worker")


class GarbageCollector:
    """`protected_for`: a query dump requested within this may have a live signed URL, so the cap never evicts it."""

    def __init__(self, store: ObjectStore, clock: Clock, url_lifetime: timedelta, query_cap: int,
                 protected_for: timedelta):
        self.store, self.clock = store, clock
        self.url_lifetime, self.query_cap, self.protected_for = url_lifetime, query_cap, protected_for

    def collect(self, target: Target) -> int:
        """Superseded exports of the target's variant once their URLs have expired, failed attempts at once."""
        objects = self.store.list(layout.variant_prefix(target.resource_id, target.variant))
        return self.delete_all(obj.name for obj in gc.stale_objects(objects, self.clock.now(), self.url_lifetime))

    def make_room(self, resource_id: str, keep: str) -> gc.Eviction:
        """Deletes the least recently requested query dumps beyond the cap (never `keep`, never a recent one)."""
        root = layout.query_root(resource_id)
        eviction = gc.evicted_queries(self.store.list(root), root, keep, self.query_cap, self.clock.now(),
                                      self.protected_for)
        self.delete_all(obj.name for obj in eviction.doomed)  # what fails, the next make_room picks up
        return eviction

    def delete_all(self, names: Iterable[str]) -> int:
        """A few at a time (jobs.concurrent_calls: a 1,000-file join deletes ~4,000 objects); answers how many went."""
        def delete(name: str) -> bool:
            try:
                self.store.delete(name)
                return True
            except Exception:
                log.exception("could not delete %s", name)
                return False

        return sum(call_each(delete, names))
