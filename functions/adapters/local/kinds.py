"""DuckDB's column types as the core's column kinds (functions.core.dump_query.KINDS): what a filter compares."""

from __future__ import annotations

import re

from functions.core.dump_query import TableColumn

_KINDS = [
    ("text", re.compile(r"VARCHAR|TEXT|STRING|CHAR|BPCHAR|VARCHAR\(\d+\)")),
    ("integer", re.compile(r"U?(?:TINY|SMALL|BIG|HUGE)?INT(?:EGER|[1248])?")),
    ("float", re.compile(r"FLOAT|DOUBLE|REAL|FLOAT[48]")),
    ("numeric", re.compile(r"(?:DECIMAL|NUMERIC)(?:\(.*\))?")),
    ("bool", re.compile(r"BOOL|BOOLEAN")),
    ("timestamp", re.compile(r"TIMESTAMP(?:_S|_MS|_NS| WITH TIME ZONE|TZ)?|DATETIME")),
    ("date", re.compile(r"DATE")),
    ("time", re.compile(r"TIME")),
]


def column_kind(type_name: str) -> str:
    """Lists, structs, maps, JSON and BLOB are "other"."""
    name = type_name.strip().upper()
    return next((kind for kind, pattern in _KINDS if pattern.fullmatch(name)), "other")


def table_column(name: str, type_name: str) -> TableColumn:
    return TableColumn(name, type_name, column_kind(type_name))
