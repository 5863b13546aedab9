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
from functions.core.dump_query import DumpQuery
from functions.core.errors import DumpError, NotFound, Unavailable
from functions.core.model import ObjectInfo, TableShape, Variant
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
    """A revision's state, with its failure record when the latest attempt failed."""

    state: RevisionState
    failure: Failure | None = None


class ExportCatalogue:
    """`tables` answers table metadata and `bucket` listings and reads, both as the read-only identity."""

    def __init__(self, tables: Warehouse, bucket: ObjectStore, queue: TaskQueue, clock: Clock,
                 cooldown: timedelta, poll_seconds: tuple[float, float] = (0.25, 1.0),
                 lookups: LookupPool | NoPool = NoPool(), touch_interval: timedelta = timedelta(minutes=5),
                 changes: Changes | None = None):
        self.tables, self.bucket, self.queue, self.clock = tables, bucket, queue, clock
        self.changes = changes or ClockPauses(clock)  # wakes a waiting request when the bucket changes
        self.cooldown = cooldown
        self.poll_seconds = poll_seconds  # first and longest pause while a request waits for an export
        self.lookups = lookups  # functions.lookup_pool: where the listing runs beside the metadata call
        self.touch_interval = touch_interval  # a query dump's `requested` marker is touched at most this often

    def current(self, resource_id: str, variant: Variant, selection: DumpQuery = DumpQuery(),
                shape: TableShape | None = None) -> Target:
        """One metadata call, on every request: a table modified a moment ago is served at its new revision.
        `shape`: that call's answer when the caller made it already (to check a query against the columns)."""
        modified = shape.modified if shape is not None else self.tables.table_modified(resource_id)
        return Target.of(resource_id, variant, layout.revision_of(modified), selection)

    def request_current(self, resource_id: str, variant: Variant,
                        selection: DumpQuery = DumpQuery()) -> tuple[Target, Step]:
        """`current` and `request` in one round trip: the variant's exports (every revision the bucket still
        holds) are listed while the table's `modified` is asked, then the current revision's are picked out."""
        keyed = replace(variant, query_key=selection.key)
        listing = self.lookups.start(lambda: self.bucket.list(layout.variant_prefix(resource_id, keyed)))
        try:
            target = self.current(resource_id, variant, selection)
        except BaseException:
            listing.abandon()
            raise
        return target, self.request(target, [o for o in listing.result() if o.name.startswith(target.prefix)])

    def shape(self, resource_id: str) -> TableShape:
        return self.tables.shape(resource_id)

    def request_listed(self, target: Target) -> tuple[Step, ObjectInfo | None]:
        """`request`, and for a query dump its `requested` marker, from one listing of the query's prefix (its
        variants and revisions, bounded by GC, and the marker)."""
        if not target.is_query:
            return self.request(target), None
        listed = self.bucket.list(layout.query_prefix(target.resource_id, target.variant.query_key))
        marker = layout.requested_marker(target.resource_id, target.variant.query_key)
        return (self.request(target, [o for o in listed if o.name.startswith(target.prefix)]),
                next((o for o in listed if o.name == marker), None))

    def note_request(self, target: Target, marker: ObjectInfo | None) -> None:
        """A query dump served from the cache: queue a touch of its `requested` marker (`marker`: as listed,
        None when absent) when it is older than the touch interval; the read-write worker writes it, at most
        once per interval."""
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

    def look(self, target: Target, listed: list[ObjectInfo] | None = None) -> Look:
        """`listed`: the revision's objects when the caller listed them already."""
        state = revision_state(self.bucket.list(target.prefix) if listed is None else listed)
        if state.failed and state.failed.failure:
            return Look(state, parse_failure(self.bucket.read_bytes(state.failed.failure.name)))
        return Look(state)

    def decide(self, target: Target, queued: int = 0, listed: list[ObjectInfo] | None = None) -> Step:
        look = self.look(target, listed)
        return next_step(look.state, look.failure, self.clock.now(), self.cooldown, queued)

    def request(self, target: Target, listed: list[ObjectInfo] | None = None) -> Step:
        """The next step for a caller who has queued nothing yet; a Queue step is queued before it is returned."""
        step = self.decide(target, listed=listed)
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
            listed = self.bucket.list(target.prefix)
            step = self.decide(target, queued=attempt, listed=listed)
            if isinstance(step, Queue):
                self.queue_attempt(target, step.attempt)
                attempt = step.attempt
            elif not isinstance(step, Wait):
                return step
            elif streamed_after is not None and self.clock.monotonic() - started >= streamed_after and \
                    progress.records_after(listed, layout.attempt_prefix(target.resource_id, target.variant,
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
            listed = self.bucket.list(target.prefix)
            step = self.decide(target, queued=attempt, listed=listed)
            if isinstance(step, Queue):
                step = Fail(Failure("the export was interrupted", FailureKind.TRANSIENT), 1)
            if not isinstance(step, Wait):
                return Progress(step)
            if seen is not None:
                records = progress.records_after(listed, prefix, seen)
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
