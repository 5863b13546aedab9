"""DuckDB's spelling of a dump query's SELECT (functions.core.dump_query_sql): `$n` positional parameters.

Order: DuckDB puts nulls last both ways, so the renderer's explicit NULLS FIRST/LAST gives PostgreSQL's placement;
text sorts in DuckDB's ICU en-US collation, as CKAN's PostgreSQL with an en_US collation sorts it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Sequence

from functions.adapters.local.sql import quote_identifier
from functions.core.dump_query import DumpQuery, Scalar, TableColumn
from functions.core.dump_query_sql import Parameters, Select
from functions.core.dump_query_sql import select_statement as render


class DuckDBDialect:
    no_limit: int | None = None
    lower_case_first = False

    def quote(self, name: str) -> str:
        return quote_identifier(name)

    def bind(self, parameters: Parameters, name: str, value: Scalar, column: TableColumn) -> str:
        return f"${parameters.add(_value(column, value))}"

    def bind_list(self, parameters: Parameters, name: str, values: Sequence[Scalar], column: TableColumn) -> str:
        return f"({', '.join(self.bind(parameters, name, value, column) for value in values)})"

    def as_text(self, expression: str, column: TableColumn) -> str:
        return f"CAST({expression} AS VARCHAR)"  # JSON, lists and structs as their JSON-like text

    def row_text(self, texts: Sequence[str]) -> str:
        return f"concat_ws(' ', {', '.join(texts)})"

    def has_words(self, text: str, word: str) -> str:
        """CKAN's full-text match as far as DuckDB carries it: PostgreSQL's English stemming and stop words are
        not carried (docs/ckan-dump-compat.md)."""
        def words(value: str) -> str:
            return f"list_filter(regexp_split_to_array(lower({value}), '[^\\pL\\pN]+'), lambda w: w <> '')"
        return f"(len({words(word)}) > 0 AND list_has_all({words(text)}, {words(word)}))"

    def collated(self, expression: str) -> str:
        return f"{expression} COLLATE en_us"  # ICU's en-US: punctuation, digits, letters; case and accents second


DUCKDB = DuckDBDialect()


def select_statement(source: str, query: DumpQuery, columns: Sequence[TableColumn],
                     expression: Callable[[TableColumn], str] | None = None) -> Select:
    """`source`: the table as SQL (e.g. read_parquet('...')), trusted."""
    return render(DUCKDB, source, query, columns, expression)


def _value(column: TableColumn, value: Scalar) -> Scalar:
    """A zoned filter time meets a TIMESTAMP column as UTC wall time, whatever the session's time zone."""
    if isinstance(value, datetime) and "TZ" not in column.type.upper() and "ZONE" not in column.type.upper():
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value
