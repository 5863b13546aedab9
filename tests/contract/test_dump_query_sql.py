"""CKAN's dump parameters as SQL, run on real DuckDB and on BigQuery (bqemulator), with the same expected rows.

Rows of a small flights-like table; each case is a CKAN request and the `_id`s (or rows) CKAN would return:
sort then `_id`, PostgreSQL's null placement, every word of q case-insensitively, limit/offset after distinct.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from google.cloud import bigquery

from functions.adapters.google import dump_query_sql as google_sql
from functions.adapters.local import dump_query_sql as local_sql
from functions.adapters.google.sql import table_reference
from functions.adapters.google import kinds as bigquery_kinds
from functions.adapters.local import kinds as duckdb_kinds
from functions.core.dump_query import TableColumn
from functions.core.errors import InvalidRequest
from tests.contract.conftest import PROJECT
from tests.support.queries import checked_query

ROWS = [  # _id, carrier, month, delay, at, note, odd name
    (3, "UA", 2, -3.0, "2013-02-01 07:00:00", None, "c"),
    (1, "UA", 1, 10.5, "2013-01-01 05:00:00", "Late night flight", "a"),
    (5, "AA", 3, 25.0, None, "UA codeshare", None),
    (2, "AA", 1, None, "2013-01-01 06:00:00", "early bird", "b"),
    (4, "DL", 2, 0.0, "2013-02-02 08:00:00", "Night owl's delay", "d"),
]


@dataclass
class Engine:
    run: Callable[[dict], list[tuple]]
    name: str


def _literal(value) -> str:
    if value is None:
        return "NULL"
    return f"'{value}'" if isinstance(value, str) else repr(value)


@pytest.fixture(scope="module", params=["duckdb", "bigquery"])
def engine(request, tmp_path_factory) -> Engine:
    if request.param == "duckdb":
        import duckdb

        path = tmp_path_factory.mktemp("dumpq") / "flights.parquet"
        pq.write_table(pa.table({
            "_id": pa.array([r[0] for r in ROWS], pa.int64()), "carrier": [r[1] for r in ROWS],
            "month": pa.array([r[2] for r in ROWS], pa.int64()), "delay": [r[3] for r in ROWS],
            "at": pa.array([r[4] for r in ROWS], pa.string()).cast(pa.timestamp("us")),
            "note": [r[5] for r in ROWS], "odd name": [r[6] for r in ROWS]}), path)
        connection = duckdb.connect()
        source = f"read_parquet('{path}')"
        described = connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        columns = [duckdb_kinds.table_column(name, type_name) for name, type_name, *_ in described]

        def run(params: dict) -> list[tuple]:
            select = local_sql.select_statement(source, checked(params, columns), columns)
            return connection.execute(select.sql, select.parameters).fetchall()

        request.addfinalizer(connection.close)
        return Engine(run, "duckdb")
    emulator = request.getfixturevalue("bigquery_emulator")
    client = emulator.client(PROJECT)
    dataset = f"dumpq_{secrets.token_hex(4)}"
    client.create_dataset(dataset)
    rows = " UNION ALL ".join(
        f"SELECT {i} AS _id, {_literal(c)} AS carrier, {m} AS month, CAST({_literal(d)} AS FLOAT64) AS delay, "
        f"CAST({_literal(a)} AS TIMESTAMP) AS at, CAST({_literal(n).replace(chr(39) + 's', chr(92) + chr(39) + 's')} "
        f"AS STRING) AS note, CAST({_literal(o)} AS STRING) AS `odd name`" for i, c, m, d, a, n, o in ROWS)
    client.query(f"CREATE TABLE `{PROJECT}.{dataset}.flights` AS SELECT * FROM ({rows})", job_retry=None).result()
    schema = client.get_table(f"{PROJECT}.{dataset}.flights").schema
    columns = bigquery_kinds.table_columns(schema)
    table = table_reference(PROJECT, dataset, "flights")

    def run(params: dict) -> list[tuple]:
        select = google_sql.select_statement(table, checked(params, columns), columns)
        config = bigquery.QueryJobConfig(query_parameters=select.parameters)
        return [tuple(row.values()) for row in client.query(select.sql, job_config=config, job_retry=None).result()]

    return Engine(run, "bigquery")


def checked(params: dict, columns: list[TableColumn]):
    return checked_query(params, columns)


def ids(engine: Engine, **params) -> list[int]:
    return [row[0] for row in engine.run({"fields": "_id", **params})]


@pytest.mark.parametrize("params,expected", [
    ({}, [1, 2, 3, 4, 5]),
    ({"filters": '{"carrier": "UA"}'}, [1, 3]),
    ({"filters": '{"carrier": ["UA", "DL"], "month": "2"}'}, [3, 4]),
    ({"filters": '{"month": [1, 3]}'}, [1, 2, 5]),
    ({"filters": '{"delay": 0}'}, [4]),
    ({"filters": '{"carrier": []}'}, []),
    ({"filters": '{"at": "2013-01-01T06:00:00"}'}, [2]),
    ({"filters": '{"at": "2013-01-01T07:00:00+01:00"}'}, [2]),
    ({"filters": '{"odd name": "d"}'}, [4]),
    ({"q": "NIGHT"}, [1, 4]),
    ({"q": "night  late"}, [1]),
    ({"q": "ua"}, [1, 3, 5]),
    ({"q": '{"note": "ua"}'}, [5]),
    ({"q": '{"month": "2"}'}, [3, 4]),
    ({"q": "%"}, []),
    ({"q": "_"}, []),
    ({"q": "owl's"}, [4]),
    ({"sort": "delay desc"}, [2, 5, 1, 4, 3]),
    ({"sort": "delay"}, [3, 4, 1, 5, 2]),
    ({"sort": "delay asc nulls first"}, [2, 3, 4, 1, 5]),
    ({"sort": "carrier desc, month desc"}, [3, 1, 4, 5, 2]),
    ({"sort": "carrier"}, [2, 5, 4, 1, 3]),
    ({"sort": '"odd name" desc'}, [5, 4, 3, 2, 1]),
    ({"sort": "_id desc"}, [5, 4, 3, 2, 1]),
    ({"limit": "2", "offset": "1"}, [2, 3]),
    ({"offset": "3"}, [4, 5]),
    ({"limit": "0"}, []),
    ({"filters": '{"carrier": "AA"}', "sort": "month desc", "limit": "1"}, [5]),
])
def test_each_parameter_has_ckans_meaning(engine, params, expected):
    assert ids(engine, **params) == expected


def test_fields_choose_and_order_the_columns(engine):
    assert engine.run({"fields": "note,_id", "limit": "1"}) == [("Late night flight", 1)]


def test_distinct_then_limit_and_offset(engine):
    assert engine.run({"fields": "month,carrier", "distinct": "true", "sort": "month"}) == [
        (1, "AA"), (1, "UA"), (2, "DL"), (2, "UA"), (3, "AA")]
    assert engine.run({"fields": "carrier", "distinct": "true", "sort": "carrier desc", "offset": "1"}) == [
        ("DL",), ("AA",)]


@pytest.mark.parametrize("value", ["x' OR '1'='1", "UA'; DROP TABLE flights; --", "UA\" OR \"1\"=\"1", "\\' OR 1=1 --"])
def test_an_injection_attempt_in_a_value_is_only_a_value(engine, value):
    import json
    assert ids(engine, filters=json.dumps({"carrier": value})) == []
    assert ids(engine, q=value) == []
    assert ids(engine) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("params", [
    {"fields": '_id,carrier" FROM x; --'}, {"sort": '"carrier; DROP TABLE flights" desc'},
    {"filters": '{"carrier`) OR 1=1 --": "UA"}'}, {"q": '{"note\\" OR 1=1": "x"}'},
])
def test_an_injection_attempt_in_a_field_name_never_reaches_sql(engine, params):
    with pytest.raises(InvalidRequest) as caught:
        engine.run(params)
    assert caught.value.details["valid_fields"] == ["_id", "carrier", "month", "delay", "at", "note", "odd name"]
    assert ids(engine) == [1, 2, 3, 4, 5]
