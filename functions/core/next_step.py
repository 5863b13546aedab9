"""What to do next for one export target, decided once for the dump function and pre-warming (the worker decides
from its own task in functions.core.worker_step).

Given what the listing says (a revision's state), the failure record if the latest attempt failed, the time
and the cooldown: serve the published attempt, report the failure, queue an attempt, or wait for the one queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from functions.core.errors import DumpError, ExportFailed, NotFound, TooLarge, Unavailable
from functions.core.model import FailureKind, Format, Variant
from functions.core.publish import Failure, RevisionState, may_retry


@dataclass(frozen=True)
class Serve:
    attempt: int
    manifest: str  # the published attempt's manifest object


@dataclass(frozen=True)
class Fail:
    failure: Failure
    retry_after: int  # seconds until a request may try a new attempt

    @property
    def kind(self) -> FailureKind:
        return self.failure.kind


@dataclass(frozen=True)
class Queue:
    attempt: int


@dataclass(frozen=True)
class Wait:
    attempt: int  # the attempt already queued, neither published nor failed yet


Step = Serve | Fail | Queue | Wait


def next_step(state: RevisionState, failure: Failure | None, now: datetime, cooldown: timedelta,
              queued: int = 0) -> Step:
    """`queued`: the attempt this caller already queued (0: none). A failure of that attempt is reported at
    once unless it is transient; an older failure is reported for `cooldown`, after which a new attempt is due."""
    if state.published and state.published.manifest:
        return Serve(state.published.number, state.published.manifest.name)
    if state.failed and state.failed.failure and state.failed.number >= queued:
        failure = failure or Failure("the export failed")
        if failure.retryable:
            return Queue(state.next_attempt)
        if queued or not may_retry(state.failed, now, cooldown):
            retry_at = state.failed.failure.updated + cooldown
            return Fail(failure, max(1, int((retry_at - now).total_seconds())))
        return Queue(state.next_attempt)
    if queued:
        return Wait(queued)
    return Queue(state.next_attempt)


def failure_error(failure: Failure, variant: Variant, retry_after: int) -> DumpError:
    """The error a caller gets for a failed export: what failed, and what to do about it."""
    kind = {FailureKind.TABLE_GONE: NotFound, FailureKind.TOO_LARGE: TooLarge,
            FailureKind.BUSY: Unavailable}.get(failure.kind, ExportFailed)
    hint = f"Request the dump again in {retry_after} s to retry it; if it fails again, tell the portal's administrators."
    if failure.kind is FailureKind.TOO_LARGE:
        hint = ("Use format=csv or format=ndjson, which are split into files of at most 1 GB. " + hint
                if variant.format is Format.PARQUET else "Ask the portal's administrators for a smaller extract. " + hint)
    if failure.kind is FailureKind.BUSY:
        return kind(f"This filtered download cannot be made now: {failure.reason}",
                    f"Request it again in {retry_after} s, or download the whole table.",
                    headers={"Retry-After": str(retry_after)})
    return kind(f"The export failed: {failure.reason}", hint, headers={"Retry-After": str(retry_after)})
