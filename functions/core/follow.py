"""Following an export that is not published yet: what a miss answers, and how long a follower may wait.

A download request never gets a 2xx that is not the data: on a miss the dump function redirects to the
streaming function's follow route, which holds the request until the export is published (or fails, or the
function's request timeout nears). Only a caller who asks for it (`Prefer: respond-async`, RFC 7240) gets the
old 202 "being prepared" answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class MissAnswer(Enum):
    FOLLOW = "follow"  # 302 to the follow route, which answers with the file or an error status
    PENDING = "pending"  # 202 with Retry-After: for callers who asked for it (Prefer: respond-async)


@dataclass(frozen=True)
class MissPlan:
    answer: MissAnswer
    wait_seconds: float  # how long the dump function waits for the export before answering so


def preferences(prefer: str | None) -> dict[str, str]:
    """The Prefer header's preferences (RFC 7240): lower-case names, their values; parameters after ';' are
    dropped. Several Prefer headers arrive joined by commas; the first of a name counts."""
    found: dict[str, str] = {}
    for preference in (prefer or "").split(","):
        name, _, value = preference.split(";", 1)[0].partition("=")
        if name.strip():
            found.setdefault(name.strip().lower(), value.strip().strip('"'))
    return found


def plan_miss(method: str, prefer: str | None, wait_seconds: float) -> MissPlan:
    """`respond-async` answers 202 at once, or after `wait=<seconds>` (RFC 7240) if it asks and the export is not
    published by then (at most the function's own wait). A HEAD request redirects to the follow route at once: a
    2xx HEAD would give the message's length as the file's (polars reads a file by ranges of the HEAD's length);
    the follow route's HEAD waits as its GET does. Every other GET waits the function's wait and then follows;
    browsers too: their download starts when the file does, where a reloading page starts it only on a reload
    that happens to find it."""
    preferred = preferences(prefer)
    if "respond-async" in preferred:
        wait = preferred.get("wait", "")
        asked = float(wait) if wait.isascii() and wait.isdigit() and len(wait) <= 6 else 0.0
        return MissPlan(MissAnswer.PENDING, 0.0 if method == "HEAD" else min(asked, wait_seconds))
    return MissPlan(MissAnswer.FOLLOW, 0.0 if method == "HEAD" else wait_seconds)


FOLLOW_STREAMED_AFTER = 0.5
"""A download that waits for its export goes to the follow route once it waited this long and the export's first
piece is final (functions.core.progress), rather than waiting on for the published file: a short export is still
answered with the published file (its length known, ranges served), a long one sends bytes within two seconds."""

SEND_RESERVE_SHARE = 6  # of the request timeout, kept for sending the file once the wait ends: 1/6
MIN_RETRY_AFTER = 5


def follow_wait_seconds(request_timeout: float) -> float:
    """How long a follower waits for its export: the streaming function's request timeout less a share kept for
    sending the file (the platform cuts a request at its timeout, which a client would see as a broken transfer;
    a 503 with Retry-After before it is an answer a client can act on)."""
    return max(0.0, request_timeout - request_timeout / SEND_RESERVE_SHARE)


def still_exporting_retry_after(waited: float) -> int:
    """A follower that waited `waited` seconds in vain comes back after a tenth of that, at least 5 s."""
    return max(MIN_RETRY_AFTER, int(waited / 10))
