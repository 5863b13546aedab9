"""One export a caller can ask for: a resource, a variant, and the table revision it reflects."""

from __future__ import annotations

from dataclasses import dataclass

from functions.core import layout
from functions.core.model import Variant


@dataclass(frozen=True)
class Target:
    resource_id: str
    variant: Variant
    rev: str

    @property
    def prefix(self) -> str:
        return layout.revision_prefix(self.resource_id, self.variant, self.rev)

    def task_payload(self, attempt: int) -> dict:
        return {"resource_id": self.resource_id, **self.variant.query, "revision": self.rev, "attempt": attempt}

    def task_name(self, attempt: int) -> str:
        return layout.task_name(self.resource_id, self.variant, self.rev, attempt)
