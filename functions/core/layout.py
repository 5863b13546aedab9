"""Where exports live and what they are called: content-addressed by resource, format and revision.

    dumps/<rid>/<fmt>/<rev>/<attempt>/part-*.<ext>   files written by the warehouse
    dumps/<rid>/<fmt>/<rev>/<attempt>/manifest.json  written last: the attempt is published
    dumps/<rid>/<fmt>/<rev>/<attempt>/failed.json    the attempt failed, with its reason
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from functions.core.model import Format

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MANIFEST = "manifest.json"
FAILURE = "failed.json"
ROOT = "dumps/"


def revision_of(modified: datetime) -> str:
    """Lowercase hex of the microsecond epoch: exact integer arithmetic, no float rounding."""
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=timezone.utc)
    delta = modified - EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return format(micros, "x")


def revision_time(rev: str) -> datetime:
    from datetime import timedelta

    return EPOCH + timedelta(microseconds=int(rev, 16))


def variant_prefix(resource_id: str, fmt: Format) -> str:
    return f"{ROOT}{resource_id}/{fmt.value}/"


def revision_prefix(resource_id: str, fmt: Format, rev: str) -> str:
    return f"{variant_prefix(resource_id, fmt)}{rev}/"


def attempt_prefix(resource_id: str, fmt: Format, rev: str, attempt: int) -> str:
    return f"{revision_prefix(resource_id, fmt, rev)}{attempt}/"


def download_filename(resource_id: str, fmt: Format) -> str:
    return f"{resource_id}.{fmt.extension}"


def etag(fmt: Format, rev: str) -> str:
    return f'"{rev}-{fmt.value}"'


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def job_id(resource_id: str, fmt: Format, rev: str, attempt: int) -> str:
    """Deterministic per attempt, so a duplicated task finds the running job instead of exporting twice."""
    return f"bqdump_{fmt.value}_{rev}_{attempt}_{_digest(resource_id, fmt.value, rev)[:32]}"


def task_name(resource_id: str, fmt: Format, rev: str, attempt: int) -> str:
    """Hashed first: Cloud Tasks drops duplicates by name, and spreads hashed names better than sequential ones."""
    return f"dump-{_digest(resource_id, fmt.value, rev)[:40]}-{attempt}"
