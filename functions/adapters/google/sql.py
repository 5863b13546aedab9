"""The BigQuery EXPORT DATA statement, built from a table schema: pure, so it is tested without BigQuery.

Values are shaped as CKAN's dump writes them (docs/ckan-dump-compat.md): timestamps as CKAN's ISO text
(TIMESTAMP in UTC with `Z`) in the text formats; in CSV/TSV PostgreSQL's text of each type, nested and
repeated values as JSON text (`null` when null); JSON columns as strings in Parquet. BigQuery
writes INT64 as JSON strings in NDJSON exports; that is its format, and it is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from functions.core.model import Format

ISO_SECONDS = "%Y-%m-%dT%H:%M:%E6S"

# Project ids (optionally domain-scoped, `example.com:project`), dataset ids and bucket names, per Google's rules.
_PROJECT = re.compile(r"(?:[a-z][a-z0-9.-]{0,62}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
_DATASET = re.compile(r"[A-Za-z0-9_]{1,1024}")
# Table names may hold letters, marks, digits, connectors, dashes and spaces (1024 UTF-8 bytes); resource ids
# are already narrower ([A-Za-z0-9_-]), so this is the intersection both sides accept.
_TABLE = re.compile(r"[A-Za-z0-9_-]{1,1024}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_OBJECT_PREFIX = re.compile(r"[A-Za-z0-9_./-]{1,900}/")
# Column names come from the schema, not the request; flexible names allow much, but never these.
_UNSAFE_COLUMN = re.compile(r"[`\\\x00-\x1f\x7f]")
_TEXT_TIMESTAMP = {"TIMESTAMP"}
_TEXT_DATETIME = {"DATETIME"}
_NESTED = {"RECORD", "STRUCT"}
_EXPORT_FORMAT = {Format.CSV: "CSV", Format.TSV: "CSV", Format.NDJSON: "JSON", Format.PARQUET: "PARQUET"}


class UnsupportedSchema(ValueError):
    """The table cannot be exported as asked (an odd column name); the message says which column."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # BigQuery's field type: STRING, INT64/INTEGER, TIMESTAMP, RECORD, JSON...
    mode: str = "NULLABLE"
    fields: tuple["Column", ...] = ()

    @property
    def repeated(self) -> bool:
        return self.mode.upper() == "REPEATED"

    @property
    def kind(self) -> str:
        return self.type.upper()

    def holds_json(self) -> bool:
        return self.kind == "JSON" or any(f.holds_json() for f in self.fields)


def project_id(value: str) -> str:
    if not _PROJECT.fullmatch(value):
        raise ValueError(f"{value!r} is not a Google Cloud project id")
    return value


def dataset_id(value: str) -> str:
    if not _DATASET.fullmatch(value):
        raise ValueError(f"{value!r} is not a BigQuery dataset id (letters, digits and underscores)")
    return value


def table_id(value: str) -> str:
    if not _TABLE.fullmatch(value) or len(value.encode()) > 1024:
        raise ValueError(f"{value!r} is not a table name this service exports (letters, digits, '-' and '_')")
    return value


def bucket_name(value: str) -> str:
    if not _BUCKET.fullmatch(value) or ".." in value:
        raise ValueError(f"{value!r} is not a Cloud Storage bucket name")
    return value


def quote_identifier(name: str) -> str:
    if not name or _UNSAFE_COLUMN.search(name):
        raise UnsupportedSchema(f"column name {name!r} holds a backtick, backslash or control character")
    return f"`{name}`"


def table_reference(project: str, dataset: str, table: str) -> str:
    return f"`{project_id(project)}.{dataset_id(dataset)}.{table_id(table)}`"


def export_uri(bucket: str, prefix: str, fmt: Format, gzip: bool = False) -> str:
    """One `*` wildcard, as EXPORT DATA requires; each attempt has its own fresh prefix."""
    if not _OBJECT_PREFIX.fullmatch(prefix) or ".." in prefix or prefix.startswith("/"):
        raise ValueError(f"{prefix!r} is not an export prefix")
    return f"gs://{bucket_name(bucket)}/{prefix}part-*.{fmt.extension}{'.gz' if gzip else ''}"


def _iso(format_function: str, source: str, zone: str = "") -> str:
    """CKAN 2.12's timestamp text, `YYYY-MM-DDTHH:MM:SS.mmm`; microseconds, when a value has them, are kept."""
    return f"REGEXP_REPLACE({format_function}('{ISO_SECONDS}', {source}{zone}), r'(\\.\\d{{3}})000$', r'\\1')"


def _float8(source: str) -> str:
    """PostgreSQL's float8 text (CKAN's csv is PostgreSQL's COPY): shortest exact digits, no `.0`, an exponent
    from 1e15 up, `NaN`, `Infinity`, `-Infinity`. Written to hold whichever shortest text CAST gives (the
    emulator's `3.0`, `1000000000000000.0`); real BigQuery's CAST text is listed in docs/ckan-dump-compat.md."""
    def shortest(value: str) -> str:
        return f"REGEXP_REPLACE(CAST({value} AS STRING), r'\\.0$', '')"

    digits = f"RTRIM(REPLACE({shortest(f'ABS({source})')}, '.', ''), '0')"
    exponent_15 = (f"CONCAT(IF({source} < 0, '-', ''), SUBSTR({digits}, 1, 1), "
                   f"IF(LENGTH({digits}) > 1, CONCAT('.', SUBSTR({digits}, 2)), ''), 'e+15')")
    return (f"CASE WHEN IS_NAN({source}) THEN 'NaN' WHEN IS_INF({source}) THEN IF({source} > 0, 'Infinity', "
            f"'-Infinity') WHEN ABS({source}) >= 1e15 AND ABS({source}) < 1e16 "
            f"AND STRPOS(LOWER(CAST({source} AS STRING)), 'e') = 0 THEN {exponent_15} ELSE {shortest(source)} END")


def _without_trailing_zeros(text: str) -> str:
    """`1.500000000` -> `1.5`, `7.000000000` -> `7`, `03:54:27.785990` -> `03:54:27.78599`; no `.`: as is."""
    return f"IF(STRPOS({text}, '.') > 0, RTRIM(RTRIM({text}, '0'), '.'), {text})"


def column_expression(column: Column, fmt: Format) -> str:
    """Values as CKAN's dump writes them: timestamps as CKAN's ISO text (TIMESTAMP in UTC with `Z`); in csv/tsv
    PostgreSQL's text of each type (bool t/f, float8, numeric, time), and null JSON or arrays as `null`."""
    name = quote_identifier(column.name)
    source = f"t.{name}"
    if fmt is Format.PARQUET:
        if not column.holds_json():
            return source
        if column.kind == "JSON" and column.repeated:
            return f"ARRAY(SELECT TO_JSON_STRING(v) FROM UNNEST({source}) AS v) AS {name}"
        return f"TO_JSON_STRING({source}) AS {name}"  # a record holding JSON travels whole, as JSON text
    text = fmt in (Format.CSV, Format.TSV)
    if text and (column.repeated or column.kind in _NESTED or column.kind == "JSON"):
        return f"COALESCE(TO_JSON_STRING({source}), 'null') AS {name}"
    if column.repeated:
        return source  # NDJSON keeps arrays as arrays
    if column.kind in _TEXT_TIMESTAMP:
        zoned = _iso("FORMAT_TIMESTAMP", source, ", 'UTC'")
        return f"CONCAT({zoned}, 'Z') AS {name}"
    if column.kind in _TEXT_DATETIME:
        return f"{_iso('FORMAT_DATETIME', source)} AS {name}"
    if text and column.kind in ("BOOL", "BOOLEAN"):
        return f"CASE WHEN {source} THEN 't' WHEN NOT {source} THEN 'f' END AS {name}"
    if text and column.kind in ("FLOAT64", "FLOAT"):
        return f"{_float8(source)} AS {name}"
    if text and column.kind in ("NUMERIC", "BIGNUMERIC", "DECIMAL", "BIGDECIMAL", "TIME"):
        return f"{_without_trailing_zeros(f'CAST({source} AS STRING)')} AS {name}"
    return source


def export_options(fmt: Format, uri: str, header: bool = True, gzip: bool = False) -> str:
    if "'" in uri or "\\" in uri:
        raise ValueError(f"{uri!r} cannot be quoted as a string literal")
    options = [f"uri='{uri}'", f"format='{_EXPORT_FORMAT[fmt]}'", "overwrite=false"]
    if fmt.has_header:
        options.append(f"header={'true' if header else 'false'}")
    if gzip:
        if fmt is Format.PARQUET:
            raise ValueError("Parquet is compressed inside the file, not with gzip")
        options.append("compression='GZIP'")
    if fmt is Format.TSV:
        options.append("field_delimiter='\\t'")
    return ", ".join(options)


def export_statement(project: str, dataset: str, table: str, columns: list[Column], fmt: Format, bucket: str,
                     prefix: str, order_column: str = "", *, header: bool = True, gzip: bool = False) -> str:
    """EXPORT DATA of the whole table into gs://bucket/prefix/part-*; ordered by `order_column` if the table has it."""
    if not columns:
        raise UnsupportedSchema("the table has no columns")
    select = ", ".join(column_expression(column, fmt) for column in columns)
    order = ""
    if order_column and any(c.name == order_column and not c.repeated for c in columns):
        order = f" ORDER BY t.{quote_identifier(order_column)}"
    options = export_options(fmt, export_uri(bucket, prefix, fmt, gzip), header, gzip)
    return (f"EXPORT DATA OPTIONS({options}) AS "
            f"SELECT {select} FROM {table_reference(project, dataset, table)} AS t{order}")
