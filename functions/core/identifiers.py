"""Validation of what comes from the request before it reaches SQL, object names or task names."""

from __future__ import annotations

import re

from dataclasses import replace

from functions.core.dump_query import ckan_bool
from functions.core.errors import InvalidRequest
from functions.core.model import Format, Variant

RESOURCE_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,1024}")
REVISION_PATTERN = re.compile(r"[0-9a-f]{1,16}")


def resource_id(raw: str) -> str:
    if not RESOURCE_ID_PATTERN.fullmatch(raw or ""):
        shown = raw if len(raw or "") <= 80 else raw[:80] + "..."
        raise InvalidRequest(
            f"Invalid resource id {shown!r}.",
            "A resource id has 1 to 1024 characters: letters, digits, '-' and '_'.",
        )
    return raw


def dump_format(raw: str | None) -> Format:
    value = (raw or "csv").strip().lower()
    try:
        return Format(value)
    except ValueError:
        allowed = [f.value for f in Format]
        raise InvalidRequest(
            f"Unknown format {raw!r}.",
            f"Use format={' | '.join(allowed)} (default csv).",
            details={"allowed_formats": allowed},
        ) from None


QUERY_KEY_PATTERN = re.compile(r"[0-9a-f]{16}")


def dump_variant(raw_format: str | None, compression: str | None = None, bom: str | None = None) -> Variant:
    """`bom` as CKAN reads it (true, yes, t, y or 1; anything else is false, not an error)."""
    fmt = dump_format(raw_format)
    packing = (compression or "").strip().lower()
    if packing not in ("", "none", "gzip"):
        raise InvalidRequest(f"Unknown compression {compression!r}.", "Use compression=gzip, or leave it out.")
    variant = Variant(fmt, gzip=packing == "gzip", bom=ckan_bool(bom))
    if variant.gzip and fmt is Format.PARQUET:
        raise InvalidRequest("Parquet files are compressed inside already.", "Drop compression=gzip for parquet.")
    if variant.bom and not fmt.takes_bom:
        raise InvalidRequest(f"A byte order mark only applies to csv, tsv, json and xml, not {fmt.value}.",
                             "Drop bom=true.")
    return variant


def query_key(raw: str | None) -> str:
    """A DumpQuery.key read back from a task or a streaming URL: "" (the whole table) or 16 lowercase hex."""
    if raw and not QUERY_KEY_PATTERN.fullmatch(raw):
        raise InvalidRequest(f"Invalid query key {raw[:40]!r}.", "A query key is 16 lowercase hex digits.")
    return raw or ""


def variant_key(raw: str) -> Variant:
    """The inverse of Variant.key, for names read back from storage."""
    base, _, key = raw.rpartition(".q") if re.search(r"\.q[0-9a-f]{16}$", raw) else (raw, "", "")
    gzip = base.endswith(".gz")
    base = base[:-3] if gzip else base
    bom = base.endswith("-bom")
    variant = dump_variant(base[:-4] if bom else base, "gzip" if gzip else None, "true" if bom else None)
    return replace(variant, query_key=query_key(key))


def revision(raw: str) -> str:
    if not REVISION_PATTERN.fullmatch(raw or ""):
        raise InvalidRequest(f"Invalid revision {raw!r}.", "A revision is lowercase hex, as the dump URL gives it.")
    return raw


def attempt(raw) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if value < 1 or value > 1_000_000:
        raise InvalidRequest(f"Invalid attempt {raw!r}.", "An attempt is a positive integer.")
    return value
