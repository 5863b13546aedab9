"""The export worker (the publisher): one task = make sure one (resource, variant, revision) is exported and
published, with the bucket's read-write identity. It knows nothing of HTTP: a delivery comes to an Outcome.

Idempotent by construction: a published revision is never exported again, the job id is fixed per
attempt (a duplicate delivery attaches to the running job), the manifest is written last and only
if absent, and GC never touches the attempt it just published. What to do next is decided in the core
(functions.core.worker_step); this module reads, asks, and does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Mapping

from functions.core import gc, layout, worker_step
from functions.core.delivery import Outcome, Status
from functions.core.dump_query import DumpQuery, check_against_columns
from functions.core.errors import DumpError, InvalidRequest
from functions.core.model import ExportJob, JobState, JobStatus
from functions.core.publish import revision_state
from functions.core.shards import Piece
from functions.core.target import Target
from functions.core.worker_step import Finish, RecordFailure
from functions.core.worker_tasks import ExportTask, PieceTask, TouchTask, parse_task
from functions.ports import Clock, ObjectStore, TaskQueue, Warehouse
from jobs import assemble, ckan_step, progress
from jobs.concurrent_calls import call_each
from jobs.garbage import GarbageCollector
from jobs.phases import PhaseRecorder, PhaseRecorders
from jobs.publisher import Publisher, Superseded

RECORD_SECONDS = 0.05  # how often a running local export is checked for newly final files

log = logging.getLogger("bqdump.worker")


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
    """`warehouse` runs exports and `store` is the bucket, both as the read-write identity; `queue` takes the
    pieces of a multi-file json/xml export (None: written in one go); `phases` gives each delivery its recorder."""

    def __init__(self, warehouse: Warehouse, store: ObjectStore, queue: TaskQueue | None, publisher: Publisher,
                 collector: GarbageCollector, phases: PhaseRecorders, clock: Clock, settings: WorkerSettings):
        self.warehouse, self.store, self.queue = warehouse, store, queue
        self.publisher, self.collector, self.phases = publisher, collector, phases
        self.clock, self.settings = clock, settings

    def deliver(self, payload: Mapping, last: bool = False) -> Outcome:
        """`last`: the queue will not deliver this task again (its retries are spent). Then a retry ends as a
        failure record (functions.core.worker_step.given_up)."""
        try:
            task = parse_task(payload)
        except InvalidRequest as error:
            return Outcome(Status.REJECTED, {"reason": error.message})  # retrying cannot fix it
        if isinstance(task, TouchTask):
            return self.touch_task(task)
        export = task.export if isinstance(task, PieceTask) else task
        try:
            target = Target.of(export.resource_id, export.variant, export.rev, self.selection(export))
            outcome = self.piece(task, target) if isinstance(task, PieceTask) else self.export_revision(export, target)
        except DumpError as error:
            outcome = worker_step.interrupted(error)
            if not outcome.done:
                log.warning("export of %s/%s@%s attempt %d: %s", export.resource_id, export.variant.key, export.rev,
                            export.attempt, error.message)
        except Exception as error:  # an adapter's own exception (a cut connection, an SDK error): retried too
            log.exception("export of %s/%s@%s attempt %d raised", export.resource_id, export.variant.key, export.rev,
                          export.attempt)
            outcome = worker_step.interrupted(error)
        if not outcome.done and last:
            outcome = self.give_up(export, outcome)
        return outcome.about(**export.about())  # the task's log line names its target

    def give_up(self, task: ExportTask, outcome: Outcome) -> Outcome:
        step = worker_step.given_up(outcome, task.attempt)
        try:
            self.publisher.record_failure(task.attempt_prefix, step.reason, step.kind)
        except Exception:
            log.exception("could not record the failure of %s", task.attempt_prefix)
            return outcome
        log.warning("gave up on %s after the last delivery: %s", task.attempt_prefix, outcome.reason)
        return step.outcome

    def selection(self, task: ExportTask) -> DumpQuery:
        """The task's query checked against the table again: a task is never trusted blindly, and its key must be
        the one it names."""
        if not task.variant.query_key:
            return DumpQuery()
        selection = check_against_columns(task.query, self.warehouse.shape(task.resource_id).columns)
        if selection.key != task.variant.query_key:
            raise InvalidRequest(f"The task's query has the key {selection.key!r}, not {task.variant.query_key!r}.",
                                 "Queue it from a dump request.")
        return selection

    def touch_task(self, task: TouchTask) -> Outcome:
        """Recency is best effort: a touch that fails leaves nothing to record, the next cache hit queues another."""
        try:
            outcome = self.touch(task)
        except Exception as error:  # DumpError or an adapter's own: retried, and nothing sticks after the last
            log.warning("touch of %s query %s: %r", task.resource_id, task.query_key, error)
            outcome = Outcome(Status.RETRY, {"reason": getattr(error, "message", None) or type(error).__name__})
        return outcome.about(**task.about())

    def touch(self, task: TouchTask) -> Outcome:
        marker = layout.requested_marker(task.resource_id, task.query_key)
        if not [o for o in self.store.list(layout.query_prefix(task.resource_id, task.query_key)) if o.name != marker]:
            return Outcome(Status.GONE, {"query_key": task.query_key})  # evicted meanwhile: no orphan marker
        self.store.write_bytes(marker, self.clock.now().isoformat().encode(), "text/plain")
        evicted = self.collector.make_room(task.resource_id, task.query_key)
        return Outcome(Status.TOUCHED, {"evicted": len(evicted.doomed)})

    def finish(self, step: Finish | RecordFailure, prefix: str, target: Target) -> Outcome:
        if isinstance(step, RecordFailure):
            self.publisher.record_failure(prefix, step.reason, step.kind)
            return step.outcome
        if step.collect_garbage:
            self.collector.collect(target)
        return step.outcome

    def export_revision(self, task: ExportTask, target: Target) -> Outcome:
        current = self.publisher.current_rev(target)
        step: Finish | RecordFailure | worker_step.Export = worker_step.export_step(
            task, current, revision_state(self.store.list(target.prefix)))
        if target.is_query and isinstance(step, worker_step.Export):
            kept = self.collector.make_room(target.resource_id, target.variant.query_key).kept
            step = worker_step.room_step(task, kept, self.settings.query_cap)
        if not isinstance(step, worker_step.Export):
            return self.finish(step, task.attempt_prefix, target)
        return self.export(task, target, self.phases(target))

    def export(self, task: ExportTask, target: Target, phases: PhaseRecorder) -> Outcome:
        prefix, attempt = task.attempt_prefix, task.attempt
        plan = assemble.plan_for(target.variant, self.settings.compose)
        exported = target.variant.format.exported_as  # json and xml: Parquet, written out by the worker
        job = ExportJob(layout.job_id(target.resource_id, target.variant, target.rev, attempt), target.resource_id,
                        exported, prefix, self.settings.shard_bytes, header=False,
                        gzip=target.variant.gzip and exported is target.variant.format, selection=target.selection,
                        early=progress.streams_early(target.variant, self.warehouse))
        with phases.phase("export"):
            self.warehouse.start_export(job)
            status = self.wait_recording(job, target, prefix, plan)
        report = {"job_id": job.job_id, "attempt": attempt}
        ended = worker_step.job_step(status, report)
        if ended is not None:
            return self.finish(ended, prefix, target)
        listed = self.store.list(target.prefix)  # the revision: whether it is published, and this attempt's files
        files = assemble.export_files(o for o in listed if o.name.startswith(prefix))
        step = worker_step.publish_step(target, revision_state(listed), [o.name for o in files],
                                        self.queue is not None, report)
        if isinstance(step, Finish):
            return self.finish(step, prefix, target)
        if isinstance(step, worker_step.FanOut):
            return self.fan_out(target, attempt, prefix, list(step.shards), report)
        try:
            with phases.phase("assemble"):
                manifest, leftovers = self.publisher.assemble_and_publish(target, attempt, prefix, files, plan, phases)
        except Superseded as moved:
            return Outcome(Status.SUPERSEDED, {**report, "reason": moved.message})
        except Exception as error:
            if self.publisher.published(target):  # it did, while we were assembling
                return Outcome(Status.PUBLISHED, report)
            log.warning("assembling %s failed: %r", prefix, error)
            return self.finish(worker_step.assembly_failed(error, report), prefix, target)
        with phases.phase("cleanup"):
            with phases.phase("leftovers"):  # composed or merged; streamed records
                self.collector.delete_all(leftovers + progress.record_names(self.store, prefix))
            with phases.phase("gc"):
                self.collector.collect(target)
        return Outcome(Status.PUBLISHED, {**report, "files": len(manifest.pieces), "bytes": manifest.total_size,
                                          "seconds": phases.seconds()})

    def fan_out(self, target: Target, attempt: int, prefix: str, shards: list[str], report: dict) -> Outcome:
        """CKAN's json/xml of a multi-file export in pieces: the frame now, then one task per Parquet file. A
        duplicate delivery writes nothing new and queues nothing new (the task names are taken)."""
        assert self.queue is not None  # publish_step fans out only with a queue
        ckan_step.write_frame(self.store, shards[0], prefix, target.variant,
                              assemble.json_columns(self.warehouse, target))
        payload, queue = target.task_payload(attempt), self.queue
        tasks = [(f"{target.task_name(attempt)}-piece-{index}", {**payload, "piece": index, "pieces": len(shards)})
                 for index in range(len(shards))]
        call_each(lambda task: queue.enqueue(*task), tasks)  # jobs.concurrent_calls; an error: the delivery is retried
        return Outcome(Status.PIECES_QUEUED, {**report, "pieces": len(shards)})

    def piece(self, task: PieceTask, target: Target) -> Outcome:
        """One piece of a json/xml file from its Parquet file; the delivery that finds every piece landed joins
        them. The revision's state, files and pieces come from one listing."""
        prefix, report = task.export.attempt_prefix, worker_step.piece_report(task)
        current = self.publisher.current_rev(target)
        listed = self.store.list(target.prefix)
        in_attempt = [o for o in listed if o.name.startswith(prefix)]
        shards = [o.name for o in assemble.export_files(in_attempt)]
        step = worker_step.piece_step(task, current, revision_state(listed), shards, {o.name for o in in_attempt})
        if isinstance(step, worker_step.WritePiece):
            ckan_step.write_piece(self.store, step.shard, prefix, task.index, target.variant,
                                  assemble.json_columns(self.warehouse, target))
            step = worker_step.join_step(task, {o.name for o in self.store.list(prefix)})
        if isinstance(step, Finish):
            return step.outcome
        try:
            destination = layout.single_object_name(prefix, target.variant)
            joined = assemble.compose(self.store, list(step.sources), destination, target.variant.content_type)
            manifest = self.publisher.publish(target, task.export.attempt, prefix, [Piece(joined.name, joined.size)])
        except Exception:
            if self.publisher.published(target):  # a duplicate delivery joined them first
                return Outcome(Status.PUBLISHED, report)
            raise
        self.collector.delete_all(shards + list(step.sources))  # the files and pieces, composed into the download
        self.collector.collect(target)
        return Outcome(Status.PUBLISHED, {**report, "files": len(manifest.pieces), "bytes": manifest.total_size})

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
                if final and not self.publisher.published(target):
                    recorder = recorder or progress.Recorder(self.store, self.warehouse, target, prefix, plan)
                    recorder.record(final)
            except Exception:  # best effort: followers then wait for the manifest (a duplicate delivery raced us)
                log.warning("could not record the streamed pieces of %s", prefix, exc_info=True)
            if status.state is not JobState.RUNNING or left <= 0:
                return status
