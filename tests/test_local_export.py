"""The local export in ranges (functions.adapters.local.export): the first piece is final early, the rest one after
the other, in order, and joined they are exactly what one COPY of the whole table writes; real DuckDB, real files."""

from __future__ import annotations

import gzip
import time

import duckdb
import pyarrow.parquet as pq
import pytest

from functions.adapters.local import export
from functions.adapters.local.sql import export_statement, quote_literal
from functions.core.dump_query import DumpQuery, SortKey
from functions.core.model import ExportJob, Format, Variant
from functions.core.shards import order_shards
from tests.support.observed import Observed
from tests.support.tables import load_numbers

ROWS = 40_000


def test_ranges_start_small_then_grow_by_row_groups_and_cover_every_row_once():
    groups = [1000] * 40 + [300]
    ranges = export.row_ranges(groups, first_rows=2500, max_groups=8)
    assert ranges[:3] == [(0, 2500), (2500, 3000), (3000, 4000)]  # then the rest of the group the first range cut
    assert [stop - start for start, stop in ranges[2:]] == [1000, 2000, 4000, 8000, 8000, 8000, 6300]
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:])) and ranges[-1][1] == sum(groups)
    assert export.row_ranges([122_880] * 3, first_rows=16_384)[:2] == [(0, 16_384), (16_384, 122_880)]
    assert export.row_ranges([2000, 500], first_rows=2500) == []  # fits the first range: one COPY
    assert export.row_ranges([0, 0]) == []


def test_the_first_range_is_smaller_where_rows_are_wide():
    assert export.first_rows(122_880, 24_000_000) == 16_384  # ~200-byte rows: 3 MB
    assert export.first_rows(2_000, 200_000_000) == 41  # 100 KB rows: 4 MiB of them
    assert export.first_rows(10, 10 << 30) == 1
    assert export.first_rows(0, 0) == 16_384
    assert export.row_ranges([2_000] * 3, first_rows=41)[:2] == [(0, 41), (41, 2_000)]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """Small row groups, so a small table is exported in many ranges; values every format writes its own way."""
    path = tmp_path_factory.mktemp("export") / "table.parquet"
    duckdb.sql(f"""COPY (SELECT range AS _id, 'row "' || range || E'"\\nnext' AS label, range % 3 = 0 AS flag,
                          CASE WHEN range % 7 = 0 THEN NULL ELSE range / 8.0 END AS amount,
                          TIMESTAMP '2020-01-01' + to_seconds(range) AS at
                   FROM range({ROWS})) TO {quote_literal(str(path))} (FORMAT parquet, ROW_GROUP_SIZE 2048)""")
    return path


def one_copy(source, job, folder) -> bytes:
    """The whole table in one COPY into one file, as the export was before it was cut into ranges."""
    columns = [(c.name, c.type) for c in export.described(str(source))]
    with duckdb.connect() as con:
        con.execute("SET threads = 1")
        con.execute(export_statement(str(source), columns, job, str(folder)))
    [written] = list(folder.iterdir())
    return written.read_bytes()


def exported_files(folder):
    return [folder / name for name in order_shards(p.name for p in folder.iterdir())]


@pytest.mark.parametrize("fmt, compressed", [(Format.CSV, False), (Format.TSV, False), (Format.NDJSON, False),
                                             (Format.CSV, True)])
def test_the_ranges_joined_are_the_bytes_of_one_copy(source, tmp_path, fmt, compressed):
    job = ExportJob("job", "t", fmt, "p/", 1 << 40, header=False, gzip=compressed, early=True)
    export.export(source, tmp_path / "out", job, tmp_path / "scratch")
    files = exported_files(tmp_path / "out")
    assert len(files) == len(export.row_ranges([2048] * 20)) > 5  # one file a range (files far below 1 << 40)
    joined = b"".join(f.read_bytes() for f in files)
    if compressed:
        joined = gzip.decompress(joined)  # gzip members one after the other
    assert joined == one_copy(source, ExportJob("one", "t", fmt, "p/", 1 << 40, header=False), tmp_path / "one")
    assert not (tmp_path / "scratch").exists()


def test_parquet_ranges_hold_the_rows_in_order(source, tmp_path):
    export.export(source, tmp_path / "out", ExportJob("job", "t", Format.PARQUET, "p/", 1 << 40, early=True),
                  tmp_path / "s")
    files = exported_files(tmp_path / "out")
    assert len(files) > 5
    rows = [row for f in files for row in pq.read_table(f).to_pylist()]
    assert rows == pq.read_table(source).to_pylist()


def test_small_shard_bytes_still_split_every_range_in_order(source, tmp_path):
    job = ExportJob("job", "t", Format.CSV, "p/", 100_000, header=False, early=True)
    export.export(source, tmp_path / "out", job, tmp_path / "scratch")
    files = exported_files(tmp_path / "out")
    assert len(files) > len(export.row_ranges([2048] * 20))
    assert b"".join(f.read_bytes() for f in files) == one_copy(source, replace_size(job), tmp_path / "one")


def replace_size(job):
    from dataclasses import replace

    return replace(job, shard_bytes=1 << 40)


def test_a_query_dump_is_one_copy_in_the_querys_order(source, tmp_path):
    query = DumpQuery(sort=(SortKey("amount", descending=True),), fields=("_id", "amount"))
    job = ExportJob("job", "t", Format.CSV, "p/", 1 << 40, header=False, selection=query, early=True)
    export.export(source, tmp_path / "out", job, tmp_path / "scratch")
    [written] = exported_files(tmp_path / "out")
    ids = [int(line.split(",")[0]) for line in written.read_text().splitlines()]
    table = pq.read_table(source).to_pylist()
    nulls = [row["_id"] for row in table if row["amount"] is None]  # first in descending order, as PostgreSQL
    valued = sorted((row for row in table if row["amount"] is not None), key=lambda r: (-r["amount"], r["_id"]))
    assert ids == nulls + [row["_id"] for row in valued]


def test_a_column_named_like_duckdbs_row_number_keeps_one_copy(tmp_path):
    path = tmp_path / "clash.parquet"
    duckdb.sql(f"COPY (SELECT range * 10 AS file_row_number, range AS x FROM range({ROWS})) "
               f"TO {quote_literal(str(path))} (FORMAT parquet, ROW_GROUP_SIZE 2048)")
    job = ExportJob("job", "t", Format.CSV, "p/", 1 << 40, header=False, early=True)
    export.export(path, tmp_path / "out", job, tmp_path / "scratch")
    [written] = exported_files(tmp_path / "out")
    assert written.read_text().splitlines() == [f"{i * 10},{i}" for i in range(ROWS)]


def test_the_first_files_are_final_long_before_the_export_ends(make_app, tmp_path):
    """final_files while the job runs: each file seen once is there with its final size, in order, and the first
    ones are seen while later ranges are still being written (before: only when the whole COPY ended)."""
    app = make_app()
    load_numbers(app, "numbers", 500_000, tmp_path)  # five row groups (DuckDB's 122,880 rows): five ranges
    warehouse = app.backend.read_write.warehouse
    job = ExportJob("bqdump_ranges", "numbers", Format.CSV, "dumps/numbers/csv/r/1/", 1 << 40, header=False,
                    early=True)
    warehouse.start_export(job)
    snapshots = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = not warehouse._jobs[job.job_id].done()
        snapshots.append((running, warehouse.final_files(job.job_id)))
        if not running:
            break
        time.sleep(0.002)
    final = snapshots[-1][1]
    assert len(final) == 5 and [f.name.rsplit("/", 1)[1] for f in final][0] == "part-0-0.csv"
    early = [files for running, files in snapshots if running and files]
    assert early and len(early[0]) < len(final)  # a first piece was final while the export ran
    for files in early:
        assert files == final[:len(files)]  # a prefix of the final files, sizes and all: nothing changed after


@pytest.mark.parametrize("fmt, early", [("csv", True), ("parquet", True), ("json", False), ("xml", False)])
def test_the_worker_asks_for_early_files_only_where_a_follower_sends_them(make_app, tmp_path, fmt, early):
    """json and xml are written by the worker from the whole export: their Parquet stays one COPY."""
    app = make_app()
    load_numbers(app, "numbers", ROWS, tmp_path)
    app.worker.warehouse = observed = Observed(app.worker.warehouse)
    rev = app.catalogue.current("numbers", Variant(Format(fmt))).rev
    outcome = app.worker.deliver({"resource_id": "numbers", "format": fmt, "revision": rev, "attempt": 1})
    assert outcome.details.get("files") == 1 and [job.early for job, in observed.arguments("start_export")] == [early]
