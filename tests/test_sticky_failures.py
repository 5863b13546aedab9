"""No failure sticks: whatever fails after the export job ends as a failure record, and a task whose
deliveries run out records its attempt as failed, so the next request starts a new attempt (issue 14).

The Google side of the same rule (compose, header and manifest writes failing on fake-gcs-server) is in
tests/contract/test_google_faults.py.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import replace

import requests

from functions.core import layout
from functions.core.model import Format, JobState, JobStatus, Variant
from functions.core.next_step import Queue
from functions.ports import allow_every_caller
from functions.worker_door import WorkerDoor, last_delivery
from functions.wiring import build_worker
from jobs.export_worker import ExportWorker
from tests.support.tables import SMALL_CSV, load_csv, load_numbers
from tests.support.servers import free_port, wait_serving
from tests.test_cli import ROOT
from tests.test_worker import snapshot, task


class HeldWarehouse:
    """The real local warehouse, except that its export jobs never finish (a stand-in for a job that outlives
    every delivery: no emulator runs a job for hours)."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def start_export(self, job) -> None:
        pass

    def wait_export(self, job_id, timeout) -> JobStatus:
        return JobStatus(JobState.RUNNING)


def failure_record(app, rid="small", attempt=1) -> dict:
    name = next(n for n in snapshot(app) if n.endswith(f"/{attempt}/{layout.FAILURE}") and f"/{rid}/" in n)
    return json.loads(app.backend.read_write.store.read_bytes(name))


def test_a_task_that_keeps_answering_retry_records_a_failure_on_its_last_delivery(make_app, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    held = held_worker(app)
    assert not held.deliver(task(app)).done
    assert not any(n.endswith(layout.FAILURE) for n in snapshot(app))  # not the last: the queue comes again
    last = held.deliver(task(app), last=True)
    assert (last.done, last.body()["status"]) == (True, "failed")
    assert failure_record(app)["kind"] == "transient"
    target = app.catalogue.current("small", Variant(Format.CSV))
    assert app.catalogue.decide(target) == Queue(2)  # the next request starts attempt 2 at once
    assert app.worker.deliver(task(app, attempt=2)).body()["status"] == "published"


def test_the_worker_door_reads_the_delivery_count_cloud_tasks_sends(make_app, serve, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    held = held_worker(app)
    live = serve(replace(app.doors, worker=WorkerDoor(held.deliver, allow_every_caller, 3, app.clock)))
    for retries, status in (("0", 503), ("1", 503), ("2", 200)):
        answer = requests.post(live.url + "/tasks/export", json=task(app), timeout=30,
                               headers={"X-CloudTasks-TaskRetryCount": retries})
        assert answer.status_code == status, (retries, answer.text)
    assert answer.json()["status"] == "failed" and failure_record(app)["kind"] == "transient"


def test_a_delivery_count_of_any_text_is_read_safely():
    assert last_delivery({"X-CloudTasks-TaskRetryCount": "19"}, 20)
    assert not last_delivery({"X-CloudTasks-TaskRetryCount": "18"}, 20)
    for text in ("", "-1", "1e3", "\u0663", "9" * 5000, "x"):
        assert not last_delivery({"X-CloudTasks-TaskRetryCount": text}, 20), text


def test_the_in_process_queue_gives_the_worker_its_last_delivery(make_app, tmp_path):
    app = make_app(DUMP_TASK_MAX_ATTEMPTS=2)
    load_csv(app, "small", SMALL_CSV, tmp_path)
    held = held_worker(app)
    app.backend.read_write.queue.deliver, app.backend.read_write.queue.backoff_seconds = held.deliver, 0.01
    target = app.catalogue.current("small", Variant(Format.CSV))
    app.catalogue.queue_attempt(target, 1)
    assert app.backend.read_write.queue.drain(20)
    assert failure_record(app)["kind"] == "transient"


class FullDiskStore:
    """The real local bucket, except that composing fails as a full disk does (ENOSPC). A stand-in, said so:
    the shared test machine's disk cannot be filled; tests below also fill a real one (RLIMIT_FSIZE)."""

    def __init__(self, inner):
        self.inner, self.full = inner, True

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def compose(self, *args, **kwargs):
        if self.full:
            raise OSError(28, "No space left on device", str(self.inner.root))
        return self.inner.compose(*args, **kwargs)


def test_a_compose_that_fails_records_a_failure_naming_no_path(make_app, tmp_path):
    app = make_app(DUMP_SHARD_BYTES=3_000)
    load_numbers(app, "numbers", 3000, tmp_path)
    store = FullDiskStore(app.backend.read_write.store)
    full = build_worker(app.backend.read_write.warehouse, store, None, app.clock, app.worker.settings)
    result = full.deliver(task(app, "numbers"))
    assert (result.done, result.body()["status"]) == (True, "failed")
    record = failure_record(app, "numbers")
    assert record["kind"] == "failed" and "No space left on device" in record["reason"]
    assert str(tmp_path) not in record["reason"]
    assert not any(n.endswith(layout.MANIFEST) for n in snapshot(app))  # nothing half-published


def held_worker(app) -> ExportWorker:
    """The app's export worker over a warehouse whose exports never finish."""
    ports = app.backend.read_write
    return build_worker(HeldWarehouse(ports.warehouse), ports.store, None, app.clock, app.worker.settings)


def test_a_full_disk_during_assembly_fails_the_attempt_and_the_next_request_recovers(tmp_path):
    """`serve` in its own process with a file-size limit (RLIMIT_FSIZE: a write past it fails with EFBIG, as
    on a full disk): the export's small shards fit, the composed download does not. Raising the limit from
    outside (prlimit) is freeing the space; the next request (a cooldown of 0: at once, no clock to move in
    another process) must then succeed."""
    state = tmp_path / "state"
    env = dict(os.environ, DUMP_LOCAL_DIR=str(state), PORT=str(port := free_port()), HOME=str(tmp_path),
               DUMP_SHARD_BYTES="20000", DUMP_FAILURE_COOLDOWN_SECONDS="0", DUMP_WAIT_SECONDS="20")
    source = tmp_path / "numbers.csv"
    source.write_text("id,label\n" + "".join(f"{i},row-{i:08d}-{'x' * 40}\n" for i in range(6000)))
    subprocess.run([sys.executable, "main.py", "load", "numbers", str(source)], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    limit = 150_000  # the download is ~390 kB; each shard 20 kB and every other file the server writes is smaller
    process = subprocess.Popen([sys.executable, "main.py", "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE,
                                                                     (limit, resource.RLIM_INFINITY)))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_serving(url)
        first = requests.get(f"{url}/datastore/dump/numbers", allow_redirects=False, timeout=60)
        assert first.status_code == 502, first.text
        body = first.json()
        assert "assembling the export failed" in body["message"] and str(tmp_path) not in first.text
        assert not list(state.rglob(layout.MANIFEST))
        resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        second = requests.get(f"{url}/datastore/dump/numbers", allow_redirects=False, timeout=60)
        assert second.status_code == 302, second.text
        download = requests.get(second.headers["Location"], timeout=60)
        assert download.status_code == 200 and download.content == source.read_bytes().replace(b"\n", b"\r\n", 1)
        assert "/2/" in next(str(p) for p in state.rglob(layout.MANIFEST))  # a new attempt, not the stuck one
    finally:
        process.terminate()
        process.wait(10)

