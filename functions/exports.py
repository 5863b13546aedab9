"""What the HTTP function, the streaming function and pre-warming share: finding and queueing exports."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import timedelta

from functions.core import layout
from functions.core.errors import DumpError, ExportFailed, NotFound, TooLarge, Unavailable
from functions.core.model import Variant
from functions.core.publish import Failure, Manifest, RevisionState, may_retry, parse_failure, parse_manifest, revision_state
from functions.ports import ObjectStore
from functions.services import Services

log = logging.getLogger("bqdump")


@dataclass(frozen=True)
class Target:
    """One export a caller can ask for: a resource, a format, and the table revision it reflects."""

    resource_id: str
    variant: Variant
    rev: str

    @property
    def prefix(self) -> str:
        return layout.revision_prefix(self.resource_id, self.variant, self.rev)


def current_target(services: Services, resource_id: str, variant: Variant) -> Target:
    return Target(resource_id, variant, layout.revision_of(services.warehouse.table_modified(resource_id)))


def lookup(services: Services, target: Target, store: ObjectStore | None = None) -> RevisionState:
    """The read-only identity looks (HTTP and streaming functions); the worker passes its read-write store."""
    return revision_state((store or services.reader).list(target.prefix))


def read_manifest(services: Services, state: RevisionState) -> Manifest:
    return _cached_manifest(services.reader, state.published.manifest.name)


@functools.lru_cache(maxsize=1024)
def _cached_manifest(store, name: str) -> Manifest:
    """Manifests are immutable once written (content-addressed), so caching them per process is safe."""
    try:
        return parse_manifest(store.read_bytes(name))
    except (ValueError, KeyError, TypeError) as exc:  # where and why go to the log, not to the caller
        log.error("manifest %s is unreadable: %s", name, exc)
        raise Unavailable("The published export's manifest is unreadable.",
                          "Report this to the portal's administrators; the export must be rebuilt.") from None


def read_failure(services: Services, state: RevisionState) -> Failure:
    return parse_failure(services.reader.read_bytes(state.failed.failure.name))


def failure_error(services: Services, state: RevisionState, failure: Failure | None = None) -> DumpError:
    failure = failure or read_failure(services, state)
    cooldown = timedelta(seconds=services.config.failure_cooldown_seconds)
    wait = max(1, int((state.failed.failure.updated + cooldown - services.clock()).total_seconds()))
    kind = {404: NotFound, 413: TooLarge}.get(failure.status, ExportFailed)
    return kind(f"The export failed: {failure.reason}",
                f"Request the dump again in {wait} s to retry it; if it fails again, tell the portal's administrators.",
                headers={"Retry-After": str(wait)})


def queue_export(services: Services, target: Target, attempt: int) -> bool:
    payload = {"resource_id": target.resource_id, **target.variant.query, "revision": target.rev, "attempt": attempt}
    return services.queue.enqueue(layout.task_name(target.resource_id, target.variant, target.rev, attempt), payload)


def ensure_export(services: Services, target: Target, state: RevisionState, failure: Failure | None = None) -> int:
    """Queue the attempt this state calls for, unless a recent failure should be reported instead; its number."""
    if state.failed:
        failure = failure or read_failure(services, state)
        cooldown = timedelta(seconds=services.config.failure_cooldown_seconds)
        if not failure.retryable and not may_retry(state.failed, services.clock(), cooldown):
            raise failure_error(services, state, failure)
    queue_export(services, target, state.next_attempt)
    return state.next_attempt


def gone(target: Target) -> NotFound:
    return NotFound(f"The export of {target.resource_id!r} at revision {target.rev} is no longer available.",
                    f"Request /datastore/dump/{target.resource_id} again for the current one.")
