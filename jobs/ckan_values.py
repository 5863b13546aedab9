"""CKAN's column types and its value rules, shared by the JSON and XML writers (jobs.ckan_json, jobs.ckan_xml).

The type each column reports (ckan_type, as datastore_search names PostgreSQL's types); the SQL text of a scalar
value that needs no escaping in either format (numbers, dates, times, timestamps, bytea), which the vectorised
renderer runs over each batch; and, for nested, JSON and unusual columns, each value as CKAN has it in Python
(PostgreSQL's JSON of the value, decoded), which the per-value renderers write out.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable

import pyarrow as pa


BOM = "\ufeff".encode()
FLOAT_AS_INTEGER_BELOW = 1e15  # PostgreSQL prints float8 2.0 as 2 up to 15 digits; CKAN decodes that as an int


def ckan_type(arrow_type: pa.DataType, name: str = "", json_text: bool = False) -> str:
    """The type name CKAN's datastore_search reports for a column (its PostgreSQL type), `_id` being `int`."""
    if name == "_id":
        return "int"
    if json_text or pa.types.is_struct(arrow_type) or pa.types.is_map(arrow_type):
        return "json"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return "_" + ckan_type(arrow_type.value_type)
    for test, ckan in ((pa.types.is_boolean, "bool"), (pa.types.is_int8, "int2"), (pa.types.is_int16, "int2"),
                       (pa.types.is_int32, "int4"), (pa.types.is_integer, "int8"), (pa.types.is_float32, "float4"),
                       (pa.types.is_floating, "float8"), (pa.types.is_decimal, "numeric"),
                       (pa.types.is_timestamp, "timestamp"), (pa.types.is_date, "date"), (pa.types.is_time, "time"),
                       (pa.types.is_binary, "bytea"), (pa.types.is_large_binary, "bytea")):
        if test(arrow_type):
            return ckan
    return "text"


def ckan_fields(schema: pa.Schema, json_columns: Iterable[str] = ()) -> list[dict]:
    """CKAN's field descriptors, `{"id": ..., "type": ...}`, in the file's column order."""
    json_columns = set(json_columns)
    return [{"id": f.name, "type": ckan_type(f.type, f.name, f.name in json_columns)} for f in schema]


def column_sql(schema: pa.Schema, name: str) -> str:
    """Columns are named by position in SQL (c0, c1...): CKAN's names may be empty or differ only in case."""
    return f"c{schema.get_field_index(name)}"


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_char(char: str) -> str:
    return quote_literal(char) if char.isprintable() else f"chr({ord(char)})"


def is_text(arrow_type: pa.DataType) -> bool:
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def is_number(arrow_type: pa.DataType) -> bool:
    return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type)


def may_be_empty(arrow_type: pa.DataType) -> bool:
    return is_text(arrow_type)


def plain_text_sql(column: str, arrow_type: pa.DataType, ckan: str) -> str | None:
    """Text of a number, date, time, timestamp or bytea value that needs no escaping in JSON or XML."""
    if pa.types.is_integer(arrow_type) and ckan.startswith("int"):
        return f"CAST({column} AS VARCHAR)"
    if pa.types.is_floating(arrow_type) and ckan in ("float4", "float8") and not pa.types.is_float16(arrow_type):
        return float_text_sql(as_double(column, arrow_type))
    if pa.types.is_decimal128(arrow_type) and ckan == "numeric" and arrow_type.scale >= 0:
        # _numeric: an integer when whole, else the float's repr (through the exact text: correctly rounded)
        return (f"CASE WHEN {column} % 1 = 0 THEN CAST(CAST({column} AS HUGEINT) AS VARCHAR) "
                f"ELSE CAST(CAST(CAST({column} AS VARCHAR) AS DOUBLE) AS VARCHAR) END")
    if pa.types.is_timestamp(arrow_type) and ckan == "timestamp":
        # CKAN 2.12's to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS.MS') in UTC; microseconds kept when there are any
        moment = f"CAST({column} AS TIMESTAMP)"
        return (f"CASE WHEN microsecond({moment}) % 1000 = 0 THEN strftime({moment}, '%Y-%m-%dT%H:%M:%S.%g') "
                f"ELSE strftime({moment}, '%Y-%m-%dT%H:%M:%S.%f') END")
    if pa.types.is_date(arrow_type) and ckan == "date":
        return f"CAST({column} AS VARCHAR)"
    if pa.types.is_time(arrow_type) and ckan == "time":
        return f"CAST({column} AS VARCHAR)"  # to_json(time): 03:54:27.78599, DuckDB's text too
    if (pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type)) and ckan == "bytea":
        return f"concat('\\x', lower(hex({column})))"
    return None


def float_text_sql(double: str, quote: str = "") -> str:
    """_float's text: integral values under 1e15 as integers, NaN and infinities by name, else Python's repr
    (DuckDB prints a DOUBLE as Python's repr does: shortest round trip, the same exponent rules). DuckDB's NaN
    equals itself but is not below 1e15, so the first branch holds finite values only."""
    named = {name: quote_literal(f"{quote}{name}{quote}") for name in ("NaN", "Infinity", "-Infinity")}
    return (f"CASE WHEN {double} = trunc({double}) AND abs({double}) < {FLOAT_AS_INTEGER_BELOW!r} "
            f"THEN CAST(CAST({double} AS BIGINT) AS VARCHAR) "
            f"WHEN isfinite({double}) THEN CAST({double} AS VARCHAR) "
            f"WHEN isnan({double}) THEN {named['NaN']} "
            f"WHEN {double} > 0 THEN {named['Infinity']} ELSE {named['-Infinity']} END")


def as_double(column: str, arrow_type: pa.DataType) -> str:
    if pa.types.is_decimal(arrow_type):  # through its exact text: a correctly rounded double, as float(Decimal)
        return f"CAST(CAST({column} AS VARCHAR) AS DOUBLE)"
    return f"CAST({column} AS DOUBLE)"


def ckan_values(array: pa.Array, ckan: str) -> list:
    """The column's values as CKAN has them (PostgreSQL's JSON of each, decoded)."""
    convert = _converter(ckan)
    values = array.to_pylist()
    return values if convert is None else [None if v is None else convert(v) for v in values]


def _converter(ckan: str) -> Callable[[Any], Any] | None:
    """What PostgreSQL's to_json gives for a value of this type, as CKAN decodes it; None: the value as read."""
    if ckan == "json":
        return _json_value
    if ckan.startswith("_"):
        return _nested
    if ckan in ("float4", "float8"):
        return _float
    if ckan in ("numeric", "timestamp", "date", "time", "bytea"):
        return _scalar
    return None


def _float(value: float) -> Any:
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value.is_integer() and abs(value) < FLOAT_AS_INTEGER_BELOW:
        return int(value)
    return value


def _scalar(value: Any) -> Any:
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, Decimal):
        return _numeric(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return _trim_fraction(value.isoformat())  # to_json(timestamp) inside an array: fraction without zeros
    if isinstance(value, time):
        return _trim_fraction(value.isoformat())  # to_json(time): `03:54:27.78599`, `03:54:27`
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return "\\x" + value.hex()  # PostgreSQL's bytea text
    return value


def _numeric(value: Decimal) -> Any:
    """What CKAN decodes from to_json(numeric) at the value's shortest exact form: an int when whole, else a float.

    CKAN keeps the scale it was given (`1.50`, `7.0`); NUMERIC here has a fixed scale, so the shortest exact
    form is written: `1.5`, `7` (a deliberate difference for values stored with trailing zeros)."""
    if not value.is_finite():
        return "NaN"
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _trim_fraction(text: str) -> str:
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _nested(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (None if v is None else _nested(v)) for k, v in value.items()}
    if isinstance(value, list):
        if value and isinstance(value[0], tuple):  # an Arrow map arrives as (key, value) pairs
            return {str(k): (None if v is None else _nested(v)) for k, v in value}
        return [None if v is None else _nested(v) for v in value]
    return _scalar(value)


def _json_value(value: Any) -> Any:
    """JSON columns travel as JSON text in Parquet (the export's TO_JSON_STRING); CKAN gives them parsed."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return _nested(value)
