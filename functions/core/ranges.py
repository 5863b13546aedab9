"""HTTP Range requests (RFC 9110), single range only: a multi-range request gets the whole body."""

from __future__ import annotations

import re

from functions.core.errors import RangeNotSatisfiable

_SINGLE = re.compile(r"bytes=([0-9]*)-([0-9]*)")  # ASCII digits only: \d also matches Unicode digits
_BEYOND_ANY_FILE = 10 ** 18


def requested_range(header: str | None, total: int) -> tuple[int, int] | None:
    """(start, end inclusive) for a satisfiable single range, None for the whole body."""
    if not header:
        return None
    match = _SINGLE.fullmatch(header.strip().replace(" ", ""))
    if not match:
        return None  # unknown unit or several ranges: ignoring Range is allowed
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = _number(last)
        if length == 0 or total == 0:
            raise _unsatisfiable(total)
        return max(0, total - length), total - 1
    start = _number(first)
    end = _number(last) if last else total - 1
    if last and end < start:
        return None  # syntactically invalid: ignored
    if start >= total:
        raise _unsatisfiable(total)
    return start, min(end, total - 1)


def _number(digits: str) -> int:
    """Past 18 digits a position is beyond any file; int() of 5,000 digits would raise (and cost time)."""
    return int(digits) if len(digits) <= 18 else _BEYOND_ANY_FILE


def content_range(start: int, end: int, total: int) -> str:
    return f"bytes {start}-{end}/{total}"


def _unsatisfiable(total: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"The requested range is outside the {total}-byte file.",
        "Ask for a range that starts before the end of the file, or drop the Range header.",
        headers={"Content-Range": f"bytes */{total}"},
    )
