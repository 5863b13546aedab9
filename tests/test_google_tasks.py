"""The Cloud Tasks task a dump request creates: named, POSTing JSON to the worker, with an OIDC token."""

import json

import pytest
from google.api_core import exceptions

from functions.adapters.google.tasks import CloudTasksQueue
from functions.adapters.system_clock import SYSTEM_CLOCK
from functions.core import layout
from functions.core.model import Format, Variant
from functions.settings import load_settings
from functions.wiring import build_backend

QUEUE = "projects/my-project/locations/europe-west1/queues/exports"
WORKER = "https://bqdump-export-worker-123.europe-west1.run.app/tasks/export"
EMAIL = "bqdump-tasks@my-project.iam.gserviceaccount.com"


def test_the_task_is_named_posts_json_and_carries_an_oidc_token():
    queue = CloudTasksQueue(lambda: None, QUEUE, WORKER, EMAIL, WORKER, 540)
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


@pytest.mark.parametrize("audience, expected", [("https://aud.example", "https://aud.example"), ("", WORKER)])
def test_the_audience_is_worker_audience_when_set_else_the_worker_url(audience, expected):
    env = {"DUMP_BACKEND": "google", "DUMP_TOKEN_SECRET": "s", "BIGQUERY_PROJECT": "my-project",
           "BIGQUERY_DATASET": "d", "BIGQUERY_EXPORT_BUCKET": "my-exports", "BIGQUERY_CREDENTIALS": "anonymous",
           "BIGQUERY_API_ENDPOINT": "http://127.0.0.1:9", "STORAGE_API_ENDPOINT": "http://127.0.0.1:9",
           "TASKS_QUEUE": QUEUE, "WORKER_URL": WORKER, "TASKS_SERVICE_ACCOUNT": EMAIL, "WORKER_AUDIENCE": audience}
    backend = build_backend(load_settings(env), SYSTEM_CLOCK)  # as the wiring builds it; no client is built yet
    try:
        assert backend.read_write.queue.task("t", {}).http_request.oidc_token.audience == expected
    finally:
        for close in backend.closers:
            close()


def test_without_a_service_account_a_task_carries_no_token():
    task = CloudTasksQueue(lambda: None, QUEUE, WORKER, "", WORKER, 540).task("t", {})
    assert not task.http_request.oidc_token.service_account_email


class Refusing:
    def create_task(self, parent, task, timeout):
        raise exceptions.AlreadyExists("task exists")


def test_already_exists_means_already_queued():
    assert CloudTasksQueue(Refusing, QUEUE, WORKER, EMAIL, WORKER, 540).enqueue("dump-x-1", {}) is False
