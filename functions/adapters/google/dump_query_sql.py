"""A checked DumpQuery as one BigQuery SELECT with named query parameters: no value ever enters the SQL text.

Identifiers are quoted only after `check_against_columns` has matched them to the table's own columns.
`q` matches whole words (REGEXP_EXTRACT_ALL of letters and digits, case-folded) over every column, as CKAN's
full-text search does; SEARCH would need a search index and reads its argument as a query language.
Order: the asked sort with PostgreSQL's null placement (BigQuery's default puts nulls first ascending), text in
`und:ci` collation, then `_id` (docs/ckan-dump-compat.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Sequence

from google.cloud import bigquery

from functions.adapters.google.sql import quote_identifier
from functions.core.dump_query import ID_COLUMN, DumpQuery, TableColumn, export_order

NO_LIMIT = 2**63 - 1  # GoogleSQL has no OFFSET without LIMIT
_PARAMETER_TYPES = {"text": "STRING", "integer": "INT64", "float": "FLOAT64", "bool": "BOOL", "date": "DATE",
                    "time": "TIME"}


@dataclass(frozen=True)
class BigQuerySelect:
    sql: str
    parameters: list


def select_statement(table: str, query: DumpQuery, columns: Sequence[TableColumn],
                     expression: Callable[[TableColumn], str] | None = None) -> BigQuerySelect:
    """`table`: a validated table reference (sql.table_reference); `expression`: how a selected column is
    written out (the export's per-format formatting of t.`name`), default the column itself."""
    by_name = {column.name: column for column in columns}
    parameters: list = []

    def source_column(name: str) -> str:
        return f"t.{quote_identifier(name)}"

    selected = [by_name[name] for name in query.fields] if query.fields else list(columns)
    write = expression or (lambda column: f"{source_column(column.name)} AS {quote_identifier(column.name)}")
    where = []
    for index, (name, values) in enumerate(query.filters):
        column = by_name[name]
        kind = _parameter_type(column)
        converted = [_value(kind, value) for value in values]
        if not converted:
            where.append("FALSE")  # CKAN: `field IN ()` is false
        elif len(converted) == 1:
            parameters.append(bigquery.ScalarQueryParameter(f"f{index}", kind, converted[0]))
            where.append(f"{source_column(name)} = @f{index}")
        else:
            parameters.append(bigquery.ArrayQueryParameter(f"f{index}", kind, converted))
            where.append(f"{source_column(name)} IN UNNEST(@f{index})")
    if query.q_words:  # CKAN's _full_text: the words of every column not named `_...`, json and arrays included
        row_text = "CONCAT(" + ", ' ', ".join(f"IFNULL({_as_text(c, source_column)}, '')" for c in columns
                                              if not c.name.startswith("_")) + ")"
        for index, word in enumerate(query.q_words):
            parameters.append(bigquery.ScalarQueryParameter(f"q{index}", "STRING", word))
            where.append(_has_words(row_text, f"@q{index}"))
    for field_index, (name, words) in enumerate(query.q_fields):
        for index, word in enumerate(words):
            parameters.append(bigquery.ScalarQueryParameter(f"q{field_index}_{index}", "STRING", word))
            where.append(_has_words(_as_text(by_name[name], source_column), f"@q{field_index}_{index}"))
    sql = f"SELECT {'DISTINCT ' if query.distinct else ''}{', '.join(write(c) for c in selected)} FROM {table} AS t"
    if where:
        sql += " WHERE " + " AND ".join(where)
    order = _order(query, selected, by_name, source_column)
    if order:
        sql += " ORDER BY " + ", ".join(order)
    if query.limit is not None or query.offset:
        parameters.append(bigquery.ScalarQueryParameter("row_limit", "INT64",
                                                        NO_LIMIT if query.limit is None else query.limit))
        sql += " LIMIT @row_limit"
    if query.offset:
        parameters.append(bigquery.ScalarQueryParameter("row_offset", "INT64", query.offset))
        sql += " OFFSET @row_offset"
    return BigQuerySelect(sql, parameters)


def _order(query: DumpQuery, selected: list[TableColumn], by_name: dict, source_column) -> list[str]:
    """With DISTINCT the output columns are sorted (the only ones left); otherwise the source columns."""
    name_of = quote_identifier if query.distinct else source_column
    keys = export_order(query, selected, ID_COLUMN in by_name)
    order = []
    for k in keys:
        direction, nulls = ("DESC" if k.descending else "ASC"), ("FIRST" if k.nulls_come_first else "LAST")
        if by_name[k.field].kind == "text":  # CKAN's en_US order: letters before case, then lower case first
            order.append(f"COLLATE({name_of(k.field)}, 'und:ci') {direction} NULLS {nulls}")
            order.append(f"{name_of(k.field)} {'ASC' if k.descending else 'DESC'}")
        else:
            order.append(f"{name_of(k.field)} {direction} NULLS {nulls}")
    return order


def _has_words(text: str, word: str) -> str:
    """CKAN's full-text match as far as BigQuery carries it: whole words, case-folded, split at anything not a
    letter or digit (`#hash` is the word `hash`), every word of the q word present. PostgreSQL's English
    stemming and stop words are not carried (docs/ckan-dump-compat.md)."""
    def words(value: str) -> str:
        return f"REGEXP_EXTRACT_ALL(LOWER({value}), r'[\\p{{L}}\\p{{N}}]+')"
    return (f"(ARRAY_LENGTH({words(word)}) > 0 AND NOT EXISTS (SELECT 1 FROM UNNEST({words(word)}) AS w "
            f"WHERE w NOT IN UNNEST({words(text)})))")


def _as_text(column: TableColumn, source_column) -> str:
    """CKAN searches cast(column as text); JSON and nested values are searched as their JSON text."""
    if column.kind == "text":
        return source_column(column.name)
    if column.kind == "other":
        return f"TO_JSON_STRING({source_column(column.name)})"
    return f"CAST({source_column(column.name)} AS STRING)"


def _parameter_type(column: TableColumn) -> str:
    if column.kind == "timestamp":
        return "DATETIME" if column.type.upper() == "DATETIME" else "TIMESTAMP"
    if column.kind == "numeric":
        return "BIGNUMERIC" if column.type.upper().startswith("BIG") else "NUMERIC"
    return _PARAMETER_TYPES[column.kind]


def _value(parameter_type: str, value: Any) -> Any:
    if parameter_type in ("NUMERIC", "BIGNUMERIC"):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if parameter_type == "DATETIME" and isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value
