"""One export a caller can ask for: a resource, a variant, and the table revision it reflects."""

from __future__ import annotations

from dataclasses import dataclass, replace

from functions.core import layout
from functions.core.dump_query import DumpQuery
from functions.core.model import Variant


@dataclass(frozen=True)
class Target:
    """`selection`: the checked CKAN query whose key `variant.query_key` is (DumpQuery(): the whole table).
    The streaming function needs only the key (it serves a published file), so its `selection` is empty."""

    resource_id: str
    variant: Variant
    rev: str
    selection: DumpQuery

    @classmethod
    def of(cls, resource_id: str, variant: Variant, rev: str, selection: DumpQuery) -> "Target":
        return cls(resource_id, replace(variant, query_key=selection.key), rev, selection)

    @property
    def is_query(self) -> bool:
        return bool(self.variant.query_key)

    @property
    def prefix(self) -> str:
        return layout.revision_prefix(self.resource_id, self.variant, self.rev)

    def task_payload(self, attempt: int) -> dict:
        payload = {"resource_id": self.resource_id, **self.variant.query, "revision": self.rev, "attempt": attempt}
        if self.is_query:
            payload["query"] = self.selection.canonical()  # the worker reads it back and checks it again
        return payload

    def task_name(self, attempt: int) -> str:
        return layout.task_name(self.resource_id, self.variant, self.rev, attempt)
