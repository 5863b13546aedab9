"""Cloud Tasks as the task queue: named HTTP tasks to the worker, carrying an OIDC token."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Callable, Mapping

from google.api_core import exceptions as api_errors
from google.auth.exceptions import GoogleAuthError

from functions.core.errors import Unavailable

if TYPE_CHECKING:
    from google.cloud import tasks_v2

class CloudTasksQueue:
    """`service_account`: whose OIDC token each task carries, for `audience` ("": no token)."""

    def __init__(self, client: Callable[[], tasks_v2.CloudTasksClient], queue: str, worker_url: str,
                 service_account: str, audience: str, deadline_seconds: int):
        self._client = client
        self.queue = queue
        self.worker_url = worker_url
        self.service_account = service_account
        self.audience = audience
        self.deadline_seconds = deadline_seconds

    def task(self, name: str, payload: Mapping):
        from google.cloud import tasks_v2
        from google.protobuf import duration_pb2

        request = tasks_v2.HttpRequest(
            http_method=tasks_v2.HttpMethod.POST, url=self.worker_url,
            headers={"Content-Type": "application/json"}, body=json.dumps(dict(payload)).encode(),
        )
        if self.service_account:
            request.oidc_token = tasks_v2.OidcToken(service_account_email=self.service_account, audience=self.audience)
        return tasks_v2.Task(name=f"{self.queue}/tasks/{name}", http_request=request,
                             dispatch_deadline=duration_pb2.Duration(seconds=self.deadline_seconds))

    def enqueue(self, name: str, payload: Mapping) -> bool:
        """False when Cloud Tasks already holds (or recently held) a task of this name: it is queued."""
        try:
            self._client().create_task(parent=self.queue, task=self.task(name, payload), timeout=30)
        except api_errors.AlreadyExists:
            return False
        except (api_errors.GoogleAPIError, GoogleAuthError, OSError) as exc:
            raise Unavailable(f"Cloud Tasks could not queue the export: {type(exc).__name__}.",
                              "Try again in a minute; if it persists, tell the portal's administrators.") from exc
        return True


class NoTaskQueue:
    """For functions deployed without TASKS_QUEUE (the streaming function): they never queue exports."""

    queues_nothing = True  # the worker then writes a json/xml file in one delivery instead of queueing pieces

    def enqueue(self, name: str, payload: Mapping) -> bool:
        raise Unavailable("This function cannot queue exports (TASKS_QUEUE and WORKER_URL are not set).",
                          "Request the dump URL from the dump function instead.")
