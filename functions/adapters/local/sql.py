"""The DuckDB export statement: per-format options and per-type value formatting, as BigQuery's export gives."""

from __future__ import annotations

from functions.core.model import ExportJob, Format

_TIMESTAMPS = ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATETIME")
_NESTED_MARKERS = ("STRUCT", "MAP", "UNION", "[")


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _iso(expression: str) -> str:
    return f"regexp_replace(strftime({expression}, '%Y-%m-%dT%H:%M:%S.%f'), '\\.?0*$', '')"


def column_expression(name: str, duck_type: str, fmt: Format) -> str:
    """Timestamps as ISO 8601 (UTC 'Z' for zoned ones); nested values as JSON text where the format is flat."""
    column = quote_identifier(name)
    kind = duck_type.upper()
    if fmt is Format.PARQUET:
        return column
    if kind in _TIMESTAMPS:
        return f"{_iso(column)} AS {column}"
    if kind in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        zoned = f"timezone('UTC', {column})"
        return f"{_iso(zoned)} || 'Z' AS {column}"
    if fmt in (Format.CSV, Format.TSV):
        if any(marker in kind for marker in _NESTED_MARKERS):
            return f"to_json({column})::VARCHAR AS {column}"
        if kind == "BLOB":
            return f"base64({column}) AS {column}"
    return column


def export_statement(source: str, columns: list[tuple[str, str]], job: ExportJob, destination: str,
                     select_sql: str | None = None) -> str:
    """COPY of the whole table, or of `select_sql` (a query dump's prepared SELECT, its `$n` bound at execute)."""
    fmt = job.format
    select = ", ".join(column_expression(name, kind, fmt) for name, kind in columns) or "*"
    header = "true" if job.header else "false"
    options = {
        Format.CSV: f"FORMAT csv, HEADER {header}",
        Format.TSV: f"FORMAT csv, HEADER {header}, DELIMITER '\t'",
        Format.NDJSON: "FORMAT json",
        Format.PARQUET: "FORMAT parquet, COMPRESSION zstd",
    }[fmt]
    if job.gzip:
        options += ", COMPRESSION gzip"
    extension = fmt.extension + (".gz" if job.gzip else "")
    return (
        f"COPY ({select_sql or f'SELECT {select} FROM read_parquet({quote_literal(source)})'}) "
        f"TO {quote_literal(destination)} "
        f"({options}, FILE_SIZE_BYTES {int(job.shard_bytes)}, FILENAME_PATTERN 'part-{{i}}', "
        f"FILE_EXTENSION '{extension}')"
    )
