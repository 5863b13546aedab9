"""The export worker: one task = make sure one (resource, format, revision) is exported and published.

Idempotent by construction: a published revision is never exported again, the job id is fixed per
attempt (a duplicate delivery attaches to the running job), the manifest is written last and only
if absent, and GC never touches the attempt it just published.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from werkzeug.wrappers import Request, Response

from functions import exports
from functions.core import gc, identifiers, layout
from functions.core.errors import DumpError, InvalidRequest, NotFound
from functions.core.model import ExportJob, Format, JobState, ObjectInfo
from functions.core.publish import Manifest, failure_bytes, manifest_bytes
from functions.core.shards import Piece, first_record_length, order_shards
from functions.exports import Target
from functions.http import handles_errors, json_response
from functions.services import Services

log = logging.getLogger("bqdump.worker")
HEADER_PROBE_BYTES = 64 * 1024


@dataclass
class TaskResult:
    status: int  # 2xx: done with this task; anything else: Cloud Tasks (or the local queue) delivers it again
    body: dict = field(default_factory=dict)


@handles_errors
def handle_task_request(request: Request, services: Services) -> Response:
    if request.method != "POST":
        raise InvalidRequest("The export worker takes POST requests from the task queue.", "POST a task body.")
    services.check_task_caller(request.headers)  # OIDC from Cloud Tasks when deployed; raises Unauthorized
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise InvalidRequest("The task body is not a JSON object.",
                             'Send {"resource_id", "format", "revision", "attempt"}.')
    result = deliver_task(services, payload)
    return json_response(result.body, result.status)


def deliver_task(services: Services, payload: dict) -> TaskResult:
    try:
        target = Target(identifiers.resource_id(str(payload.get("resource_id", ""))),
                        identifiers.dump_format(payload.get("format")),
                        identifiers.revision(str(payload.get("revision", ""))))
        attempt = identifiers.attempt(payload.get("attempt"))
    except InvalidRequest as error:
        return TaskResult(200, {"status": "rejected", "reason": error.message})  # retrying cannot fix it
    try:
        return export_revision(services, target, attempt)
    except NotFound as error:
        return TaskResult(200, {"status": "table_gone", "reason": error.message})
    except DumpError as error:
        log.warning("export of %s/%s@%s attempt %d: %s", target.resource_id, target.format.value, target.rev,
                    attempt, error.message)
        return TaskResult(503, {"status": "retry", "reason": error.message})


def export_revision(services: Services, target: Target, attempt: int) -> TaskResult:
    current = exports.current_target(services, target.resource_id, target.format)
    if current.rev != target.rev:
        return TaskResult(200, {"status": "superseded", "current_revision": current.rev})
    state = exports.lookup(services, target, services.store)
    if state.published:
        collect_garbage(services, target)  # repeats (pre-warm, duplicates) also bound storage
        return TaskResult(200, {"status": "published", "attempt": state.published.number})
    if state.failed and state.failed.number >= attempt:
        return TaskResult(200, {"status": "failed", "attempt": state.failed.number})  # only a new request retries
    prefix = layout.attempt_prefix(target.resource_id, target.format, target.rev, attempt)
    job = ExportJob(layout.job_id(target.resource_id, target.format, target.rev, attempt), target.resource_id,
                    target.format, prefix, services.config.shard_bytes)
    services.warehouse.start_export(job)
    status = services.warehouse.wait_export(job.job_id, services.config.worker_wait_seconds)
    if status.state is JobState.RUNNING:
        return TaskResult(503, {"status": "running", "job_id": job.job_id})  # a later delivery picks the job up
    if status.state is JobState.FAILED:
        record = failure_bytes(status.error, status.http_status, services.clock(), status.retryable)
        services.store.write_bytes(prefix + layout.FAILURE, record, "application/json", if_absent=True)
        return TaskResult(200, {"status": "failed", "reason": status.error})
    manifest = publish(services, target, attempt, prefix)
    collect_garbage(services, target)
    return TaskResult(200, {"status": "published", "attempt": attempt, "files": len(manifest.pieces)})


def publish(services: Services, target: Target, attempt: int, prefix: str) -> Manifest:
    files = {o.name: o for o in services.store.list(prefix) if o.name.rsplit("/", 1)[-1].startswith("part-")}
    if not files:
        raise DumpError(f"The export job finished but wrote no files under {prefix}.", "It will be retried.")
    names = order_shards(files)
    pieces = _pieces(services, target.format, [files[name] for name in names])
    manifest = Manifest(target.resource_id, target.format, target.rev, attempt, tuple(pieces),
                        services.clock().isoformat())
    if manifest.single_object:  # the signed URL serves the object itself: it must carry its own headers
        services.store.set_download_headers(pieces[0].name, content_type=target.format.content_type,
                                            filename=layout.download_filename(target.resource_id, target.format))
    # Written last and only if absent: a duplicate delivery racing us cannot replace a published manifest.
    services.store.write_bytes(prefix + layout.MANIFEST, manifest_bytes(manifest), "application/json", if_absent=True)
    return manifest


def _pieces(services: Services, fmt: Format, shards: list[ObjectInfo]) -> list[Piece]:
    """Every file after the first drops its copy of the header, which must match the first file's exactly."""
    if not fmt.has_header or len(shards) == 1:
        return [Piece(o.name, o.size) for o in shards]
    header = _header(services, shards[0])
    pieces = [Piece(shards[0].name, shards[0].size)]
    for shard in shards[1:]:
        if shard.size == 0:
            pieces.append(Piece(shard.name, 0))
            continue
        if _header(services, shard) != header:
            raise DumpError(f"{shard.name} does not start with the same header as {shards[0].name}.",
                            "The export is inconsistent; it will be retried.")
        pieces.append(Piece(shard.name, shard.size, len(header)))
    return pieces


def _header(services: Services, shard: ObjectInfo) -> bytes:
    probe = min(shard.size, HEADER_PROBE_BYTES)
    while True:
        data = b"".join(services.store.read_range(shard.name, 0, probe, HEADER_PROBE_BYTES))
        length = first_record_length(data)
        if length is not None:
            return data[:length]
        if probe >= shard.size:
            return data  # a header without a line end: the whole file is the header
        probe = min(shard.size, probe * 4)


def collect_garbage(services: Services, target: Target) -> int:
    """Deletes what GC selects; a failed delete is logged and left for the next run or the bucket's lifecycle rule."""
    objects = services.store.list(layout.variant_prefix(target.resource_id, target.format))
    lifetime = timedelta(hours=services.config.url_expiry_hours)
    deleted = 0
    for obj in gc.stale_objects(objects, services.clock(), lifetime):
        try:
            services.store.delete(obj.name)
            deleted += 1
        except Exception:  # GC is best effort; correctness never depends on it
            log.exception("could not delete %s", obj.name)
    return deleted
