"""Pre-warming: queue exports for the (resource, format) pairs whose current revision is not published yet."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from werkzeug.wrappers import Request, Response

from functions.access_log import logs_requests
from functions.catalogue import ExportCatalogue
from functions.core import identifiers, request_json
from functions.core.errors import DumpError, InvalidRequest
from functions.core.next_step import Fail, Serve, failure_error
from functions.core.target import Target
from functions.http import handles_errors, headers_of, json_response, status_of
from functions.ports import Clock

DEFAULT_FORMATS = ("csv",)
PREWARM_BODY_HINT = 'Send {"resources": ["<resource_id>", ...], "formats": ["csv", ...]} (both optional).'


@dataclass(frozen=True)
class PrewarmDoor:
    catalogue: ExportCatalogue
    check_caller: Callable[[Mapping[str, str]], None]  # Cloud Scheduler's OIDC token, or the local secret header
    clock: Clock


@dataclass
class PrewarmSummary:
    queued: list[dict] = field(default_factory=list)
    fresh: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    published: list[dict] | None = None  # known once the queued exports ran (`settle`): the command line's
    pending: list[tuple[dict, Target]] = field(default_factory=list, repr=False)  # the queued pairs' targets

    def body(self) -> dict:
        lists = {"published": self.published} if self.published is not None else {}
        lists.update(queued=self.queued, fresh=self.fresh, failed=self.failed)
        return {**lists, "counts": {name: len(entries) for name, entries in lists.items()}}


def prewarm(catalogue: ExportCatalogue, resources: list[str] | None, formats: list[str] | None) -> PrewarmSummary:
    """Validates everything first (a bad name refuses the whole request), then handles each pair on its own."""
    resource_ids = [identifiers.resource_id(str(r)) for r in resources] if resources else \
        catalogue.list_tables()
    chosen = [identifiers.dump_variant(str(f)) for f in (formats or DEFAULT_FORMATS)]
    summary = PrewarmSummary()
    for resource_id in resource_ids:
        for fmt in chosen:
            pair = {"resource_id": resource_id, "format": fmt.key}
            try:
                target = catalogue.current(resource_id, fmt)
                step = catalogue.request(target)
                if isinstance(step, Serve):
                    summary.fresh.append({**pair, "revision": target.rev})
                    continue
                if isinstance(step, Fail):
                    raise failure_error(step.failure, fmt, step.retry_after)
                entry = {**pair, "revision": target.rev, "attempt": step.attempt}
                summary.queued.append(entry)
                summary.pending.append((entry, target))
            except DumpError as error:
                summary.failed.append({**pair, "status": status_of(error), "reason": error.message})
    return summary


def settle(catalogue: ExportCatalogue, summary: PrewarmSummary) -> None:
    """After the queued exports ran (the command line waits for the local queue): each queued pair moves to
    `published` or `failed`; what is neither stays queued."""
    summary.published, still = [], []
    for entry, target in summary.pending:
        look = catalogue.look(target)
        if look.state.published:
            summary.published.append(entry)
        elif look.failure is not None and not look.state.running:
            error = failure_error(look.failure, target.variant, 0)
            summary.failed.append({"resource_id": entry["resource_id"], "format": entry["format"],
                                   "status": status_of(error), "reason": error.message})
        else:
            still.append(entry)
    summary.queued = still
    summary.pending = [(entry, target) for entry, target in summary.pending if entry in still]


@logs_requests
@handles_errors
def handle_prewarm(request: Request, door: PrewarmDoor) -> Response:
    door.check_caller(headers_of(request))
    data = request.get_data(cache=False)
    body = request_json.json_object(data, PREWARM_BODY_HINT) if data else {}
    resources, formats = body.get("resources"), body.get("formats")
    for name, value in (("resources", resources), ("formats", formats)):
        if value is not None and not isinstance(value, list):
            raise InvalidRequest(f"`{name}` must be a list.", f'Send "{name}": [...] or leave it out.')
    return json_response(prewarm(door.catalogue, resources, formats).body())
