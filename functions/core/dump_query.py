"""CKAN's dump parameters (filters, q, fields, sort, distinct, limit, offset) as one canonical, hashable query.

Two steps, because the first needs no I/O and the second needs the table's columns: `functions.core.ckan_params`
reads the request once, `check_against_columns` checks names and coerces filter values to the columns' kinds
(which the warehouse adapters give). The canonical form ignores parameter order and JSON/sort whitespace, so
equal queries share one cached file; a query equal to the whole table (CKAN's defaults) has no key, so
whole-table dumps keep their names. A task carries the canonical form and the worker reads it back with
`DumpQuery.from_canonical`: no CKAN syntax on the way, so any column name travels.
See docs/ckan-dump-compat.md for where this follows CKAN and where it deliberately does not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timezone
from typing import Any, Mapping, Sequence

from functions.core.errors import InvalidRequest

MAX_PARAMETER_CHARS = 65_536
MAX_FILTER_FIELDS = 100
MAX_ROWS = 2**62  # limit and offset must fit a signed 64-bit SQL integer with room to add them
KEY_HEX_CHARS = 16


@dataclass(frozen=True)
class QueryBounds:
    """What one request may ask: the settings DUMP_MAX_* (functions.settings) fill it, and declare the defaults."""

    filter_values: int
    q_chars: int
    q_words: int
    fields: int
    sort_keys: int

ID_COLUMN = "_id"

_TRUE = ("true", "yes", "t", "y", "1")  # CKAN's boolean_validator: anything else is false

Scalar = str | int | float | bool | datetime | date | time


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False
    nulls_first: bool | None = None  # None: PostgreSQL's default (last ascending, first descending)

    @property
    def nulls_come_first(self) -> bool:
        return self.descending if self.nulls_first is None else self.nulls_first

    @classmethod
    def read_back(cls, field: str, order: str, nulls: str) -> "SortKey":
        """The key `canonical()` wrote; PostgreSQL's default null order is left implicit again."""
        descending = order == "desc"
        return cls(field, descending, None if (nulls == "first") == descending else nulls == "first")

    def canonical(self) -> list:
        return [self.field, "desc" if self.descending else "asc", "first" if self.nulls_come_first else "last"]


@dataclass(frozen=True)
class DumpQuery:
    """fields: columns in output order (empty: all); filters: (field, values) sorted by field, one value is
    equality, several are IN; q_words: every word must appear (string q); q_fields: (field, words) (JSON q)."""

    fields: tuple[str, ...] = ()
    filters: tuple[tuple[str, tuple[Scalar, ...]], ...] = ()
    q_words: tuple[str, ...] = ()
    q_fields: tuple[tuple[str, tuple[str, ...]], ...] = ()
    distinct: bool = False
    sort: tuple[SortKey, ...] = ()
    limit: int | None = None
    offset: int = 0
    plain: bool = True
    language: str = ""  # accepted as CKAN does, but matching has no stemming, so it changes nothing

    def canonical(self) -> str:
        """Only what changes the rows, with defaults left out; "" for the whole table."""
        parts: dict[str, Any] = {}
        if self.fields:
            parts["fields"] = list(self.fields)
        if self.filters:
            parts["filters"] = [[name, [canonical_value(v) for v in values]] for name, values in self.filters]
        if self.q_words:
            parts["q"] = list(self.q_words)
        if self.q_fields:
            parts["q_fields"] = [[name, list(words)] for name, words in self.q_fields]
        if self.distinct:
            parts["distinct"] = True
        if self.sort:
            parts["sort"] = [key.canonical() for key in self.sort]
        if self.limit is not None:
            parts["limit"] = self.limit
        if self.offset:
            parts["offset"] = self.offset
        return json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False) if parts else ""

    @classmethod
    def from_canonical(cls, text: str) -> "DumpQuery":
        """The query a task carries (`canonical()`), read back: filter values of dates and times come back as
        their ISO text, which `check_against_columns` turns into the column's kind again."""
        try:
            parts = json.loads(text) if text else {}
            return cls(
                fields=tuple(parts.get("fields", ())),
                filters=tuple((name, tuple(values)) for name, values in parts.get("filters", ())),
                q_words=tuple(parts.get("q", ())),
                q_fields=tuple((name, tuple(words)) for name, words in parts.get("q_fields", ())),
                distinct=parts.get("distinct", False) is True,
                sort=tuple(SortKey.read_back(*key) for key in parts.get("sort", ())),
                limit=parts.get("limit"),
                offset=parts.get("offset", 0),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise InvalidRequest(f"The task's query is malformed ({type(exc).__name__}).",
                                 "Queue it from a dump request.") from None

    @property
    def whole_table(self) -> bool:
        return not self.canonical()

    @property
    def key(self) -> str:
        """A short stable name for the cached file; "" means no query (the whole table's own name)."""
        text = self.canonical()
        return hashlib.sha256(text.encode()).hexdigest()[:KEY_HEX_CHARS] if text else ""


KINDS = ("text", "integer", "float", "numeric", "bool", "timestamp", "date", "time", "other")


@dataclass(frozen=True)
class TableColumn:
    """A column as the warehouse describes it: `type` is the warehouse's own name for it (shown in messages),
    `kind` one of KINDS, given by the adapter (filters compare by it; "other": JSON, records, arrays, bytes...)."""

    name: str
    type: str
    kind: str


def ckan_bool(raw: str | None) -> bool:
    return (raw or "").strip().lower() in _TRUE


def check_against_columns(query: DumpQuery, columns: Sequence[TableColumn]) -> DumpQuery:
    """Names checked against the table, filter values coerced to the columns' types, defaults made explicit-free."""
    by_name = {column.name: column for column in columns}

    def known(name: str, parameter: str) -> TableColumn:
        if name not in by_name:
            valid = [column.name for column in columns]
            raise InvalidRequest(f"{parameter} names the field {name!r}, which this table does not have.",
                                 f"Use one of: {', '.join(valid)}.", details={"valid_fields": valid})
        return by_name[name]

    for name in query.fields:
        known(name, "fields")
    filters = []
    for name, values in query.filters:
        column = known(name, "filters")
        filters.append((name, unique_sorted(_coerce(column, v) for v in values)))
    for name, _ in query.q_fields:
        known(name, "q")
    for key in query.sort:
        column = known(key.field, "sort")
        if column.kind == "other":
            raise InvalidRequest(f"The field {key.field!r} ({column.type}) cannot be sorted on.",
                                 "Sort on a field that holds single values (text, numbers, dates, booleans).")
    selected = query.fields or tuple(column.name for column in columns)
    if query.distinct:
        nested = [name for name in selected if by_name[name].kind == "other"]
        if nested:
            raise InvalidRequest(f"distinct cannot compare the field {nested[0]!r} ({by_name[nested[0]].type}).",
                                 "With distinct, list in fields only fields that hold single values.")
        missing = [key.field for key in query.sort if key.field not in selected]
        if missing:
            raise InvalidRequest(f"With distinct, sort may only name selected fields, not {missing[0]!r}.",
                                 "Add it to fields, or sort on a selected field.")
    if query.q_words and not any(column.kind == "text" for column in columns):
        raise InvalidRequest("q searches text fields, and this table has none.", "Drop q, or use filters.")
    fields = () if list(query.fields) == [column.name for column in columns] else query.fields
    return replace(query, fields=fields, filters=tuple(filters), sort=_without_default_tail(query.sort, by_name))


def export_order(query: DumpQuery, selected: Sequence[TableColumn], has_id: bool) -> tuple[SortKey, ...]:
    """The export's whole ORDER BY, the same on every warehouse: the caller's keys, then CKAN's `_id` (over
    source columns), or with DISTINCT every other output column (the only ones left), so rows have one order."""
    sorted_on = {key.field for key in query.sort}
    if query.distinct:
        return query.sort + tuple(SortKey(c.name, nulls_first=False) for c in selected if c.name not in sorted_on)
    if has_id and ID_COLUMN not in sorted_on:
        return query.sort + (SortKey(ID_COLUMN, nulls_first=False),)
    return query.sort


def _without_default_tail(sort: tuple[SortKey, ...], columns: Mapping[str, TableColumn]) -> tuple[SortKey, ...]:
    """Keys after _id never matter (it is unique), and a trailing `_id asc` is the default tie-break."""
    if ID_COLUMN not in columns:
        return sort
    keys = list(sort)
    for index, key in enumerate(keys):
        if key.field == ID_COLUMN:
            keys = keys[:index + 1]
            break
    if keys and keys[-1].field == ID_COLUMN and not keys[-1].descending and not keys[-1].nulls_come_first:
        keys.pop()
    return tuple(keys)


def _coerce(column: TableColumn, value: Scalar) -> Scalar:
    """The value as the column's type, as PostgreSQL coerces a literal; a value that cannot be is a 400."""
    kind = column.kind
    try:
        if kind == "text":
            return value if isinstance(value, str) else json.dumps(value)  # CKAN: str(v) on text columns
        if isinstance(value, bool) and kind != "bool":
            raise ValueError
        if kind == "integer":
            if isinstance(value, str):
                return int(value.strip())
            if isinstance(value, (int, float)) and float(value).is_integer():
                return int(value)
            raise ValueError
        if kind in ("float", "numeric"):
            if not isinstance(value, (str, int, float)):
                raise ValueError
            number = float(value)
            return int(number) if number.is_integer() and abs(number) < 2**53 else number
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "t", "yes", "y", "1", "on"):
                return True
            if text in ("false", "f", "no", "n", "0", "off"):
                return False
            raise ValueError
        if kind == "timestamp" and isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        if kind == "date" and isinstance(value, str):
            return date.fromisoformat(value.strip())
        if kind == "time" and isinstance(value, str):
            return time.fromisoformat(value.strip())
    except (TypeError, ValueError, OverflowError):
        pass
    raise InvalidRequest(f"The filter value {json.dumps(canonical_value(value))} does not fit the field "
                         f"{column.name!r} ({column.type}).",
                         f"Give a {kind if kind != 'other' else 'comparable'} value, or filter another field.")


def unique_sorted(values) -> tuple[Scalar, ...]:
    """An IN list is a set: one order, no repeats (1 and true stay apart, unlike in a Python set)."""
    tagged = {(type(v).__name__, json.dumps(canonical_value(v))): v for v in values}
    return tuple(tagged[tag] for tag in sorted(tagged))


def canonical_value(value: Scalar) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return value
