"""The export worker (the publisher): one task = make sure one (resource, variant, revision) is exported and
published, with the bucket's read-write identity. It knows nothing of HTTP: a delivery comes to Done or Retry.

Idempotent by construction: a published revision is never exported again, the job id is fixed per
attempt (a duplicate delivery attaches to the running job), the manifest is written last and only
if absent, and GC never touches the attempt it just published.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Iterable, Mapping

from functions.core import gc, identifiers, layout, pieces
from functions.core.dump_query import DumpQuery, check_against_columns
from functions.core.delivery import Done, Outcome, Retry
from functions.core.errors import DumpError, InvalidRequest, NotFound
from functions.core.model import ExportJob, FailureKind, Format, JobState, JobStatus
from functions.core.next_step import Serve, Wait, next_step
from functions.core.publish import Manifest, failure_bytes, manifest_bytes, revision_state
from functions.core.shards import Piece
from functions.core.target import Target
from functions.ports import Clock, ObjectStore, TaskQueue, Warehouse
from jobs import assemble, ckan_step, progress

RECORD_SECONDS = 0.05  # how often a running local export is checked for newly final files

log = logging.getLogger("bqdump.worker")


class Superseded(DumpError):
    """The table moved on while this revision was being exported."""


@dataclass(frozen=True)
class WorkerSettings:
    compose: bool  # join a multi-file export into one object
    shard_bytes: int
    wait_seconds: float  # how long one delivery waits for its export job
    url_lifetime: timedelta  # GC keeps superseded exports this long
    query_cap: int  # distinct query dumps kept per resource
    touch_interval: timedelta  # a requested marker is touched at most this often

    @property
    def protected_for(self) -> timedelta:
        """A query dump requested within this may have a live signed URL: the cap never evicts it."""
        return self.url_lifetime + gc.GRACE + self.touch_interval


class ExportWorker:
    """`warehouse` runs exports and `store` is the bucket, both as the read-write identity."""

    def __init__(self, warehouse: Warehouse, store: ObjectStore, clock: Clock, settings: WorkerSettings,
                 queue: TaskQueue | None = None):
        """`queue`: where the json/xml step of a multi-file export queues its pieces (None: written in one go)."""
        self.warehouse, self.store, self.clock, self.settings, self.queue = warehouse, store, clock, settings, queue

    def deliver(self, payload: Mapping, last: bool = False) -> Outcome:
        """`last`: the queue will not deliver this task again (its retries are spent). Then a Retry ends as a
        failure record, so the next request starts a new attempt instead of waiting for a delivery that never
        comes (the task name stays taken for about an hour)."""
        try:
            resource_id = identifiers.resource_id(payload.get("resource_id"))
            query_key = identifiers.query_key(payload.get("query_key"))
            if payload.get("touch"):
                return self.touch_task(resource_id, query_key)
            variant = replace(identifiers.dump_variant(payload.get("format"), payload.get("compression"),
                                                       payload.get("bom")), query_key=query_key)
            target = Target(resource_id, variant, identifiers.revision(payload.get("revision")))
            attempt = identifiers.attempt(payload.get("attempt"))
            piece = _piece(payload) if "piece" in payload else None
        except InvalidRequest as error:
            return Done("rejected", {"reason": error.message})  # retrying cannot fix it
        try:
            target = Target.of(resource_id, variant, target.rev, self.selection(resource_id, query_key,
                                                                                 payload.get("query")))
            outcome = self.export_revision(target, attempt) if piece is None else self.piece(target, attempt, *piece)
        except InvalidRequest as error:
            return Done("rejected", {"reason": error.message})  # the task's query does not fit the table
        except NotFound as error:
            return Done("table_gone", {"reason": error.message})
        except DumpError as error:
            log.warning("export of %s/%s@%s attempt %d: %s", target.resource_id, target.variant.key, target.rev,
                        attempt, error.message)
            outcome = Retry("retry", {"reason": error.message})
        except Exception as error:  # an adapter's own exception (a cut connection, an SDK error): retried too
            log.exception("export of %s/%s@%s attempt %d raised", target.resource_id, target.variant.key,
                          target.rev, attempt)
            outcome = Retry("retry", {"reason": f"the export was interrupted ({type(error).__name__})"})
        if isinstance(outcome, Retry) and last:
            outcome = self.give_up(target, attempt, outcome)
        about = {"resource": target.resource_id, "variant": target.variant.key, "revision": target.rev,
                 "attempt": attempt}
        return replace(outcome, details={**about, **outcome.details})  # the task's log line names its target

    def give_up(self, target: Target, attempt: int, outcome: Retry) -> Outcome:
        reason = f"the export did not finish within the task queue's deliveries ({outcome.reason})"
        prefix = layout.attempt_prefix(target.resource_id, target.variant, target.rev, attempt)
        try:
            self.record_failure(prefix, reason, FailureKind.TRANSIENT)  # a new attempt may well succeed
        except Exception:
            log.exception("could not record the failure of %s", prefix)
            return outcome
        log.warning("gave up on %s after the last delivery: %s", prefix, outcome.reason)
        return Done("failed", {"reason": reason, "attempt": attempt})

    def selection(self, resource_id: str, query_key: str, canonical) -> DumpQuery:
        """The task's query in its canonical form, read back and checked against the table again: a task is never
        trusted blindly, and its key must be the one it names."""
        if not query_key:
            return DumpQuery()
        if not isinstance(canonical, str) or not canonical:
            raise InvalidRequest("The task names a query key but carries no query.", "Queue it from a dump request.")
        selection = check_against_columns(DumpQuery.from_canonical(canonical),
                                          self.warehouse.shape(resource_id).columns)
        if selection.key != query_key:
            raise InvalidRequest(f"The task's query has the key {selection.key!r}, not {query_key!r}.",
                                 "Queue it from a dump request.")
        return selection

    def touch_task(self, resource_id: str, query_key: str) -> Outcome:
        """A touch task, which leaves nothing to record when it fails: recency is best effort, the next cache hit
        queues another."""
        about = {"resource": resource_id, "query_key": query_key, "task_kind": "touch"}
        try:
            outcome = self.touch(resource_id, query_key)
        except Exception as error:  # DumpError or an adapter's own: retried, and nothing sticks after the last
            log.warning("touch of %s query %s: %r", resource_id, query_key, error)
            outcome = Retry("retry", {"reason": getattr(error, "message", None) or type(error).__name__})
        return replace(outcome, details={**about, **outcome.details})

    def touch(self, resource_id: str, query_key: str) -> Outcome:
        """A cache hit on a query dump: mark it requested now, then hold the resource to its cap."""
        if not query_key:
            return Done("rejected", {"reason": "a touch names a query key"})
        marker = layout.requested_marker(resource_id, query_key)
        if not [o for o in self.store.list(layout.query_prefix(resource_id, query_key)) if o.name != marker]:
            return Done("gone", {"query_key": query_key})  # evicted meanwhile: no orphan marker
        self.store.write_bytes(marker, self.clock.now().isoformat().encode(), "text/plain")
        evicted = self.make_room(resource_id, query_key)
        return Done("touched", {"evicted": len(evicted.doomed)})

    def make_room(self, resource_id: str, keep: str) -> gc.Eviction:
        """Deletes the least recently requested query dumps beyond the cap (never `keep`, never a recent one)."""
        root = layout.query_root(resource_id)
        eviction = gc.evicted_queries(self.store.list(root), root, keep, self.settings.query_cap, self.clock.now(),
                                      self.settings.protected_for)
        self.delete_all(obj.name for obj in eviction.doomed)  # what fails, the next make_room picks up
        return eviction

    def current_rev(self, target: Target) -> str:
        return layout.revision_of(self.warehouse.table_modified(target.resource_id))

    def published(self, target: Target) -> bool:
        return revision_state(self.store.list(target.prefix)).published is not None

    def export_revision(self, target: Target, attempt: int) -> Outcome:
        current = self.current_rev(target)
        if current != target.rev:
            return Done("superseded", {"current_revision": current})
        state = revision_state(self.store.list(target.prefix))
        # The worker needs no failure record: a failure of this attempt or a later one ends the task either way
        # (only a new request retries); cooldowns are the dump function's, so none is passed.
        step = next_step(state, None, self.clock.now(), timedelta(0), queued=attempt)
        if isinstance(step, Serve):
            self.collect_garbage(target)  # repeats (pre-warm, duplicates) also bound storage
            return Done("published", {"attempt": step.attempt})
        if not isinstance(step, Wait):
            assert state.failed is not None  # only a failed attempt (this one or a later one) ends it here
            return Done("failed", {"attempt": state.failed.number})
        return self.export(target, attempt)

    def export(self, target: Target, attempt: int) -> Outcome:
        prefix = layout.attempt_prefix(target.resource_id, target.variant, target.rev, attempt)
        if target.is_query and self.make_room(target.resource_id, target.variant.query_key).kept >= \
                self.settings.query_cap:
            self.record_failure(prefix, f"{target.resource_id} holds {self.settings.query_cap} filtered downloads "
                                        "requested recently", FailureKind.BUSY)
            return Done("busy", {"query_cap": self.settings.query_cap})
        plan = assemble.plan_for(target.variant, self.settings.compose)
        exported = target.variant.format.exported_as  # json and xml: Parquet, written out by the worker
        job = ExportJob(layout.job_id(target.resource_id, target.variant, target.rev, attempt), target.resource_id,
                        exported, prefix, self.settings.shard_bytes, header=False,
                        gzip=target.variant.gzip and exported is target.variant.format, selection=target.selection,
                        early=progress.streams_early(target.variant, self.warehouse))
        started = self.clock.monotonic()
        self.warehouse.start_export(job)
        status = self.wait_recording(job, target, prefix, plan)
        exported_at = self.clock.monotonic()
        report = {"job_id": job.job_id, "attempt": attempt}
        if status.state is JobState.RUNNING:
            return Retry("running", report)  # a later delivery picks the job up
        if status.state is JobState.FAILED:
            self.record_failure(prefix, status.error, status.kind)
            return Done("failed", {**report, "reason": status.error})
        if self.published(target):
            return Done("published", report)  # a duplicate delivery got there first
        if target.variant.format.written_by_worker and self.queue is not None and target.selection.limit != 0:
            shards = self.shards(prefix)
            if len(shards) > 1:
                return self.fan_out(target, attempt, prefix, shards, report)
        try:
            manifest, leftovers = self.publish(target, attempt, prefix, plan)
        except Superseded as moved:
            return Done("superseded", {**report, "reason": moved.message})
        except Exception as error:
            if self.published(target):  # it did, while we were assembling
                return Done("published", report)
            return self.assembly_failed(prefix, error, report)
        assembled = self.clock.monotonic()
        self.delete_all(leftovers + progress.record_names(self.store, prefix))  # composed or merged; streamed records
        self.collect_garbage(target)
        seconds = {"export": exported_at - started, "assemble": assembled - exported_at,
                   "cleanup": self.clock.monotonic() - assembled}
        return Done("published", {**report, "files": len(manifest.pieces),
                                  "bytes": sum(piece.length for piece in manifest.pieces),
                                  "seconds": {phase: round(value, 3) for phase, value in seconds.items()}})

    def shards(self, prefix: str) -> list[str]:
        return [o.name for o in assemble.export_files(self.store.list(prefix))]

    def fan_out(self, target: Target, attempt: int, prefix: str, shards: list[str], report: dict) -> Outcome:
        """CKAN's json/xml of a multi-file export in pieces: the frame now, then one task per Parquet file. A
        duplicate delivery writes nothing new and queues nothing new (the task names are taken)."""
        assert self.queue is not None  # export() fans out only with a queue
        ckan_step.write_frame(self.store, shards[0], prefix, target.variant,
                              assemble.json_columns(self.warehouse, target))
        payload = target.task_payload(attempt)
        for index in range(len(shards)):
            self.queue.enqueue(f"{target.task_name(attempt)}-piece-{index}",
                               {**payload, "piece": index, "pieces": len(shards)})
        return Done("pieces queued", {**report, "pieces": len(shards)})

    def piece(self, target: Target, attempt: int, index: int, count: int) -> Outcome:
        """One piece of a json/xml file from its Parquet file; the delivery that finds every piece landed joins
        them (each lists after its own write, so the last to land sees them all)."""
        report = {"attempt": attempt, "piece": index, "pieces": count}
        current = self.current_rev(target)
        if current != target.rev:
            return Done("superseded", {**report, "current_revision": current})
        listed = self.store.list(target.prefix)  # the revision: its state, and this attempt's files and pieces
        state = revision_state(listed)
        if state.published is not None:
            return Done("published", report)
        if state.failed is not None and state.failed.number >= attempt:
            return Done("failed", report)
        prefix = layout.attempt_prefix(target.resource_id, target.variant, target.rev, attempt)
        in_attempt = [o for o in listed if o.name.startswith(prefix)]
        shards = [o.name for o in assemble.export_files(in_attempt)]
        if len(shards) != count or not target.variant.format.written_by_worker:
            return Done("rejected", {**report, "reason": f"the export has {len(shards)} files, not {count}"})
        names = {o.name for o in in_attempt}
        if pieces.rows_name(prefix, index) not in names:
            ckan_step.write_piece(self.store, shards[index], prefix, index, target.variant,
                                  assemble.json_columns(self.warehouse, target))
            names = {o.name for o in self.store.list(prefix)}
        plan = pieces.join_plan(names, prefix, count, separated=target.variant.format is Format.JSON)
        if isinstance(plan, pieces.Missing):
            return Done("piece written", {**report, "missing": len(plan.pieces)})
        try:
            destination = layout.single_object_name(prefix, target.variant)
            joined = assemble.compose(self.store, list(plan.sources), destination, target.variant.content_type)
            manifest = self.publish_pieces(target, attempt, prefix, [Piece(joined.name, joined.size)])
        except Exception:
            if self.published(target):  # a duplicate delivery joined them first
                return Done("published", report)
            raise
        self.delete_all(shards + list(plan.sources))  # the files and pieces, composed into the download
        self.collect_garbage(target)
        return Done("published", {**report, "files": len(manifest.pieces), "bytes": manifest.total_size})

    def wait_recording(self, job: ExportJob, target: Target, prefix: str, plan: assemble.Plan) -> JobStatus:
        """Waits for the export job as `wait_export` does; where files are final before the job ends
        (jobs.progress), records each one as it is, so followers send it at once, and the rest when it ends."""
        if not progress.streams_early(target.variant, self.warehouse):
            return self.warehouse.wait_export(job.job_id, self.settings.wait_seconds)
        recorder: progress.Recorder | None = None
        deadline = self.clock.monotonic() + self.settings.wait_seconds
        while True:
            left = max(0.0, deadline - self.clock.monotonic())
            status = self.warehouse.wait_export(job.job_id, min(RECORD_SECONDS, left))
            final = (self.warehouse.final_files(job.job_id)  # type: ignore[attr-defined]  # streams_early: it has
                     if status.state is not JobState.FAILED else [])
            if final is None:  # a job this process does not run (started before a restart): wait as before
                return status if status.state is not JobState.RUNNING else self.warehouse.wait_export(job.job_id, left)
            try:
                if final and not self.published(target):
                    recorder = recorder or progress.Recorder(self.store, self.warehouse, target, prefix, plan)
                    recorder.record(final)
            except Exception:  # best effort: followers then wait for the manifest (a duplicate delivery raced us)
                log.warning("could not record the streamed pieces of %s", prefix, exc_info=True)
            if status.state is not JobState.RUNNING or left <= 0:
                return status

    def assembly_failed(self, prefix: str, error: Exception, report: dict) -> Outcome:
        """Whatever fails after the export job (compose, merge, header, manifest, a full disk) ends this attempt
        with a failure record, so the next request after the cooldown starts a new one. If even the record
        cannot be written, the delivery is retried (and the last delivery records it)."""
        if isinstance(error, DumpError):
            reason = error.message
        else:  # an OSError's text names server paths: the log keeps them
            reason = f"assembling the export failed ({getattr(error, 'strerror', None) or type(error).__name__})"
        log.warning("assembling %s failed: %r", prefix, error)
        self.record_failure(prefix, reason, FailureKind.FAILED)
        return Done("failed", {**report, "reason": reason})

    def delete_all(self, names: Iterable[str]) -> int:
        """Deletes each object; one that cannot be is logged and left for the next GC run or the bucket's
        lifecycle rule (deleting is best effort: correctness never depends on it). Answers how many went."""
        deleted = 0
        for name in names:
            try:
                self.store.delete(name)
                deleted += 1
            except Exception:
                log.exception("could not delete %s", name)
        return deleted

    def record_failure(self, prefix: str, reason: str, kind: FailureKind) -> None:
        record = failure_bytes(reason, kind, self.clock.now())
        self.store.write_bytes(prefix + layout.FAILURE, record, "application/json", if_absent=True)

    def publish(self, target: Target, attempt: int, prefix: str, plan: assemble.Plan) -> tuple[Manifest, list[str]]:
        """Assembles the download from the export's files, then writes the manifest last and only if absent:
        a duplicate delivery racing us cannot replace a published manifest."""
        parts, leftovers = assemble.assemble(self.store, self.warehouse, target, prefix, plan)
        if plan.header_object and self.current_rev(target) != target.rev:
            # The header came from the table as it is now: if the table moved since the export read it, the
            # header may not match the rows. This revision is superseded anyway; leave it unpublished.
            raise Superseded(f"{target.resource_id} changed while it was exported.",
                             "The new revision will be exported.")
        return self.publish_pieces(target, attempt, prefix, parts), leftovers

    def publish_pieces(self, target: Target, attempt: int, prefix: str, parts: list[Piece]) -> Manifest:
        """The manifest, written last and only if absent: a duplicate delivery cannot replace a published one."""
        manifest = Manifest(target.resource_id, target.variant, target.rev, attempt, tuple(parts),
                            self.clock.now().isoformat())
        if manifest.single_object:  # the signed URL serves the object itself: it must carry its own headers
            self.store.set_download_headers(parts[0].name, content_type=target.variant.content_type,
                                            filename=layout.download_filename(target.resource_id, target.variant))
        self.store.write_bytes(prefix + layout.MANIFEST, manifest_bytes(manifest), "application/json", if_absent=True)
        return manifest

    def collect_garbage(self, target: Target) -> int:
        """Deletes what GC selects; a failed delete is logged and left for the next run or the lifecycle rule."""
        objects = self.store.list(layout.variant_prefix(target.resource_id, target.variant))
        return self.delete_all(obj.name for obj in gc.stale_objects(objects, self.clock.now(),
                                                                    self.settings.url_lifetime))


def _piece(payload: Mapping) -> tuple[int, int]:
    """A piece task's (index, count): small non-negative JSON integers, index below count."""
    index, count = payload.get("piece"), payload.get("pieces")
    if not isinstance(index, int) or not isinstance(count, int) or isinstance(index, bool) or \
            isinstance(count, bool) or not 0 <= index < count <= pieces.MAX_PIECES:
        raise InvalidRequest("The task's piece and pieces are not an index below a count.",
                             "Queue pieces from the worker's fan-out.")
    return index, count
