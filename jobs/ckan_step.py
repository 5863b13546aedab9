"""The worker's streamed step for CKAN's JSON and XML: the export's Parquet files, in order, into one object, either
in one delivery (`write_ckan_file`) or as one piece per file (`write_frame`, `write_piece`; functions.core.pieces
decides the join), so no table is too large for one delivery's deadline.

Memory is a few record batches at a time (jobs.ckan_writers), gzip is written on every core as concatenated
members (jobs.parallel_gzip; each object its own members, so composed objects stay one gzip file), and every object
is written to a scratch name first and then created under its final name only if absent, as compose and merge do.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Callable, Iterable, Iterator

from functions.core import pieces
from functions.core.model import Format, ObjectInfo, Variant
from functions.ports import ObjectStore, find_object
from jobs.ckan_writers import (JSON_TAIL, XML_TAIL, ckan_fields, json_chunks, json_head, json_rows, parquet_batches,
                               xml_chunks, xml_head, xml_rows)
from jobs.parallel_gzip import gzip_member, gzip_members

WRITE_BUFFER_BYTES = 1 << 20
PIECE_BYTES = 16 << 20  # write_ckan_pieces: each piece is held in memory until it is written
TAILS = {Format.JSON: JSON_TAIL, Format.XML: XML_TAIL}


def write_ckan_file(store: ObjectStore, shards: list[str], destination: str, variant: Variant,
                    json_columns: Iterable[str], scratch: str, tail_only: bool = False) -> None:
    """`shards`: the export's Parquet files in row order (at least one: an empty result still has its schema).
    `tail_only`: CKAN's limit=0 file, which is only the end of its document (`\\n]}\\n`, `</data>\\n`)."""
    if tail_only:
        chunks: Iterator[bytes] = iter([TAILS[variant.format]])
    else:
        chunks = _ckan_chunks(store, shards, variant, json_columns)
    _write_streamed(store, destination, chunks, variant, scratch)


def _ckan_chunks(store: ObjectStore, shards: list[str], variant: Variant,
                 json_columns: Iterable[str]) -> Iterator[bytes]:
    """CKAN's whole json/xml document from the export's Parquet files, uncompressed."""
    fields = _fields(store, shards[0], json_columns)
    write = json_chunks if variant.format is Format.JSON else xml_chunks
    return write(_batches(store, shards), fields, bom=variant.bom)


def write_ckan_pieces(store: ObjectStore, shards: list[str], prefix: str, variant: Variant,
                      json_columns: Iterable[str], landed: Callable[[list[ObjectInfo]], None]) -> list[ObjectInfo]:
    """The bytes write_ckan_file writes, as consecutive objects of about PIECE_BYTES (`written-000001`, ...) under
    `prefix`, each created only once complete, and `landed` told of all so far after each (the worker records them,
    so followers send them before the file is joined and published; gzip: each ends between members)."""
    chunks = _ckan_chunks(store, shards, variant, json_columns)
    written: list[ObjectInfo] = []
    pending: list[bytes] = []
    size = 0
    for chunk in (gzip_members(chunks) if variant.gzip else chunks):
        pending.append(chunk)
        size += len(chunk)
        if size >= PIECE_BYTES:
            written.append(_write_piece(store, f"{prefix}written-{len(written) + 1:06d}", pending, variant))
            landed(written)
            pending, size = [], 0
    if pending or not written:
        written.append(_write_piece(store, f"{prefix}written-{len(written) + 1:06d}", pending, variant))
        landed(written)
    return written


def _write_piece(store: ObjectStore, name: str, chunks: list[bytes], variant: Variant) -> ObjectInfo:
    _write_streamed(store, name, iter(chunks), replace(variant, gzip=False), _scratch(name))  # gzip already
    found = find_object(store, name)
    assert found is not None, name  # just created
    return found


def write_frame(store: ObjectStore, first_shard: str, prefix: str, variant: Variant, json_columns: Iterable[str]) -> None:
    """The head, tail (and json's separators) of a file written in pieces: small objects, each only if absent."""
    if variant.format is Format.JSON:
        fields = _fields(store, first_shard, json_columns)
        parts = {pieces.HEAD: json_head(fields, variant.bom), pieces.TAIL: JSON_TAIL,
                 pieces.FIRST_SEPARATOR: pieces.JSON_FIRST_SEPARATOR, pieces.SEPARATOR: pieces.JSON_SEPARATOR}
    else:
        parts = {pieces.HEAD: xml_head(variant.bom), pieces.TAIL: XML_TAIL}
    for leaf, data in parts.items():
        store.write_bytes(prefix + leaf, gzip_member(data) if variant.gzip else data, variant.content_type,
                          if_absent=True)


def write_piece(store: ObjectStore, shard: str, prefix: str, index: int, variant: Variant,
                json_columns: Iterable[str]) -> None:
    """Piece `index` of the file from its Parquet file: json's first row, then the other rows (last: it marks the
    piece complete). Written again identically by a retried or duplicated delivery, created only if absent."""
    fields = _fields(store, shard, json_columns)
    rows_name = pieces.rows_name(prefix, index)
    if variant.format is Format.XML:
        _write_streamed(store, rows_name, xml_rows(_batches(store, [shard]), fields), variant, _scratch(rows_name))
        return
    chunks = json_rows(_batches(store, [shard]), fields)  # every row after ",\n    "; "\n" only between rows
    first_chunk = next(chunks, b"")
    rest = b""
    if first_chunk:
        end = first_chunk.find(b"\n", 2)
        first_row, rest = (first_chunk[6:], b"") if end < 0 else (first_chunk[6:end - 1], first_chunk[end - 1:])
        store.write_bytes(pieces.first_row_name(prefix, index), gzip_member(first_row) if variant.gzip else first_row,
                          variant.content_type, if_absent=True)
    _write_streamed(store, rows_name, _prepended(rest, chunks), variant, _scratch(rows_name))


def _write_streamed(store: ObjectStore, name: str, chunks: Iterator[bytes], variant: Variant, scratch: str) -> None:
    try:
        with store.open_writer(scratch, variant.content_type) as out:
            pending, size = [], 0
            for chunk in (gzip_members(chunks) if variant.gzip else chunks):
                pending.append(chunk)
                size += len(chunk)
                if size >= WRITE_BUFFER_BYTES:
                    out.write(b"".join(pending))
                    pending, size = [], 0
            out.write(b"".join(pending))
        store.compose([scratch], name, variant.content_type, if_absent=True)
    finally:
        store.delete(scratch)


def _fields(store: ObjectStore, shard: str, json_columns: Iterable[str]) -> list[dict]:
    import pyarrow.parquet as pq

    with store.open_reader(shard) as source:
        return ckan_fields(pq.ParquetFile(source).schema_arrow, list(json_columns))


def _batches(store: ObjectStore, shards: list[str]):
    for name in shards:
        with store.open_reader(name) as source:
            yield from parquet_batches(source)


def _prepended(first: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from chunks


def _scratch(name: str) -> str:
    prefix, _, leaf = name.rpartition("/")
    return f"{prefix}/.scratch-{secrets.token_hex(6)}-{leaf}"
