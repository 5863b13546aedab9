"""A definite authorization answer, and the strict record form the cache keeps it in.

Records are checksummed JSON with an exact schema, so a damaged entry is recognisable and
can only ever be a cache miss, never an allow.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

from functions.core.errors import DumpError, Forbidden, NotFound, Unauthorized

REFUSALS: dict[str, type[DumpError]] = {"unauthorized": Unauthorized, "forbidden": Forbidden, "not_found": NotFound}
OUTCOMES = ("allow", *REFUSALS)
RECORD_VERSION = 1
_FIELDS = {"v", "subject", "outcome", "expires_at", "message", "hint", "headers"}


class CorruptRecord(ValueError):
    """The stored bytes are not a record this code wrote."""


@dataclass(frozen=True)
class Decision:
    outcome: str
    message: str = ""
    hint: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_error(cls, error: DumpError) -> "Decision":
        outcome = next(name for name, kind in REFUSALS.items() if isinstance(error, kind))
        return cls(outcome, error.message, error.hint, dict(error.headers))

    @property
    def allowed(self) -> bool:
        return self.outcome == "allow"

    def enforce(self) -> None:
        """Return for an allow; raise a fresh copy of the refusal otherwise."""
        if not self.allowed:
            raise REFUSALS[self.outcome](self.message, self.hint, headers=dict(self.headers))


def encode_record(subject: str, decision: Decision, expires_at: float) -> bytes:
    payload = json.dumps(
        {
            "v": RECORD_VERSION,
            "subject": subject,
            "outcome": decision.outcome,
            "expires_at": float(expires_at),
            "message": decision.message,
            "hint": decision.hint,
            "headers": decision.headers,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    return hashlib.sha256(payload).hexdigest().encode() + b":" + payload


def decode_record(raw: object, subject: str) -> tuple[Decision, float]:
    """The decision and its expiry; raises CorruptRecord for anything not exactly as written."""
    try:
        if not isinstance(raw, (bytes, bytearray)):
            raise CorruptRecord("not bytes")
        checksum, payload = raw.split(b":", 1)
        if checksum.decode() != hashlib.sha256(payload).hexdigest():
            raise CorruptRecord("checksum mismatch")
        record = json.loads(payload)
    except CorruptRecord:
        raise
    except (AttributeError, TypeError, ValueError) as exc:
        raise CorruptRecord(type(exc).__name__) from None
    if not isinstance(record, dict) or set(record) != _FIELDS:
        raise CorruptRecord("unexpected fields")
    if record["v"] != RECORD_VERSION or record["subject"] != subject or record["outcome"] not in OUTCOMES:
        raise CorruptRecord("wrong version, subject or outcome")
    headers = record["headers"]
    if not isinstance(record["expires_at"], float) or not math.isfinite(record["expires_at"]):
        raise CorruptRecord("wrong expiry")
    if not isinstance(headers, dict):
        raise CorruptRecord("wrong types")
    texts = [record["message"], record["hint"], *headers, *headers.values()]
    if not all(isinstance(text, str) for text in texts):
        raise CorruptRecord("wrong types")
    return Decision(record["outcome"], record["message"], record["hint"], headers), record["expires_at"]
