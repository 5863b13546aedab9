"""Deploy rehearsal: the three functions run as Terraform plans them, and one dump goes end to end.

From `terraform show -json` of the plan of terraform/examples/basic (real Terraform, tests/conftest.py), each
function's entry point and environment start a functions-framework process. One CSV dump then goes
request -> Cloud Tasks (emulator) -> worker -> EXPORT DATA (bqemulator) -> publish (fake-gcs-server) ->
302 to a V4 signed URL -> download, and the bytes are compared.

The planned environment is used as planned, except what cannot exist on this machine, each named in
OVERRIDES below. Everything else (project, dataset, bucket, queue path, identities, audiences, THREADS,
the dispatch deadline) comes from the plan unchanged: the emulators are set up under the planned names.
Bridged (emulator gap): bqemulator writes export files to disk; tests/support/rehearsal.ExportBridge
carries them into fake-gcs-server.
"""

from __future__ import annotations

import json
import os
import secrets

import pytest
import requests
from google.api_core import exceptions as api_errors

from functions.settings import all_settings
from tests.contract import keys
from tests.support.ckan_stub import CkanStub
from tests.support.servers import free_port
from tests.support.functions_framework import FunctionProcess
from tests.support.rehearsal import (ExportBridge, Relay, certs_endpoint, oidc_token,
                                     token_endpoint)

ROWS = 2000
KID = "rehearsal-key"

# The only settings the rehearsal changes, and why. Any other difference from the plan fails the test.
OVERRIDES = {
    "secret values": {"DUMP_TOKEN_SECRET"},  # Secret Manager mounts it on Cloud
    "runtime credentials": {"BIGQUERY_CREDENTIALS"},  # ADC on Cloud; here a throwaway key of the planned identity
    "emulator endpoints": {"BIGQUERY_API_ENDPOINT", "STORAGE_API_ENDPOINT", "TASKS_API_ENDPOINT"},
    "service URLs": {"WORKER_URL", "STREAM_URL", "CKAN_URL"},  # local ports instead of run.app and the portal
    "trust anchors": {"OIDC_CERTS_URL"},  # the test key's certificates instead of Google's
}


# Overrides of settings Terraform leaves unset: credentials (ADC), the emulator endpoints, the trust anchor.
OVERRIDES_ADDED = {"BIGQUERY_CREDENTIALS", "BIGQUERY_API_ENDPOINT", "STORAGE_API_ENDPOINT", "TASKS_API_ENDPOINT",
                   "OIDC_CERTS_URL"}


def expected_csv(rows: int) -> bytes:
    return ("_id,label,doubled\r\n" + "".join(f"{i},row-{i},{i * 2}\n" for i in range(1, rows + 1))).encode()


@pytest.fixture(scope="module")
def rehearsal(planned, tmp_path_factory, bigquery_emulator, gcs_emulator, tasks_emulator):
    tmp_path = tmp_path_factory.mktemp("rehearsal")
    assert planned.plan.retcode == 0, planned.plan.output
    functions = planned.functions()
    env = functions["dump"]["service_config"][0]["environment_variables"]
    project, dataset, bucket_name = env["BIGQUERY_PROJECT"], env["BIGQUERY_DATASET"], env["BIGQUERY_EXPORT_BUCKET"]

    # The emulators, under the planned names.
    resource_id = f"rehearsal_{secrets.token_hex(4)}"
    bq = bigquery_emulator.client(project)
    bq.create_dataset(dataset, exists_ok=True)
    bq.query(f"CREATE TABLE `{project}.{dataset}.{resource_id}` AS SELECT x AS _id, CONCAT('row-', CAST(x AS STRING)) "
             f"AS label, x * 2 AS doubled FROM UNNEST(GENERATE_ARRAY(1, {ROWS})) AS x", job_retry=None).result()
    bucket = gcs_emulator.client(project).bucket(bucket_name)
    try:
        bucket.create()
    except api_errors.Conflict:
        pass
    tasks = tasks_emulator.client()
    queue = env["TASKS_QUEUE"]
    try:
        tasks.create_queue(parent=queue.rsplit("/queues/", 1)[0], queue={"name": queue})
    except api_errors.AlreadyExists:
        pass

    signing_key, oidc_key = keys.new_key(), keys.new_key()
    ckan = CkanStub().start().behave(resource_id, "allowed", token=None)
    oauth, certs = token_endpoint(), certs_endpoint(KID, keys.certificate_pem(oidc_key))
    bridge = ExportBridge(bigquery_emulator.endpoint, bigquery_emulator.export_root, bucket)
    ports = {name: free_port() for name in functions}

    def cloud_tasks_token():  # what Cloud Tasks attaches for the task's oidc_token (planned audience and identity)
        token = oidc_token(keys.private_pem(oidc_key), KID, env["WORKER_AUDIENCE"], env["TASKS_SERVICE_ACCOUNT"])
        return {"Authorization": f"Bearer {token}"}

    relay = Relay(lambda: f"http://127.0.0.1:{ports['export_worker']}", cloud_tasks_token)
    key_file = keys.service_account_info(signing_key, email=env["SIGNING_SERVICE_ACCOUNT"])
    key_file["token_uri"] = f"{oauth.url}/token"
    overrides = {
        "DUMP_TOKEN_SECRET": secrets.token_urlsafe(32),
        "BIGQUERY_CREDENTIALS": json.dumps(key_file),
        "BIGQUERY_API_ENDPOINT": bridge.url,
        "STORAGE_API_ENDPOINT": gcs_emulator.endpoint,
        "TASKS_API_ENDPOINT": f"http://{tasks_emulator.endpoint}",
        "WORKER_URL": relay.url,
        "STREAM_URL": f"http://127.0.0.1:{ports['stream']}",
        "CKAN_URL": ckan.url,
        "OIDC_CERTS_URL": f"{certs.url}/oauth2/v1/certs",
    }
    assert set(overrides) == set().union(*OVERRIDES.values())
    processes = {}
    home = tmp_path / "home"
    home.mkdir()
    try:
        for entry_point, values in functions.items():
            config = values["service_config"][0]
            planned_env = config["environment_variables"]
            secret_names = {s["key"] for s in config.get("secret_environment_variables") or []}
            process_env = {**planned_env, **{k: v for k, v in overrides.items()
                                             if k in planned_env or k in secret_names or k in OVERRIDES_ADDED}}
            process_env.update(HOME=str(home), PATH=os.environ["PATH"])
            processes[entry_point] = FunctionProcess(entry_point, process_env, tmp_path / f"{entry_point}.log",
                                                     ports[entry_point])
        for process in processes.values():
            process.wait_ready()
        yield {"functions": functions, "processes": processes, "resource_id": resource_id, "relay": relay,
               "signing_key": signing_key, "bridge": bridge, "ckan": ckan, "oidc_key": oidc_key}
    finally:
        for process in processes.values():
            process.stop()
        for server in (relay, bridge, certs, oauth, ckan):
            server.close() if hasattr(server, "close") else server.stop()
        tasks.transport.close()



def test_terraform_sets_only_declared_settings_and_every_required_one(planned):
    declared = {setting.name for setting in all_settings()}
    for entry_point, values in planned.functions().items():
        config = values["service_config"][0]
        names = set(config["environment_variables"]) | {s["key"] for s in config["secret_environment_variables"]}
        assert names <= declared, f"{entry_point}: Terraform sets undeclared {sorted(names - declared)}"
        # Required: what the Google backend refuses to start without (the processes below start with the plan).
        assert {"DUMP_BACKEND", "BIGQUERY_PROJECT", "BIGQUERY_DATASET", "BIGQUERY_EXPORT_BUCKET",
                "DUMP_TOKEN_SECRET"} <= names, entry_point


def test_one_dump_runs_end_to_end_on_the_planned_functions(rehearsal):
    processes, rid = rehearsal["processes"], rehearsal["resource_id"]
    first = requests.get(f"{processes['dump'].url}/datastore/dump/{rid}", params={"format": "csv"},
                         allow_redirects=False, timeout=120)
    assert first.status_code == 302, (first.status_code, first.text, processes["export_worker"].log.read_text())
    location = first.headers["Location"]
    params = keys.verify_v4_url(location, rehearsal["signing_key"].public_key())
    env = rehearsal["functions"]["dump"]["service_config"][0]["environment_variables"]
    assert params["X-Goog-Credential"].startswith(f"{env['SIGNING_SERVICE_ACCOUNT']}/")  # as the planned identity
    download = requests.get(location, timeout=60)
    assert download.status_code == 200
    assert download.content == expected_csv(ROWS)

    delivered = [(method, status) for method, _path, status in rehearsal["relay"].forwarded]
    assert ("POST", 200) in delivered, delivered  # Cloud Tasks' delivery, with its OIDC token, reached the worker
    assert rehearsal["bridge"].uploaded  # the export really ran on bqemulator
    if env.get("AUTH_TYPE") == "ckan":  # the example's: the dump function asked the portal
        assert rehearsal["ckan"].calls >= 1


def test_the_planned_worker_refuses_calls_without_a_cloud_tasks_token(rehearsal):
    worker = rehearsal["processes"]["export_worker"]
    refused = requests.post(worker.url, json={"resource_id": rehearsal["resource_id"]}, timeout=30)
    assert refused.status_code == 401 and refused.json()["error"]
    wrong_key = oidc_token(keys.private_pem(keys.new_key()), KID,
                           rehearsal["functions"]["export_worker"]["service_config"][0]["environment_variables"]
                           ["WORKER_AUDIENCE"], "someone@else.iam.gserviceaccount.com")
    refused = requests.post(worker.url, json={}, headers={"Authorization": f"Bearer {wrong_key}"}, timeout=30)
    assert refused.status_code == 401


def test_the_planned_stream_function_refuses_a_request_without_its_token(rehearsal):
    stream = rehearsal["processes"]["stream"]
    refused = requests.get(f"{stream.url}/stream/{rehearsal['resource_id']}", params={"format": "csv", "rev": "ab12"},
                           timeout=30)
    assert refused.status_code == 403, refused.text
    assert "token" in refused.json()["message"].lower() and refused.json()["hint"]
