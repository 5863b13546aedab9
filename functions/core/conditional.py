"""A conditional GET's validators, and whether a target is unchanged for the caller who sent them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from functions.core import layout
from functions.core.target import Target


@dataclass(frozen=True)
class Conditional:
    """If-None-Match's entity tags (`any_tag`: `*`) and If-Modified-Since; nothing asked by default."""

    tags: frozenset[str] = frozenset()
    any_tag: bool = False
    modified_since: datetime | None = None

    @property
    def asked(self) -> bool:
        return self.any_tag or bool(self.tags) or self.modified_since is not None

    def unchanged(self, target: Target) -> bool:
        """If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2), compared weakly; either way the revision
        decides."""
        if self.any_tag or self.tags:
            return self.any_tag or layout.etag(target.variant, target.rev).strip('"') in self.tags
        since = self.modified_since
        return since is not None and layout.revision_time(target.rev).replace(microsecond=0) <= since


UNCONDITIONAL = Conditional()
