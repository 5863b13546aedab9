"""Where exports live and what they are called: content-addressed by resource, format and revision.

    dumps/<rid>/<variant>/<rev>/<attempt>/part-*.<ext>    files written by the warehouse
    dumps/<rid>/<variant>/<rev>/<attempt>/header.<ext>    the header object, when the worker writes one
    dumps/<rid>/<variant>/<rev>/<attempt>/download.<ext>  the one composed or merged object
    dumps/<rid>/<variant>/<rev>/<attempt>/manifest.json   written last: the attempt is published
    dumps/<rid>/<variant>/<rev>/<attempt>/failed.json     the attempt failed, with its reason

<variant> is the format plus its options (csv, csv.gz, csv-bom, ...): each is cached on its own.
A query dump (CKAN's filters, q, fields, sort, ...) lives under its query key, with a marker its requests touch:

    dumps/<rid>/q/<query key>/<variant>/<rev>/<attempt>/...
    dumps/<rid>/q/<query key>/requested                    when it was last requested (the cap evicts by it)

A resource id longer than a file name may be (255 bytes; the local backend stores segments as folders) is
replaced by `long.<sha256>`:
'.' never occurs in a resource id, so the two forms cannot collide.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from functions.core.model import Variant

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MANIFEST = "manifest.json"
FAILURE = "failed.json"
ROOT = "dumps/"


def to_micros(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def revision_of(modified: datetime) -> str:
    """Lowercase hex of the microsecond epoch: exact integer arithmetic, no float rounding."""
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=timezone.utc)
    return format(to_micros(modified), "x")


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def revision_time(rev: str) -> datetime:
    return from_micros(int(rev, 16))


MAX_NAMED_RESOURCE_ID = 255  # a file name's limit on Linux and macOS: the local backend stores segments as folders


def resource_segment(resource_id: str) -> str:
    """The resource's path component in the bucket and the local warehouse; long ids become `long.<sha256>`."""
    if len(resource_id) <= MAX_NAMED_RESOURCE_ID:
        return resource_id
    return "long." + hashlib.sha256(resource_id.encode()).hexdigest()


QUERIES = "q/"
REQUESTED = "requested"


def query_root(resource_id: str) -> str:
    """Every query dump of a resource: the per-resource cap lists this."""
    return f"{ROOT}{resource_segment(resource_id)}/{QUERIES}"


def query_prefix(resource_id: str, query_key: str) -> str:
    return f"{query_root(resource_id)}{query_key}/"


def requested_marker(resource_id: str, query_key: str) -> str:
    return query_prefix(resource_id, query_key) + REQUESTED


def variant_prefix(resource_id: str, variant: Variant) -> str:
    if variant.query_key:
        return f"{query_prefix(resource_id, variant.query_key)}{variant.format_key}/"
    return f"{ROOT}{resource_segment(resource_id)}/{variant.key}/"


def revision_prefix(resource_id: str, variant: Variant, rev: str) -> str:
    return f"{variant_prefix(resource_id, variant)}{rev}/"


def attempt_prefix(resource_id: str, variant: Variant, rev: str, attempt: int) -> str:
    return f"{revision_prefix(resource_id, variant, rev)}{attempt}/"


def header_name(prefix: str, variant: Variant) -> str:
    return f"{prefix}header.{variant.extension}"


def single_object_name(prefix: str, variant: Variant) -> str:
    return f"{prefix}download.{variant.extension}"


def download_filename(resource_id: str, variant: Variant) -> str:
    return f"{resource_id}.{variant.extension}"


def etag(variant: Variant, rev: str) -> str:
    return f'"{rev}-{variant.key}"'


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def job_id(resource_id: str, variant: Variant, rev: str, attempt: int) -> str:
    """Deterministic per attempt, so a duplicated task finds the running job instead of exporting twice."""
    key = variant.key.replace(".", "_")  # job ids allow letters, digits, '_' and '-'
    return f"bqdump_{key}_{rev}_{attempt}_{_digest(resource_id, variant.key, rev)[:32]}"


def task_name(resource_id: str, variant: Variant, rev: str, attempt: int) -> str:
    """Hashed first: Cloud Tasks drops duplicates by name, and spreads hashed names better than sequential ones."""
    return f"dump-{_digest(resource_id, variant.key, rev)[:40]}-{attempt}"


def touch_task_name(resource_id: str, query_key: str, slot: int) -> str:
    """One task per query dump per touch interval (`slot`): Cloud Tasks drops the duplicates by name."""
    return f"touch-{_digest(resource_id, query_key)[:40]}-{slot}"
