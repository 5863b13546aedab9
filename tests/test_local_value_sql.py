"""The local export's value formatting (functions/adapters/local/sql.py) against the regular-expression forms it
replaced for speed (issue 19: `regexp_replace` over `strftime` cost most of the csv/ndjson gap to a raw COPY), over
random values across each type's range and the edges: the same text for every value, or the conformance suite's
bytes would move. The oracles are the previous expressions, word for word."""

from __future__ import annotations

import duckdb
import pytest

from functions.adapters.local.sql import column_expression
from functions.core.model import Format


def old_iso(expression: str) -> str:
    return f"regexp_replace(strftime({expression}, '%Y-%m-%dT%H:%M:%S.%f'), '(\\.\\d{{3}})000$', '\\1')"


def old_float8(column: str) -> str:
    def shortest(value: str) -> str:
        return f"regexp_replace(CAST({value} AS VARCHAR), '\\.0$', '')"

    plain = shortest(column)
    digits = f"rtrim(replace({shortest(f'abs({column})')}, '.', ''), '0')"
    exponent_15 = (f"(CASE WHEN {column} < 0 THEN '-' ELSE '' END) || {digits}[1] || "
                   f"(CASE WHEN length({digits}) > 1 THEN '.' || {digits}[2:] ELSE '' END) || 'e+15'")
    return (f"CASE WHEN isnan({column}) THEN 'NaN' "
            f"WHEN isinf({column}) THEN (CASE WHEN {column} > 0 THEN 'Infinity' ELSE '-Infinity' END) "
            f"WHEN abs({column}) >= 1e15 AND abs({column}) < 1e16 THEN {exponent_15} "
            f"ELSE {plain} END")


RANDOM = "make_timestamp(CAST((random() * 2 - 1) * {span} AS BIGINT))"  # microseconds either side of 1970
WHOLE_MS = "make_timestamp(CAST(round((random() * 2 - 1) * {span}) * 1000 AS BIGINT))"
EDGES = ("'infinity'", "'-infinity'", "NULL", "'0001-01-01'", "'-0044-03-15 12:00:00.5'",
         "'-0044-03-15 12:00:00.000001'", "'1969-12-31 23:59:59.999'", "'1969-12-31 23:59:59.999999'",
         "'294247-01-10 04:00:54.775806'", "'2020-02-29 00:00:00.120000'")
TIMESTAMP_VALUES = {  # type -> (expressions drawn 100,000 times each, literals)
    "TIMESTAMP": ([RANDOM.format(span="9e16"), WHOLE_MS.format(span="9e13")], EDGES),
    "TIMESTAMP_MS": ([RANDOM.format(span="9e15"), WHOLE_MS.format(span="9e12")], ("NULL", "'1969-12-31 23:59:59.999'")),
    "TIMESTAMP_S": ([RANDOM.format(span="9e15")], ("NULL", "'1969-12-31 23:59:59'")),
    "TIMESTAMP_NS": (["make_timestamp_ns(CAST((random() * 2 - 1) * 9e18 AS BIGINT))",
                      "make_timestamp_ns(CAST(round((random() * 2 - 1) * 9e12) * 1000000 AS BIGINT))"],
                     ("NULL", "'1969-12-31 23:59:59.999999999'", "'2020-01-01 00:00:00.123000999'")),
    "TIMESTAMPTZ": ([RANDOM.format(span="9e16"), WHOLE_MS.format(span="9e13")], ("'infinity'", "NULL")),
}


def differences(values_sql: str, ours: str, oracle: str) -> list[tuple]:
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'Pacific/Chatham'")  # not UTC: a zoned value's text must not depend on it
        return con.execute(f"SELECT x, o, n FROM (SELECT x, {oracle} AS o, {ours} AS n FROM ({values_sql})) "
                           "WHERE o IS DISTINCT FROM n LIMIT 5").fetchall()


@pytest.mark.parametrize("fmt", [Format.CSV, Format.NDJSON])
@pytest.mark.parametrize("kind", sorted(TIMESTAMP_VALUES))
def test_timestamp_text_is_the_regular_expressions(kind, fmt):
    drawn, literals = TIMESTAMP_VALUES[kind]
    values = " UNION ALL ".join([f"SELECT CAST({v} AS {kind}) AS x FROM range(100000)" for v in drawn]
                                + [f"SELECT CAST({v} AS {kind})" for v in literals])
    ours = column_expression("x", kind, fmt).removesuffix(' AS "x"')
    oracle = (old_iso("timezone('UTC', \"x\")") + " || 'Z'") if kind == "TIMESTAMPTZ" else old_iso('"x"')
    assert "regexp" not in ours
    assert differences(values, ours, oracle) == []


def test_float8_text_is_the_regular_expressions():
    values = " UNION ALL ".join([
        "SELECT (random() * 2 - 1) * pow(10, random() * 40 - 20) AS x FROM range(200000)",
        "SELECT round((random() * 2 - 1) * pow(10, random() * 20)) FROM range(200000)",
        "SELECT round((random() * 2 - 1) * pow(10, 15 + random())) FROM range(50000)",
        "SELECT (random() * 2 - 1) * pow(10, 15 + random()) FROM range(50000)",
        "SELECT v FROM (VALUES (0.0::DOUBLE), (-0.0), ('nan'), ('inf'), ('-inf'), (NULL), (1e15), (-1e15), (1e16), "
        "(9999999999999998.0), (999999999999999.9), (999999999999999.0), (1.7976931348623157e308), (5e-324), "
        "(-5e-324), (2.2250738585072014e-308), (0.1), (-7.0)) t(v)",
    ])
    ours = column_expression("x", "DOUBLE", Format.CSV).removesuffix(' AS "x"')
    assert differences(values, ours, old_float8('"x"')) == []
