"""A checked DumpQuery as one DuckDB SELECT with `$n` prepared parameters: no value ever enters the SQL text.

Identifiers are quoted only after `check_against_columns` has matched them to the table's own columns.
Order: the asked sort with PostgreSQL's null placement (DuckDB puts nulls last both ways), then `_id`;
with DISTINCT, the selected fields themselves break ties, as `_id` is not among them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from functions.adapters.local.sql import quote_identifier
from functions.core.dump_query import ID_COLUMN, DumpQuery, TableColumn, export_order


# Text sorts as CKAN's PostgreSQL sorts it with an en_US collation (ICU's en-US: punctuation, then digits, then
# letters, case and accents second): DuckDB's ICU collation of the same locale, built into DuckDB.
TEXT_COLLATION = " COLLATE en_us"


@dataclass(frozen=True)
class DuckQuery:
    sql: str
    parameters: list[Any]


def select_statement(source: str, query: DumpQuery, columns: Sequence[TableColumn],
                     expression: Callable[[TableColumn], str] | None = None) -> DuckQuery:
    """`source`: the table as SQL (e.g. read_parquet('...')), trusted; `expression`: how a selected column is
    written out (the export's per-format formatting of `t."name"`), default the column itself."""
    by_name = {column.name: column for column in columns}
    parameters: list[Any] = []

    def parameter(value: Any) -> str:
        parameters.append(value)
        return f"${len(parameters)}"

    def source_column(name: str) -> str:
        return f"t.{quote_identifier(name)}"

    selected = [by_name[name] for name in query.fields] if query.fields else list(columns)
    write = expression or (lambda column: f"{source_column(column.name)} AS {quote_identifier(column.name)}")
    where = []
    for name, values in query.filters:
        column = by_name[name]
        values = [_value(column, value) for value in values]
        if not values:
            where.append("FALSE")  # CKAN: `field IN ()` is false
        elif len(values) == 1:
            where.append(f"{source_column(name)} = {parameter(values[0])}")
        else:
            where.append(f"{source_column(name)} IN ({', '.join(parameter(v) for v in values)})")
    if query.q_words:  # CKAN's _full_text: the words of every column not named `_...`, json and arrays included
        row_text = "concat_ws(' ', " + ", ".join(f"CAST({source_column(c.name)} AS VARCHAR)" for c in columns
                                                if not c.name.startswith("_")) + ")"
        for word in query.q_words:
            where.append(_has_words(row_text, parameter(word)))
    for name, words in query.q_fields:
        for word in words:
            where.append(_has_words(f"CAST({source_column(name)} AS VARCHAR)", parameter(word)))
    sql = f"SELECT {'DISTINCT ' if query.distinct else ''}{', '.join(write(c) for c in selected)} FROM {source} AS t"
    if where:
        sql += " WHERE " + " AND ".join(where)
    order = _order(query, selected, by_name, source_column)
    if order:
        sql += " ORDER BY " + ", ".join(order)
    if query.limit is not None:
        sql += f" LIMIT {parameter(query.limit)}"
    if query.offset:
        sql += f" OFFSET {parameter(query.offset)}"
    return DuckQuery(sql, parameters)


def _has_words(text: str, word: str) -> str:
    """CKAN's full-text match as far as DuckDB carries it: whole words, case-folded, split at anything not a letter
    or digit (`#hash` is the word `hash`), every word of the q word present. PostgreSQL's English stemming and
    stop words are not carried (docs/ckan-dump-compat.md)."""
    def words(value: str) -> str:
        return f"list_filter(regexp_split_to_array(lower({value}), '[^\\pL\\pN]+'), lambda w: w <> '')"
    return f"(len({words(word)}) > 0 AND list_has_all({words(text)}, {words(word)}))"


def _order(query: DumpQuery, selected: list[TableColumn], by_name: dict, source_column) -> list[str]:
    """With DISTINCT the output columns are sorted (the only ones left); otherwise the source columns."""
    name_of = quote_identifier if query.distinct else source_column
    keys = export_order(query, selected, ID_COLUMN in by_name)
    return [f"{name_of(k.field)}{TEXT_COLLATION if by_name[k.field].kind == 'text' else ''} "
            f"{'DESC' if k.descending else 'ASC'} NULLS {'FIRST' if k.nulls_come_first else 'LAST'}"
            for k in keys]


def _value(column: TableColumn, value: Any) -> Any:
    """A zoned filter time meets a TIMESTAMP column as UTC wall time, whatever the session's time zone."""
    if isinstance(value, datetime) and "TZ" not in column.type.upper() and "ZONE" not in column.type.upper():
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value
