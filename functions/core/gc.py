"""Which exports of one (resource, format) can go once a newer one is published, and which query dumps go
when a resource holds more than its cap.

A superseded export stays for the signed-URL lifetime after the export that replaced it was
published (plus a grace), so no URL handed out while it was current breaks. Failed attempts were
never served and go at once; an unpublished attempt that may still be writing stays until it is
older than any export can run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from functions.core.layout import MANIFEST, REQUESTED
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
        superseded_at = min(r.manifest.updated for r in replacements if r.manifest is not None)
        return now - superseded_at >= url_lifetime + GRACE
    if attempt.failed:
        return True
    newest = max((o.updated for o in attempt.all_objects()), default=now)
    return now - newest >= EXPORT_MAX_DURATION


@dataclass(frozen=True)
class Eviction:
    doomed: list[ObjectInfo]  # in a safe order: manifests first, the `requested` marker last
    kept: int  # query dumps left besides the one being made or touched


def evicted_queries(objects: list[ObjectInfo], root: str, keep: str, cap: int, now: datetime,
                    protected_for: timedelta) -> Eviction:
    """The per-resource cap on distinct query dumps: least recently requested first, never one requested within
    `protected_for` (a signed URL handed out for it may still be live), never `keep` (the one being served).

    `objects`: the listing under `root` (layout.query_root); "last requested" is the newest of its objects: the
    `requested` marker a cache hit touches, or the files of an export a miss queued (so one being made stays)."""
    by_key: dict[str, list[ObjectInfo]] = {}
    for obj in objects:
        by_key.setdefault(obj.name[len(root):].split("/", 1)[0], []).append(obj)
    last = {key: max(o.updated for o in found) for key, found in by_key.items()}
    others = sorted((key for key in by_key if key != keep), key=lambda k: (last[k], k))
    doomed: list[ObjectInfo] = []
    while len(others) > max(cap - 1, 0) and now - last[others[0]] >= protected_for:
        found = by_key[others.pop(0)]
        doomed += sorted(found, key=lambda o: (not o.name.endswith("/" + MANIFEST),
                                               o.name.endswith("/" + REQUESTED), o.name))
    return Eviction(doomed, len(others))
