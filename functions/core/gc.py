"""Which exports of one (resource, format) can go once a newer one is published.

A superseded export stays for the signed-URL lifetime after the export that replaced it was
published (plus a grace), so no URL handed out while it was current breaks. Failed attempts were
never served and go at once; an unpublished attempt that may still be writing stays until it is
older than any export can run.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from functions.core.model import ObjectInfo
from functions.core.publish import Attempt, attempts_by_revision

GRACE = timedelta(minutes=5)
EXPORT_MAX_DURATION = timedelta(hours=6)  # BigQuery's own limit on a query job


def _replaces(rev: str, attempt: Attempt, published_rev: str, published: Attempt) -> bool:
    """A published attempt replaces any attempt of an older revision, an unpublished attempt of its own
    revision, and a later published attempt of its own revision (callers are served the earliest)."""
    if int(published_rev, 16) != int(rev, 16):
        return int(published_rev, 16) > int(rev, 16)
    if published is attempt:
        return False
    return not attempt.published or published.number < attempt.number


def stale_objects(objects: list[ObjectInfo], now: datetime, url_lifetime: timedelta) -> list[ObjectInfo]:
    """Objects to delete, in a safe order (each attempt's manifest before its files)."""
    grouped = attempts_by_revision(objects)
    published = [(rev, a) for rev, by_number in grouped.items() for a in by_number.values() if a.published]
    doomed: list[ObjectInfo] = []
    for rev, by_number in grouped.items():
        for attempt in by_number.values():
            replacements = [p for p_rev, p in published if _replaces(rev, attempt, p_rev, p)]
            if replacements and _may_delete(attempt, replacements, now, url_lifetime):
                doomed.extend(attempt.all_objects())
    return doomed


def _may_delete(attempt: Attempt, replacements: list[Attempt], now: datetime, url_lifetime: timedelta) -> bool:
    if attempt.published:
        superseded_at = min(r.manifest.updated for r in replacements)
        return now - superseded_at >= url_lifetime + GRACE
    if attempt.failed:
        return True
    newest = max((o.updated for o in attempt.all_objects()), default=now)
    return now - newest >= EXPORT_MAX_DURATION
