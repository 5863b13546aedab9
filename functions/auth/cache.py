"""A per-process, bounded decision cache, so a download does not wait on the portal every time.

Nothing depends on it for correctness: a missing, expired or damaged entry just means asking again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict

from functions.auth.decisions import CorruptRecord, Decision, decode_record, encode_record
from functions.core.errors import Forbidden, NotFound, Unauthorized
from functions.ports import Authorizer, Caller

log = logging.getLogger(__name__)
PERMISSION = "read"
DENIAL_TTL_CAP = 10.0


def decision_key(provider: str, credential: str | None, resource_id: str, permission: str = PERMISSION) -> str:
    """Hash of the whole credential with what it was asked about; anonymous and "" stay distinct."""
    material = json.dumps([provider, permission, resource_id, credential], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


class DecisionCache:
    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, now: float) -> Decision | None:
        with self._lock:
            raw = self._entries.get(key)
            if raw is None:
                return None
            try:
                decision, expires_at = decode_record(raw, key)
            except CorruptRecord as exc:
                log.warning("auth cache: dropped an unreadable entry (%s)", exc)
                del self._entries[key]
                return None
            if now >= expires_at:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return decision

    def put(self, key: str, decision: Decision, expires_at: float) -> None:
        record = encode_record(key, decision, expires_at)
        with self._lock:
            self._entries[key] = record
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


class CachedAuthorizer:
    """Remembers definite answers (allow, deny, not found); an Unavailable is never remembered."""

    def __init__(self, inner: Authorizer, provider: str, ttl: float, cache: DecisionCache):
        self.inner = inner
        self.provider = provider
        self.ttl = ttl
        self.denial_ttl = min(ttl, DENIAL_TTL_CAP)
        self.cache = cache
        self.name = getattr(inner, "name", provider)

    def authorize(self, caller: Caller, resource_id: str, now: float) -> str | None:
        key = decision_key(self.provider, caller.credential, resource_id)
        cached = self.cache.get(key, now) if self.ttl > 0 else None
        if cached is not None:
            log.debug("auth %s: cached %s for resource %s", self.provider, cached.outcome, resource_id)
            cached.enforce()
            return f"{self.name} (cached)"
        try:
            self.inner.authorize(caller, resource_id, now)
        except (Unauthorized, Forbidden, NotFound) as refusal:
            self._remember(key, Decision.from_error(refusal), now + self.denial_ttl)
            raise
        self._remember(key, Decision("allow"), now + self.ttl)
        return None

    def _remember(self, key: str, decision: Decision, expires_at: float) -> None:
        if self.ttl > 0:
            self.cache.put(key, decision, expires_at)
