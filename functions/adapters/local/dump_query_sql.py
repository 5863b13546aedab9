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
    text_columns = [column.name for column in columns if column.kind == "text"]
    for word in query.q_words:
        slot = parameter(word)
        where.append("(" + " OR ".join(f"contains(lower({source_column(n)}), {slot})" for n in text_columns) + ")")
    for name, words in query.q_fields:
        for word in words:
            where.append(f"contains(lower(CAST({source_column(name)} AS VARCHAR)), {parameter(word)})")
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


def _order(query: DumpQuery, selected: list[TableColumn], by_name: dict, source_column) -> list[str]:
    """With DISTINCT the output columns are sorted (the only ones left); otherwise the source columns."""
    name_of = quote_identifier if query.distinct else source_column
    keys = export_order(query, selected, ID_COLUMN in by_name)
    return [f"{name_of(k.field)} {'DESC' if k.descending else 'ASC'} NULLS {'FIRST' if k.nulls_come_first else 'LAST'}"
            for k in keys]


def _value(column: TableColumn, value: Any) -> Any:
    """A zoned filter time meets a TIMESTAMP column as UTC wall time, whatever the session's time zone."""
    if isinstance(value, datetime) and "TZ" not in column.type.upper() and "ZONE" not in column.type.upper():
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value
