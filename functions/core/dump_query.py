"""CKAN's dump parameters (filters, q, fields, sort, distinct, limit, offset) as one canonical, hashable query.

Two steps, because the first needs no I/O and the second needs the table's columns: `parse_dump_query`
reads the request, `check_against_columns` checks names and coerces filter values to the columns' types.
The canonical form ignores parameter order and JSON/sort whitespace, so equal queries share one cached file;
a query equal to the whole table (CKAN's defaults) has no key, so whole-table dumps keep their names.
See docs/ckan-dump-compat.md for where this follows CKAN and where it deliberately does not.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timezone
from typing import Any, Mapping, Sequence

from functions.core.errors import InvalidRequest

MAX_PARAMETER_CHARS = 65_536
MAX_FIELDS = 1_000
MAX_SORT_KEYS = 32
MAX_FILTER_FIELDS = 100
MAX_FILTER_VALUES = 1_000
MAX_Q_CHARS = 1_000
MAX_Q_WORDS = 32
MAX_ROWS = 2**62  # limit and offset must fit a signed 64-bit SQL integer with room to add them
KEY_HEX_CHARS = 16


@dataclass(frozen=True)
class QueryBounds:
    """What one request may ask; the settings (functions.settings) fill it, these are the defaults."""

    filter_values: int = MAX_FILTER_VALUES
    q_chars: int = MAX_Q_CHARS
    q_words: int = MAX_Q_WORDS
    fields: int = MAX_FIELDS
    sort_keys: int = MAX_SORT_KEYS

ID_COLUMN = "_id"

_TRUE = ("true", "yes", "t", "y", "1")  # CKAN's boolean_validator: anything else is false
_SORT_CLAUSE = re.compile(r'\s*(?:"(?P<quoted>[^"]+)"|(?P<bare>[^\s"]+))(?P<rest>.*)', re.S)
_LANGUAGE = re.compile(r"[A-Za-z_]{1,64}")

Scalar = str | int | float | bool | datetime | date | time


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False
    nulls_first: bool | None = None  # None: PostgreSQL's default (last ascending, first descending)

    @property
    def nulls_come_first(self) -> bool:
        return self.descending if self.nulls_first is None else self.nulls_first

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

    def params(self) -> dict[str, str]:
        """The query as CKAN request parameters again (what a task carries): parsing and checking them
        gives back this query, so the worker decides on exactly what the dump function checked."""
        params: dict[str, str] = {}
        if self.fields:
            params["fields"] = ",".join(self.fields)
        if self.filters:
            params["filters"] = json.dumps({name: [_canonical_value(v) for v in values]
                                            for name, values in self.filters}, ensure_ascii=False)
        if self.q_words:
            params["q"] = " ".join(self.q_words)
        if self.q_fields:
            params["q"] = json.dumps({name: " ".join(words) for name, words in self.q_fields}, ensure_ascii=False)
        if self.distinct:
            params["distinct"] = "true"
        if self.sort:
            params["sort"] = ",".join(f'"{key.field}" {" ".join(key.canonical()[1:2])} nulls {key.canonical()[2]}'
                                      for key in self.sort)
        if self.limit is not None:
            params["limit"] = str(self.limit)
        if self.offset:
            params["offset"] = str(self.offset)
        return params

    def canonical(self) -> str:
        """Only what changes the rows, with defaults left out; "" for the whole table."""
        parts: dict[str, Any] = {}
        if self.fields:
            parts["fields"] = list(self.fields)
        if self.filters:
            parts["filters"] = [[name, [_canonical_value(v) for v in values]] for name, values in self.filters]
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

    @property
    def whole_table(self) -> bool:
        return not self.canonical()

    @property
    def key(self) -> str:
        """A short stable name for the cached file; "" means no query (the whole table's own name)."""
        text = self.canonical()
        return hashlib.sha256(text.encode()).hexdigest()[:KEY_HEX_CHARS] if text else ""


@dataclass(frozen=True)
class TableColumn:
    """A column as the warehouse describes it (BigQuery or DuckDB type name); `kind` is what filters compare."""

    name: str
    type: str
    repeated: bool = False
    kind: str = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "kind", "other" if self.repeated else column_kind(self.type))


_KINDS = [
    ("text", re.compile(r"STRING|VARCHAR|TEXT|CHAR|BPCHAR|STRING\(\d+\)|VARCHAR\(\d+\)")),
    ("integer", re.compile(r"U?(?:TINY|SMALL|BIG|HUGE)?INT(?:EGER|64|[1248])?")),
    ("float", re.compile(r"FLOAT64|FLOAT|DOUBLE|REAL|FLOAT[48]")),
    ("numeric", re.compile(r"(?:BIG)?NUMERIC(?:\(.*\))?|(?:BIG)?DECIMAL(?:\(.*\))?")),
    ("bool", re.compile(r"BOOL|BOOLEAN")),
    ("timestamp", re.compile(r"TIMESTAMP(?:_S|_MS|_NS| WITH TIME ZONE|TZ)?|DATETIME")),
    ("date", re.compile(r"DATE")),
    ("time", re.compile(r"TIME")),
]


def column_kind(type_name: str) -> str:
    """text, integer, float, numeric, bool, timestamp, date, time, or other (JSON, RECORD, arrays, BYTES...)."""
    name = type_name.strip().upper()
    for kind, pattern in _KINDS:
        if pattern.fullmatch(name):
            return kind
    return "other"


def ckan_bool(raw: str | None) -> bool:
    return (raw or "").strip().lower() in _TRUE


def parse_dump_query(params: Mapping[str, Any], bounds: QueryBounds = QueryBounds()) -> DumpQuery:
    """The request's CKAN parameters (first value of each, as CKAN's `request.args.to_dict()`), unknown ones ignored."""
    first = {name: _first(value) for name, value in params.items()}
    for name, value in first.items():
        if value is not None and len(value) > MAX_PARAMETER_CHARS:
            raise InvalidRequest(f"The parameter {name} has {len(value)} characters.",
                                 f"Keep each parameter under {MAX_PARAMETER_CHARS} characters.")
    q_words, q_fields = _q(first.get("q"), bounds)
    plain = True if first.get("plain") is None else ckan_bool(first.get("plain"))
    if (q_words or q_fields) and not plain:
        raise InvalidRequest("plain=false (PostgreSQL tsquery syntax in q) is not supported.",
                             "Leave plain out: every word of q must then appear, case-insensitively.")
    return DumpQuery(
        fields=_fields(first.get("fields"), bounds),
        filters=_filters(first.get("filters"), bounds),
        q_words=q_words,
        q_fields=q_fields,
        distinct=ckan_bool(first.get("distinct")),
        sort=_sort(first.get("sort"), bounds),
        limit=_count("limit", first.get("limit")),
        offset=_count("offset", first.get("offset")) or 0,
        plain=plain,
        language=_language(first.get("language")),
    )


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
        filters.append((name, _unique_sorted(_coerce(column, v) for v in values)))
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


def _first(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return None if value is None else str(value)


def _json(name: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno} (char {exc.pos}).",
            f'Send {name} as a JSON object, e.g. {name}={{"field": "value"}}.',
            details={"parameter": name, "line": exc.lineno, "column": exc.colno, "char": exc.pos}) from None


def _fields(raw: str | None, bounds: QueryBounds) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return ()
    names = [_unquote(part.strip()) for part in raw.split(",")]
    if any(not name for name in names):
        raise InvalidRequest(f"fields has an empty name: {raw[:200]!r}.", "Separate field names with single commas.")
    if len(names) > bounds.fields:
        raise InvalidRequest(f"fields names {len(names)} fields.", f"Ask for at most {bounds.fields}.")
    return tuple(dict.fromkeys(names))


def _unquote(name: str) -> str:
    return name[1:-1] if len(name) >= 2 and name[0] == name[-1] == '"' else name


def _filters(raw: str | None, bounds: QueryBounds) -> tuple[tuple[str, tuple[Scalar, ...]], ...]:
    if raw is None or not raw.strip():
        return ()
    parsed = _json("filters", raw)
    if not isinstance(parsed, dict):
        raise InvalidRequest("filters must be a JSON object.", 'Use filters={"field": "value", "other": [1, 2]}.')
    if len(parsed) > MAX_FILTER_FIELDS:
        raise InvalidRequest(f"filters names {len(parsed)} fields.", f"Filter on at most {MAX_FILTER_FIELDS} fields.")
    result, total = [], 0
    for name, value in sorted(parsed.items()):
        if name.startswith("$") or isinstance(value, dict):
            raise InvalidRequest(f"The filter {name!r} uses an operator ($or, $and, gt...), which is not supported.",
                                 "Use a value or a list of values per field.")
        values = value if isinstance(value, list) else [value]
        for each in values:
            if each is None or isinstance(each, (dict, list)):
                raise InvalidRequest(f"The filter on {name!r} holds {json.dumps(each)}.",
                                     "Filter values are strings, numbers or booleans (null never matches).")
        total += len(values)
        if total > bounds.filter_values:
            raise InvalidRequest(f"filters holds more than {bounds.filter_values} values.",
                                 f"Ask for at most {bounds.filter_values} values in all.")
        result.append((name, _unique_sorted(values)))
    return tuple(result)


def _words(name: str, text: str, bounds: QueryBounds) -> tuple[str, ...]:
    if len(text) > bounds.q_chars:
        raise InvalidRequest(f"q has {len(text)} characters.", f"Keep q under {bounds.q_chars} characters.")
    words = tuple(sorted(set(text.lower().split())))
    if len(words) > bounds.q_words:
        raise InvalidRequest(f"{name} has {len(words)} words.", f"Search for at most {bounds.q_words} words.")
    return words


def _q(raw: str | None, bounds: QueryBounds) -> tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """A JSON object searches per field; anything else is text, as CKAN's unicode_or_json_validator decides.

    Unlike CKAN, text that starts with "{" but is not valid JSON is refused (CKAN would search for it as words)."""
    if raw is None or not raw.strip():
        return (), ()
    if not raw.lstrip().startswith("{"):
        return _words("q", raw, bounds), ()
    parsed = _json("q", raw)
    if len(raw) > bounds.q_chars:
        raise InvalidRequest(f"q has {len(raw)} characters.", f"Keep q under {bounds.q_chars} characters.")
    if not isinstance(parsed, dict):
        raise InvalidRequest("q starts with '{' but is not a JSON object.",
                             'Use q={"field": "words"} to search one field, or plain words to search all.')
    per_field = []
    for name, text in sorted(parsed.items()):
        if not isinstance(text, str):
            raise InvalidRequest(f"q for the field {name!r} is {json.dumps(text)}, not text.",
                                 'Use q={"field": "words to find"}.')
        words = _words(f"q for {name!r}", text, bounds)
        if words:
            per_field.append((name, words))
    return (), tuple(per_field)


def _sort(raw: str | None, bounds: QueryBounds) -> tuple[SortKey, ...]:
    if raw is None or not raw.strip():
        return ()
    clauses = [part for part in raw.split(",")]
    if len(clauses) > bounds.sort_keys:
        raise InvalidRequest(f"sort names {len(clauses)} keys.", f"Sort on at most {bounds.sort_keys} fields.")
    keys, seen = [], set()
    for clause in clauses:
        key = _sort_key(clause)
        if key.field not in seen:  # a later key on the same field can never change the order
            seen.add(key.field)
            keys.append(key)
    return tuple(keys)


def _sort_key(clause: str) -> SortKey:
    match = _SORT_CLAUSE.fullmatch(clause)
    if not match:
        raise InvalidRequest(f"sort has an empty or malformed entry {clause.strip()!r}.",
                             'Use sort=field, sort=field desc, or sort="a field" asc, separated by commas.')
    name = match.group("quoted") or match.group("bare")
    words = match.group("rest").lower().split()
    descending, nulls = False, None
    if words and words[0] in ("asc", "desc"):
        descending = words.pop(0) == "desc"
    if len(words) == 2 and words[0] == "nulls" and words[1] in ("first", "last"):
        nulls, words = words[1] == "first", []
    if words:
        raise InvalidRequest(f"sort has {clause.strip()!r}: the direction must be asc or desc.",
                             'Use "field asc" or "field desc" (optionally "nulls first" or "nulls last"); '
                             'quote names with spaces: "\\"a field\\" desc".')
    return SortKey(name, descending, nulls)


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


def _count(name: str, raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0 or value > MAX_ROWS:
        raise InvalidRequest(f"{name} is {raw[:40]!r}.", f"{name} is a whole number from 0 to {MAX_ROWS}.")
    return value


def _language(raw: str | None) -> str:
    if raw is None or not raw.strip():
        return ""
    if not _LANGUAGE.fullmatch(raw.strip()):
        raise InvalidRequest(f"language is {raw[:40]!r}.", "A language is a word such as english or german.")
    return raw.strip().lower()


def _coerce(column: TableColumn, value: Scalar) -> Scalar:
    """The value as the column's type, as PostgreSQL coerces a literal; a value that cannot be is a 400."""
    kind = column.kind
    try:
        if kind == "text":
            return value if isinstance(value, str) else json.dumps(value)  # CKAN: str(v) on text columns
        if isinstance(value, bool) and kind != "bool":
            raise ValueError
        if kind == "integer":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value) if not isinstance(value, str) else int(value.strip())
        if kind in ("float", "numeric"):
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
    raise InvalidRequest(f"The filter value {json.dumps(_canonical_value(value))} does not fit the field "
                         f"{column.name!r} ({column.type}).",
                         f"Give a {kind if kind != 'other' else 'comparable'} value, or filter another field.")


def _unique_sorted(values) -> tuple[Scalar, ...]:
    """An IN list is a set: one order, no repeats (1 and true stay apart, unlike in a Python set)."""
    tagged = {(type(v).__name__, json.dumps(_canonical_value(v))): v for v in values}
    return tuple(tagged[tag] for tag in sorted(tagged))


def _canonical_value(value: Scalar) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return value


def checked_query(params: Mapping[str, Any], columns: Sequence[TableColumn],
                  bounds: QueryBounds = QueryBounds()) -> DumpQuery:
    """Parsed and checked against the table; refused when its task form would not read back the same (a field
    name holding a comma or a double quote), so the worker always exports exactly what was checked here."""
    query = check_against_columns(parse_dump_query(params, bounds), columns)
    if query.whole_table:
        return query
    again = check_against_columns(parse_dump_query(query.params(), bounds), columns)
    if again.key != query.key:
        raise InvalidRequest("A field named in fields or sort holds a comma or a double quote, which this service "
                             "cannot carry to its export.", "Leave that field out of fields and sort.")
    return query
