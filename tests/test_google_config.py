"""Google settings: every one checked at start-up, named when wrong, credentials never shown."""

import json

import pytest

from functions.adapters.google.config import GOOGLE_SETTINGS
from functions.core.errors import ConfigurationError
from functions.settings import all_settings, load_settings

SECRET_KEY = "-----BEGIN PRIVATE KEY-----\nnot-a-real-key-but-secret\n-----END PRIVATE KEY-----\n"
KEY = {"type": "service_account", "client_email": "rw@p.iam.gserviceaccount.com", "private_key": SECRET_KEY,
       "project_id": "p", "token_uri": "https://oauth2.googleapis.com/token"}


def env(**overrides):
    base = {"DUMP_BACKEND": "google", "DUMP_TOKEN_SECRET": "s", "BIGQUERY_PROJECT": "my-project",
            "BIGQUERY_DATASET": "ckan_ds", "BIGQUERY_EXPORT_BUCKET": "my-exports"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def load_google_config(environment):
    """The Google part of the settings, as load_settings checks and returns it."""
    return load_settings(environment).google


def test_a_minimal_configuration_uses_application_default_credentials():
    config = load_google_config(env())
    assert (config.project, config.dataset, config.bucket, config.order_column) == ("my-project", "ckan_ds",
                                                                                      "my-exports", "_id")
    assert config.read_write.kind == config.read_only.kind == "adc"
    assert config.tasks_queue == "" and config.worker_audience == ""


@pytest.mark.parametrize("name", ["BIGQUERY_PROJECT", "BIGQUERY_DATASET", "BIGQUERY_EXPORT_BUCKET"])
def test_a_missing_required_setting_is_named(name):
    with pytest.raises(ConfigurationError, match=name):
        load_google_config(env(**{name: None}))
    with pytest.raises(ConfigurationError, match=name):
        load_settings(env(**{name: " "}))


@pytest.mark.parametrize("name,value", [
    ("BIGQUERY_PROJECT", "My Project"), ("BIGQUERY_DATASET", "ckan-ds"), ("BIGQUERY_EXPORT_BUCKET", "gs://b"),
    ("TASKS_QUEUE", "queues/q"), ("WORKER_URL", "worker"), ("WORKER_AUDIENCE", "ftp://x"),
    ("TASKS_SERVICE_ACCOUNT", "nobody"), ("SIGNING_SERVICE_ACCOUNT", "x@"), ("DUMP_ORDER_COLUMN", "a`b"),
    ("BIGQUERY_API_ENDPOINT", "localhost:9050"), ("TASKS_API_ENDPOINT", "a b"),
    ("BIGQUERY_CREDENTIALS", "/no/such/key.json"), ("BIGQUERY_CREDENTIALS_RO", "{not json"),
])
def test_a_malformed_setting_is_named(name, value):
    extra = {"WORKER_URL": "https://w.example"} if name == "TASKS_QUEUE" else {}
    with pytest.raises(ConfigurationError, match=name):
        load_google_config(env(**{name: value}, **extra))


def test_queue_and_worker_url_go_together():
    with pytest.raises(ConfigurationError, match="TASKS_QUEUE and WORKER_URL"):
        load_google_config(env(TASKS_QUEUE="projects/p-1/locations/europe-west1/queues/exports"))
    config = load_google_config(env(TASKS_QUEUE="projects/p-1/locations/europe-west1/queues/exports",
                                    WORKER_URL="https://worker.example/"))
    assert config.worker_url == "https://worker.example/"


def test_credentials_as_json_or_path_and_the_read_only_fallback(tmp_path):
    blob = json.dumps(KEY)
    config = load_google_config(env(BIGQUERY_CREDENTIALS=blob))
    assert config.read_write.kind == "info" and config.read_write.info["client_email"] == KEY["client_email"]
    assert config.read_only == config.read_write  # empty RO: the read-write key, not ADC
    path = tmp_path / "ro.json"
    path.write_text(json.dumps({**KEY, "client_email": "ro@p.iam.gserviceaccount.com"}))
    config = load_google_config(env(BIGQUERY_CREDENTIALS=blob, BIGQUERY_CREDENTIALS_RO=str(path)))
    assert config.read_only.info["client_email"] == "ro@p.iam.gserviceaccount.com"
    assert config.read_write.info["client_email"] == KEY["client_email"]


def test_credentials_never_appear_in_errors_or_reprs():
    broken = json.dumps({**KEY, "client_email": ""})
    with pytest.raises(ConfigurationError) as caught:
        load_google_config(env(BIGQUERY_CREDENTIALS=broken))
    assert "not-a-real-key" not in str(caught.value) and "BIGQUERY_CREDENTIALS" in str(caught.value)
    config = load_google_config(env(BIGQUERY_CREDENTIALS=json.dumps(KEY)))
    assert "not-a-real-key" not in repr(config) and "not-a-real-key" not in repr(config.read_write)
    full = load_settings(env(BIGQUERY_CREDENTIALS=json.dumps(KEY)))
    assert "not-a-real-key" not in repr(full)


def test_anonymous_credentials_only_with_emulator_endpoints():
    with pytest.raises(ConfigurationError, match="emulators"):
        load_google_config(env(BIGQUERY_CREDENTIALS="anonymous"))
    config = load_google_config(env(BIGQUERY_CREDENTIALS="anonymous", BIGQUERY_API_ENDPOINT="http://127.0.0.1:9050",
                                    STORAGE_API_ENDPOINT="http://127.0.0.1:4443"))
    assert config.read_only.kind == config.read_write.kind == "anonymous"


def test_order_column_none_means_natural_order():
    assert load_google_config(env(DUMP_ORDER_COLUMN="none")).order_column == ""
    assert load_google_config(env(DUMP_ORDER_COLUMN="row_id")).order_column == "row_id"


def test_every_google_setting_is_declared_once_in_the_documented_list():
    names = [s.name for s in all_settings()]
    assert len(names) == len(set(names))
    assert {s.name for s in GOOGLE_SETTINGS} <= set(names)
    for name in ("TASKS_QUEUE", "WORKER_URL", "TASKS_SERVICE_ACCOUNT", "WORKER_AUDIENCE", "SIGNING_SERVICE_ACCOUNT",
                 "PREWARM_AUDIENCE", "PREWARM_SERVICE_ACCOUNT", "BIGQUERY_CREDENTIALS_RO"):
        assert name in names


def test_streaming_without_compose_needs_an_address_for_its_redirects():
    """Redirects never come from the Host header, so DUMP_COMPOSE=false on Google needs where /stream lives."""
    with pytest.raises(ConfigurationError, match="STREAM_URL"):
        load_settings(env(DUMP_COMPOSE="false"))
    assert not load_settings(env(DUMP_COMPOSE="false", STREAM_URL="https://stream.example")).core.compose
    assert load_settings(env(DUMP_COMPOSE="false", DUMP_PUBLIC_URL="https://dumps.example")).core.public_url
    assert load_settings(env()).core.compose  # composing (the default) serves signed URLs: no address needed
    local = load_settings({"DUMP_BACKEND": "local", "DUMP_COMPOSE": "false"})
    assert local.google is None  # the local server knows its own address


def test_the_dispatch_deadline_outlasts_one_worker_wait_and_its_assembly():
    def deadline(wait=480, **settings):
        return load_google_config(env(DUMP_WORKER_WAIT_SECONDS=str(wait), **settings)).dispatch_deadline_seconds

    assert deadline() == 540  # DUMP_WORKER_WAIT_SECONDS' default 480 + 60
    assert deadline(0) == 60
    assert deadline(10_000) == 1800  # Cloud Tasks' longest
    assert deadline(TASKS_DISPATCH_DEADLINE_SECONDS="1800") == 1800
    with pytest.raises(ConfigurationError, match="TASKS_DISPATCH_DEADLINE_SECONDS=500 is shorter"):
        deadline(TASKS_DISPATCH_DEADLINE_SECONDS="500")
    with pytest.raises(ConfigurationError, match="TASKS_DISPATCH_DEADLINE_SECONDS"):
        deadline(TASKS_DISPATCH_DEADLINE_SECONDS="1801")
    with pytest.raises(ConfigurationError, match="is shorter"):  # at start-up, with the core setting
        load_settings(env(DUMP_WORKER_WAIT_SECONDS="900", TASKS_DISPATCH_DEADLINE_SECONDS="600"))
