"""The export worker's HTTP door: Cloud Tasks (or the local server) POSTs a task; Done answers 200, Retry 503."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from werkzeug.wrappers import Request, Response

from functions.core.delivery import Done, Outcome
from functions.core.errors import InvalidRequest
from functions.http import handles_errors, json_response


@dataclass(frozen=True)
class WorkerDoor:
    deliver: Callable[[Mapping], Outcome]  # ExportWorker.deliver
    check_caller: Callable[[Mapping[str, str]], None]  # OIDC from Cloud Tasks when deployed; raises Unauthorized


def delivery_status(outcome: Outcome) -> int:
    """Cloud Tasks retries any non-2xx answer."""
    return 200 if isinstance(outcome, Done) else 503


@handles_errors
def handle_task_request(request: Request, door: WorkerDoor) -> Response:
    door.check_caller(request.headers)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise InvalidRequest("The task body is not a JSON object.",
                             'Send {"resource_id", "format", "revision", "attempt"}.')
    outcome = door.deliver(payload)
    return json_response(outcome.body(), delivery_status(outcome))
