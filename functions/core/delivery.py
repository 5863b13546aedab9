"""What one delivery of an export task came to, as a domain value: the worker's HTTP door answers 200 or 503
from it, and the local in-process queue decides from it whether to deliver again."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Done:
    """Finished with this task (published, failed for good, superseded, rejected): never deliver it again."""

    reason: str
    details: dict = field(default_factory=dict)

    def body(self) -> dict:
        return {"status": self.reason, **self.details}


@dataclass(frozen=True)
class Retry:
    """Not finished (the job is still running, or something transient failed): deliver it again later."""

    reason: str
    details: dict = field(default_factory=dict)

    def body(self) -> dict:
        return {"status": self.reason, **self.details}


Outcome = Done | Retry
