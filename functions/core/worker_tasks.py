"""The export worker's tasks, read once from a task body: an export, one piece of a json/xml export, or a touch.

A body that does not parse is refused with InvalidRequest (the worker answers `rejected`: retrying cannot fix it).
The query a task carries is read back from its canonical form here; checking it against the table's columns
needs the warehouse, so the worker does that.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

from functions.core import identifiers, layout, pieces
from functions.core.dump_query import DumpQuery
from functions.core.errors import InvalidRequest
from functions.core.model import Variant

QUEUE_IT = "Queue it from a dump request."


@dataclass(frozen=True)
class ExportTask:
    """Make sure one (resource, variant, revision) is exported and published, by this attempt if need be."""

    resource_id: str
    variant: Variant  # its query_key is the task's
    rev: str
    attempt: int
    query: DumpQuery = DumpQuery()  # read back, not yet checked against the table

    @property
    def attempt_prefix(self) -> str:
        return layout.attempt_prefix(self.resource_id, self.variant, self.rev, self.attempt)

    def about(self) -> dict:
        """What the task's log line names."""
        return {"resource": self.resource_id, "variant": self.variant.key, "revision": self.rev,
                "attempt": self.attempt}


@dataclass(frozen=True)
class PieceTask:
    """Write piece `index` of `count` of a multi-file json/xml export, and join them if it is the last to land."""

    export: ExportTask
    index: int
    count: int


@dataclass(frozen=True)
class TouchTask:
    """A cache hit on a query dump: mark it requested now, then hold the resource to its cap."""

    resource_id: str
    query_key: str

    def about(self) -> dict:
        return {"resource": self.resource_id, "query_key": self.query_key, "task_kind": "touch"}


WorkerTask = ExportTask | PieceTask | TouchTask


def parse_task(payload: Mapping) -> WorkerTask:
    """Raises InvalidRequest for a body no queue of ours would send."""
    resource_id = identifiers.resource_id(payload.get("resource_id"))
    query_key = identifiers.query_key(payload.get("query_key"))
    if payload.get("touch"):
        if not query_key:
            raise InvalidRequest("A touch task names no query key.", "Queue touches from cache hits on query dumps.")
        return TouchTask(resource_id, query_key)
    variant = replace(identifiers.dump_variant(payload.get("format"), payload.get("compression"), payload.get("bom")),
                      query_key=query_key)
    task = ExportTask(resource_id, variant, identifiers.revision(payload.get("revision")),
                      identifiers.attempt(payload.get("attempt")), _query(query_key, payload.get("query")))
    if "piece" in payload:
        return PieceTask(task, *_piece(payload))
    return task


def _query(query_key: str, canonical: object) -> DumpQuery:
    if not query_key:
        return DumpQuery()
    if not isinstance(canonical, str) or not canonical:
        raise InvalidRequest("The task names a query key but carries no query.", QUEUE_IT)
    return DumpQuery.from_canonical(canonical)


def _piece(payload: Mapping) -> tuple[int, int]:
    """A piece task's (index, count): small non-negative JSON integers, index below count."""
    index, count = payload.get("piece"), payload.get("pieces")
    if not isinstance(index, int) or not isinstance(count, int) or isinstance(index, bool) or \
            isinstance(count, bool) or not 0 <= index < count <= pieces.MAX_PIECES:
        raise InvalidRequest("The task's piece and pieces are not an index below a count.",
                             "Queue pieces from the worker's fan-out.")
    return index, count
