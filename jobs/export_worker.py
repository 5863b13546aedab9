"""The export worker: one task = make sure one (resource, variant, revision) is exported and published.

Idempotent by construction: a published revision is never exported again, the job id is fixed per
attempt (a duplicate delivery attaches to the running job), the manifest is written last and only
if absent, and GC never touches the attempt it just published.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from werkzeug.wrappers import Request, Response

from functions import exports
from functions.core import gc, identifiers, layout, request_json
from functions.core.errors import DumpError, InvalidRequest, NotFound
from functions.core.model import ExportJob, JobState
from functions.core.publish import Manifest, failure_bytes, manifest_bytes
from functions.exports import Target
from functions.http import handles_errors, json_response
from functions.services import Services
from jobs import assemble

log = logging.getLogger("bqdump.worker")


class Superseded(DumpError):
    """The table moved on while this revision was being exported."""


@dataclass
class TaskResult:
    status: int  # 2xx: done with this task; anything else: Cloud Tasks (or the local queue) delivers it again
    body: dict = field(default_factory=dict)


@handles_errors
def handle_task_request(request: Request, services: Services) -> Response:
    if request.method != "POST":
        raise InvalidRequest("The export worker takes POST requests from the task queue.", "POST a task body.")
    services.check_task_caller(request.headers)  # OIDC from Cloud Tasks when deployed; raises Unauthorized
    payload = request_json.json_object(request.get_data(cache=False),
                                       'Send {"resource_id", "format", "revision", "attempt"}.')
    result = deliver_task(services, payload)
    return json_response(result.body, result.status)


def deliver_task(services: Services, payload: dict) -> TaskResult:
    try:
        target = Target(identifiers.resource_id(payload.get("resource_id")),
                        identifiers.dump_variant(payload.get("format"), payload.get("compression"),
                                                 payload.get("bom")),
                        identifiers.revision(payload.get("revision")))
        attempt = identifiers.attempt(payload.get("attempt"))
    except InvalidRequest as error:
        return TaskResult(200, {"status": "rejected", "reason": error.message})  # retrying cannot fix it
    try:
        return export_revision(services, target, attempt)
    except NotFound as error:
        return TaskResult(200, {"status": "table_gone", "reason": error.message})
    except DumpError as error:
        log.warning("export of %s/%s@%s attempt %d: %s", target.resource_id, target.variant.key, target.rev,
                    attempt, error.message)
        return TaskResult(503, {"status": "retry", "reason": error.message, **not_done(error.message)})


def not_done(message: str) -> dict:
    """A 503 makes the queue deliver the task again; its body is an error body like any other."""
    return {"error": "unavailable", "message": message, "hint": "The task queue delivers this task again."}


def export_revision(services: Services, target: Target, attempt: int) -> TaskResult:
    current = exports.current_target(services, target.resource_id, target.variant)
    if current.rev != target.rev:
        return TaskResult(200, {"status": "superseded", "current_revision": current.rev})
    state = exports.lookup(services, target, services.store)
    if state.published:
        collect_garbage(services, target)  # repeats (pre-warm, duplicates) also bound storage
        return TaskResult(200, {"status": "published", "attempt": state.published.number})
    if state.failed and state.failed.number >= attempt:
        return TaskResult(200, {"status": "failed", "attempt": state.failed.number})  # only a new request retries
    prefix = layout.attempt_prefix(target.resource_id, target.variant, target.rev, attempt)
    plan = assemble.plan_for(target.variant, services.config.compose)
    job = ExportJob(layout.job_id(target.resource_id, target.variant, target.rev, attempt), target.resource_id,
                    target.variant.format, prefix, services.config.shard_bytes, header=plan.header_in_every_file,
                    gzip=target.variant.gzip)
    services.warehouse.start_export(job)
    status = services.warehouse.wait_export(job.job_id, services.config.worker_wait_seconds)
    if status.state is JobState.RUNNING:
        return TaskResult(503, {"status": "running", "job_id": job.job_id,  # a later delivery picks the job up
                                **not_done(f"The export job {job.job_id} is still running.")})
    if status.state is JobState.FAILED:
        record = failure_bytes(status.error, status.http_status, services.clock(), status.retryable)
        services.store.write_bytes(prefix + layout.FAILURE, record, "application/json", if_absent=True)
        return TaskResult(200, {"status": "failed", "reason": status.error})
    if exports.lookup(services, target, services.store).published:
        return TaskResult(200, {"status": "published", "attempt": attempt})  # a duplicate delivery got there first
    try:
        manifest, leftovers = publish(services, target, attempt, prefix, plan)
    except Superseded as moved:
        return TaskResult(200, {"status": "superseded", "reason": moved.message})
    except Exception:
        if exports.lookup(services, target, services.store).published:  # it did, while we were assembling
            return TaskResult(200, {"status": "published", "attempt": attempt})
        raise
    for name in leftovers:  # shards already composed or merged into the published object
        services.store.delete(name)
    collect_garbage(services, target)
    return TaskResult(200, {"status": "published", "attempt": attempt, "files": len(manifest.pieces)})


def publish(services: Services, target: Target, attempt: int, prefix: str,
            plan: assemble.Plan) -> tuple[Manifest, list[str]]:
    """Assembles the download from the export's files, then writes the manifest last and only if absent:
    a duplicate delivery racing us cannot replace a published manifest."""
    pieces, leftovers = assemble.assemble(services, target, prefix, plan)
    if plan.header_object and exports.current_target(services, target.resource_id, target.variant).rev != target.rev:
        # The header came from the table as it is now: if the table moved since the export read it, the
        # header may not match the rows. This revision is superseded anyway; leave it unpublished.
        raise Superseded(f"{target.resource_id} changed while it was exported.", "The new revision will be exported.")
    manifest = Manifest(target.resource_id, target.variant, target.rev, attempt, tuple(pieces),
                        services.clock().isoformat())
    if manifest.single_object:  # the signed URL serves the object itself: it must carry its own headers
        services.store.set_download_headers(pieces[0].name, content_type=target.variant.content_type,
                                            filename=layout.download_filename(target.resource_id, target.variant))
    services.store.write_bytes(prefix + layout.MANIFEST, manifest_bytes(manifest), "application/json", if_absent=True)
    return manifest, leftovers


def collect_garbage(services: Services, target: Target) -> int:
    """Deletes what GC selects; a failed delete is logged and left for the next run or the bucket's lifecycle rule."""
    objects = services.store.list(layout.variant_prefix(target.resource_id, target.variant))
    lifetime = timedelta(hours=services.config.url_expiry_hours)
    deleted = 0
    for obj in gc.stale_objects(objects, services.clock(), lifetime):
        try:
            services.store.delete(obj.name)
            deleted += 1
        except Exception:  # GC is best effort; correctness never depends on it
            log.exception("could not delete %s", obj.name)
    return deleted
