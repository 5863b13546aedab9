"""Validation of what comes from the request before it reaches SQL, object names or task names."""

from __future__ import annotations

import re

from functions.core.errors import InvalidRequest
from functions.core.model import Format

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
