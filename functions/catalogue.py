"""The export catalogue: finding a target's export and asking for one, with the bucket's read-only identity.

The dump function, the streaming function and pre-warming share it; what to do next is the core's decision
(`functions.core.next_step`), this object only reads what that decision needs and carries it out.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field, replace
from typing import Callable
from datetime import timedelta

from functions.core import layout, progress
from functions.core.shards import Piece
from functions.core.conditional import UNCONDITIONAL, Conditional
from functions.core.dump_query import DumpQuery, check_against_columns
from functions.core.errors import DumpError, NotFound, Unavailable
from functions.core.model import ObjectInfo, Variant
from functions.core.model import FailureKind
from functions.core.next_step import Fail, Queue, Serve, Step, Wait, next_step
from functions.core.publish import Failure, Manifest, RevisionState, parse_failure, parse_manifest, revision_state
from functions.core.target import Target
from functions.lookup_pool import LookupPool, NoPool
from functions.ports import Changes, Clock, ObjectStore, TaskQueue, Warehouse

log = logging.getLogger("bqdump")


class ClockPauses:
    """Where the bucket cannot tell of its changes: a waiter sleeps its whole pause on the app's clock."""

    def __init__(self, clock: Clock):
        self.clock = clock

    def mark(self) -> int:
        return 0

    def wait(self, since: int, seconds: float) -> None:
        self.clock.sleep(seconds)


FOLLOW_POLL_MAX = 2.0  # a follower waits up to the function's timeout: it looks at most this seldom


@dataclass(frozen=True)
class Progress:
    """What a follower found: the step (Wait while the attempt runs) and the streamed records it had not seen."""

    step: Step
    records: list = field(default_factory=list)  # per new record, its pieces


@dataclass(frozen=True)
class Look:
    """A revision's state, with its failure record when the latest attempt failed, and the listing it was read
    from (a follower's wait also looks there for streamed pieces)."""

    state: RevisionState
    failure: Failure | None
    listed: tuple[ObjectInfo, ...]


@dataclass(frozen=True)
class Lookup:
    """What a dump request's lookup found: the target at the table's current revision; the next step (None: the
    caller's copy is current, nothing was listed); a query dump's `requested` marker as listed (None: absent)."""

    target: Target
    step: Step | None
    marker: ObjectInfo | None


class ExportCatalogue:
    """`tables` answers table metadata and `bucket` listings and reads, both as the read-only identity."""

    def __init__(self, tables: Warehouse, bucket: ObjectStore, queue: TaskQueue, clock: Clock, cooldown: timedelta,
                 poll_seconds: tuple[float, float], lookups: LookupPool | NoPool, touch_interval: timedelta,
                 changes: Changes):
        self.tables, self.bucket, self.queue, self.clock = tables, bucket, queue, clock
        self.changes = changes  # wakes a waiting request when the bucket changes (ClockPauses where it cannot)
        self.cooldown = cooldown
        self.poll_seconds = poll_seconds  # first and longest pause while a request waits for an export
        self.lookups = lookups  # functions.lookup_pool: where the listing runs beside the metadata call
        self.touch_interval = touch_interval  # a query dump's `requested` marker is touched at most this often

    def lookup(self, resource_id: str, variant: Variant, query: DumpQuery = DumpQuery(),
               conditional: Conditional = UNCONDITIONAL) -> Lookup:
        """A dump request's lookup. For the whole table, unconditionally, its `modified` is asked while the
        variant's exports (every revision the bucket still holds) are listed: one round trip. Otherwise the
        metadata call comes alone first: it may answer a conditional request (nothing is listed then), and a query
        is checked against the columns it gives, only now that the caller was authorized (field names never leak
        to others), for the key its listing needs."""
        if query.whole_table and not conditional.asked:
            return self._whole_table(resource_id, variant)
        if query.whole_table:
            target = self.current(resource_id, variant)
        else:
            shape = self.tables.shape(resource_id)
            target = Target.of(resource_id, variant, layout.revision_of(shape.modified),
                               check_against_columns(query, shape.columns))
        if conditional.unchanged(target):
            return Lookup(target, None, None)
        if not target.is_query:
            return Lookup(target, self.request(target), None)
        # one listing of the query's prefix: its variants and revisions (bounded by GC) and its `requested` marker
        listed = self.bucket.list(layout.query_prefix(target.resource_id, target.variant.query_key))
        marker = layout.requested_marker(target.resource_id, target.variant.query_key)
        return Lookup(target, self._requested(target, listed), next((o for o in listed if o.name == marker), None))

    def _whole_table(self, resource_id: str, variant: Variant) -> Lookup:
        plain = replace(variant, query_key="")
        listing = self.lookups.start(lambda: self.bucket.list(layout.variant_prefix(resource_id, plain)))
        try:
            target = self.current(resource_id, variant)
        except BaseException:
            listing.abandon()
            raise
        return Lookup(target, self._requested(target, listing.result()), None)

    def current(self, resource_id: str, variant: Variant) -> Target:
        """The whole table's target, from one metadata call (on every request: a table modified a moment ago is
        served at its new revision)."""
        return Target.of(resource_id, variant, layout.revision_of(self.tables.table_modified(resource_id)),
                         DumpQuery())

    def note_request(self, found: Lookup) -> None:
        """A query dump served from the cache: queue a touch of its `requested` marker when it is absent or older
        than the touch interval; the read-write worker writes it, at most once per interval."""
        target, marker = found.target, found.marker
        if not target.is_query:
            return
        key = target.variant.query_key
        try:
            now = self.clock.now()
            if marker is not None and now - marker.updated < self.touch_interval:
                return
            slot = int(now.timestamp() // max(1.0, self.touch_interval.total_seconds()))
            self.queue.enqueue(layout.touch_task_name(target.resource_id, key, slot),
                               {"touch": True, "resource_id": target.resource_id, "query_key": key})
        except DumpError as error:  # recency is best effort: the caller still gets the file it asked for
            log.warning("could not record a request of %s query %s: %s", target.resource_id, key, error.message)

    def list_tables(self) -> list[str]:
        return self.tables.list_tables()

    def look(self, target: Target) -> Look:
        return self._look(self.bucket.list(target.prefix))

    def _look(self, listed: list[ObjectInfo]) -> Look:
        """`listed`: the revision's objects."""
        state = revision_state(listed)
        if state.failed and state.failed.failure:
            return Look(state, parse_failure(self.bucket.read_bytes(state.failed.failure.name)), tuple(listed))
        return Look(state, None, tuple(listed))

    def decide(self, target: Target, queued: int = 0) -> Step:
        return self._next(self.look(target), queued)

    def _next(self, look: Look, queued: int = 0) -> Step:
        return next_step(look.state, look.failure, self.clock.now(), self.cooldown, queued)

    def request(self, target: Target) -> Step:
        """The next step for a caller who has queued nothing yet; a Queue step is queued before it is returned."""
        return self._requested(target, self.bucket.list(target.prefix))

    def _requested(self, target: Target, listed: list[ObjectInfo]) -> Step:
        """`listed`: objects under the target's revision prefix or a prefix of it (its variant's, its query's)."""
        step = self._next(self._look([o for o in listed if o.name.startswith(target.prefix)]))
        if isinstance(step, Queue):
            self.queue_attempt(target, step.attempt)
        return step

    def queue_attempt(self, target: Target, attempt: int) -> bool:
        return self.queue.enqueue(target.task_name(attempt), target.task_payload(attempt))

    def wait_for(self, target: Target, attempt: int, seconds: float, streamed_after: float | None = None) -> Step:
        """Looks again, with growing pauses (cut short when the bucket tells of a change), until attempt `attempt`
        is published or failed or `seconds` pass, or (`streamed_after`: the caller then follows the export) that
        many seconds passed and its first piece is final (functions.core.progress); a transient failure queues
        the next attempt at once and waits for that one."""
        poll_first, poll_max = self.poll_seconds
        started = self.clock.monotonic()
        deadline, pause = started + seconds, poll_first
        mark = self.changes.mark()
        while self.clock.monotonic() < deadline:
            self.changes.wait(mark, min(pause, max(0.0, deadline - self.clock.monotonic())))
            pause = min(pause * 2, poll_max)
            mark = self.changes.mark()
            look = self.look(target)
            step = self._next(look, queued=attempt)
            if isinstance(step, Queue):
                self.queue_attempt(target, step.attempt)
                attempt = step.attempt
            elif not isinstance(step, Wait):
                return step
            elif streamed_after is not None and self.clock.monotonic() - started >= streamed_after and \
                    progress.records_after(look.listed, layout.attempt_prefix(target.resource_id, target.variant,
                                                                              target.rev, attempt), 0):
                return step  # a follower gets bytes at once: waiting on for the published file delays them
        return Wait(attempt)

    def follow(self, target: Target, attempt: int, seconds: float, seen: int | None = None,
               gone: Callable[[], bool] = lambda: False) -> Progress:
        """A follower's wait, until the attempt is published or failed, `seconds` pass, the caller is `gone`, or
        (`seen` not None) records after the first `seen` of the attempt's streamed pieces exist (functions.core
        .progress). Looks less often as it goes on (down to every FOLLOW_POLL_MAX s) unless the bucket tells of a
        change. A transient failure of a follower's attempt is answered: its target carries no query to queue."""
        poll_first = self.poll_seconds[0]
        longest = max(self.poll_seconds[1], FOLLOW_POLL_MAX)
        prefix = layout.attempt_prefix(target.resource_id, target.variant, target.rev, attempt)
        deadline, pause = self.clock.monotonic() + seconds, poll_first
        while True:
            mark = self.changes.mark()
            look = self.look(target)
            step = self._next(look, queued=attempt)
            if isinstance(step, Queue):
                step = Fail(Failure("the export was interrupted", FailureKind.TRANSIENT), 1)
            if not isinstance(step, Wait):
                return Progress(step)
            if seen is not None:
                records = progress.records_after(look.listed, prefix, seen)
                if records:
                    try:
                        return Progress(step, self._recorded(records, prefix))
                    except NotFound:  # published since the listing, its records deleted with the leftovers: the
                        pass  # next look finds the manifest (written before anything is deleted)
            left = deadline - self.clock.monotonic()
            if left <= 0 or gone():
                return Progress(step)
            self.changes.wait(mark, min(pause, left))
            pause = min(pause * 2, longest)

    def _recorded(self, records: list[str], prefix: str) -> list[tuple[Piece, ...]]:
        try:
            return [progress.parse_record(self.bucket.read_bytes(name), prefix) for name in records]
        except ValueError as exc:
            log.error("a streamed record under %s is unreadable: %s", prefix, exc)
            raise Unavailable("The export's progress record is unreadable.",
                              "Request the dump again once the export is published.") from None

    def manifest(self, serve: Serve) -> Manifest:
        return _cached_manifest(self.bucket, serve.manifest)

    def published_manifest(self, target: Target) -> Manifest:
        """The streaming function's read: the target's manifest, or NotFound when it is no longer stored."""
        state = self.look(target).state
        if not state.published or not state.published.manifest:
            raise gone(target)
        return _cached_manifest(self.bucket, state.published.manifest.name)


@functools.lru_cache(maxsize=1024)
def _cached_manifest(store: ObjectStore, name: str) -> Manifest:
    """Manifests are immutable once written (content-addressed), so caching them per process is safe."""
    try:
        return parse_manifest(store.read_bytes(name))
    except (ValueError, KeyError, TypeError) as exc:  # where and why go to the log, not to the caller
        log.error("manifest %s is unreadable: %s", name, exc)
        raise Unavailable("The published export's manifest is unreadable.",
                          "Report this to the portal's administrators; the export must be rebuilt.") from None


def gone(target: Target) -> NotFound:
    return NotFound(f"The export of {target.resource_id!r} at revision {target.rev} is no longer available.",
                    f"Request /datastore/dump/{target.resource_id} again for the current one.")
