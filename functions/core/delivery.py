"""What one delivery of an export task came to, as a domain value: the worker's HTTP door answers 200 or 503
from it, and the local in-process queue decides from it whether to deliver again."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Status(Enum):
    """A delivery's status, as the task's log line and the worker door's body spell it."""

    PUBLISHED = "published"
    PIECES_QUEUED = "pieces queued"  # a json/xml export's pieces, one task each
    PIECE_WRITTEN = "piece written"  # one piece, others still missing
    TOUCHED = "touched"  # a query dump marked requested now
    GONE = "gone"  # a touched query dump evicted meanwhile
    SUPERSEDED = "superseded"
    FAILED = "failed"
    BUSY = "busy"  # the resource holds its cap of recently requested query dumps
    REJECTED = "rejected"  # the task itself is wrong: retrying cannot fix it
    TABLE_GONE = "table_gone"
    RUNNING = "running"  # the export job is still running: a later delivery picks it up
    RETRY = "retry"  # something transient failed
    RAISED = "raised"  # the delivery raised (the in-process queue's reading of a crash)

    @property
    def done(self) -> bool:
        """Finished with this task (published, failed for good, superseded, rejected): never deliver it again."""
        return self not in _AGAIN


_AGAIN = frozenset({Status.RUNNING, Status.RETRY, Status.RAISED})


@dataclass(frozen=True)
class Outcome:
    status: Status
    details: dict = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status.done

    @property
    def reason(self) -> str:
        return self.status.value

    def body(self) -> dict:
        return {"status": self.status.value, **self.details}

    def about(self, **context) -> "Outcome":
        """The same outcome, its details led by `context` (what the task's log line names first)."""
        return Outcome(self.status, {**context, **self.details})
