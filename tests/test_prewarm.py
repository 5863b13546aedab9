"""Pre-warming over HTTP (secret header on the local backend) and from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import requests

from tests.support.tables import SMALL_CSV, load_csv

ROOT = Path(__file__).resolve().parent.parent


def post(live, body, secret="warm-secret"):
    return requests.post(f"{live.url}/datastore/dump/prewarm", json=body, headers={"X-Prewarm-Secret": secret},
                         timeout=30)


def test_prewarm_queues_only_what_is_not_published(make_app, serve, tmp_path):
    app = make_app(PREWARM_SECRET="warm-secret")
    load_csv(app, "small", SMALL_CSV, tmp_path)
    load_csv(app, "other", SMALL_CSV, tmp_path)
    live = serve(app)
    assert requests.get(f"{live.url}/datastore/dump/small", allow_redirects=False, timeout=30).status_code == 302
    answer = post(live, {"formats": ["csv", "ndjson"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {(p["resource_id"], p["format"]) for p in body["fresh"]} == {("small", "csv")}
    assert {(p["resource_id"], p["format"]) for p in body["queued"]} == {
        ("small", "ndjson"), ("other", "csv"), ("other", "ndjson")}
    assert app.backend.read_write.queue.drain(30)
    again = post(live, {"resources": ["other", "missing"], "formats": ["ndjson"]}).json()
    assert again["counts"] == {"queued": 0, "fresh": 1, "failed": 1}
    assert again["failed"][0]["status"] == 404 and "missing" in again["failed"][0]["reason"]


def test_prewarm_refuses_callers_without_the_secret_and_bad_bodies(make_app, serve):
    live = serve(make_app(PREWARM_SECRET="warm-secret"))
    assert post(live, {}, secret="wrong").status_code == 403
    assert requests.post(f"{live.url}/datastore/dump/prewarm", json={}, timeout=30).status_code == 403
    assert post(live, {"resources": "small"}).status_code == 400
    assert post(live, {"formats": ["xlsx"]}).status_code == 400
    assert post(live, {"resources": ["../etc"]}).status_code == 400
    closed = serve(make_app())  # no PREWARM_SECRET: HTTP pre-warming is off
    answer = requests.post(f"{closed.url}/datastore/dump/prewarm", json={}, headers={"X-Prewarm-Secret": ""},
                           timeout=30)
    assert answer.status_code == 403 and "PREWARM_SECRET" in answer.json()["hint"]


def test_prewarm_command_exports_and_reports(tmp_path):
    env = dict(os.environ, DUMP_LOCAL_DIR=str(tmp_path / "state"), HOME=str(tmp_path))
    source = tmp_path / "t.csv"
    source.write_text(SMALL_CSV)
    run = lambda *args: subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, env=env, capture_output=True,
                                       text=True, timeout=120)
    assert run("load", "small", str(source)).returncode == 0
    first = run("prewarm", "--format", "tsv")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["counts"] == {"published": 1, "queued": 0, "fresh": 0, "failed": 0}  # it waited
    second = run("prewarm", "--format", "tsv")
    assert json.loads(second.stdout)["counts"] == {"published": 0, "queued": 0, "fresh": 1, "failed": 0}
