"""The export worker's HTTP door: Cloud Tasks (or the local server) POSTs a task; a done outcome answers 200, one
to deliver again 503."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from werkzeug.wrappers import Request, Response

from functions.access_log import logs_requests, note
from functions.core import request_json
from functions.core.delivery import Outcome
from functions.http import handles_errors, headers_of, json_response
from functions.ports import Clock


@dataclass(frozen=True)
class WorkerDoor:
    deliver: Callable[..., Outcome]  # ExportWorker.deliver
    check_caller: Callable[[Mapping[str, str]], None]  # OIDC from Cloud Tasks when deployed; raises Unauthorized
    max_deliveries: int  # the queue's max_attempts: the last delivery may not end in a retry
    clock: Clock


def last_delivery(headers: Mapping[str, str], max_deliveries: int) -> bool:
    """Cloud Tasks counts earlier deliveries in X-CloudTasks-TaskRetryCount (0 on the first)."""
    retries = headers.get("X-CloudTasks-TaskRetryCount", "")
    return retries.isascii() and retries.isdigit() and len(retries) < 10 and int(retries) + 1 >= max_deliveries


def delivery_status(outcome: Outcome) -> int:
    """Cloud Tasks retries any non-2xx answer."""
    return 200 if outcome.done else 503


@logs_requests
@handles_errors
def handle_task_request(request: Request, door: WorkerDoor) -> Response:
    door.check_caller(headers_of(request))
    payload = request_json.json_object(request.get_data(cache=False),
                                       'Send {"resource_id", "format", "revision", "attempt"}.')
    last = last_delivery(headers_of(request), door.max_deliveries)
    outcome = door.deliver(payload, last=last)
    note(request, task=outcome.reason, retry=not outcome.done, last_delivery=last, **outcome.details)
    body = outcome.body()
    if not outcome.done:
        body.update(not_done(outcome))
    return json_response(body, delivery_status(outcome))


def not_done(outcome: Outcome) -> dict:
    """A 503 makes the queue deliver the task again; its body is an error body like any other."""
    message = outcome.details.get("reason") or f"The export is not finished ({outcome.reason})."
    return {"error": "unavailable", "message": message, "hint": "The task queue delivers this task again."}
