"""The Cloud Tasks task a dump request creates: named, POSTing JSON to the worker, with an OIDC token."""

import json

from google.api_core import exceptions

from functions.adapters.google.tasks import CloudTasksQueue
from functions.core import layout
from functions.core.model import Format, Variant

QUEUE = "projects/my-project/locations/europe-west1/queues/exports"
WORKER = "https://bqdump-export-worker-123.europe-west1.run.app/tasks/export"
EMAIL = "bqdump-tasks@my-project.iam.gserviceaccount.com"


def test_the_task_is_named_posts_json_and_carries_an_oidc_token():
    queue = CloudTasksQueue(lambda: None, QUEUE, WORKER, EMAIL, deadline_seconds=540)
    name = layout.task_name("flights", Variant(Format.CSV), "5f1e", 1)
    payload = {"resource_id": "flights", "format": "csv", "revision": "5f1e", "attempt": 1}
    task = queue.task(name, payload)
    assert task.name == f"{QUEUE}/tasks/{name}"
    request = task.http_request
    assert request.url == WORKER and request.http_method.name == "POST"
    assert dict(request.headers) == {"Content-Type": "application/json"}
    assert json.loads(request.body) == payload
    assert (request.oidc_token.service_account_email, request.oidc_token.audience) == (EMAIL, WORKER)
    assert task.dispatch_deadline.total_seconds() == 540


def test_the_audience_is_worker_audience_when_set():
    task = CloudTasksQueue(lambda: None, QUEUE, WORKER, EMAIL, audience="https://aud.example").task("t", {})
    assert task.http_request.oidc_token.audience == "https://aud.example"
    assert not CloudTasksQueue(lambda: None, QUEUE, WORKER).task("t", {}).http_request.oidc_token.service_account_email


class Refusing:
    def create_task(self, parent, task, timeout):
        raise exceptions.AlreadyExists("task exists")


def test_already_exists_means_already_queued():
    assert CloudTasksQueue(Refusing, QUEUE, WORKER, EMAIL).enqueue("dump-x-1", {}) is False
