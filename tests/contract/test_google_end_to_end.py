"""End to end on the emulators: a dump request, a Cloud Tasks delivery over HTTP, the BigQuery export, the
publish on Cloud Storage, the redirect to a V4 signed URL, and the downloaded bytes.

Bridged, because the emulators fall short (labelled where it happens):
- bqemulator writes EXPORT DATA files to a local folder, not to a GCS emulator: `BridgedWarehouse` uploads
  them into fake-gcs-server through the storage API when the job is DONE.
- gcloud-tasks-emulator attaches no OIDC token, so WORKER_AUDIENCE stays empty here (tests/test_google_oidc.py).
- bqemulator's `modified` does not move on DML: a new revision is made with CREATE OR REPLACE.

Both identities are recording credentials, so the test also proves which identity each step used.
"""

from __future__ import annotations

import secrets

import pytest
import requests
from google.auth import crypt
from google.auth.credentials import AnonymousCredentials, Signing

from functions.adapters.google.clients import READ_ONLY, READ_WRITE
from functions.adapters.system_clock import SYSTEM_CLOCK
from functions.auth import build_authorizer
from functions.local_server import make_local_server
from functions.wiring import assemble, build_backend, build_worker
from tests.support.app import with_ports
from functions.settings import load_settings
from tests.contract import keys
from tests.contract.conftest import PROJECT
from tests.support.servers import ServerThread, free_port
from tests.support.export_bridge import BridgedWarehouse
from tests.support.held_tasks import HeldTasks

ROWS = 3000  # ~60 KiB of CSV: bqemulator splits exports at 64 KiB of result, so NDJSON comes in several files


class RecordingCredentials(AnonymousCredentials, Signing):
    """Anonymous for the emulators, but it notes every API call made with it, and signs with a throwaway key."""

    def __init__(self, label: str, key=None):
        super().__init__()
        self.label, self.calls, self.signed = label, [], 0
        self._signer = crypt.RSASigner.from_string(keys.private_pem(key), "k") if key else None

    def before_request(self, request, method, url, headers):
        self.calls.append((method, url))

    def sign_bytes(self, message):
        self.signed += 1
        return self._signer.sign(message)

    @property
    def signer_email(self):
        return keys.SIGNER_EMAIL

    @property
    def signer(self):
        return self._signer


@pytest.fixture
def deployment(request, bigquery_emulator, gcs_emulator, tasks_emulator, gcs_bucket):
    dataset = f"e2e_{secrets.token_hex(4)}"
    bq = bigquery_emulator.client(PROJECT)
    bq.create_dataset(dataset)
    bq.query(f"CREATE TABLE `{PROJECT}.{dataset}.numbers` AS SELECT x AS _id, CONCAT('row-', CAST(x AS STRING)) "
             f"AS label, x * 2 AS doubled FROM UNNEST(GENERATE_ARRAY(1, {ROWS})) AS x", job_retry=None).result()
    tasks = tasks_emulator.client()
    location = f"projects/{PROJECT}/locations/here"
    queue = f"{location}/queues/e2e-{secrets.token_hex(4)}"
    tasks.create_queue(parent=location, queue={"name": queue})
    port = free_port()
    env = {"DUMP_BACKEND": "google", "DUMP_TOKEN_SECRET": "e2e-secret", "DUMP_WAIT_SECONDS": "30",
           "DUMP_WORKER_WAIT_SECONDS": "10", "BIGQUERY_PROJECT": PROJECT, "BIGQUERY_DATASET": dataset,
           "BIGQUERY_EXPORT_BUCKET": gcs_bucket, "BIGQUERY_CREDENTIALS": "anonymous",
           "BIGQUERY_API_ENDPOINT": bigquery_emulator.endpoint, "STORAGE_API_ENDPOINT": gcs_emulator.endpoint,
           "TASKS_API_ENDPOINT": f"http://{tasks_emulator.endpoint}", "TASKS_QUEUE": queue,
           "WORKER_URL": f"http://127.0.0.1:{port}/tasks/export", "STREAM_URL": f"http://127.0.0.1:{port}"}
    env.update(getattr(request, "param", {}))
    key = keys.new_key()
    identities = {READ_ONLY: RecordingCredentials("ro"), READ_WRITE: RecordingCredentials("rw", key)}
    settings, clock = load_settings(env), SYSTEM_CLOCK
    config = settings.core
    backend = build_backend(settings, clock, credentials=identities)
    bridged = BridgedWarehouse(backend.read_write.warehouse, bigquery_emulator.export_root,
                               gcs_emulator.client(PROJECT).bucket(gcs_bucket))
    authorizer = build_authorizer(settings.auth, requests.Session())
    app = assemble(config, with_ports(backend, tables=bridged, warehouse=bridged), authorizer, clock)
    server = make_local_server(app.doors, "127.0.0.1", port)
    running = ServerThread(server, "google-e2e")
    yield {"url": f"http://127.0.0.1:{port}", "app": app, "identities": identities, "key": key,
           "bq": bq, "dataset": dataset}
    running.stop()
    app.close()
    tasks.transport.close()


def expected_csv(rows: int) -> bytes:
    return ("_id,label,doubled\r\n" + "".join(f"{i},row-{i},{i * 2}\n" for i in range(1, rows + 1))).encode()


@pytest.mark.parametrize("deployment", [{"DUMP_WAIT_SECONDS": "0"}], indirect=True)
def test_a_cold_download_follows_the_export_on_the_streaming_function_to_the_file(deployment):
    """No wait at the dump function: the redirect goes to the follow route, which holds the request through the
    Cloud Tasks delivery, the BigQuery job and the publish on Cloud Storage, then serves the published file."""
    base = deployment["url"]
    answer = requests.get(f"{base}/datastore/dump/numbers", params={"format": "csv"}, timeout=120)
    assert answer.status_code == 200, answer.text
    assert [r.status_code for r in answer.history] == [302] and "/follow/numbers?" in answer.history[0].headers[
        "Location"]
    assert answer.content == expected_csv(ROWS) and int(answer.headers["Content-Length"]) == len(answer.content)
    hit = requests.get(f"{base}/datastore/dump/numbers", params={"format": "csv"}, allow_redirects=False, timeout=60)
    assert hit.status_code == 302 and hit.headers["ETag"] == answer.headers["ETag"]
    assert requests.get(hit.headers["Location"], timeout=60).content == answer.content  # the published object
    several = requests.get(f"{base}/datastore/dump/numbers", params={"format": "ndjson"}, timeout=120)
    assert several.status_code == 200 and len(several.content.splitlines()) == ROWS


def test_a_dump_is_exported_published_signed_and_downloaded(deployment):
    base = deployment["url"]
    first = requests.get(f"{base}/datastore/dump/numbers", params={"format": "csv"}, allow_redirects=False,
                         timeout=60)
    assert first.status_code == 302, first.text
    location = first.headers["Location"]
    params = keys.verify_v4_url(location, deployment["key"].public_key())  # signed by the read-write identity
    assert params["response-content-disposition"] == 'attachment; filename="numbers.csv"'
    download = requests.get(location, timeout=60)
    assert download.status_code == 200
    assert download.content == expected_csv(ROWS)
    assert download.headers["Content-Disposition"] == 'attachment; filename="numbers.csv"'  # stored on the object
    assert download.headers["Content-Type"].startswith("text/csv")

    again = requests.get(f"{base}/datastore/dump/numbers", params={"format": "csv"}, allow_redirects=False, timeout=60)
    assert again.status_code == 302 and again.headers["ETag"] == first.headers["ETag"]
    assert len(deployment["app"].backend.read_write.warehouse.started) == 1  # the cached export, not a second one

    ro, rw = deployment["identities"][READ_ONLY], deployment["identities"][READ_WRITE]
    assert ro.calls and all(method == "GET" for method, _ in ro.calls), ro.calls  # only reads
    assert any("/tables/numbers" in url for _, url in ro.calls)  # the revision
    assert any("/o?" in url and "prefix=dumps" in url for _, url in ro.calls)  # the cache lookup
    assert ro.signed == 0 and rw.signed >= 1  # URL signing: read-write
    assert any(method == "POST" and url.split("?")[0].endswith("/jobs") for method, url in rw.calls)  # EXPORT DATA
    assert any(method == "POST" and "/compose" in url for method, url in rw.calls)  # assembling the download
    assert any(method == "POST" and "/upload/storage/v1/b/" in url for method, url in rw.calls)  # header, manifest
    assert any(method == "DELETE" for method, _ in rw.calls)  # composed shards removed
    assert not any("/jobs" in url for _, url in ro.calls)


def test_a_new_revision_is_exported_again(deployment):
    base, bq, dataset = deployment["url"], deployment["bq"], deployment["dataset"]
    first = requests.get(f"{base}/datastore/dump/numbers", params={"format": "ndjson"}, allow_redirects=False,
                         timeout=60)
    assert first.status_code == 302, first.text
    # bqemulator's `modified` does not move on DML: replace the table to make a new revision.
    bq.query(f"CREATE OR REPLACE TABLE `{PROJECT}.{dataset}.numbers` AS SELECT 1 AS _id, 'only' AS label, "
             f"2 AS doubled", job_retry=None).result()
    second = requests.get(f"{base}/datastore/dump/numbers", params={"format": "ndjson"}, allow_redirects=False,
                          timeout=60)
    assert second.status_code == 302, second.text
    ndjson = requests.get(first.headers["Location"], timeout=60).text.splitlines()
    assert len(ndjson) == ROWS and ndjson[0] == '{"_id":1,"label":"row-1","doubled":2}'  # bqemulator: ints as numbers
    assert second.headers["ETag"] != first.headers["ETag"]
    assert requests.get(second.headers["Location"], timeout=60).json() == {"_id": 1, "label": "only", "doubled": 2}


@pytest.mark.parametrize("deployment", [{"DUMP_COMPOSE": "false"}], indirect=True)
def test_without_compose_several_files_stream_as_one_through_the_read_only_identity(deployment):
    base = deployment["url"]
    first = requests.get(f"{base}/datastore/dump/numbers", params={"format": "ndjson"}, allow_redirects=False,
                         timeout=60)
    assert first.status_code == 302, first.text
    assert "/stream/numbers?" in first.headers["Location"]  # several files: the streaming function joins them
    ro = deployment["identities"][READ_ONLY]
    before = len(ro.calls)
    whole = requests.get(first.headers["Location"], timeout=60)
    assert whole.status_code == 200 and len(whole.text.splitlines()) == ROWS
    part = requests.get(first.headers["Location"], headers={"Range": "bytes=100-70099"}, timeout=60)
    assert part.status_code == 206 and part.content == whole.content[100:70100]
    streamed = ro.calls[before:]
    assert any("alt=media" in url for _, url in streamed)  # the bytes came through the read-only identity


def test_json_and_xml_of_a_multi_file_export_are_written_in_pieces_by_cloud_tasks_and_joined(deployment):
    """The table becomes several Parquet files (bqemulator splits at 64 KiB of result): the worker queues one Cloud
    Tasks task per file, each delivery (over HTTP) writes its piece, and the last one composes them in order."""
    base, bq, dataset, app = deployment["url"], deployment["bq"], deployment["dataset"], deployment["app"]
    rows = 20_000
    bq.query(f"CREATE OR REPLACE TABLE `{PROJECT}.{dataset}.numbers` AS SELECT x AS _id, CONCAT('row-', "
             f"CAST(x AS STRING)) AS label, x * 2 AS doubled FROM UNNEST(GENERATE_ARRAY(1, {rows})) AS x",
             job_retry=None).result()
    fanned = []
    fan_out = app.worker.fan_out
    app.worker.fan_out = lambda *args: fanned.append(len(args[3])) or fan_out(*args)  # observe the file count
    as_json = requests.get(f"{base}/datastore/dump/numbers", params={"format": "json"}, timeout=180)
    assert as_json.status_code == 200, as_json.text
    body = as_json.json()
    assert body["records"] == [[i, f"row-{i}", i * 2] for i in range(1, rows + 1)]
    assert as_json.text.startswith('{\n  "fields": [{"id":"_id","type":"int"},') and as_json.text.endswith("\n]}\n")
    as_xml = requests.get(f"{base}/datastore/dump/numbers", params={"format": "xml"}, timeout=180)
    assert as_xml.status_code == 200, as_xml.text
    lines = as_xml.text.split("\n")
    assert len(lines) == rows + 3 and lines[rows] == (f'<row _id="{rows}"><label>row-{rows}</label>'
                                                     f'<doubled>{rows * 2}</doubled></row>')
    assert len(fanned) == 2 and min(fanned) > 1, fanned  # both were written in pieces


class CutOnce:
    """The bucket as the worker sees it, but the first write of the named object's scratch copy fails: a delivery
    cut in the middle of its piece (the instance stopped, the connection dropped)."""

    def __init__(self, store, leaf: str):
        self.store, self.leaf, self.cut = store, leaf, 0

    def __getattr__(self, name):
        return getattr(self.store, name)

    def open_writer(self, name, content_type):
        if name.endswith(self.leaf) and not self.cut:
            self.cut += 1
            raise ConnectionError(f"cut while writing {name}")
        return self.store.open_writer(name, content_type)


def test_piece_deliveries_duplicated_cut_and_lost_never_publish_a_wrong_file(deployment):
    """Cloud Storage and BigQuery are the emulators; the deliveries are made by the test so that it controls them:
    the export delivery twice (the second queues nothing new), every piece twice in a shuffled order, one piece cut
    half-way through its first delivery (retried), one lost until the end. Nothing is published while a piece is
    missing; the late piece's delivery and its duplicate, at the same moment, both end as published, and there
    is one download, CKAN's json of every row in order."""
    import random
    import threading

    from functions.core import layout
    from functions.core.model import Format, Variant

    base, bq, dataset, app = deployment["url"], deployment["bq"], deployment["dataset"], deployment["app"]
    rows = 20_000  # bqemulator splits at 64 KiB of result: 9 files
    bq.query(f"CREATE OR REPLACE TABLE `{PROJECT}.{dataset}.numbers` AS SELECT x AS _id, CONCAT('row-', "
             f"CAST(x AS STRING)) AS label, x * 2 AS doubled FROM UNNEST(GENERATE_ARRAY(1, {rows})) AS x",
             job_retry=None).result()
    writes = app.backend.read_write
    held, store = HeldTasks(), CutOnce(writes.store, "piece-000002.rows")
    worker = build_worker(writes.warehouse, store, held, SYSTEM_CLOCK, app.worker.settings)
    revision = layout.revision_of(app.backend.read_only.tables.table_modified("numbers"))
    task = {"resource_id": "numbers", "format": "json", "revision": revision, "attempt": 1}
    assert worker.deliver(task).reason == "pieces queued"
    count = len(held.tasks)
    assert worker.deliver(task).reason == "pieces queued" and len(held.tasks) == count >= 5  # nothing new queued
    attempt = layout.attempt_prefix("numbers", Variant(Format.JSON), revision, 1)

    def listed(suffix):
        return [o.name for o in writes.store.list(attempt) if o.name.endswith(suffix)]

    deliveries = list(held.tasks.values()) * 2
    random.Random(19).shuffle(deliveries)
    late = count - 1
    outcomes = [worker.deliver(d).reason for d in deliveries if d["piece"] != late]
    assert outcomes.count("retry") == 1 and set(outcomes) == {"piece written", "retry"}  # the cut one, retried
    assert listed(layout.MANIFEST) == [] and listed("download.json") == []  # a piece is missing: nothing published
    finals: list[str] = []
    [last] = [payload for payload in held.tasks.values() if payload["piece"] == late]
    both = [threading.Thread(target=lambda: finals.append(worker.deliver(last).reason)) for _ in range(2)]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join(120)
    assert finals == ["published", "published"]
    assert worker.deliver(deliveries[0]).reason == "published"  # a duplicate after the join
    assert len(listed("download.json")) == 1 and len(listed(layout.MANIFEST)) == 1
    assert not [name for name in listed("") if "/piece-" in name or "/part-" in name or "/.scratch-" in name]
    body = requests.get(f"{base}/datastore/dump/numbers", params={"format": "json"}, timeout=60).json()
    assert body["records"] == [[i, f"row-{i}", i * 2] for i in range(1, rows + 1)]
