"""CKAN's JSON and XML dump files, written from exported Parquet record batches, one byte chunk per batch.

The bytes are exactly what ckanext/datastore/writer.py writes for the values datastore_search gives it
(PostgreSQL's JSON of each value, decoded and re-encoded): see docs/ckan-dump-compat.md. Parquet feeds these
writers because it keeps types (integers, floats, decimals, booleans, timestamps, nulls, nesting) that CSV or
BigQuery's NDJSON (INT64 as strings) would lose. Memory is one record batch at a time, whatever the table's size.

Vectorised: each batch's rows are rendered as text by one DuckDB SELECT over the Arrow batch (a string expression
per scalar column), and the batch's bytes are the data buffer of the resulting string column, with no Python per
value. Nested, JSON and unusual columns (rare in a dump) keep a per-value Python renderer, joined in by Arrow.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import unicodedata
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BOM = "\ufeff".encode()
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
BATCH_ROWS = 65_536  # rows per DuckDB statement: large enough to hide its ~1 ms per statement, small in memory
RENDER_THREADS = os.cpu_count() or 1
_FLOAT_AS_INTEGER_BELOW = 1e15  # PostgreSQL prints float8 2.0 as 2 up to 15 digits; CKAN decodes that as an int
_JSON_ROW_SEPARATOR = ",\n    "
JSON_TAIL = b"\n]}\n"
XML_TAIL = b"</data>\n"

# ckanext/datastore/writer.py xml_element_name_rules, in order.
_XML_NAME_RULES = [
    (re.compile(r"^(\d*xml\d*|\d+)", re.I), ""),
    (re.compile(r"\s+"), "_"),
    (re.compile(r"[^\w_.-]", re.U), ""),
    (re.compile(r"^[\d.-]+"), ""),
]


def parquet_batches(source, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Record batches of a Parquet file (path or binary file object), read one row group slice at a time."""
    yield from pq.ParquetFile(source).iter_batches(batch_size=batch_rows)


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
    return _rendered(batches, fields, _json_row)


def xml_chunks(batches: Iterable[pa.RecordBatch], fields: list[dict], bom: bool = False) -> Iterator[bytes]:
    """`<data>` with one `<row _id="...">` per record, as CKAN's XMLWriter (ElementTree) serialises it."""
    yield xml_head(bom)
    yield from xml_rows(batches, fields)
    yield XML_TAIL


def xml_head(bom: bool = False) -> bytes:
    return (BOM if bom else b"") + f'<data xmlns:xsi="{XSI_NAMESPACE}">\n'.encode()


def xml_rows(batches: Iterable[pa.RecordBatch], fields: list[dict]) -> Iterator[bytes]:
    return _rendered(batches, fields, _xml_row)


def with_bom(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """CSV and TSV with CKAN's bom=True: a UTF-8 byte order mark before the first byte."""
    yield BOM
    yield from chunks


def xml_element_names(columns: list[str]) -> list[str]:
    """CKAN's element names: NFC, its four rewriting rules, then `_0`, `_1`... suffixes for clashes."""
    chosen: list[str] = []
    for column in columns:
        name = unicodedata.normalize("NFC", column)
        for rule, replacement in _XML_NAME_RULES:
            name = rule.sub(replacement, name)
        unique, suffix = name, 0
        while unique in chosen:
            unique = f"{name}_{suffix}"
            suffix += 1
        chosen.append(unique)
    return chosen


# --- A row as parts: SQL text expressions (vectorised) or Python renderers (per value, for rare types) ---------

PythonPart = Callable[[pa.Array], list]  # one column's values -> their texts
# ("sql", expression, careful expression, column name or None) | ("py", column name, PythonPart). The careful
# expression is for a batch whose column holds a control character DuckDB's to_json spells differently.
Part = tuple


def _sql(expression: str) -> Part:
    return ("sql", expression, expression, None)


def _literal(text: str) -> Part:
    return _sql(_quote_literal(text))


def _json_row(schema: pa.Schema, fields: list[dict]) -> list[Part]:
    parts: list[Part] = [_literal(_JSON_ROW_SEPARATOR + "[")]
    for index, spec in enumerate(fields):
        if index:
            parts.append(_literal(","))
        arrow_type = schema.field(spec["id"]).type
        column = _column_sql(schema, spec["id"])
        if spec["type"] in ("text", "int") and _is_text(arrow_type):
            parts.append(("sql", _json_or_null(column, f"CAST(to_json({column}) AS VARCHAR)"),
                          _json_or_null(column, _json_string_spelled_sql(column)), spec["id"]))
            continue
        expression = _json_value_sql(column, arrow_type, spec["type"])
        if expression is None:
            parts.append(("py", spec["id"], _python_json(spec["type"])))
        else:
            parts.append(_sql(_json_or_null(column, expression)))
    parts.append(_literal("]"))
    return parts


def _json_or_null(column: str, expression: str) -> str:
    return f"CASE WHEN {column} IS NULL THEN 'null' ELSE {expression} END"


def _xml_row(schema: pa.Schema, fields: list[dict]) -> list[Part]:
    names = [f["id"] for f in fields]
    id_first = bool(names) and names[0] == "_id"
    rest = fields[1:] if id_first else fields
    tags = xml_element_names([f["id"] for f in rest])
    parts: list[Part] = []
    if id_first:
        id_sql = _xml_id_sql(_column_sql(schema, "_id"), schema.field("_id").type)
        parts += [_literal('<row _id="'), _sql(id_sql) if id_sql else ("py", "_id", _python_xml_id), _literal('"')]
    else:
        parts.append(_literal("<row"))
    if not tags:  # ElementTree writes a childless element short
        return parts + [_literal(" />\n")]
    parts.append(_literal(">"))
    for tag, spec in zip(tags, rest):
        column = _column_sql(schema, spec["id"])
        text = _xml_text_sql(column, schema.field(spec["id"]).type, spec["type"])
        if text is None:
            parts.append(("py", spec["id"], _python_xml(tag, spec["type"])))
            continue
        element = f"concat({_quote_literal(f'<{tag}>')}, {text}, {_quote_literal(f'</{tag}>')})"
        if _may_be_empty(schema.field(spec["id"]).type):
            element = f"CASE WHEN {column} = '' THEN {_quote_literal(f'<{tag} />')} ELSE {element} END"
        nil = _quote_literal(f'<{tag} xsi:nil="true" />')
        parts.append(_sql(f"CASE WHEN {column} IS NULL THEN {nil} ELSE {element} END"))
    parts.append(_literal("</row>\n"))
    return parts


def _rendered(batches: Iterable[pa.RecordBatch], fields: list[dict],
              row_parts: Callable[[pa.Schema, list[dict]], list[Part]]) -> Iterator[bytes]:
    """Each non-empty batch's rows, rendered and concatenated: one bytes object per batch, in order. Batches are
    rendered on RENDER_THREADS threads (DuckDB releases the GIL), at most one more batch in flight than threads."""
    plan = None
    with ThreadPoolExecutor(RENDER_THREADS, thread_name_prefix="ckan-render") as pool:
        in_flight: deque = deque()
        for batch in batches:
            if plan is None:
                plan = _Plan(row_parts(batch.schema, fields))
            if batch.num_rows:
                in_flight.append(pool.submit(plan.render, batch))
            if len(in_flight) > RENDER_THREADS:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()


class _Plan:
    """The row's parts with neighbouring SQL parts merged into one SELECT column each (one `concat` a row)."""

    def __init__(self, parts: list[Part]):
        self.columns: list[tuple] = []  # ("sql", index into the SELECT) | ("py", name, renderer)
        self.checked = [part[3] for part in parts if part[0] == "sql" and part[3] is not None]
        fast: list[str] = []
        careful: list[str] = []
        pending: list[Part] = []
        for part in parts + [("end",)]:
            if part[0] == "sql":
                pending.append(part)
                continue
            if pending:
                self.columns.append(("sql", len(fast)))
                fast.append(_concat_sql([p[1] for p in pending]))
                careful.append(_concat_sql([p[2] for p in pending]))
                pending = []
            if part[0] == "py":
                self.columns.append(part)
        self.fast, self.careful = _select_sql(fast), _select_sql(careful)

    def render(self, batch: pa.RecordBatch) -> bytes:
        select = self.fast
        if any(_has_hex_letter_control(batch.column(name)) for name in self.checked):
            select = self.careful
        selected = _select(select, batch) if select else None
        texts = []
        for column in self.columns:
            if column[0] == "sql":
                assert selected is not None  # a sql column means the plan has a select
                texts.append(_one_array(selected.column(column[1])))
            else:
                texts.append(pa.array(column[2](batch.column(column[1])), pa.large_string()))
        rows = texts[0] if len(texts) == 1 else pc.binary_join_element_wise(*texts, pa.scalar("", pa.large_string()))
        return _concatenated(rows)


def _concat_sql(expressions: list[str]) -> str:
    return expressions[0] if len(expressions) == 1 else f"concat({', '.join(expressions)})"


def _select_sql(expressions: list[str]) -> str | None:
    if not expressions:
        return None
    return "SELECT " + ", ".join(f"{e} AS s{i}" for i, e in enumerate(expressions)) + " FROM batch"


def _one_array(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _select(sql: str, batch: pa.RecordBatch) -> pa.Table:
    with _database().cursor() as cursor:
        cursor.register("batch", pa.RecordBatch.from_arrays(batch.columns, [f"c{i}" for i in range(batch.num_columns)]))
        return cursor.sql(sql).to_arrow_table()


@functools.lru_cache(maxsize=1)
def _database():
    import duckdb

    database = duckdb.connect()
    database.execute("SET TimeZone = 'UTC'")  # zoned timestamps print as UTC wall time
    database.execute("SET arrow_large_buffer_size = true")  # a batch of big values may pass 2 GiB of text
    return database


def _concatenated(rows: pa.Array) -> bytes:
    """The texts of a string array end to end: the slice of its data buffer its offsets span."""
    if rows.null_count:
        raise ValueError("a rendered row is null")  # a renderer missed a null: never write a short file
    rows = rows.cast(pa.large_string())
    _, offsets, data = rows.buffers()
    first = int.from_bytes(offsets[rows.offset * 8:rows.offset * 8 + 8], "little", signed=True)
    last = int.from_bytes(offsets[(rows.offset + len(rows)) * 8:(rows.offset + len(rows)) * 8 + 8], "little",
                          signed=True)
    return data[first:last].to_pybytes() if data is not None else b""


# --- Scalar columns as SQL --------------------------------------------------------------------------------------

def _json_value_sql(column: str, arrow_type: pa.DataType, ckan: str) -> str | None:
    """The JSON text of the column's non-null values, or None where only the Python renderer knows the bytes."""
    if pa.types.is_boolean(arrow_type) and ckan == "bool":
        return f"CASE {column} WHEN true THEN 'true' WHEN false THEN 'false' END"
    if pa.types.is_floating(arrow_type) and ckan in ("float4", "float8") and not pa.types.is_float16(arrow_type):
        return _float_text_sql(_as_double(column, arrow_type), '"')  # NaN and the infinities are JSON strings
    text = _plain_text_sql(column, arrow_type, ckan)
    if text is None or _is_number(arrow_type):
        return text
    if ckan == "bytea":
        return f"concat('\"\\\\x', lower(hex({column})), '\"')"  # "\\x..." : JSON escapes the backslash
    return f"concat('\"', {text}, '\"')"  # dates, times and timestamps: no character that JSON escapes


def _xml_text_sql(column: str, arrow_type: pa.DataType, ckan: str) -> str | None:
    """str(value) as CKAN's XMLWriter sets element.text, escaped as ElementTree writes it."""
    if ckan == "text" and _is_text(arrow_type):
        return _xml_escape_sql(column)
    if pa.types.is_boolean(arrow_type) and ckan == "bool":
        return f"CASE {column} WHEN true THEN 'True' WHEN false THEN 'False' END"
    return _plain_text_sql(column, arrow_type, ckan)


def _xml_id_sql(column: str, arrow_type: pa.DataType) -> str | None:
    """The `_id` attribute: str() of the value as read (None for null), attribute-escaped."""
    if pa.types.is_integer(arrow_type):
        return f"coalesce(CAST({column} AS VARCHAR), 'None')"
    if _is_text(arrow_type):
        return f"coalesce({_xml_attribute_escape_sql(column)}, 'None')"
    return None


def _plain_text_sql(column: str, arrow_type: pa.DataType, ckan: str) -> str | None:
    """Text of a number, date, time, timestamp or bytea value that needs no escaping in JSON or XML."""
    if pa.types.is_integer(arrow_type) and ckan.startswith("int"):
        return f"CAST({column} AS VARCHAR)"
    if pa.types.is_floating(arrow_type) and ckan in ("float4", "float8") and not pa.types.is_float16(arrow_type):
        return _float_text_sql(_as_double(column, arrow_type))
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


def _float_text_sql(double: str, quote: str = "") -> str:
    """_float's text: integral values under 1e15 as integers, NaN and infinities by name, else Python's repr
    (DuckDB prints a DOUBLE as Python's repr does: shortest round trip, the same exponent rules). DuckDB's NaN
    equals itself but is not below 1e15, so the first branch holds finite values only."""
    named = {name: _quote_literal(f"{quote}{name}{quote}") for name in ("NaN", "Infinity", "-Infinity")}
    return (f"CASE WHEN {double} = trunc({double}) AND abs({double}) < {_FLOAT_AS_INTEGER_BELOW!r} "
            f"THEN CAST(CAST({double} AS BIGINT) AS VARCHAR) "
            f"WHEN isfinite({double}) THEN CAST({double} AS VARCHAR) "
            f"WHEN isnan({double}) THEN {named['NaN']} "
            f"WHEN {double} > 0 THEN {named['Infinity']} ELSE {named['-Infinity']} END")


def _as_double(column: str, arrow_type: pa.DataType) -> str:
    if pa.types.is_decimal(arrow_type):  # through its exact text: a correctly rounded double, as float(Decimal)
        return f"CAST(CAST({column} AS VARCHAR) AS DOUBLE)"
    return f"CAST({column} AS DOUBLE)"


_HEX_LETTER_CONTROLS = bytes([0x0b, 0x0e, 0x0f, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f])  # to_json: \u001F; Python: \u001f
_MARK_HEX_LETTER_CONTROLS = bytes(0 if b in _HEX_LETTER_CONTROLS else 1 for b in range(256))


def _has_hex_letter_control(array: pa.Array) -> bool:
    """Whether a text column's bytes hold a control character that DuckDB's to_json escapes in capitals (its
    whole data buffer is scanned, a byte table at memory speed; rare, and then the batch takes the careful path)."""
    data = array.buffers()[2]
    return data is not None and 0 in data.to_pybytes().translate(_MARK_HEX_LETTER_CONTROLS)


def _json_string_spelled_sql(column: str) -> str:
    """json.dumps(text, ensure_ascii=False) spelled out: DuckDB's to_json escapes the same characters the same way,
    except that it writes the hex of a few control characters in capitals."""
    spelled = column
    for char, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"),
                          ("\b", "\\b"), ("\f", "\\f")):
        spelled = f"replace({spelled}, {_sql_char(char)}, {_quote_literal(escaped)})"
    for code in [c for c in range(0x20) if chr(c) not in "\n\r\t\b\f"]:
        spelled = f"replace({spelled}, chr({code}), '\\u{code:04x}')"
    return f"concat('\"', {spelled}, '\"')"


def _xml_escape_sql(text: str) -> str:
    return f"replace(replace(replace({text}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"


def _xml_attribute_escape_sql(text: str) -> str:
    escaped = _xml_escape_sql(text)
    for char, entity in (('"', "&quot;"), ("\r", "&#13;"), ("\n", "&#10;"), ("\t", "&#09;")):
        escaped = f"replace({escaped}, {_sql_char(char)}, {_quote_literal(entity)})"
    return escaped


def _sql_char(char: str) -> str:
    return _quote_literal(char) if char.isprintable() else f"chr({ord(char)})"


def _is_text(arrow_type: pa.DataType) -> bool:
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _is_number(arrow_type: pa.DataType) -> bool:
    return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type)


def _may_be_empty(arrow_type: pa.DataType) -> bool:
    return _is_text(arrow_type)


def _column_sql(schema: pa.Schema, name: str) -> str:
    """Columns are named by position in SQL (c0, c1...): CKAN's names may be empty or differ only in case."""
    return f"c{schema.get_field_index(name)}"


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- Nested, JSON and unusual columns: per value in Python ------------------------------------------------------

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # simplejson's bytes for these values


def _python_json(ckan: str) -> PythonPart:
    def render(array: pa.Array) -> list:
        return ["null" if v is None else _dumps(v) for v in _values(array, ckan)]
    return render


def _python_xml(tag: str, ckan: str) -> PythonPart:
    def render(array: pa.Array) -> list:
        return _xml_elements(tag, _values(array, ckan))
    return render


def _python_xml_id(array: pa.Array) -> list:
    return [_escape_attribute(str(v)) for v in array.to_pylist()]


def _values(array: pa.Array, ckan: str) -> list:
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
    if value.is_integer() and abs(value) < _FLOAT_AS_INTEGER_BELOW:
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


def _xml_elements(tag: str, values: list) -> list[str]:
    """One column's elements for a batch; scalars without markup characters skip escaping."""
    nil, empty, start, end = f'<{tag} xsi:nil="true" />', f"<{tag} />", f"<{tag}>", f"</{tag}>"
    elements = []
    for value in values:
        if value is None:
            elements.append(nil)
        elif isinstance(value, (list, dict)):
            parts: list[str] = []
            _xml_node(parts, tag, value, None)
            elements.append("".join(parts))
        else:
            text = value if isinstance(value, str) else str(value)  # CKAN: element.text = str(v)
            if "&" in text or "<" in text or ">" in text:
                text = _escape_text(text)
            elements.append(f"{start}{text}{end}" if text else empty)
    return elements


def _xml_node(parts: list[str], tag: str, value: Any, key: Any) -> None:
    key_attribute = "" if key is None else f' key="{_escape_attribute(str(key))}"'
    if value is None:
        parts.append(f'<{tag} xsi:nil="true"{key_attribute} />')
    elif isinstance(value, (list, dict)):
        items = enumerate(value) if isinstance(value, list) else value.items()
        start = len(parts)
        parts.append(f"<{tag}{key_attribute}>")
        for child_key, child in items:
            _xml_node(parts, "value", child, child_key)
        if len(parts) == start + 1:
            parts[start] = f"<{tag}{key_attribute} />"
        else:
            parts.append(f"</{tag}>")
    else:
        text = _escape_text(str(value))
        parts.append(f"<{tag}{key_attribute}>{text}</{tag}>" if text else f"<{tag}{key_attribute} />")


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attribute(text: str) -> str:
    return (_escape_text(text).replace('"', "&quot;").replace("\r", "&#13;").replace("\n", "&#10;")
            .replace("\t", "&#09;"))
