"""The export worker's HTTP door: Cloud Tasks (or the local server) POSTs a task; Done answers 200, Retry 503."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from werkzeug.wrappers import Request, Response

from functions.core import request_json
from functions.core.delivery import Done, Outcome, Retry
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
    payload = request_json.json_object(request.get_data(cache=False),
                                       'Send {"resource_id", "format", "revision", "attempt"}.')
    outcome = door.deliver(payload)
    body = outcome.body()
    if isinstance(outcome, Retry):
        body.update(not_done(outcome))
    return json_response(body, delivery_status(outcome))


def not_done(outcome: Retry) -> dict:
    """A 503 makes the queue deliver the task again; its body is an error body like any other."""
    message = outcome.details.get("reason") or f"The export is not finished ({outcome.reason})."
    return {"error": "unavailable", "message": message, "hint": "The task queue delivers this task again."}
