"""CKAN's JSON dump file, `{"fields": [...], "records": [[...], ...]}`, byte for byte as its JSONWriter lays it out."""

from __future__ import annotations

import json
from typing import Iterable, Iterator

import pyarrow as pa

from jobs.ckan_render import Part, PythonPart, literal_part, rendered, sql_part
from jobs.ckan_values import (BOM, as_double, ckan_values, column_sql, float_text_sql, is_number, is_text,
                              plain_text_sql, quote_literal, sql_char)


_JSON_ROW_SEPARATOR = ",\n    "
JSON_TAIL = b"\n]}\n"
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # simplejson's bytes for these values


def json_chunks(batches: Iterable[pa.RecordBatch], fields: list[dict], bom: bool = False) -> Iterator[bytes]:
    """`{"fields": [...], "records": [[...], ...]}` laid out byte for byte as CKAN's JSONWriter does."""
    yield json_head(fields, bom)
    first = True
    for body in json_rows(batches, fields):
        if first:
            body, first = body[1:], False  # the first row follows "[" with no comma
        yield body
    yield JSON_TAIL


def json_head(fields: list[dict], bom: bool = False) -> bytes:
    return (BOM if bom else b"") + ('{\n  "fields": %s,\n  "records": [' % _dumps(fields)).encode()


def json_rows(batches: Iterable[pa.RecordBatch], fields: list[dict]) -> Iterator[bytes]:
    """The records of each non-empty batch, every one after ",\n    ": one bytes object per batch."""
    return rendered(batches, fields, _json_row)


def _json_row(schema: pa.Schema, fields: list[dict]) -> list[Part]:
    parts: list[Part] = [literal_part(_JSON_ROW_SEPARATOR + "[")]
    for index, spec in enumerate(fields):
        if index:
            parts.append(literal_part(","))
        arrow_type = schema.field(spec["id"]).type
        column = column_sql(schema, spec["id"])
        if spec["type"] in ("text", "int") and is_text(arrow_type):
            parts.append(("sql", _json_or_null(column, f"CAST(to_json({column}) AS VARCHAR)"),
                          _json_or_null(column, _json_string_spelled_sql(column)), spec["id"]))
            continue
        expression = _json_value_sql(column, arrow_type, spec["type"])
        if expression is None:
            parts.append(("py", spec["id"], _python_json(spec["type"])))
        else:
            parts.append(sql_part(_json_or_null(column, expression)))
    parts.append(literal_part("]"))
    return parts


def _json_or_null(column: str, expression: str) -> str:
    return f"CASE WHEN {column} IS NULL THEN 'null' ELSE {expression} END"


def _json_value_sql(column: str, arrow_type: pa.DataType, ckan: str) -> str | None:
    """The JSON text of the column's non-null values, or None where only the Python renderer knows the bytes."""
    if pa.types.is_boolean(arrow_type) and ckan == "bool":
        return f"CASE {column} WHEN true THEN 'true' WHEN false THEN 'false' END"
    if pa.types.is_floating(arrow_type) and ckan in ("float4", "float8") and not pa.types.is_float16(arrow_type):
        return float_text_sql(as_double(column, arrow_type), '"')  # NaN and the infinities are JSON strings
    text = plain_text_sql(column, arrow_type, ckan)
    if text is None or is_number(arrow_type):
        return text
    if ckan == "bytea":
        return f"concat('\"\\\\x', lower(hex({column})), '\"')"  # "\\x..." : JSON escapes the backslash
    return f"concat('\"', {text}, '\"')"  # dates, times and timestamps: no character that JSON escapes


def _json_string_spelled_sql(column: str) -> str:
    """json.dumps(text, ensure_ascii=False) spelled out: DuckDB's to_json escapes the same characters the same way,
    except that it writes the hex of a few control characters in capitals."""
    spelled = column
    for char, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"),
                          ("\b", "\\b"), ("\f", "\\f")):
        spelled = f"replace({spelled}, {sql_char(char)}, {quote_literal(escaped)})"
    for code in [c for c in range(0x20) if chr(c) not in "\n\r\t\b\f"]:
        spelled = f"replace({spelled}, chr({code}), '\\u{code:04x}')"
    return f"concat('\"', {spelled}, '\"')"


def _python_json(ckan: str) -> PythonPart:
    def render(array: pa.Array) -> list:
        return ["null" if v is None else _dumps(v) for v in ckan_values(array, ckan)]
    return render
