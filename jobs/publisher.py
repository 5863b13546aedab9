"""The worker's writes that decide what callers see: the manifest, written last and only if absent (a duplicate
delivery racing us can never replace a published one), and an attempt's failure record."""

from __future__ import annotations

from functions.core import layout
from functions.core.errors import DumpError
from functions.core.model import FailureKind, ObjectInfo
from functions.core.publish import Manifest, failure_bytes, manifest_bytes, revision_state
from functions.core.shards import Piece
from functions.core.target import Target
from functions.ports import Clock, ObjectStore, Warehouse
from jobs import assemble, progress
from jobs.phases import PhaseRecorder


class Superseded(DumpError):
    """The table moved on while this revision was being exported."""


class Publisher:
    """`store` and `warehouse` as the read-write identity."""

    def __init__(self, store: ObjectStore, warehouse: Warehouse, clock: Clock):
        self.store, self.warehouse, self.clock = store, warehouse, clock

    def assemble_and_publish(self, target: Target, attempt: int, prefix: str, shards: list[ObjectInfo],
                             plan: assemble.Plan, phases: PhaseRecorder) -> tuple[Manifest, list[str]]:
        """The download assembled from the export's files, then its manifest; and the files that became leftovers.
        Raises Superseded when the table moved on meanwhile."""
        landed = None
        if progress.worker_streams(target.variant, self.warehouse):
            landed = progress.Recorder(self.store, self.warehouse, target, prefix, plan).record
        parts, leftovers = assemble.assemble(self.store, self.warehouse, target, prefix, shards, plan, phases, landed)
        if plan.header_object and self.current_rev(target) != target.rev:
            # The header came from the table as it is now: if the table moved since the export read it, the
            # header may not match the rows. This revision is superseded anyway; leave it unpublished.
            raise Superseded(f"{target.resource_id} changed while it was exported.",
                             "The new revision will be exported.")
        return self.publish(target, attempt, prefix, parts), leftovers

    def publish(self, target: Target, attempt: int, prefix: str, parts: list[Piece]) -> Manifest:
        manifest = Manifest(target.resource_id, target.variant, target.rev, attempt, tuple(parts),
                            self.clock.now().isoformat())
        if manifest.single_object:  # the signed URL serves the object itself: it must carry its own headers
            self.store.set_download_headers(parts[0].name, content_type=target.variant.content_type,
                                            filename=layout.download_filename(target.resource_id, target.variant))
        self.store.write_bytes(prefix + layout.MANIFEST, manifest_bytes(manifest), "application/json", if_absent=True)
        return manifest

    def record_failure(self, prefix: str, reason: str, kind: FailureKind) -> None:
        record = failure_bytes(reason, kind, self.clock.now())
        self.store.write_bytes(prefix + layout.FAILURE, record, "application/json", if_absent=True)

    def published(self, target: Target) -> bool:
        return revision_state(self.store.list(target.prefix)).published is not None

    def current_rev(self, target: Target) -> str:
        return layout.revision_of(self.warehouse.table_modified(target.resource_id))
