"""What the export worker does next with a task, decided from what it has read: the table's revision, the
revision's state (from a listing), the export job's status, the export's files. No I/O: the worker reads, asks
here, and does what the answer says.

An export task: `export_step` (before the job), `room_step` (a query dump, once room is made), `job_step` (once
the job is waited for), `publish_step` (once it is done). A piece task: `piece_step`, then `join_step` once its
piece is written. A delivery that raises ends as `interrupted` says; the queue's last delivery as `given_up` says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AbstractSet, Sequence

from functions.core import pieces
from functions.core.delivery import Outcome, Status
from functions.core.errors import DumpError, InvalidRequest, NotFound
from functions.core.model import FailureKind, Format, JobState, JobStatus
from functions.core.publish import RevisionState
from functions.core.target import Target
from functions.core.worker_tasks import ExportTask, PieceTask


@dataclass(frozen=True)
class Finish:
    """The delivery ends with `outcome`; `collect_garbage`: the revision is published, and a repeat (pre-warm, a
    duplicate delivery) bounds storage too."""

    outcome: Outcome
    collect_garbage: bool = False


@dataclass(frozen=True)
class RecordFailure:
    """Write the attempt's failure record (only if absent), then end with `outcome`."""

    reason: str
    kind: FailureKind
    outcome: Outcome


@dataclass(frozen=True)
class Export:
    """Start the attempt's export job, or attach to it (its id is fixed per attempt)."""


@dataclass(frozen=True)
class Publish:
    """Assemble the export's files into the download and write the manifest last."""


@dataclass(frozen=True)
class FanOut:
    """CKAN's json/xml of a multi-file export: write the frame, queue one piece task per file."""

    shards: tuple[str, ...]


@dataclass(frozen=True)
class WritePiece:
    shard: str  # the export's file this piece is written from


@dataclass(frozen=True)
class Join:
    sources: tuple[str, ...]  # composed, in this order, into the download


def _ended(task: ExportTask, current_rev: str, state: RevisionState) -> Status | None:
    """The table moved on, the revision is published, or this attempt (or a later one) failed: a failure ends
    the task either way (only a new request retries, after the dump function's cooldown)."""
    if current_rev != task.rev:
        return Status.SUPERSEDED
    if state.published is not None:
        return Status.PUBLISHED
    if state.failed is not None and state.failed.number >= task.attempt:
        return Status.FAILED
    return None


def export_step(task: ExportTask, current_rev: str, state: RevisionState) -> Finish | Export:
    ended = _ended(task, current_rev, state)
    if ended is Status.SUPERSEDED:
        return Finish(Outcome(ended, {"current_revision": current_rev}))
    if ended is Status.PUBLISHED:
        assert state.published is not None
        return Finish(Outcome(ended, {"attempt": state.published.number}), collect_garbage=True)
    if ended is Status.FAILED:
        assert state.failed is not None
        return Finish(Outcome(ended, {"attempt": state.failed.number}))
    return Export()


def room_step(task: ExportTask, kept: int, cap: int) -> RecordFailure | Export:
    """A query dump, once the least recently requested beyond the cap are gone: `kept` others are left, each
    requested too recently to evict."""
    if kept >= cap:
        return RecordFailure(f"{task.resource_id} holds {cap} filtered downloads requested recently",
                             FailureKind.BUSY, Outcome(Status.BUSY, {"query_cap": cap}))
    return Export()


def job_step(status: JobStatus, report: dict) -> Finish | RecordFailure | None:
    """None: the job is done, go on to `publish_step`."""
    if status.state is JobState.RUNNING:
        return Finish(Outcome(Status.RUNNING, report))  # a later delivery picks the job up
    if status.state is JobState.FAILED:
        return RecordFailure(status.error, status.kind, Outcome(Status.FAILED, {**report, "reason": status.error}))
    return None


def publish_step(target: Target, state: RevisionState, shards: Sequence[str], queue_pieces: bool,
                 report: dict) -> Finish | FanOut | Publish:
    """`shards`: the export's files in row order; `queue_pieces`: there is a queue to take piece tasks."""
    if state.published is not None:
        return Finish(Outcome(Status.PUBLISHED, report))  # a duplicate delivery got there first
    if target.variant.format.written_by_worker and queue_pieces and target.selection.limit != 0 and len(shards) > 1:
        return FanOut(tuple(shards))
    return Publish()


def piece_step(task: PieceTask, current_rev: str, state: RevisionState, shards: Sequence[str],
               names: AbstractSet[str]) -> Finish | WritePiece | Join:
    """`shards`: the attempt's export files in row order; `names`: every object under the attempt's prefix."""
    export, report = task.export, piece_report(task)
    ended = _ended(export, current_rev, state)
    if ended is not None:
        extra = {"current_revision": current_rev} if ended is Status.SUPERSEDED else {}
        return Finish(Outcome(ended, {**report, **extra}))
    if len(shards) != task.count or not export.variant.format.written_by_worker:
        return Finish(Outcome(Status.REJECTED, {**report, "reason": f"the export has {len(shards)} files, "
                                                                     f"not {task.count}"}))
    if pieces.rows_name(export.attempt_prefix, task.index) not in names:
        return WritePiece(shards[task.index])
    return join_step(task, names)


def join_step(task: PieceTask, names: AbstractSet[str]) -> Finish | Join:
    """Each delivery lists after its own write, so the last piece to land sees them all and joins them."""
    plan = pieces.join_plan(names, task.export.attempt_prefix, task.count,
                            separated=task.export.variant.format is Format.JSON)
    if isinstance(plan, pieces.Missing):
        return Finish(Outcome(Status.PIECE_WRITTEN, {**piece_report(task), "missing": len(plan.pieces)}))
    return Join(plan.sources)


def piece_report(task: PieceTask) -> dict:
    return {"attempt": task.export.attempt, "piece": task.index, "pieces": task.count}


def interrupted(error: Exception) -> Outcome:
    """A delivery that raised: a task that does not fit its table is refused, a table gone ends it, anything
    else (a DumpError, an adapter's own exception: a cut connection, an SDK error) is delivered again."""
    if isinstance(error, InvalidRequest):
        return Outcome(Status.REJECTED, {"reason": error.message})
    if isinstance(error, NotFound):
        return Outcome(Status.TABLE_GONE, {"reason": error.message})
    if isinstance(error, DumpError):
        return Outcome(Status.RETRY, {"reason": error.message})
    return Outcome(Status.RETRY, {"reason": f"the export was interrupted ({type(error).__name__})"})


def assembly_failed(error: Exception, report: dict) -> RecordFailure:
    """Whatever fails after the export job (compose, merge, header, manifest, a full disk) ends the attempt with
    a failure record, so the next request after the cooldown starts a new one."""
    if isinstance(error, DumpError):
        reason = error.message
    else:  # an OSError's text names server paths: the log keeps them
        reason = f"assembling the export failed ({getattr(error, 'strerror', None) or type(error).__name__})"
    return RecordFailure(reason, FailureKind.FAILED, Outcome(Status.FAILED, {**report, "reason": reason}))


def given_up(outcome: Outcome, attempt: int) -> RecordFailure:
    """The queue's last delivery that would be retried: a failure record instead, so the next request starts a
    new attempt rather than wait for a delivery that never comes (the task name stays taken for about an hour).
    Transient: a new attempt may well succeed."""
    reason = f"the export did not finish within the task queue's deliveries ({outcome.reason})"
    return RecordFailure(reason, FailureKind.TRANSIENT, Outcome(Status.FAILED, {"reason": reason, "attempt": attempt}))
