"""Each deployable target starts under `functions-framework` with DUMP_BACKEND=google and answers over HTTP."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from tests.contract.conftest import PROJECT
from tests.support.servers import free_port
from tests.support.functions_framework import FunctionProcess

AUDIENCE = "https://bqdump-export-worker-123.europe-west1.run.app"


def google_env(bigquery_emulator, gcs_emulator, home: Path, **overrides) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUMP_", "BIGQUERY_", "TASKS_", "WORKER_"))}
    env.update({"HOME": str(home), "DUMP_BACKEND": "google", "DUMP_TOKEN_SECRET": "ff-secret",
                "BIGQUERY_PROJECT": PROJECT, "BIGQUERY_DATASET": "ff_dataset", "BIGQUERY_EXPORT_BUCKET": "ff-bucket",
                "BIGQUERY_CREDENTIALS": "anonymous", "BIGQUERY_API_ENDPOINT": bigquery_emulator.endpoint,
                "STORAGE_API_ENDPOINT": gcs_emulator.endpoint, "WORKER_AUDIENCE": AUDIENCE,
                "TASKS_SERVICE_ACCOUNT": "bqdump-tasks@test-project.iam.gserviceaccount.com"})
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


@pytest.fixture
def start(tmp_path, bigquery_emulator, gcs_emulator):
    started = []

    def run(name: str, **overrides) -> FunctionProcess:
        target = FunctionProcess(name, google_env(bigquery_emulator, gcs_emulator, tmp_path, **overrides),
                                 tmp_path / f"{name}-{len(started)}.log", free_port())
        started.append(target)
        return target

    yield run
    for target in started:
        target.stop()


def test_the_three_targets_serve_on_the_google_backend(start, bigquery_emulator):
    bigquery_emulator.client(PROJECT).create_dataset("ff_dataset", exists_ok=True)
    dump, worker, stream = start("dump"), start("export_worker"), start("stream")
    for target in (dump, worker, stream):
        target.wait_ready()
    health = requests.get(dump.url + "/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["backend"] == "google"
    missing = requests.get(dump.url + "/datastore/dump/no_such_table", timeout=30)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"  # asked bqemulator
    refused = requests.post(worker.url + "/tasks/export", json={"resource_id": "x"}, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"  # no OIDC token
    forged = requests.post(worker.url + "/", json={}, headers={"Authorization": "Bearer a.b.c"}, timeout=10)
    assert forged.status_code == 401
    bad_token = requests.get(stream.url + "/stream/x", params={"format": "csv", "rev": "1", "token": "nope"}, timeout=10)
    assert bad_token.status_code == 403
    assert requests.get(stream.url + "/datastore/dump/x", timeout=10).status_code == 404  # not its route


@pytest.mark.parametrize("target_name, settings, named", [
    ("dump", {"BIGQUERY_DATASET": None}, "BIGQUERY_DATASET is required"),
    ("dump", {"AUTH_TYPE": "jwt"}, "JWT_SECRET"),  # was: started, then an HTML 500 on every request
    ("stream", {"AUTH_TYPE": "ckan"}, "CKAN_URL"),
], ids=["no-dataset", "jwt-without-key", "ckan-without-url"])
def test_a_missing_setting_stops_the_start_and_is_named(start, target_name, settings, named):
    target = start(target_name, **settings)
    assert target.process.wait(60) != 0
    assert named in target.log.read_text()


def test_the_deployed_dump_and_stream_targets_answer_cors(start, bigquery_emulator):
    origin = "https://portal.example.org"
    bigquery_emulator.client(PROJECT).create_dataset("ff_dataset", exists_ok=True)
    dump, stream = start("dump", CORS_ORIGINS=origin), start("stream", CORS_ORIGINS=origin)
    for target in (dump, stream):
        target.wait_ready()
    preflight = requests.options(dump.url + "/datastore/dump/t", headers={
        "Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "Authorization"},
        timeout=10)
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == origin
    missing = requests.get(dump.url + "/datastore/dump/no_such_table", headers={"Origin": origin}, timeout=30)
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == origin
    refused = requests.get(stream.url + "/stream/x", params={"format": "csv", "rev": "1", "token": "nope"},
                           headers={"Origin": origin}, timeout=10)
    assert refused.status_code == 403 and refused.headers["Access-Control-Allow-Origin"] == origin
