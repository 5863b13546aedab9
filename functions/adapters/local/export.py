"""The local export: a table's rows as files in the bucket, in row order, each landing under its final name only
once it is complete, so a follower can send it at once (functions.core.progress).

A whole table is exported as successive COPYs of ranges of its rows: a small first range, so the first piece is
final within a second whatever the table's size, then ranges of its Parquet row groups, growing to at most
MAX_GROUPS of them. DuckDB keeps a COPY's first file open until that COPY ends, so one COPY of the whole table
made nothing final until the end. The ranges are read by the source's `file_row_number`, which DuckDB prunes by
row group: together they read the table once, and their files joined are the bytes one COPY writes. A query dump
(filter, sort, distinct) is one COPY, its order being the query's; so is an export nobody follows file by file
(`ExportJob.early` false: the Parquet that the worker turns into CKAN's json or xml).
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import duckdb

from functions.adapters.local.dump_query_sql import select_statement
from functions.adapters.local.kinds import table_column
from functions.adapters.local.object_store import PARTIAL_PREFIX
from functions.adapters.local.sql import column_expression, export_statement, quote_literal
from functions.core.dump_query import TableColumn
from functions.core.model import ExportJob
from functions.core.shards import order_shards
from jobs.parallel_gzip import gzip_file

FIRST_ROWS = 16_384  # the first piece: a fraction of a second of COPY on any table
FIRST_BYTES = 4 << 20  # ... and on wide rows: at most this much of the source's uncompressed data
MAX_GROUPS = 8  # later pieces: 1, 2, 4, then up to 8 of the source's row groups (~1M rows at DuckDB's default)
ROW_NUMBER = "file_row_number"  # DuckDB's virtual column of a Parquet scan; a real column of that name hides it

RowRange = tuple[int, int]  # rows [start, stop) of the source file


class InterruptedAttempt(Exception):
    """Files of this attempt exist but no job in this process wrote them: an export cut off by a restart."""


def row_ranges(group_rows: Sequence[int], first_rows: int = FIRST_ROWS, max_groups: int = MAX_GROUPS) -> list[RowRange]:
    """The ranges a table of row groups of `group_rows` rows is exported in: [0, first_rows), the rest of the first
    row group, then 1, 2, 4, ... up to `max_groups` row groups at a time. Empty when one COPY is as early (the table
    fits in the first range)."""
    total = sum(group_rows)
    if total <= first_rows:
        return []
    ends, position = [], 0
    for rows in group_rows:
        position += rows
        if rows:
            ends.append(position)
    ranges, take, index = [(0, first_rows)], 1, 0
    while index < len(ends) and ends[index] <= first_rows:
        index += 1
    ranges.append((first_rows, ends[index]))  # the rest of the row group the first range cut
    start, index = ends[index], index + 1
    while index < len(ends):
        stop_index = min(index + take, len(ends)) - 1
        ranges.append((start, ends[stop_index]))
        start, index, take = ends[stop_index], stop_index + 1, min(take * 2, max_groups)
    return ranges


def first_rows(group_rows: int, group_bytes: int, most: int = FIRST_ROWS, size: int = FIRST_BYTES) -> int:
    """Rows of the first range: FIRST_ROWS, or fewer where the first row group's rows are wide (its uncompressed
    size, from the footer), so the first piece is as quick on 100 KB rows as on 200-byte ones."""
    if group_rows <= 0 or group_bytes <= 0:
        return most
    return max(1, min(most, size * group_rows // group_bytes))


def export(source: Path, destination: Path, job: ExportJob, scratch: Path | None = None) -> None:
    """Each COPY writes into `scratch` (a folder outside the bucket; default a new temporary one), then its files
    land in `destination` in order, as `part-<range>-<file>`, gzip members when the job asks for gzip (compressed on
    every core: DuckDB's COPY compresses on its one writer thread)."""
    if destination.is_dir() and any(destination.iterdir()):
        raise InterruptedAttempt("an earlier export into this attempt was interrupted (server restart); "
                                 "the next request retries with a new attempt")
    scratch = scratch or Path(tempfile.mkdtemp(prefix="bqdump-plain-"))
    shutil.rmtree(scratch, ignore_errors=True)  # what a crashed export left
    destination.mkdir(parents=True, exist_ok=True)
    table = list(described(str(source)))  # the schema of this immutable file, usually cached already
    plain = replace(job, gzip=False)
    try:
        for number, rows in enumerate(_ranges(source, job, table) or [None]):
            written = scratch / str(number)
            written.mkdir(parents=True)
            _copy(source, written, plain, table, rows)
            for name in order_shards(os.listdir(written)):
                final = destination / f"part-{number}-{name.removeprefix('part-')}"
                if job.gzip:
                    _land_gzipped(written / name, final)
                else:
                    _move(written / name, final)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _ranges(source: Path, job: ExportJob, table: list[TableColumn]) -> list[RowRange]:
    if not job.early or not job.selection.whole_table or any(c.name.lower() == ROW_NUMBER for c in table):
        return []
    groups, first_bytes = _row_groups(str(source))
    return row_ranges(groups, first_rows(groups[0] if groups else 0, first_bytes))


def _copy(source: Path, folder: Path, job: ExportJob, table: list[TableColumn], rows: RowRange | None) -> None:
    """One COPY of the table (or of its rows `rows`), or of the job's query, into `folder`."""
    with _export_database().cursor() as con:
        if job.selection.whole_table:
            where = "" if rows is None else f" WHERE {ROW_NUMBER} >= {int(rows[0])} AND {ROW_NUMBER} < {int(rows[1])}"
            con.execute(export_statement(str(source), [(c.name, c.type) for c in table], job, str(folder),
                                         where=where))
        else:
            query = select_statement(f"read_parquet({quote_literal(str(source))})", job.selection, table,
                                     lambda column: column_expression(column.name, column.type, job.format))
            con.execute(export_statement(str(source), [], job, str(folder), query.sql), query.parameters)


def _land_gzipped(plain: Path, final: Path) -> None:
    partial = final.parent / f"{PARTIAL_PREFIX}{final.name}.gz"
    with open(partial, "wb") as out:
        gzip_file(plain, out)
    os.replace(partial, final.parent / f"{final.name}.gz")
    plain.unlink()


def _move(plain: Path, final: Path) -> None:
    """A rename when the scratch folder is on the bucket's file system (the local backend's is); else a copy under
    a name never listed, then a rename."""
    try:
        os.replace(plain, final)
    except OSError:
        partial = final.parent / f"{PARTIAL_PREFIX}{final.name}"
        shutil.copyfile(plain, partial)
        os.replace(partial, final)


@functools.lru_cache(maxsize=256)
def described(path: str) -> tuple[TableColumn, ...]:
    """Cached per table file: each load writes a new, immutable file, so a cached schema is never stale. A cursor
    on one shared in-memory database: opening a database per call costs ~15 ms, a cursor almost nothing."""
    with _schema_database().cursor() as cursor:
        described = cursor.execute(f"DESCRIBE SELECT * FROM read_parquet({quote_literal(path)})").fetchall()
    return tuple(table_column(name, type_name) for name, type_name, *_ in described)


@functools.lru_cache(maxsize=256)
def _row_groups(path: str) -> tuple[tuple[int, ...], int]:
    """Rows per row group of an immutable table file, and the first group's uncompressed bytes, from its footer."""
    import pyarrow.parquet as pq

    metadata = pq.read_metadata(path)
    groups = [metadata.row_group(index) for index in range(metadata.num_row_groups)]
    return tuple(group.num_rows for group in groups), (groups[0].total_byte_size if groups else 0)


@functools.lru_cache(maxsize=1)
def _schema_database():
    return duckdb.connect()


@functools.lru_cache(maxsize=1)
def _export_database():
    """One in-memory database for every export (a cursor each): opening one per export cost ~15 ms."""
    database = duckdb.connect()
    database.execute("SET threads = 1")  # one writer keeps row order across the files, as BigQuery's ORDER BY does
    return database
