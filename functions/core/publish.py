"""The publish protocol: an attempt counts only once its manifest, written last, exists.

Everything here reads a listing (names, sizes, times) and small JSON documents; nothing does I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from functions.core import layout
from functions.core.identifiers import variant_key
from functions.core.model import FailureKind, ObjectInfo, Variant
from functions.core.shards import Piece

MANIFEST_VERSION = 1
_REVISION = re.compile(r"[0-9a-f]{1,16}")


@dataclass(frozen=True)
class Manifest:
    resource_id: str
    variant: Variant
    rev: str
    attempt: int
    pieces: tuple[Piece, ...]
    published_at: str

    @property
    def total_size(self) -> int:
        return sum(piece.length for piece in self.pieces)

    @property
    def single_object(self) -> bool:
        return len(self.pieces) == 1 and self.pieces[0].skip == 0


def manifest_bytes(manifest: Manifest) -> bytes:
    return json.dumps(
        {
            "version": MANIFEST_VERSION,
            "resource_id": manifest.resource_id,
            "variant": manifest.variant.key,
            "revision": manifest.rev,
            "attempt": manifest.attempt,
            "published_at": manifest.published_at,
            "total_size": manifest.total_size,
            "files": [{"name": p.name, "size": p.size, "skip": p.skip} for p in manifest.pieces],
        },
        indent=1,
    ).encode()


def parse_manifest(data: bytes) -> Manifest:
    """Strict: a manifest that does not add up is treated as corrupt (ValueError), never served."""
    doc = json.loads(data)
    if doc.get("version") != MANIFEST_VERSION:
        raise ValueError(f"unknown manifest version {doc.get('version')!r}")
    try:
        pieces = tuple(Piece(str(f["name"]), int(f["size"]), int(f["skip"])) for f in doc["files"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"manifest files are malformed: {exc}") from None
    if not pieces or any(p.skip < 0 or p.skip > p.size for p in pieces):
        raise ValueError("manifest lists no files or impossible sizes")
    try:
        variant = variant_key(str(doc["variant"]))
    except Exception as exc:  # InvalidRequest or KeyError: either way the manifest is unusable
        raise ValueError(f"manifest names no valid variant: {exc}") from None
    manifest = Manifest(
        str(doc["resource_id"]), variant, str(doc["revision"]), int(doc["attempt"]), pieces,
        str(doc["published_at"]),
    )
    if manifest.total_size != doc["total_size"]:
        raise ValueError("manifest sizes do not add up")
    return manifest


def failure_bytes(reason: str, kind: FailureKind, failed_at: datetime) -> bytes:
    return json.dumps({"reason": reason, "kind": kind.value, "failed_at": failed_at.isoformat()}).encode()


LEGACY_STATUS_KINDS = {404: FailureKind.TABLE_GONE, 413: FailureKind.TOO_LARGE}  # records written before kinds


@dataclass(frozen=True)
class Failure:
    reason: str
    kind: FailureKind = FailureKind.FAILED

    @property
    def retryable(self) -> bool:
        return self.kind is FailureKind.TRANSIENT


def parse_failure(data: bytes) -> Failure:
    """Reads `kind`, or the older `status`/`retryable` fields, so buckets written before kinds keep working."""
    try:
        doc = json.loads(data)
        reason = str(doc["reason"])
        if "kind" in doc:
            return Failure(reason, FailureKind(doc["kind"]))
        if doc.get("retryable"):
            return Failure(reason, FailureKind.TRANSIENT)
        return Failure(reason, LEGACY_STATUS_KINDS.get(int(doc.get("status", 502)), FailureKind.FAILED))
    except (ValueError, KeyError, TypeError):
        return Failure("the export failed and its failure record is unreadable")


@dataclass
class Attempt:
    number: int
    prefix: str
    files: list[ObjectInfo] = field(default_factory=list)
    manifest: ObjectInfo | None = None
    failure: ObjectInfo | None = None

    @property
    def published(self) -> bool:
        return self.manifest is not None

    @property
    def failed(self) -> bool:
        return self.failure is not None and self.manifest is None

    def all_objects(self) -> list[ObjectInfo]:
        """Manifest first: deleting in this order never leaves a published attempt with missing files."""
        return [o for o in (self.manifest, self.failure) if o] + self.files


def attempts_by_revision(objects: list[ObjectInfo]) -> dict[str, dict[int, Attempt]]:
    """Group a listing of dumps/<rid>/<fmt>/ or dumps/<rid>/q/<key>/<fmt>/ (or a deeper prefix) by revision and
    attempt: names are read from their end, .../<rev>/<attempt>/<file>."""
    grouped: dict[str, dict[int, Attempt]] = {}
    for obj in objects:
        parts = obj.name.split("/")
        if len(parts) < 6 or not parts[-2].isdigit() or not _REVISION.fullmatch(parts[-3]):
            continue  # not .../<rev>/<attempt>/<file>
        rev, number = parts[-3], int(parts[-2])
        attempt = grouped.setdefault(rev, {}).setdefault(number, Attempt(number, "/".join(parts[:-1]) + "/"))
        leaf = parts[-1]
        if leaf == layout.MANIFEST:
            attempt.manifest = obj
        elif leaf == layout.FAILURE:
            attempt.failure = obj
        else:
            attempt.files.append(obj)
    return grouped


@dataclass(frozen=True)
class RevisionState:
    """What the listing of one revision says: published, failed, running, or nothing yet."""

    published: Attempt | None
    failed: Attempt | None
    running: Attempt | None
    next_attempt: int


def revision_state(objects: list[ObjectInfo]) -> RevisionState:
    attempts = sorted(
        (a for by_number in attempts_by_revision(objects).values() for a in by_number.values()),
        key=lambda a: a.number,
    )
    published = next((a for a in attempts if a.published), None)
    if published:
        return RevisionState(published, None, None, published.number)
    if not attempts:
        return RevisionState(None, None, None, 1)
    latest = attempts[-1]
    if latest.failed:
        return RevisionState(None, latest, None, latest.number + 1)
    return RevisionState(None, None, latest, latest.number)


def may_retry(failed: Attempt, now: datetime, cooldown: timedelta) -> bool:
    """A failure is reported to callers for `cooldown`; after that the next request tries a new attempt."""
    assert failed.failure is not None  # a failed attempt is one with its failure record
    return now - failed.failure.updated >= cooldown
