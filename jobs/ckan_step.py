"""The worker's streamed step for CKAN's JSON and XML: the export's Parquet files, in order, into one object.

Memory is a few record batches at a time (jobs.ckan_writers), gzip is written on every core as concatenated
members (jobs.parallel_gzip), and the object is
written to a scratch name first and then created under its final name only if absent, as compose and merge do.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from functions.core.model import Format, Variant
from functions.ports import ObjectStore
from jobs.ckan_writers import JSON_TAIL, XML_TAIL, ckan_fields, json_chunks, parquet_batches, xml_chunks
from jobs.parallel_gzip import gzip_members

WRITE_BUFFER_BYTES = 1 << 20
TAILS = {Format.JSON: JSON_TAIL, Format.XML: XML_TAIL}


def write_ckan_file(store: ObjectStore, shards: list[str], destination: str, variant: Variant,
                    json_columns: Iterable[str], scratch: str, tail_only: bool = False) -> None:
    """`shards`: the export's Parquet files in row order (at least one: an empty result still has its schema).
    `tail_only`: CKAN's limit=0 file, which is only the end of its document (`\\n]}\\n`, `</data>\\n`)."""
    try:
        with store.open_writer(scratch, variant.content_type) as out:
            pending, size = [], 0
            chunks = iter([TAILS[variant.format]]) if tail_only else _ckan_chunks(store, shards, variant,
                                                                                   list(json_columns))
            for chunk in _compressed(chunks, variant.gzip):
                pending.append(chunk)
                size += len(chunk)
                if size >= WRITE_BUFFER_BYTES:
                    out.write(b"".join(pending))
                    pending, size = [], 0
            out.write(b"".join(pending))
        store.compose([scratch], destination, variant.content_type, if_absent=True)
    finally:
        store.delete(scratch)


def _ckan_chunks(store: ObjectStore, shards: list[str], variant: Variant, json_columns: list[str]) -> Iterator[bytes]:
    with store.open_reader(shards[0]) as first:
        import pyarrow.parquet as pq

        fields = ckan_fields(pq.ParquetFile(first).schema_arrow, json_columns)
    write = json_chunks if variant.format is Format.JSON else xml_chunks
    yield from write(_batches(store, shards), fields, bom=variant.bom)


def _batches(store: ObjectStore, shards: list[str]):
    for name in shards:
        with store.open_reader(name) as source:
            yield from parquet_batches(source)


def _compressed(chunks: Iterator[bytes], gzip: bool) -> Iterator[bytes]:
    return gzip_members(chunks) if gzip else chunks
