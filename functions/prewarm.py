"""Pre-warming: queue exports for the (resource, format) pairs whose current revision is not published yet."""

from __future__ import annotations

from dataclasses import dataclass, field

from werkzeug.wrappers import Request, Response

from functions import exports
from functions.core import identifiers, request_json
from functions.core.errors import DumpError, InvalidRequest
from functions.http import handles_errors, json_response
from functions.services import Services

DEFAULT_FORMATS = ("csv",)
PREWARM_BODY_HINT = 'Send {"resources": ["<resource_id>", ...], "formats": ["csv", ...]} (both optional).'


@dataclass
class PrewarmSummary:
    queued: list[dict] = field(default_factory=list)
    fresh: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)

    def body(self) -> dict:
        return {"queued": self.queued, "fresh": self.fresh, "failed": self.failed,
                "counts": {"queued": len(self.queued), "fresh": len(self.fresh), "failed": len(self.failed)}}


def prewarm(services: Services, resources: list[str] | None, formats: list[str] | None) -> PrewarmSummary:
    """Validates everything first (a bad name refuses the whole request), then handles each pair on its own."""
    resource_ids = [identifiers.resource_id(str(r)) for r in resources] if resources else \
        services.warehouse.list_tables()
    chosen = [identifiers.dump_variant(str(f)) for f in (formats or DEFAULT_FORMATS)]
    summary = PrewarmSummary()
    for resource_id in resource_ids:
        for fmt in chosen:
            pair = {"resource_id": resource_id, "format": fmt.key}
            try:
                target = exports.current_target(services, resource_id, fmt)
                state = exports.lookup(services, target)
                if state.published:
                    summary.fresh.append({**pair, "revision": target.rev})
                    continue
                attempt = exports.ensure_export(services, target, state)
                summary.queued.append({**pair, "revision": target.rev, "attempt": attempt})
            except DumpError as error:
                summary.failed.append({**pair, "status": error.status, "reason": error.message})
    return summary


@handles_errors
def handle_prewarm(request: Request, services: Services) -> Response:
    services.check_prewarm_caller(request.headers)
    data = request.get_data(cache=False)
    body = request_json.json_object(data, PREWARM_BODY_HINT) if data else {}
    resources, formats = body.get("resources"), body.get("formats")
    for name, value in (("resources", resources), ("formats", formats)):
        if value is not None and not isinstance(value, list):
            raise InvalidRequest(f"`{name}` must be a list.", f'Send "{name}": [...] or leave it out.')
    return json_response(prewarm(services, resources, formats).body())
