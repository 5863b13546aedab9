"""From an export's files to what is published: one composed or merged object, or pieces to stream."""

from __future__ import annotations

import gzip
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable
from itertools import accumulate

from functions.core import layout
from functions.core.assembly import BOM, compose_steps, csv_header_line
from functions.core.errors import DumpError
from functions.core.model import Format, ObjectInfo, Variant
from functions.core.shards import Piece, order_shards
from functions.core.target import Target
from functions.ports import ObjectStore, Warehouse, find_object
from jobs import parquet_footer
from jobs.parquet_footer import FooterMismatch
from jobs.ckan_step import write_ckan_file, write_ckan_pieces
from jobs.phases import PhaseRecorder

FOOTER_READERS = 8  # footers read at once: ranged reads are round trips, not bandwidth
FOOTER_CHUNK = 1 << 20

log = logging.getLogger("bqdump.worker")


@dataclass(frozen=True)
class Plan:
    """CSV and TSV always get a header object: CKAN's header line ends with CRLF (Python's csv module) and its rows
    with LF (PostgreSQL's COPY); no warehouse writes that header, so the files are exported without one."""

    header_object: bool  # the worker writes header.<ext>
    compose: bool  # join every piece into one object behind a signed URL


def plan_for(variant: Variant, compose: bool) -> Plan:
    return Plan(variant.has_header, compose and variant.concatenates)


def assemble(store: ObjectStore, warehouse: Warehouse, target: Target, prefix: str, shards: list[ObjectInfo],
             plan: Plan, phases: PhaseRecorder, landed: Callable[[list[ObjectInfo]], None] | None = None
             ) -> tuple[list[Piece], list[str]]:
    """The pieces to publish, and the files that become leftovers once the manifest is written; `shards`: the
    export's files under `prefix` in row order (export_files of a listing); `phases` times writing the header,
    composing and merging. `landed`: CKAN's json/xml is written in pieces, each told to it as
    it lands (jobs.progress records them for followers), then joined."""
    variant: Variant = target.variant
    if not shards:
        raise DumpError(f"The export job finished but wrote no files under {prefix}.", "It will be retried.")
    destination = layout.single_object_name(prefix, variant)
    if variant.format.written_by_worker and landed is not None and target.selection.limit != 0:
        parts = write_ckan_pieces(store, [s.name for s in shards], prefix, variant, json_columns(warehouse, target),
                                  landed)
        with phases.phase("compose"):
            joined = compose(store, [p.name for p in parts], destination, variant.content_type)
        return [Piece(joined.name, joined.size)], [s.name for s in shards] + [p.name for p in parts]
    if variant.format.written_by_worker:  # CKAN's JSON or XML, written from the exported Parquet
        write_ckan_file(store, [s.name for s in shards], destination, variant, json_columns(warehouse, target),
                        _scratch_name(destination), tail_only=target.selection.limit == 0)
        written = _stat(store, destination)
        return [Piece(written.name, written.size)], [s.name for s in shards]
    if variant.format is Format.PARQUET:
        if len(shards) == 1:
            return [Piece(shards[0].name, shards[0].size)], []
        with phases.phase("merge"):
            merged = merge_parquet(store, shards, destination, variant.content_type)
        return [Piece(merged.name, merged.size)], [s.name for s in shards]
    pieces = [Piece(s.name, s.size) for s in shards]
    if plan.header_object and target.selection.limit != 0:  # CKAN: limit=0 is an empty csv/tsv, no header
        names = list(target.selection.fields) or warehouse.column_names(target.resource_id)  # a query's fields
        with phases.phase("header"):
            header = write_header(store, names, variant, prefix)
        pieces.insert(0, Piece(header.name, header.size))
    if plan.compose and len(pieces) > 1:
        with phases.phase("compose"):
            composed = compose(store, [p.name for p in pieces], destination, variant.content_type)
        return [Piece(composed.name, composed.size)], [p.name for p in pieces]
    return pieces, []


def export_files(listed: Iterable[ObjectInfo]) -> list[ObjectInfo]:
    """The export job's files (`part-*`) among `listed`, in row order."""
    found = {o.name: o for o in listed if o.name.rsplit("/", 1)[-1].startswith("part-")}
    return [found[name] for name in order_shards(found)]


def json_columns(warehouse: Warehouse, target: Target) -> list[str]:
    """Columns CKAN's json/xml writers render as nested JSON rather than as text."""
    return [c.name for c in warehouse.shape(target.resource_id).columns if c.type.upper() == "JSON"]


def write_header(store: ObjectStore, names: list[str], variant: Variant, prefix: str) -> ObjectInfo:
    data = (BOM if variant.bom else b"") + csv_header_line(names, "\t" if variant.format is Format.TSV else ",")
    if variant.gzip:
        data = gzip.compress(data, mtime=0)  # its own gzip member: members concatenate (RFC 1952)
    name = layout.header_name(prefix, variant)
    store.write_bytes(name, data, variant.content_type)
    return _stat(store, name)


def compose(store: ObjectStore, sources: list[str], destination: str, content_type: str) -> ObjectInfo:
    """Chains compose calls into a scratch object, then creates `destination` from it only if absent: a
    duplicate delivery can never overwrite (or half-overwrite) an object another delivery published."""
    scratch = _scratch_name(destination)
    try:
        for step_sources, step_destination in compose_steps(sources, scratch):
            store.compose(step_sources, step_destination, content_type)
        store.compose([scratch], destination, content_type, if_absent=True)
    finally:
        store.delete(scratch)
    return _stat(store, destination)


def _scratch_name(destination: str) -> str:
    prefix, _, leaf = destination.rpartition("/")
    return f"{prefix}/.scratch-{secrets.token_hex(6)}-{leaf}"


def merge_parquet(store: ObjectStore, shards: list[ObjectInfo], destination: str, content_type: str) -> ObjectInfo:
    """The files composed whole behind one new footer: the worker reads only their footers and writes one small
    object, whatever the table's size. Files whose footers cannot be joined are re-encoded instead."""
    try:
        tail = joined_tail(store, shards)
    except FooterMismatch as why:
        log.warning("re-encoding the Parquet files for %s instead of joining their footers: %s", destination, why)
        return reencode_parquet(store, [s.name for s in shards], destination, content_type)
    tail_name = _scratch_name(destination) + ".footer"
    store.write_bytes(tail_name, tail, content_type)
    try:
        return compose(store, [s.name for s in shards] + [tail_name], destination, content_type)
    finally:
        store.delete(tail_name)


def joined_tail(store: ObjectStore, shards: list[ObjectInfo]) -> bytes:
    """The footer of the files concatenated in this order, from two ranged reads at the end of each file."""
    with ThreadPoolExecutor(FOOTER_READERS) as pool:  # one round trip per file otherwise, twice
        footers = list(pool.map(lambda shard: (shard.name, _read_footer(store, shard)), shards))
    starts = list(accumulate((s.size for s in shards[:-1]), initial=0))
    return parquet_footer.tail_bytes(parquet_footer.joined_footer(footers, starts))


def _read_footer(store: ObjectStore, shard: ObjectInfo):
    def read(start: int, length: int) -> bytes:
        return b"".join(store.read_range(shard.name, start, length, FOOTER_CHUNK))

    trailer_start = shard.size - parquet_footer.TRAILER
    trailer = read(trailer_start, parquet_footer.TRAILER) if trailer_start >= 0 else b""
    length = parquet_footer.footer_length(shard.name, shard.size, trailer)
    return parquet_footer.parse_footer(shard.name, read(trailer_start - length, length))


def reencode_parquet(store: ObjectStore, names: list[str], destination: str, content_type: str) -> ObjectInfo:
    """Row group by row group, so memory stays bounded by the largest row group, not the table."""
    import pyarrow.parquet as pq

    scratch = _scratch_name(destination)
    try:
        _merge_into(pq, store, names, scratch, content_type)
        store.compose([scratch], destination, content_type, if_absent=True)
    finally:
        store.delete(scratch)
    return _stat(store, destination)


def _merge_into(pq, store: ObjectStore, names: list[str], destination: str, content_type: str) -> None:
    writer = None
    with store.open_writer(destination, content_type) as out:
        try:
            for name in names:
                with store.open_reader(name) as source:
                    parquet = pq.ParquetFile(source)
                    if writer is None:
                        writer = pq.ParquetWriter(out, parquet.schema_arrow, compression="zstd")
                    for index in range(parquet.num_row_groups):
                        group = parquet.read_row_group(index)
                        writer.write_table(group, row_group_size=max(1, group.num_rows))
        finally:
            if writer is not None:
                writer.close()


def _stat(store: ObjectStore, name: str) -> ObjectInfo:
    found = find_object(store, name)
    if found is None:
        raise DumpError(f"{name} was not written.", "The export will be retried.")
    return found
