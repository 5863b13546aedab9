"""CKAN's dump parameters read into a DumpQuery, once per request, by a declarative schema as CKAN's own
`dump_schema` (ckanext/datastore/logic/schema.py): each parameter has one parser; the one rule between two of
them (plain and q) is checked after. No I/O: the table's columns are checked later (`check_against_columns`).
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Mapping

from functions.core.dump_query import (MAX_FILTER_FIELDS, MAX_PARAMETER_CHARS, MAX_ROWS, DumpQuery, QueryBounds,
                                       Scalar, SortKey, ckan_bool, unique_sorted)
from functions.core.errors import InvalidRequest

_SORT_CLAUSE = re.compile(r'\s*(?:"(?P<quoted>[^"]+)"|(?P<bare>[^\s"]+))(?P<rest>.*)', re.S)
_LANGUAGE = re.compile(r"[A-Za-z_]{1,64}")


def parse_dump_query(params: Mapping[str, Any], bounds: QueryBounds) -> DumpQuery:
    """The request's CKAN parameters (first value of each, as CKAN's `request.args.to_dict()`), unknown ones ignored."""
    first = {name: _first(value) for name, value in params.items()}
    for name, value in first.items():
        if value is not None and len(value) > MAX_PARAMETER_CHARS:
            raise InvalidRequest(f"The parameter {name} has {len(value)} characters.",
                                 f"Keep each parameter under {MAX_PARAMETER_CHARS} characters.")
    read = {name: parse(first.get(name), bounds) for name, parse in DUMP_SCHEMA.items()}
    q_words, q_fields = read.pop("q")
    if (q_words or q_fields) and not read["plain"]:
        raise InvalidRequest("plain=false (PostgreSQL tsquery syntax in q) is not supported.",
                             "Leave plain out: every word of q must then appear, case-insensitively.")
    return DumpQuery(q_words=q_words, q_fields=q_fields, **read)


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
        result.append((name, unique_sorted(values)))
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


def _count(name: str, raw: str | None, bounds: QueryBounds) -> int | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0 or value > MAX_ROWS:
        raise InvalidRequest(f"{name} is {raw[:40]!r}.", f"{name} is a whole number from 0 to {MAX_ROWS}.")
    return value


def _language(raw: str | None, bounds: QueryBounds) -> str:
    if raw is None or not raw.strip():
        return ""
    if not _LANGUAGE.fullmatch(raw.strip()):
        raise InvalidRequest(f"language is {raw[:40]!r}.", "A language is a word such as english or german.")
    return raw.strip().lower()


def _plain(raw: str | None, bounds: QueryBounds) -> bool:
    return True if raw is None else ckan_bool(raw)


def _flag(raw: str | None, bounds: QueryBounds) -> bool:
    return ckan_bool(raw)


def _limit(raw: str | None, bounds: QueryBounds) -> int | None:
    return _count("limit", raw, bounds)


def _offset(raw: str | None, bounds: QueryBounds) -> int:
    return _count("offset", raw, bounds) or 0


Parser = Callable[[str | None, QueryBounds], Any]
DUMP_SCHEMA: dict[str, Parser] = {  # DumpQuery's field (q: its words and per-field words) <- its parameter
    "fields": _fields,
    "filters": _filters,
    "q": _q,
    "distinct": _flag,
    "sort": _sort,
    "limit": _limit,
    "offset": _offset,
    "plain": _plain,
    "language": _language,
}
