"""BigQuery's spelling of a dump query's SELECT (functions.core.dump_query_sql): named, typed query parameters.

`q` matches whole words (REGEXP_EXTRACT_ALL of letters and digits, case-folded); SEARCH would need a search index
and reads its argument as a query language. Text sorts in `und:ci` collation, then lower case first, as CKAN's
en_US order does; BigQuery's default puts nulls first ascending, so the renderer's NULLS FIRST/LAST is explicit.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Sequence

from google.cloud import bigquery

from functions.adapters.google.sql import quote_identifier
from functions.core.dump_query import DumpQuery, Scalar, TableColumn
from functions.core.dump_query_sql import Parameters, Select
from functions.core.dump_query_sql import select_statement as render

_PARAMETER_TYPES = {"text": "STRING", "integer": "INT64", "float": "FLOAT64", "bool": "BOOL", "date": "DATE",
                    "time": "TIME"}


class BigQueryDialect:
    no_limit: int | None = 2**63 - 1  # GoogleSQL has no OFFSET without LIMIT
    lower_case_first = True

    def quote(self, name: str) -> str:
        return quote_identifier(name)

    def bind(self, parameters: Parameters, name: str, value: Scalar, column: TableColumn) -> str:
        kind = _parameter_type(column)
        parameters.add(bigquery.ScalarQueryParameter(name, kind, _value(kind, value)))
        return f"@{name}"

    def bind_list(self, parameters: Parameters, name: str, values: Sequence[Scalar], column: TableColumn) -> str:
        kind = _parameter_type(column)
        parameters.add(bigquery.ArrayQueryParameter(name, kind, [_value(kind, value) for value in values]))
        return f"UNNEST(@{name})"

    def as_text(self, expression: str, column: TableColumn) -> str:
        """JSON and nested values are searched as their JSON text."""
        if column.kind == "text":
            return expression
        if column.kind == "other":
            return f"TO_JSON_STRING({expression})"
        return f"CAST({expression} AS STRING)"

    def row_text(self, texts: Sequence[str]) -> str:
        return "CONCAT(" + ", ' ', ".join(f"IFNULL({text}, '')" for text in texts) + ")"

    def has_words(self, text: str, word: str) -> str:
        """CKAN's full-text match as far as BigQuery carries it: PostgreSQL's English stemming and stop words are
        not carried (docs/ckan-dump-compat.md)."""
        def words(value: str) -> str:
            return f"REGEXP_EXTRACT_ALL(LOWER({value}), r'[\\p{{L}}\\p{{N}}]+')"
        return (f"(ARRAY_LENGTH({words(word)}) > 0 AND NOT EXISTS (SELECT 1 FROM UNNEST({words(word)}) AS w "
                f"WHERE w NOT IN UNNEST({words(text)})))")

    def collated(self, expression: str) -> str:
        return f"COLLATE({expression}, 'und:ci')"


BIGQUERY = BigQueryDialect()


def select_statement(table: str, query: DumpQuery, columns: Sequence[TableColumn],
                     expression: Callable[[TableColumn], str] | None = None) -> Select:
    """`table`: a validated table reference (sql.table_reference)."""
    return render(BIGQUERY, table, query, columns, expression)


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
