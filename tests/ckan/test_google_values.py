"""The BigQuery export SQL's csv/tsv values against real CKAN 2.12's, on bqemulator.

The `types` table's first rows go into bqemulator with BigQuery's types (DATETIME for CKAN's timestamp), each
column is exported through GoogleWarehouse's real EXPORT DATA statement with the worker's CRLF header line in
front, as the published file has it, and compared byte for byte with CKAN's dump of the same URL. bqemulator is
DuckDB underneath: what only real BigQuery can confirm is listed in docs/ckan-dump-compat.md.
Not compared here: arrays (BigQuery arrays cannot hold null elements, and a null array is stored as []), and
json: bqemulator stores a JSON column as STRING, so its JSON formatting (`COALESCE(TO_JSON_STRING(x), 'null')`)
is only checked as SQL text in tests/test_google_sql.py; real BigQuery's JSON text is compact (`{"a":1.5}` for
CKAN's `{"a": 1.5}`), a difference listed in docs/ckan-dump-compat.md.
One artefact of the emulator is asserted as such: it writes CSV with DuckDB, which quotes a text holding `#`.
"""

from __future__ import annotations

import re
import secrets

import pytest
import requests

from functions.adapters.google.bigquery import GoogleWarehouse
from functions.adapters.system_clock import SYSTEM_CLOCK
from functions.core import layout
from functions.core.assembly import csv_header_line
from functions.adapters.google.kinds import table_columns
from functions.core.model import ExportJob, Format, JobState, Variant
from tests.ckan.data import TABLES
from tests.support.queries import checked_query
from tests.support.emulators import bigquery_emulator  # noqa: F401 (fixture)

PROJECT = "test-project"
BUCKET = "exports-bucket"
ROWS = 300
BIGQUERY_TYPES = {"text": "STRING", "int4": "INT64", "int8": "INT64", "float8": "FLOAT64", "numeric": "NUMERIC",
                  "bool": "BOOL", "date": "DATE", "time": "TIME", "timestamp": "DATETIME"}
COLUMNS = [f["id"] for f in TABLES["types"].fields if f["type"] in BIGQUERY_TYPES]


def _literal(kind: str, value) -> str:
    bq = BIGQUERY_TYPES[kind]
    if value is None:
        return f"CAST(NULL AS {bq})"
    if kind in ("text",):
        return _string(value)
    if kind == "bool":
        return "TRUE" if value else "FALSE"
    if kind in ("int4", "int8"):
        return str(value)
    if kind == "numeric":
        return f"NUMERIC {_string(value)}"  # bqemulator: CAST(... AS NUMERIC) is DECIMAL(18,3), the literal (38,9)
    if kind == "timestamp":
        return f"DATETIME {_string(value.replace('T', ' '))}"
    return f"CAST({_string(str(value))} AS {bq})"


def _string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\t", "\\t") + "'"


@pytest.fixture(scope="module")
def bigquery_types(bigquery_emulator):  # noqa: F811
    client = bigquery_emulator.client(PROJECT)
    dataset = f"conformance_{secrets.token_hex(4)}"
    client.create_dataset(dataset)
    table = TABLES["types"]
    kinds = {f["id"]: f["type"] for f in table.fields}
    selects = []
    for index, row in enumerate(table.rows[:ROWS], start=1):
        values = ", ".join(f"{_literal(kinds[c], row.get(c))} AS `{c}`" for c in COLUMNS)
        selects.append(f"SELECT {index} AS `_id`, {values}")
    client.query(f"CREATE TABLE `{PROJECT}.{dataset}.types` AS {' UNION ALL '.join(selects)}",
                 job_retry=None).result()
    warehouse = GoogleWarehouse(lambda: client, lambda: client, PROJECT, dataset, BUCKET, "_id", SYSTEM_CLOCK)
    schema = client.get_table(f"{PROJECT}.{dataset}.types").schema
    return warehouse, table_columns(schema), bigquery_emulator


def kind_of(column: str) -> str:
    return next(f["type"] for f in TABLES["types"].fields if f["id"] == column)


def exported(bigquery_types, fmt: Format, params: dict) -> bytes:
    warehouse, columns, emulator = bigquery_types
    query = checked_query(params, columns)
    variant = Variant(fmt)
    attempt = secrets.token_hex(4)
    job = ExportJob(layout.job_id("types", variant, attempt, 1), "types", fmt,
                    layout.attempt_prefix("types", variant, attempt, 1), 1 << 30, header=False, selection=query)
    warehouse.start_export(job)
    status = warehouse.wait_export(job.job_id, 60)
    assert status.state is JobState.DONE, status.error
    root = emulator.export_root / BUCKET / job.destination_prefix
    files = sorted(root.rglob("part-*"))
    names = params["fields"].split(",")
    return csv_header_line(names, "\t" if fmt is Format.TSV else ",") + b"".join(p.read_bytes() for p in files)


@pytest.mark.parametrize("fmt", [Format.CSV, Format.TSV], ids=["csv", "tsv"])
@pytest.mark.parametrize("column", COLUMNS)
def test_bigquery_export_values_are_ckans(column, fmt, real_ckan, bigquery_types):
    params = {"fields": f"_id,{column}", "limit": str(ROWS)}
    ckan = requests.get(f"{real_ckan.url}/datastore/dump/{real_ckan.resources['types']}",
                        params={"format": fmt.value, **params}, timeout=120)
    assert ckan.status_code == 200
    ours = exported(bigquery_types, fmt, params)
    if kind_of(column) == "text":  # bqemulator's DuckDB CSV writer quotes a value holding `#`; BigQuery's does not
        plain = rb'[^"\r\n\t]' if fmt is Format.TSV else rb'[^"\r\n,]'
        ours = re.sub(rb'(?m)(?<=[,\t])"(' + plain + rb'*#' + plain + rb'*)"$', rb"\1", ours)
    assert ours == ckan.content
