"""The worker's side of streaming before publish (functions.core.progress): while the export job runs, each
file it finished is recorded, in order, so followers can send it at once."""

from __future__ import annotations

import logging

from functions.core import progress
from functions.core.model import ObjectInfo
from functions.core.progress import Recorded
from functions.core.shards import Piece
from functions.core.target import Target
from functions.ports import ObjectStore, Warehouse
from jobs import assemble

log = logging.getLogger("bqdump.worker")


def streams_early(variant, warehouse: Warehouse) -> bool:
    """Only a warehouse that can tell which files are final before its job ends (the local DuckDB one), and only
    formats whose published file starts with those files (json and xml: `worker_streams`)."""
    return hasattr(warehouse, "final_files") and not variant.format.written_by_worker


def worker_streams(variant, warehouse: Warehouse) -> bool:
    """json and xml, written by the worker in pieces that are final as they land (jobs.ckan_step
    .write_ckan_pieces), where followers get pieces early (the local backend, as `streams_early`)."""
    return hasattr(warehouse, "final_files") and variant.format.written_by_worker


class Recorder:
    """Writes the attempt's streamed records; a later delivery of the same task carries on from the bucket."""

    def __init__(self, store: ObjectStore, warehouse: Warehouse, target: Target, prefix: str, plan: assemble.Plan):
        self.store, self.warehouse, self.target, self.prefix, self.plan = store, warehouse, target, prefix, plan
        self.recorded = self._found()

    def _found(self) -> Recorded:
        records = progress.records_after(self.store.list(self.prefix), self.prefix, 0)
        pieces = sum(len(progress.parse_record(self.store.read_bytes(name), self.prefix)) for name in records)
        header = 1 if records and self.plan.header_object else 0
        return Recorded(len(records), pieces - header)

    def record(self, final: list[ObjectInfo]) -> None:
        """Records the files of `final` (the job's final files, or the worker's json/xml pieces, in order) not
        recorded yet."""
        if len(final) <= self.recorded.files:
            return  # nothing new; and nothing (not even the header) is written before the export's first file
        header = None
        if self.plan.header_object and self.recorded.records == 0:
            names = list(self.target.selection.fields) or self.warehouse.column_names(self.target.resource_id)
            written = assemble.write_header(self.store, names, self.target.variant, self.prefix)
            header = Piece(written.name, written.size)
        pieces = progress.pieces_to_record(final, self.recorded, header)
        if not pieces:
            return
        number = self.recorded.records + 1
        if not self.store.write_bytes(progress.record_name(self.prefix, number), progress.record_bytes(pieces),
                                      "application/json", if_absent=True):
            self.recorded = self._found()  # another delivery recorded it: carry on from what the bucket holds
            return
        self.recorded = Recorded(number, len(final))



def record_names(store: ObjectStore, prefix: str) -> list[str]:
    """Once published, followers read the manifest: the records go with the leftovers."""
    return [o.name for o in store.list(prefix) if progress.RECORD.fullmatch(o.name[len(prefix):])]
