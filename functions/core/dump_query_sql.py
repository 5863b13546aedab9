"""A checked DumpQuery as one SELECT, on any warehouse whose spelling a `Dialect` gives.

No value ever enters the SQL text: each travels as a query parameter the dialect binds. Identifiers are quoted by
the dialect, and only after `check_against_columns` has matched them to the table's own columns.
What is CKAN's lives here, once: one filter value is equality, several are IN, none is false; q needs every word,
over the text of every column not named `_...` (string q) or of the named ones (JSON q); fields, DISTINCT, the
whole ORDER BY (`export_order`, PostgreSQL's null placement) and LIMIT/OFFSET after DISTINCT.
What the warehouse spells its own way is the dialect's: placeholders and parameter objects, IN over a list, a
column as text, whole-word matching and the text collation (docs/ckan-dump-compat.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from functions.core.dump_query import ID_COLUMN, DumpQuery, Scalar, TableColumn, export_order

# What a q word and a row count are bound as: text, and an integer.
WORD = TableColumn("q", "text", "text")
ROW_COUNT = TableColumn("limit", "integer", "integer")


@dataclass
class Parameters:
    """The statement's query parameters, in the order they were bound."""

    values: list[Any] = field(default_factory=list)

    def add(self, parameter: Any) -> int:
        """Keeps one parameter; its position, counted from 1 (what a positional placeholder names)."""
        self.values.append(parameter)
        return len(self.values)


class Dialect(Protocol):
    """How one warehouse spells what the renderer needs."""

    no_limit: int | None  # the LIMIT written when only OFFSET is asked; None: OFFSET stands alone

    def quote(self, name: str) -> str:
        """The column name as a quoted identifier (refusing one the warehouse cannot quote)."""
        ...

    def bind(self, parameters: Parameters, name: str, value: Scalar, column: TableColumn) -> str:
        """Binds `value` as `column`'s type; the placeholder. `name` is unique within the statement."""
        ...

    def bind_list(self, parameters: Parameters, name: str, values: Sequence[Scalar], column: TableColumn) -> str:
        """Binds several values; what follows `IN`."""
        ...

    def as_text(self, expression: str, column: TableColumn) -> str:
        """The column's value as the text CKAN searches (cast(column as text))."""
        ...

    def row_text(self, texts: Sequence[str]) -> str:
        """The texts joined by spaces, a null counting as no text."""
        ...

    def has_words(self, text: str, word: str) -> str:
        """True where every word of `word` is a word of `text` (case-folded, split at non-letters/digits)."""
        ...

    def collated(self, expression: str) -> str:
        """Text as CKAN's en_US collation sorts it (letters before case)."""
        ...

    lower_case_first: bool  # True: a collated key is followed by the raw one, descending, so lower case comes first


@dataclass(frozen=True)
class Select:
    sql: str
    parameters: list[Any]


def select_statement(dialect: Dialect, source: str, query: DumpQuery, columns: Sequence[TableColumn],
                     expression: Callable[[TableColumn], str] | None = None) -> Select:
    """`source`: the table as SQL, trusted (validated by the adapter); `expression`: how a selected column is
    written out (the export's per-format formatting of t.<name>), default the column itself."""
    by_name = {column.name: column for column in columns}
    parameters = Parameters()

    def source_column(name: str) -> str:
        return f"t.{dialect.quote(name)}"

    selected = [by_name[name] for name in query.fields] if query.fields else list(columns)
    write = expression or (lambda column: f"{source_column(column.name)} AS {dialect.quote(column.name)}")
    where = []
    for index, (name, values) in enumerate(query.filters):
        column = by_name[name]
        if not values:
            where.append("FALSE")  # CKAN: `field IN ()` is false
        elif len(values) == 1:
            where.append(f"{source_column(name)} = {dialect.bind(parameters, f'f{index}', values[0], column)}")
        else:
            where.append(f"{source_column(name)} IN {dialect.bind_list(parameters, f'f{index}', values, column)}")
    if query.q_words:  # CKAN's _full_text: the words of every column not named `_...`, json and arrays included
        row_text = dialect.row_text([dialect.as_text(source_column(c.name), c) for c in columns
                                     if not c.name.startswith("_")])
        for index, word in enumerate(query.q_words):
            where.append(dialect.has_words(row_text, dialect.bind(parameters, f"q{index}", word, WORD)))
    for field_index, (name, words) in enumerate(query.q_fields):
        text = dialect.as_text(source_column(name), by_name[name])
        for index, word in enumerate(words):
            where.append(dialect.has_words(text, dialect.bind(parameters, f"q{field_index}_{index}", word, WORD)))
    sql = f"SELECT {'DISTINCT ' if query.distinct else ''}{', '.join(write(c) for c in selected)} FROM {source} AS t"
    if where:
        sql += " WHERE " + " AND ".join(where)
    order = _order(dialect, query, selected, by_name, dialect.quote if query.distinct else source_column)
    if order:
        sql += " ORDER BY " + ", ".join(order)
    limit = query.limit if query.limit is not None else dialect.no_limit if query.offset else None
    if limit is not None:
        sql += f" LIMIT {dialect.bind(parameters, 'row_limit', limit, ROW_COUNT)}"
    if query.offset:
        sql += f" OFFSET {dialect.bind(parameters, 'row_offset', query.offset, ROW_COUNT)}"
    return Select(sql, parameters.values)


def _order(dialect: Dialect, query: DumpQuery, selected: list[TableColumn], by_name: dict[str, TableColumn],
           name_of: Callable[[str], str]) -> list[str]:
    """With DISTINCT the output columns are sorted (the only ones left); otherwise the source columns."""
    order = []
    for key in export_order(query, selected, ID_COLUMN in by_name):
        name, text = name_of(key.field), by_name[key.field].kind == "text"
        direction, nulls = ("DESC" if key.descending else "ASC"), ("FIRST" if key.nulls_come_first else "LAST")
        order.append(f"{dialect.collated(name) if text else name} {direction} NULLS {nulls}")
        if text and dialect.lower_case_first:
            order.append(f"{name} {'ASC' if key.descending else 'DESC'}")
    return order
