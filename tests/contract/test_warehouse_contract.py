"""The Warehouse contract, on the local DuckDB warehouse and on BigQuery (bqemulator).

bqemulator writes EXPORT DATA files to a local folder (`export_root/<bucket>/<path>`), not to a GCS
emulator, so the files are read from there. Its jobs finish at once: RUNNING is covered with a fake client
in tests/test_google_bigquery.py.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

import pyarrow.parquet as pq
import pytest

from functions.adapters.google.bigquery import GoogleWarehouse
from functions.adapters.local.warehouse import LocalWarehouse
from functions.adapters.system_clock import SYSTEM_CLOCK
from functions.core import layout
from functions.core.errors import NotFound
from functions.core.model import ExportJob, Format, JobState, Variant
from tests.contract.conftest import PROJECT

BUCKET = "exports-bucket"
ROWS = [(1, "alpha", 10), (2, "beta, with comma", -5), (3, "gamma", None)]
CSV = '_id,name,amount\n1,alpha,10\n2,"beta, with comma",-5\n3,gamma,\n'


@dataclass
class Backend:
    warehouse: object
    files: Callable[[str], dict[str, bytes]]  # object name -> bytes, under a prefix
    name: str


def _read_tree(root: Path, prefix: str) -> dict[str, bytes]:
    base = root / prefix
    if not base.is_dir():
        return {}
    return {f"{prefix}{p.relative_to(base).as_posix()}": p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


@pytest.fixture(params=["local", "bigquery"])
def backend(request, tmp_path) -> Backend:
    if request.param == "local":
        bucket = tmp_path / "bucket"
        warehouse = LocalWarehouse(tmp_path / "warehouse", bucket, SYSTEM_CLOCK, max_jobs=2)
        source = tmp_path / "small.csv"
        source.write_text(CSV)
        warehouse.load("small", source)
        request.addfinalizer(warehouse.close)
        return Backend(warehouse, lambda prefix: _read_tree(bucket, prefix), "local")
    emulator = request.getfixturevalue("bigquery_emulator")
    client = emulator.client(PROJECT)
    dataset = f"contract_{secrets.token_hex(4)}"
    client.create_dataset(dataset)
    rows = " UNION ALL ".join(f"SELECT {i} AS _id, '{n}' AS name, {'NULL' if a is None else a} AS amount"
                              for i, n, a in (ROWS[2], ROWS[0], ROWS[1]))  # stored out of order: ORDER BY _id
    client.query(f"CREATE TABLE `{PROJECT}.{dataset}.small` AS SELECT * FROM ({rows})", job_retry=None).result()
    warehouse = GoogleWarehouse(lambda: client, lambda: client, PROJECT, dataset, BUCKET, "_id", SYSTEM_CLOCK)
    return Backend(warehouse, lambda prefix: _read_tree(emulator.export_root / BUCKET, prefix), "bigquery")


def export_job(fmt: Format, attempt: int = 1, header: bool = True, rid: str = "small") -> ExportJob:
    variant = Variant(fmt)
    return ExportJob(layout.job_id(rid, variant, "abc", attempt) + secrets.token_hex(3), rid, fmt,
                     layout.attempt_prefix(rid, variant, "abc" + secrets.token_hex(3), attempt), 1 << 30,
                     header=header)


def test_table_modified_is_aware_and_unknown_tables_are_not_found(backend):
    modified = backend.warehouse.table_modified("small")
    assert isinstance(modified, datetime) and modified.tzinfo is not None
    with pytest.raises(NotFound):
        backend.warehouse.table_modified("no_such_table")
    assert "small" in backend.warehouse.list_tables()
    assert backend.warehouse.column_names("small") == ["_id", "name", "amount"]


def test_csv_export_in_row_order_with_one_header(backend):
    job = export_job(Format.CSV)
    backend.warehouse.start_export(job)
    assert backend.warehouse.wait_export(job.job_id, 30).state is JobState.DONE
    files = backend.files(job.destination_prefix)
    assert files and all(name.rsplit("/", 1)[1].startswith("part-") for name in files)
    assert b"".join(files.values()).decode() == CSV


def test_starting_the_same_job_twice_exports_once(backend):
    job = export_job(Format.CSV)
    backend.warehouse.start_export(job)
    assert backend.warehouse.wait_export(job.job_id, 30).state is JobState.DONE
    first = backend.files(job.destination_prefix)
    backend.warehouse.start_export(job)  # a duplicate delivery: attaches, never a second export
    status = backend.warehouse.wait_export(job.job_id, 30)
    assert status.state is JobState.DONE, status.error
    assert backend.files(job.destination_prefix) == first


def test_an_unknown_job_is_a_retryable_failure(backend):
    status = backend.warehouse.wait_export("bqdump_never_started", 1)
    assert status.state is JobState.FAILED and status.retryable


def test_exports_without_header_for_the_header_object(backend):
    job = export_job(Format.TSV, header=False)
    backend.warehouse.start_export(job)
    assert backend.warehouse.wait_export(job.job_id, 30).state is JobState.DONE
    text = b"".join(backend.files(job.destination_prefix).values()).decode()
    assert text.splitlines() == ["1\talpha\t10", "2\tbeta, with comma\t-5", "3\tgamma\t"]


def test_ndjson_and_parquet_exports(backend):
    ndjson, parquet = export_job(Format.NDJSON), export_job(Format.PARQUET)
    for job in (ndjson, parquet):
        backend.warehouse.start_export(job)
        assert backend.warehouse.wait_export(job.job_id, 30).state is JobState.DONE
    import json

    lines = b"".join(backend.files(ndjson.destination_prefix).values()).decode().splitlines()
    records = [json.loads(line) for line in lines]
    # BigQuery writes INT64 as JSON strings in NDJSON; DuckDB (and bqemulator) as numbers: compare as text.
    assert [{k: None if v is None else str(v) for k, v in r.items()} for r in records] == [
        {"_id": "1", "name": "alpha", "amount": "10"}, {"_id": "2", "name": "beta, with comma", "amount": "-5"},
        {"_id": "3", "name": "gamma", "amount": None}]
    [(name, data)] = backend.files(parquet.destination_prefix).items()
    assert name.endswith(".parquet")
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names == ["_id", "name", "amount"]
    assert table.to_pydict() == {"_id": [1, 2, 3], "name": ["alpha", "beta, with comma", "gamma"],
                                 "amount": [10, -5, None]}
