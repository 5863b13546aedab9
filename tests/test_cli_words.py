"""The command line's words, as a user reads them: what `serve` (make run) shows, what `prewarm` says it did,
and errors that name the flag that was wrong."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import requests

from tests.support.tables import SMALL_CSV
from tests.support.cli import ROOT, local_env, run_main
from tests.support.servers import free_port, wait_serving

@pytest.fixture
def cli(tmp_path):
    env = local_env(tmp_path)

    def run(*args: str) -> subprocess.CompletedProcess:
        return run_main(env, *args)

    source = tmp_path / "small.csv"
    source.write_text(SMALL_CSV)
    assert run("load", "small", str(source)).returncode == 0
    run.env = env
    return run


def wait_healthy(url: str, process: subprocess.Popen) -> None:
    def alive() -> None:
        assert process.poll() is None, f"serve exited with code {process.returncode}"

    wait_serving(url, check_alive=alive)
    assert requests.get(url + "/healthz", timeout=30).status_code == 200


def test_serve_prints_a_download_url_for_every_format_and_how_to_stop(cli):
    port = free_port()
    process = subprocess.Popen([sys.executable, "main.py", "serve"], cwd=ROOT, env=dict(cli.env, PORT=str(port)),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C, as the first line says
        printed, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    lines = printed.splitlines()
    base = f"http://127.0.0.1:{port}"
    assert lines[0].startswith(f"bqdump serving on {base}") and "Ctrl-C stops it" in lines[0]
    urls = {line.strip() for line in lines}
    for fmt in ("csv", "tsv", "json", "xml", "ndjson", "parquet"):
        assert f"{base}/datastore/dump/small?format={fmt}" in urls


def test_prewarm_on_the_local_backend_says_what_it_published(cli):
    first = cli("prewarm", "--format", "tsv", "--format", "JSON")
    assert first.returncode == 0, first.stderr
    body = json.loads(first.stdout)
    assert [(p["resource_id"], p["format"]) for p in body["published"]] == [("small", "tsv"), ("small", "json")]
    assert body["counts"] == {"published": 2, "queued": 0, "fresh": 0, "failed": 0}
    assert "prewarm: 2 published now, 0 published already, 0 failed." in first.stderr
    again = cli("prewarm", "--format", "tsv", "--resource", "small", "--resource", "missing")
    assert again.returncode == 1  # a pair failed
    body = json.loads(again.stdout)
    assert body["counts"] == {"published": 0, "queued": 0, "fresh": 1, "failed": 1}
    assert body["failed"][0]["resource_id"] == "missing" and body["failed"][0]["status"] == 404
    assert "0 published now, 1 published already, 1 failed" in again.stderr


def test_cli_errors_name_the_flag(cli):
    wrong = cli("prewarm", "--format", "xlsx")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "argument --format: invalid choice: 'xlsx'" in wrong.stderr and "format=" not in wrong.stderr
    bad_id = cli("prewarm", "--resource", "bad.id")
    assert bad_id.returncode == 2 and "argument --resource: Invalid resource id 'bad.id'" in bad_id.stderr


def test_help_texts_list_every_format(cli):
    for fmt in ("csv", "tsv", "json", "xml", "ndjson", "parquet"):
        assert fmt in cli("prewarm", "--help").stdout
    assert "CSV, TSV, NDJSON or Parquet" in " ".join(cli("--help").stdout.split())  # argparse wraps lines
