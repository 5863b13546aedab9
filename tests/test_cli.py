"""The command line as a user runs it: `serve` in one process, `load` from another while it serves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from tests.support.cli import ROOT, run_main
from tests.support.servers import free_port, wait_serving


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = dict(os.environ, DUMP_LOCAL_DIR=str(tmp_path / "state"), PORT=str(port), HOME=str(tmp_path))
    process = subprocess.Popen([sys.executable, "main.py", "serve"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_serving(url)
        yield url, env
    finally:
        process.terminate()
        process.wait(10)


def run_load(env, *args):
    return run_main(env, "load", *args)


def test_load_works_while_the_server_runs_and_moves_the_revision(server, tmp_path):
    url, env = server
    source = tmp_path / "people.csv"
    source.write_text("id,name\n1,ann\n2,bob\n")
    loaded = run_load(env, "people", str(source))
    assert loaded.returncode == 0, loaded.stderr
    assert "loading people" in loaded.stderr and "100%" in loaded.stderr  # the progress bar
    first = requests.get(f"{url}/datastore/dump/people", allow_redirects=False, timeout=30)
    assert first.status_code == 302
    assert requests.get(first.headers["Location"], timeout=30).content == b"id,name\r\n1,ann\n2,bob\n"

    rows = tmp_path / "people.ndjson"
    rows.write_text(json.dumps({"id": 3, "name": "cy"}) + "\n")
    assert run_load(env, "people", str(rows)).returncode == 0
    second = requests.get(f"{url}/datastore/dump/people", allow_redirects=False, timeout=30)
    assert second.headers["ETag"] != first.headers["ETag"]
    assert requests.get(second.headers["Location"], timeout=30).content == b"id,name\r\n3,cy\n"


def test_load_refuses_bad_input_clearly(server, tmp_path):
    _url, env = server
    unknown = tmp_path / "table.xlsx"
    unknown.write_text("x")
    result = run_load(env, "people", str(unknown))
    assert result.returncode != 0 and "Cannot tell the format" in result.stderr
    result = run_load(env, "bad.id", str(unknown))
    assert result.returncode != 0 and "Invalid resource id" in result.stderr


def test_a_bad_setting_stops_start_up_naming_it(tmp_path):
    env = dict(os.environ, BIGQUERY_EXPORT_URL_EXPIRY_HOURS="200", DUMP_LOCAL_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "main.py", "serve"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0 and "BIGQUERY_EXPORT_URL_EXPIRY_HOURS" in result.stderr


def test_worker_key_prints_the_key_the_running_server_accepts_and_not_the_secret(server):
    url, env = server  # no DUMP_TOKEN_SECRET: the server generated one into DUMP_LOCAL_DIR
    env = {key: value for key, value in env.items() if key != "DUMP_TOKEN_SECRET"}
    printed = subprocess.run([sys.executable, "main.py", "worker-key"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
    key = printed.stdout.strip()
    assert printed.returncode == 0 and len(key) == 64, printed.stderr
    assert key not in (Path(env["DUMP_LOCAL_DIR"]) / "token-secret.key").read_text()
    accepted = requests.post(url + "/tasks/export", json={}, headers={"X-Worker-Secret": key}, timeout=30)
    assert accepted.status_code == 200 and accepted.json()["status"] == "rejected"  # past the door: an empty task
    wrong = key[:-1] + ("1" if key[-1] == "0" else "0")
    refused = requests.post(url + "/tasks/export", json={}, headers={"X-Worker-Secret": wrong}, timeout=30)
    assert refused.status_code == 403
