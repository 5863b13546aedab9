"""The Parquet merge through the object-store port, on a local folder and on fake-gcs-server: files composed
whole behind one joined footer, read back by pyarrow, DuckDB and polars exactly as the files they came from."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from functions.adapters.google.storage import GcsObjectStore
from functions.adapters.local.object_store import LocalObjectStore
from functions.adapters.local.sql import export_statement, quote_literal
from functions.core.dump_query import DumpQuery
from functions.core.model import ExportJob, Format, Variant
from functions.core.target import Target
from functions.settings import CORE_SETTINGS
from jobs import assemble, parquet_footer
from jobs.phases import PhaseTimes
from tests.contract.conftest import PROJECT
from tests.contract.test_object_store_contract import RecordingSession
from tests.support.observed import Observed

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "dumps/t/parquet/r/1/"
PARQUET = "application/vnd.apache.parquet"


@pytest.fixture(params=["local", "gcs"])
def store(request, tmp_path):
    if request.param == "local":
        return Observed(LocalObjectStore(tmp_path / "bucket"))
    return gcs_store(request.getfixturevalue("gcs_emulator"), request.getfixturevalue("gcs_bucket"))[0]


def gcs_store(emulator, bucket: str):
    """An observed store on fake-gcs-server, and its storage client; (store, client)."""
    session = RecordingSession()
    client = storage.Client(project=PROJECT, credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": emulator.endpoint}, _http=session)
    return Observed(GcsObjectStore(lambda: client, bucket, lambda: session)), client


def duckdb_shards(folder: Path, rows: int) -> list[Path]:
    """As the local warehouse exports Parquet (one writer thread, files of one 122,880-row group each):
    timestamps, nulls, lists, decimals, strings."""
    source, out = folder / "source.parquet", folder / "export"
    with duckdb.connect() as con:
        con.execute(f"""COPY (SELECT i AS id, TIMESTAMP '2024-01-01' + to_seconds(i) AS created_at,
                                     CASE WHEN i % 7 = 0 THEN NULL ELSE 'name-' || i END AS name,
                                     CASE WHEN i % 5 = 0 THEN NULL ELSE [i, i + 1, NULL] END AS tags,
                                     (i % 1000)::DECIMAL(9, 2) / 4 AS amount, i % 3 = 0 AS flag
                              FROM range({rows}) t(i)) TO {quote_literal(str(source))} (FORMAT parquet)""")
        con.execute("SET threads = 1")
        columns = con.execute(f"DESCRIBE SELECT * FROM read_parquet({quote_literal(str(source))})").fetchall()
        job = ExportJob("j", "t", Format.PARQUET, PREFIX, 1)
        con.execute(export_statement(str(source), [(c[0], c[1]) for c in columns], job, str(out)))
    return sorted(out.glob("part-*.parquet"), key=lambda p: int(p.stem.split("-")[1]))


def pyarrow_shards(folder: Path) -> list[Path]:
    """Three files of several row groups each; the second one with a page index."""
    paths = []
    for index in range(3):
        ids = list(range(index * 5000, (index + 1) * 5000))
        table = pa.table({"id": pa.array(ids, pa.int64()),
                          "label": [None if i % 11 == 0 else f"label-{i % 97}" for i in ids],
                          "score": pa.array([i / 3 for i in ids], pa.float64())})
        paths.append(folder / f"part-{index}.parquet")
        pq.write_table(table, paths[-1], row_group_size=2000, write_page_index=index == 1)
    assert pq.ParquetFile(paths[1]).metadata.row_group(0).column(0).has_offset_index
    return paths


def upload(store, paths: list[Path]):
    for path in paths:
        store.write_bytes(PREFIX + path.name, path.read_bytes(), PARQUET)
    return store.list(PREFIX + "part-")


def download(store, name: str, folder: Path) -> Path:
    path = folder / "merged.parquet"
    path.write_bytes(store.read_bytes(name))
    return path


def footer_bytes(path: Path) -> int:
    data = path.read_bytes()
    return parquet_footer.TRAILER + parquet_footer.footer_length(path.name, len(data), data[-8:])


def assert_reads_as_the_files(merged: Path, shards: list[Path]) -> None:
    expected = pa.concat_tables([pq.read_table(p) for p in shards])
    result = pq.ParquetFile(merged)
    assert result.num_row_groups == sum(pq.ParquetFile(p).num_row_groups for p in shards)
    assert result.read().equals(expected)  # values, types, row order
    sources = "[" + ", ".join(quote_literal(str(p)) for p in shards) + "]"
    with duckdb.connect() as con:
        one = con.execute(f"SELECT * FROM read_parquet({quote_literal(str(merged))})")
        types = [d[1] for d in one.description]
        got = one.fetchall()
        many = con.execute(f"SELECT * FROM read_parquet({sources})")
        assert [d[1] for d in many.description] == types and got == many.fetchall()
        groups = con.execute(f"SELECT count(DISTINCT row_group_id) FROM parquet_metadata({quote_literal(str(merged))})")
        assert groups.fetchone()[0] == result.num_row_groups
    polars_merged = pl.read_parquet(merged)
    polars_files = pl.concat([pl.read_parquet(p) for p in shards])
    assert polars_merged.schema == polars_files.schema and polars_merged.equals(polars_files)


def assert_statistics_prune_row_groups(merged: Path, column: str, value) -> None:
    fragment = next(ds.dataset(merged, format="parquet").get_fragments())
    kept = fragment.subset(ds.field(column) == value)
    assert fragment.num_row_groups > 1 and kept.num_row_groups == 1  # chosen by min/max statistics alone
    with duckdb.connect() as con:
        rows = con.execute(f"SELECT count(*) FROM read_parquet({quote_literal(str(merged))}) WHERE {column} = ?",
                           [value]).fetchone()[0]
    assert rows == 1


def assert_bloom_filters_still_answer(merged: Path, shards: list[Path], column: str, value) -> None:
    """DuckDB writes bloom filters (absolute offsets too) and consults them on equality filters."""
    sources = "[" + ", ".join(quote_literal(str(p)) for p in shards) + "]"
    with duckdb.connect() as con:
        blooms = con.execute(f"SELECT count(*) FROM parquet_metadata({quote_literal(str(merged))}) "
                             f"WHERE bloom_filter_offset > ? AND path_in_schema = ?", [shards[0].stat().st_size, column])
        assert blooms.fetchone()[0] == len(shards) - 1  # the later files' filters, moved with them
        query = "SELECT count(*) FROM read_parquet({}) WHERE " + column + " = ?"
        found = con.execute(query.format(quote_literal(str(merged))), [value]).fetchone()[0]
        assert found > 0 and found == con.execute(query.format(sources), [value]).fetchone()[0]


def test_duckdb_shards_join_by_compose_and_read_back_exactly(store, tmp_path):
    paths = duckdb_shards(tmp_path, 300_000)
    assert len(paths) == 3
    shards = upload(store, paths)
    merged = assemble.merge_parquet(store, shards, PREFIX + "download.parquet", PARQUET)
    assert store.count("read_bytes", "open_reader") == 0 and store.bytes_read == sum(footer_bytes(p) for p in paths)
    local = download(store, merged.name, tmp_path)
    assert merged.size == sum(s.size for s in shards) + footer_bytes(local)  # the files whole, then one footer
    assert_reads_as_the_files(local, paths)
    assert_statistics_prune_row_groups(local, "id", 250_000)
    assert_bloom_filters_still_answer(local, paths, "amount", 12.5)
    assert not [o for o in store.list(PREFIX) if ".scratch-" in o.name]


def test_pyarrow_shards_with_a_page_index_join_and_read_back_exactly(store, tmp_path):
    paths = pyarrow_shards(tmp_path)
    shards = upload(store, paths)
    merged = assemble.merge_parquet(store, shards, PREFIX + "download.parquet", PARQUET)
    assert store.count("read_bytes", "open_reader") == 0 and store.bytes_read == sum(footer_bytes(p) for p in paths)
    local = download(store, merged.name, tmp_path)
    assert not pq.ParquetFile(local).metadata.row_group(3).column(0).has_offset_index  # dropped, not left dangling
    assert_reads_as_the_files(local, paths)
    assert_statistics_prune_row_groups(local, "id", 12_345)


def test_different_schemas_fall_back_to_re_encoding_and_say_why(store, tmp_path, caplog):
    """DuckDB and pyarrow write the same Arrow table with different Parquet schemas (root name, types' annotations)."""
    first = tmp_path / "part-0.parquet"
    table = pa.table({"id": pa.array(range(100), pa.int64()), "name": [f"n{i}" for i in range(100)]})
    pq.write_table(table, first)
    second = tmp_path / "part-1.parquet"
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT (100 + i)::BIGINT AS id, 'n' || (100 + i) AS name FROM range(100) t(i)) "
                    f"TO {quote_literal(str(second))} (FORMAT parquet)")
    shards = upload(store, [first, second])
    with caplog.at_level(logging.WARNING, logger="bqdump.worker"):
        merged = assemble.merge_parquet(store, shards, PREFIX + "download.parquet", PARQUET)
    assert any("re-encoding" in r.message and "different schema" in r.message for r in caplog.records)
    result = pq.read_table(download(store, merged.name, tmp_path))
    assert result.column("id").to_pylist() == list(range(200))
    assert result.column("name").to_pylist() == [f"n{i}" for i in range(200)]
    assert not [o for o in store.list(PREFIX) if ".scratch-" in o.name]


def test_footers_that_cannot_be_joined_are_refused_with_the_reason(tmp_path):
    with pytest.raises(parquet_footer.FooterMismatch, match="too short"):
        parquet_footer.footer_length("x", 5, b"PAR1")
    with pytest.raises(parquet_footer.FooterMismatch, match="does not end with"):
        parquet_footer.footer_length("x", 100, b"\x10\x00\x00\x00PARE")
    with pytest.raises(parquet_footer.FooterMismatch, match="claims a"):
        parquet_footer.footer_length("x", 100, b"\xff\x00\x00\x00PAR1")
    path = tmp_path / "one.parquet"
    pq.write_table(pa.table({"id": [1, 2]}), path)
    footer = path.read_bytes()[-footer_bytes(path):-8]
    with pytest.raises(parquet_footer.FooterMismatch, match="unreadable"):
        parquet_footer.parse_footer("x", footer[: len(footer) // 2])


def test_fields_the_idl_does_not_know_are_refused_not_dropped(tmp_path):
    """thriftpy2 skips unknown fields; re-encoding would lose them, so such a footer is not joined."""
    path = tmp_path / "one.parquet"
    pq.write_table(pa.table({"id": [1, 2]}), path)
    footer = path.read_bytes()[-footer_bytes(path):-8]
    parquet_footer.parse_footer("one", footer)
    # compact protocol: a field header "delta 15, type binary" (0xF8), length 3, then "new"; before the stop byte
    with pytest.raises(parquet_footer.FooterMismatch, match="does not know"):
        parquet_footer.parse_footer("one", footer[:-1] + b"\xf8\x03new" + footer[-1:])


def delivery_budget_seconds() -> float:
    """What is left of one delivery (the worker's request timeout, as Terraform deploys it) after it waited
    for the export job as long as it ever does."""
    variables = (ROOT / "terraform" / "modules" / "services" / "variables.tf").read_text()
    timeout = float(re.search(r"worker\s*=\s*optional\(number,\s*(\d+)\)", variables).group(1))
    wait = float(next(s.default for s in CORE_SETTINGS if s.name == "DUMP_WORKER_WAIT_SECONDS"))
    return timeout - wait


def test_a_thousand_files_assemble_in_one_delivery_on_fake_gcs(gcs_emulator, gcs_bucket, tmp_path):
    store, client = gcs_store(gcs_emulator, gcs_bucket)
    one = tmp_path / "one.parquet"
    for index in range(1000):  # the same small schema, 3 rows a file, as a 1 TB export's 1,000 files
        pq.write_table(pa.table({"id": pa.array([3 * index, 3 * index + 1, 3 * index + 2], pa.int64())}), one)
        client.bucket(gcs_bucket).blob(f"{PREFIX}part-{index}.parquet").upload_from_filename(str(one))
    target = Target("t", Variant(Format.PARQUET), "r", DumpQuery())
    started = time.monotonic()
    shards = assemble.export_files(store.list(PREFIX))
    pieces, leftovers = assemble.assemble(store, None, target, PREFIX, shards,  # Parquet asks no warehouse
                                          assemble.plan_for(target.variant, compose=True), PhaseTimes(time.monotonic))
    elapsed = time.monotonic() - started
    assert elapsed < delivery_budget_seconds(), f"{elapsed:.0f} s"
    assert len(pieces) == 1 and len(leftovers) == 1000
    assert store.count("compose") == 34  # 1,001 sources (the files and the footer) in a chain of 33, then the if-absent copy
    assert store.count("read_bytes", "open_reader") == 0 and store.bytes_read < 1000 * 1024  # footers only
    merged = pq.ParquetFile(download(store, pieces[0].name, tmp_path))
    assert merged.num_row_groups == 1000
    assert merged.read().column("id").to_pylist() == list(range(3000))


def test_the_worker_publishes_a_split_parquet_export_joined_by_footer(make_app, tmp_path, caplog):
    """The local backend end to end: one delivery exports 4 files (rows [0, 16,384), the rest of the first
    122,880-row group, the second group, then the rest, each its own COPY; one row group per file at
    DUMP_SHARD_BYTES=1), joins them by footer, deletes them."""
    from tests.support.tables import load_numbers
    from tests.test_worker import task, worker

    app = make_app(DUMP_SHARD_BYTES=1)
    load_numbers(app, "numbers", 300_000, tmp_path)
    with caplog.at_level(logging.WARNING, logger="bqdump.worker"):
        result = worker(app).deliver(task(app, "numbers", "parquet"))
    assert (result.done, result.body()["status"]) == (True, "published")
    assert not [r for r in caplog.records if "re-encoding" in r.message]
    store = app.backend.read_write.store
    published = [o for o in store.list("dumps/numbers/") if o.name.endswith(".parquet")]
    assert len(published) == 1 and "part-" not in published[0].name  # the shards are leftovers, deleted
    merged = pq.ParquetFile(download(store, published[0].name, tmp_path))
    assert merged.num_row_groups == 4
    assert merged.read().equals(pq.read_table(app.backend.read_write.warehouse.table_file("numbers")))
