"""CKAN's JSON and XML dump files, written from exported Parquet record batches, one byte chunk per batch.

The bytes are exactly what ckanext/datastore/writer.py writes for the values datastore_search gives it
(PostgreSQL's JSON of each value, decoded and re-encoded): see docs/ckan-dump-compat.md. Parquet feeds these
writers because it keeps types (integers, floats, decimals, booleans, timestamps, nulls, nesting) that CSV or
BigQuery's NDJSON (INT64 as strings) would lose. Memory is one record batch at a time, whatever the table's size.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BOM = "\ufeff".encode()
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
BATCH_ROWS = 8192
JSON_TAIL = b"\n]}\n"
XML_TAIL = b"</data>\n"
_FLOAT_AS_INTEGER_BELOW = 1e15  # PostgreSQL prints float8 2.0 as 2 up to 15 digits; CKAN decodes that as an int

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
    head = '{\n  "fields": %s,\n  "records": [' % _dumps(fields)
    yield (BOM if bom else b"") + head.encode()
    first = True
    for batch in batches:
        records = ",\n    ".join(map(_dumps, _rows(batch, fields)))
        if records:
            yield ("\n    " if first else ",\n    ").encode() + records.encode()
            first = False
    yield JSON_TAIL


def xml_chunks(batches: Iterable[pa.RecordBatch], fields: list[dict], bom: bool = False) -> Iterator[bytes]:
    """`<data>` with one `<row _id="...">` per record, as CKAN's XMLWriter (ElementTree) serialises it."""
    yield (BOM if bom else b"") + f'<data xmlns:xsi="{XSI_NAMESPACE}">\n'.encode()
    names = [f["id"] for f in fields]
    id_first = bool(names) and names[0] == "_id"
    tags = xml_element_names(names[1:] if id_first else names)
    for batch in batches:
        columns = _columns(batch, fields)
        if id_first:
            starts = [f'<row _id="{_escape_attribute(str(v))}"' for v in columns[0]]
            columns = columns[1:]
        else:
            starts = ["<row"] * batch.num_rows
        if not tags:  # ElementTree writes a childless element short
            rows = [start + " />\n" for start in starts]
        else:
            elements = [_xml_elements(tag, values) for tag, values in zip(tags, columns)]
            rows = ["".join(parts) + "</row>\n" for parts in zip([s + ">" for s in starts], *elements)]
        if rows:
            yield "".join(rows).encode()
    yield XML_TAIL


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


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # simplejson's bytes for these values


def _rows(batch: pa.RecordBatch, fields: list[dict]) -> Iterator[tuple]:
    return zip(*_columns(batch, fields))


def _columns(batch: pa.RecordBatch, fields: list[dict]) -> list[list]:
    """Each field's values as CKAN has them, column by column (one Python list per column, per batch)."""
    columns = []
    for spec in fields:
        array = batch.column(spec["id"])
        if spec["type"] == "timestamp" and pa.types.is_timestamp(array.type):
            columns.append(_timestamp_texts(array))
            continue
        convert = _converter(spec["type"])
        values = array.to_pylist()
        columns.append(values if convert is None else [None if v is None else convert(v) for v in values])
    return columns


def _timestamp_texts(array: pa.Array) -> list:
    """CKAN 2.12's to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS.MS') (`ckan.datastore.ms_in_timestamp`, on by default):
    UTC wall time, always `.mmm`. A value with microseconds keeps all six digits where CKAN truncates them to
    milliseconds: a deliberate difference (docs/ckan-dump-compat.md), as data is never dropped."""
    micros = array.cast(pa.timestamp(array.type.unit)).cast(pa.timestamp("us"), safe=False)
    texts = pc.strftime(micros, format="%Y-%m-%dT%H:%M:%S")  # %S prints the unit's six fraction digits
    return pc.replace_substring_regex(texts, pattern=r"(\.\d{3})000$", replacement=r"\1").to_pylist()


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
