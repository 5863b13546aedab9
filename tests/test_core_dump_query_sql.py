"""The one SQL renderer of a dump query and the dialects the warehouses give it: values only as parameters, in
each dialect's spelling; the core names no warehouse's types or functions. The rows each SQL selects are checked
on real DuckDB and BigQuery (bqemulator) in tests/contract/test_dump_query_sql.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

from functions.adapters.google.dump_query_sql import BIGQUERY
from functions.adapters.local import kinds as duckdb_kinds
from functions.adapters.local.dump_query_sql import DUCKDB
from functions.core.dump_query import TableColumn
from functions.core.dump_query_sql import select_statement
from tests.support.queries import checked_query

DUCK_COLUMNS = [duckdb_kinds.table_column(name, type_name) for name, type_name in
                [("_id", "BIGINT"), ("carrier", "VARCHAR"), ("month", "BIGINT"), ("odd name", "VARCHAR")]]
BIGQUERY_COLUMNS = [TableColumn("_id", "INT64", "integer"), TableColumn("carrier", "STRING", "text"),
                    TableColumn("month", "INT64", "integer"), TableColumn("odd name", "STRING", "text")]
HOSTILE = "x' OR '1'='1"
PARAMS = {"filters": json.dumps({"carrier": [HOSTILE, "UA"], "month": 2, "odd name": []}), "q": "night",
          "sort": '"odd name" desc', "offset": "3"}


def test_each_dialect_binds_every_value_and_spells_its_own_placeholders():
    duck = select_statement(DUCKDB, "src", checked_query(PARAMS, DUCK_COLUMNS), DUCK_COLUMNS)
    google = select_statement(BIGQUERY, "`p.d.t`", checked_query(PARAMS, BIGQUERY_COLUMNS), BIGQUERY_COLUMNS)
    for select in (duck, google):
        assert HOSTILE not in select.sql and "night" not in select.sql and "UA" not in select.sql
        assert " FALSE" in select.sql  # `odd name` IN (): CKAN's false
    # DuckDB: one positional parameter a value, IN as a list of them, OFFSET alone
    assert duck.parameters == ["UA", HOSTILE, 2, "night", 3]
    assert 't."carrier" IN ($1, $2)' in duck.sql and 't."month" = $3' in duck.sql
    assert duck.sql.endswith("OFFSET $5") and "LIMIT" not in duck.sql
    assert '"odd name" COLLATE en_us DESC NULLS FIRST' in duck.sql
    # BigQuery: named, typed parameters, IN over one array, and a LIMIT for OFFSET alone
    named = {p.name: p for p in google.parameters}
    assert "t.`carrier` IN UNNEST(@f0)" in google.sql and named["f0"].values == ["UA", HOSTILE]
    assert named["f1"].type_ == "INT64" and named["f1"].value == 2
    assert named["q0"].value == "night" and named["row_limit"].value == 2**63 - 1 and named["row_offset"].value == 3
    assert "COLLATE(t.`odd name`, 'und:ci') DESC NULLS FIRST, t.`odd name` ASC" in google.sql


def test_the_core_renderer_names_no_warehouse_type_or_function():
    core = (Path(__file__).resolve().parent.parent / "functions" / "core" / "dump_query_sql.py").read_text()
    for name in ("VARCHAR", "STRING", "INT64", "BIGINT", "UNNEST", "COLLATE", "CAST", "CONCAT", "REGEXP", "DuckDB",
                 "BigQuery", "$1", "@f"):
        assert not re.search(re.escape(name), core), name
