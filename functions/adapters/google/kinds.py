"""BigQuery's column types as the core's column kinds (functions.core.dump_query.KINDS): what a filter compares."""

from __future__ import annotations

from functions.core.dump_query import TableColumn

_KINDS = {"STRING": "text", "INT64": "integer", "INTEGER": "integer", "FLOAT64": "float", "FLOAT": "float",
          "NUMERIC": "numeric", "BIGNUMERIC": "numeric", "BOOL": "bool", "BOOLEAN": "bool",
          "TIMESTAMP": "timestamp", "DATETIME": "timestamp", "DATE": "date", "TIME": "time"}


def column_kind(field_type: str, mode: str) -> str:
    """A REPEATED column holds no single comparable value; JSON, RECORD, BYTES, GEOGRAPHY... are "other"."""
    if mode.upper() == "REPEATED":
        return "other"
    return _KINDS.get(field_type.strip().upper(), "other")


def table_columns(schema) -> list[TableColumn]:
    """What a CKAN query is checked against, from google-cloud-bigquery's SchemaField list."""
    return [TableColumn(f.name, f.field_type, column_kind(f.field_type, f.mode or "NULLABLE")) for f in schema]
