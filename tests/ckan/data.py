"""The tables the conformance suite loads into real CKAN and into bqdump: the same rows, typed on each side.

`types`: every DataStore type the dump formats differently, with nulls, edge values and text made to
sort and search (mixed case, punctuation, words inside longer words). `pages`: enough rows to cross CKAN's
32,000-row dump pages, with tied sort keys. `edges`: values one side cannot carry as the other does, for the
cases on the list of deliberate differences. Changing anything here rebuilds the cached CKAN database.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa

WORDS = ["alpha", "Alpha", "ALPHA", "Epsilon", "epsilon", "beta", "_under", "#hash", "-dash", "river", "riverbank",
         "River Bank", "Zebra", "zebra", "éclair", "Ölfeld", "a b", "a,b", 'say "hi"', "line\nbreak", "tab\there",
         "", " space", "10", "9", "x-ray", "x_ray", "xray", "Ärger", "apple", "Apple pie", "#1", "1#", "[bracket]"]
FLOATS = [0.0, -3.0, 2.5, 0.1, 1e15, 1.234567890123456e15, 1e-7, -0.5, 123456.789, "NaN", "Infinity",
          "-Infinity", 1e100, 3.0, 7.25]
NUMERICS = ["1.5", "7", "-0.000000001", "49387819521", "123456.789", "0", "-42.125", "99999999999999999999.5"]
TIMESTAMPS = ["2008-10-03T20:05:38.910", "2008-10-03T20:05:38", "1999-12-31T23:59:59.999", "1970-01-01T00:00:00",
              "2024-02-29T12:00:00.500", "1960-06-15T08:30:00.001"]
TIMES = ["03:54:27.78599", "00:00:00", "23:59:59.5", "12:30:00", "07:00:00.000001"]
DATES = ["2008-10-03", "1999-12-31", "2024-02-29", "1970-01-01"]
JSONS = [{"k": [1, None], "t": "x<y & river"}, [1, 2, 3], "plain river", 42, {"nested": {"deep": True}}, [],
         {"a": 1.5}]


@dataclass(frozen=True)
class Table:
    name: str
    fields: list[dict]  # CKAN's datastore_create fields: {"id", "type"}
    rows: list[dict]    # as sent to datastore_upsert (JSON values)

    def arrow(self) -> pa.Table:
        """The same rows typed for bqdump (DuckDB reads these types from Parquet; json travels as its text)."""
        columns = {"_id": pa.array(range(1, len(self.rows) + 1), pa.int64())}
        for field in self.fields:
            values = [row.get(field["id"]) for row in self.rows]
            columns[field["id"]] = pa.array([_typed(field["type"], v) for v in values], ARROW_TYPES[field["type"]])
        return pa.table(columns)

    def json_columns(self) -> list[str]:
        return [f["id"] for f in self.fields if f["type"] == "json"]


ARROW_TYPES = {
    "text": pa.string(), "int4": pa.int32(), "int8": pa.int64(), "float8": pa.float64(),
    "numeric": pa.decimal128(38, 9), "bool": pa.bool_(), "date": pa.date32(), "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"), "json": pa.string(), "_text": pa.list_(pa.string()),
    "_int4": pa.list_(pa.int32()),
}


def _typed(kind: str, value):
    from datetime import date, datetime, time

    if value is None:
        return None
    if kind == "float8":
        return float(value)
    if kind == "numeric":
        return Decimal(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "time":
        return time.fromisoformat(value)
    if kind == "timestamp":
        return datetime.fromisoformat(value)
    if kind == "json":
        return json.dumps(value)  # the text CKAN stores (json.dumps), which its csv/tsv writes back
    return value


def _types_table(rows: int = 2000) -> Table:
    pick = random.Random(18)
    fields = [{"id": name, "type": kind} for name, kind in [
        ("t_text", "text"), ("t_int4", "int4"), ("t_int8", "int8"), ("t_float8", "float8"), ("t_numeric", "numeric"),
        ("t_bool", "bool"), ("t_date", "date"), ("t_time", "time"), ("t_timestamp", "timestamp"), ("t_json", "json"),
        ("t_text_arr", "_text"), ("t_int4_arr", "_int4"), ("category", "text")]]
    out = []
    for i in range(rows):
        if i % 17 == 5:
            out.append({"category": "empty"})  # every other column null
            continue
        words = pick.sample(WORDS, 2)
        out.append({
            "t_text": pick.choice(WORDS) if i % 3 else " ".join(words),
            "t_int4": pick.choice([0, 1, -1, 2147483647, -2147483648, pick.randint(-1000, 1000)]),
            "t_int8": pick.choice([9007199254740993, -5, 0, pick.randint(-10**12, 10**12)]),
            "t_float8": pick.choice(FLOATS),
            "t_numeric": pick.choice(NUMERICS),
            "t_bool": pick.choice([True, False, None]),
            "t_date": pick.choice(DATES + [None]),
            "t_time": pick.choice(TIMES + [None]),
            "t_timestamp": pick.choice(TIMESTAMPS + [None]),
            "t_json": pick.choice(JSONS + [None]),
            "t_text_arr": pick.choice([words, ["river", None], [], None, ["#tag", "Alpha"]]),
            "t_int4_arr": pick.choice([[1, 2], [], None, [None, -7]]),
            "category": pick.choice(["river", "lake", "Sea", "sea-side"]),
        })
    return Table("types", fields, out)


def _pages_table(rows: int = 70_000) -> Table:
    fields = [{"id": "k", "type": "int4"}, {"id": "label", "type": "text"}]
    return Table("pages", fields, [{"k": i % 1000, "label": f"row {i:06d}"} for i in range(rows)])


def _edges_table() -> Table:
    fields = [{"id": "t_timestamp", "type": "timestamp"}, {"id": "t_numeric", "type": "numeric"}]
    return Table("edges", fields, [{"t_timestamp": "2008-10-03T20:05:38.123456", "t_numeric": "1.50"},
                                   {"t_timestamp": "2008-10-03T20:05:38.000001", "t_numeric": "7.0"}])


TABLES = {table.name: table for table in (_types_table(), _pages_table(), _edges_table())}
