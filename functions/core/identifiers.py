"""Validation of what comes from the request before it reaches SQL, object names or task names."""

from __future__ import annotations

import re

from dataclasses import replace

from functions.core.dump_query import ckan_bool
from functions.core.errors import InvalidRequest
from functions.core.model import Format, Variant

RESOURCE_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,1024}")
REVISION_PATTERN = re.compile(r"[0-9a-f]{1,16}")


def _text(raw: object, name: str, hint: str) -> str | None:
    """Request input that must be text (a task body is JSON: a number, list or object is no format)."""
    if raw is None or isinstance(raw, str):
        return raw
    raise InvalidRequest(f"`{name}` must be a string, not {type(raw).__name__}.", hint)


def _shown(raw: str) -> str:
    return repr(raw if len(raw) <= 80 else raw[:80] + "...")


def resource_id(raw: object) -> str:
    text = _text(raw, "resource_id", "A resource id is a string.") or ""
    if not RESOURCE_ID_PATTERN.fullmatch(text):
        raise InvalidRequest(
            f"Invalid resource id {_shown(text)}.",
            "A resource id has 1 to 1024 characters: letters, digits, '-' and '_'.",
        )
    return text


def dump_format(raw: object) -> Format:
    raw = _text(raw, "format", "Use format=csv, tsv, ndjson, parquet, json or xml.")
    value = (raw or "csv").strip().lower()
    try:
        return Format(value)
    except ValueError:
        allowed = [f.value for f in Format]
        raise InvalidRequest(
            f"Unknown format {_shown(raw or '')}.",
            f"Use format={' | '.join(allowed)} (default csv).",
            details={"allowed_formats": allowed},
        ) from None


QUERY_KEY_PATTERN = re.compile(r"[0-9a-f]{16}")


def dump_variant(raw_format: object, compression: object = None, bom: object = None) -> Variant:
    """`bom` as CKAN reads it (true, yes, t, y or 1; any other text is false, not an error)."""
    fmt = dump_format(raw_format)
    compression = _text(compression, "compression", "Use compression=gzip, or leave it out.")
    packing = (compression or "").strip().lower()
    if packing not in ("", "none", "gzip"):
        raise InvalidRequest(f"Unknown compression {_shown(compression or '')}.",
                             "Use compression=gzip, or leave it out.")
    variant = Variant(fmt, gzip=packing == "gzip", bom=ckan_bool(_text(bom, "bom", "Use bom=true or bom=false.")))
    if variant.gzip and fmt is Format.PARQUET:
        raise InvalidRequest("Parquet files are compressed inside already.", "Drop compression=gzip for parquet.")
    if variant.bom and not fmt.takes_bom:
        raise InvalidRequest(f"A byte order mark only applies to csv, tsv, json and xml, not {fmt.value}.",
                             "Drop bom=true.")
    return variant


def query_key(raw: object) -> str:
    """A DumpQuery.key read back from a task or a streaming URL: "" (the whole table) or 16 lowercase hex."""
    raw = _text(raw, "query_key", "A query key is 16 lowercase hex digits.")
    if raw and not QUERY_KEY_PATTERN.fullmatch(raw):
        raise InvalidRequest(f"Invalid query key {_shown(raw)}.", "A query key is 16 lowercase hex digits.")
    return raw or ""


def variant_key(raw: str) -> Variant:
    """The inverse of Variant.key, for names read back from storage."""
    base, _, key = raw.rpartition(".q") if re.search(r"\.q[0-9a-f]{16}$", raw) else (raw, "", "")
    gzip = base.endswith(".gz")
    base = base[:-3] if gzip else base
    bom = base.endswith("-bom")
    variant = dump_variant(base[:-4] if bom else base, "gzip" if gzip else None, "true" if bom else None)
    return replace(variant, query_key=query_key(key))


def revision(raw: object) -> str:
    text = _text(raw, "revision", "A revision is lowercase hex, as the dump URL gives it.") or ""
    if not REVISION_PATTERN.fullmatch(text):
        raise InvalidRequest(f"Invalid revision {_shown(text)}.", "A revision is lowercase hex, as the dump URL gives it.")
    return text


MAX_ATTEMPT = 1_000_000


def attempt(raw: object) -> int:
    """A JSON integer or its ASCII digits; not a bool, float, Infinity, NaN or a 5,000-digit number."""
    value = 0
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_ATTEMPT)):
        value = int(raw)
    if not 1 <= value <= MAX_ATTEMPT:
        is_int = isinstance(raw, int) and not isinstance(raw, bool)
        shown = _shown(raw) if isinstance(raw, str) else "a number out of range" if is_int else type(raw).__name__
        raise InvalidRequest(f"Invalid attempt ({shown}).", f"An attempt is an integer from 1 to {MAX_ATTEMPT}.")
    return value
