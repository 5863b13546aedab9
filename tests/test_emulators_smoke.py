"""The emulator harness works with the real client libraries, and what the emulators really do.

Where an emulator differs from Google Cloud, the test pins the emulator's
behaviour and says so: a change in it should fail here first, not deep inside
a contract test. See the docstring of tests/support/emulators.py.
"""

from __future__ import annotations

import csv
import gzip
import http.server
import io
import json
import queue
import time
import uuid
from datetime import datetime, timedelta, timezone

import pyarrow.parquet as pq
import pytest
import requests
from google.api_core import exceptions as gexc
from google.cloud import bigquery, tasks_v2

from tests.support.servers import ServerThread

PROJECT = "test-project"


def _name(prefix: str) -> str:
    """Unique resource name: the emulators are shared by the whole session."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --------------------------------------------------------------------------
# Cloud Storage
# --------------------------------------------------------------------------


@pytest.fixture
def bucket(gcs_emulator):
    client = gcs_emulator.client(PROJECT)
    return client.create_bucket(_name("bkt"))


def test_gcs_upload_list_range_compose_and_precondition(gcs_emulator, bucket):
    client = gcs_emulator.client(PROJECT)
    for i in range(3):
        bucket.blob(f"parts/part-{i}.csv").upload_from_string(f"row{i}\n".encode(), content_type="text/csv")
    bucket.blob("other/x").upload_from_string(b"x")

    names = [b.name for b in client.list_blobs(bucket, prefix="parts/")]
    assert names == ["parts/part-0.csv", "parts/part-1.csv", "parts/part-2.csv"]
    top = client.list_blobs(bucket, delimiter="/")
    list(top)
    assert sorted(top.prefixes) == ["other/", "parts/"]

    whole = bucket.blob("whole.csv")
    whole.content_type = "text/csv"
    whole.compose([bucket.blob(n) for n in names])
    assert whole.download_as_bytes() == b"row0\nrow1\nrow2\n"
    assert bucket.blob("whole.csv").download_as_bytes(start=5, end=9) == b"row1\n"  # end is inclusive

    with pytest.raises(gexc.PreconditionFailed):  # 412
        bucket.blob("whole.csv").upload_from_string(b"again", if_generation_match=0)
    assert bucket.get_blob("whole.csv").download_as_bytes() == b"row0\nrow1\nrow2\n"


def test_gcs_resumable_upload_and_streaming_read(bucket):
    data = bytes(range(256)) * 4096  # 1 MiB, 4 chunks of 256 KiB
    with bucket.blob("big.bin").open("wb", chunk_size=256 * 1024) as f:
        f.write(data)
    with bucket.blob("big.bin").open("rb", chunk_size=100_000) as f:
        assert f.read() == data


def test_gcs_v4_signed_url_downloads_through_emulator(gcs_emulator, bucket):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    credentials = service_account.Credentials.from_service_account_info({
        "type": "service_account", "project_id": PROJECT, "private_key_id": "throwaway",
        "private_key": pem, "client_email": f"signer@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token",
    })
    blob = bucket.blob("dump/data.csv")
    blob.upload_from_string(b"a,b\n1,2\n", content_type="text/csv")

    url = blob.generate_signed_url(
        version="v4", expiration=timedelta(minutes=15), method="GET", credentials=credentials,
        response_disposition='attachment; filename="data.csv"',
    )
    assert url.startswith(f"{gcs_emulator.endpoint}/{bucket.name}/dump/data.csv?X-Goog-Algorithm=GOOG4-RSA-SHA256")
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == b"a,b\n1,2\n"
    # Gaps: response-content-disposition is ignored, and no signature is checked.
    assert "data.csv" not in response.headers.get("Content-Disposition", "")
    tampered = url.replace("X-Goog-Signature=", "X-Goog-Signature=00")
    assert requests.get(tampered, timeout=10).status_code == 200


# --------------------------------------------------------------------------
# BigQuery
# --------------------------------------------------------------------------


@pytest.fixture
def table(bigquery_emulator):
    """A table of 2,000 rows (id 0..1999), big enough for a multi-file export."""
    client = bigquery_emulator.client(PROJECT)
    dataset = client.create_dataset(_name("ds").replace("-", "_"))
    schema = [
        bigquery.SchemaField("id", "INT64"),
        bigquery.SchemaField("name", "STRING"),
        bigquery.SchemaField("ts", "TIMESTAMP"),
        bigquery.SchemaField("rec", "RECORD", fields=[bigquery.SchemaField("a", "INT64")]),
    ]
    tbl = client.create_table(bigquery.Table(f"{PROJECT}.{dataset.dataset_id}.t", schema=schema))
    rows = [
        {"id": i, "name": f"name-{i:04d}-" + "x" * 40, "ts": "2024-01-02T03:04:05.123456Z",
         "rec": {"a": i}}
        for i in range(2000)
    ]
    assert client.insert_rows_json(tbl, rows) == []
    return tbl


def _export(client, table, uri: str, options: str = "", job_id: str | None = None) -> bigquery.QueryJob:
    sql = (
        f"EXPORT DATA OPTIONS(uri='{uri}'{options}) AS "
        f"SELECT id, name, ts, TO_JSON_STRING(rec) AS rec FROM `{table.full_table_id.replace(':', '.')}` ORDER BY id"
    )
    job = client.query(sql, job_id=job_id, job_retry=None) if job_id else client.query(sql)
    job.result()
    return job


def test_bigquery_export_csv_shards_with_header_in_every_file(bigquery_emulator, table):
    client = bigquery_emulator.client(PROJECT)
    prefix = _name("csv")
    job = _export(client, table, f"gs://exports/{prefix}/part-*.csv", ", format='CSV', header=true")
    assert job.state == "DONE" and job.statement_type == "EXPORT_DATA"
    stats = job._properties["statistics"]["query"]["exportDataStatistics"]

    files = sorted((bigquery_emulator.export_root / "exports" / prefix).iterdir())
    assert [f.name for f in files][:2] == ["part-000000000000.csv", "part-000000000001.csv"]
    assert len(files) > 1 and int(stats["fileCount"]) == len(files) and stats["rowCount"] == "2000"
    ids = []
    for f in files:  # name order = row order; every file starts with the header
        rows = list(csv.reader(io.StringIO(f.read_text())))
        assert rows[0] == ["id", "name", "ts", "rec"]
        ids += [int(r[0]) for r in rows[1:]]
    assert ids == list(range(2000))
    first = next(csv.reader(io.StringIO(files[0].read_text().splitlines()[1])))
    # Emulator value formats (real BigQuery writes "2024-01-02 03:04:05.123456 UTC").
    assert first[2] == "2024-01-02 03:04:05.123456+00"
    assert json.loads(first[3]) == {"a": 0}


def test_bigquery_export_header_defaults_to_true(bigquery_emulator, table):
    # Real BigQuery's default is header=false: always pass `header` explicitly.
    client = bigquery_emulator.client(PROJECT)
    prefix = _name("csvdefault")
    _export(client, table, f"gs://exports/{prefix}/part-*.csv", ", format='CSV'")
    first = sorted((bigquery_emulator.export_root / "exports" / prefix).iterdir())[0]
    assert first.read_text().startswith("id,name,ts,rec\n")


def test_bigquery_export_json_parquet_gzip(bigquery_emulator, table):
    client = bigquery_emulator.client(PROJECT)
    root = bigquery_emulator.export_root / "exports"
    p = _name("fmt")
    _export(client, table, f"gs://exports/{p}/json/part-*.json", ", format='JSON'")
    _export(client, table, f"gs://exports/{p}/jsongz/part-*.json.gz", ", format='JSON', compression='GZIP'")
    _export(client, table, f"gs://exports/{p}/csvgz/part-*.csv.gz",
            ", format='CSV', compression='GZIP', header=true")
    _export(client, table, f"gs://exports/{p}/parquet/part-*.parquet",
            ", format='PARQUET', compression='ZSTD'")

    first_json = sorted((root / p / "json").iterdir())[0].read_text().splitlines()[0]
    # INT64 comes out as a JSON number (real BigQuery: a string, "0").
    assert json.loads(first_json) == {"id": 0, "name": "name-0000-" + "x" * 40,
                                      "ts": "2024-01-02 03:04:05.123456+00", "rec": '{"a":0}'}
    gz_files = sorted((root / p / "jsongz").iterdir())
    assert gzip.decompress(gz_files[0].read_bytes()).decode().splitlines()[0] == first_json
    csv_gz = [gzip.decompress(f.read_bytes()).decode() for f in sorted((root / p / "csvgz").iterdir())]
    assert len(csv_gz) > 1 and all(text.startswith("id,name,ts,rec\n") for text in csv_gz)
    parquet = sorted((root / p / "parquet").iterdir())
    assert sum(pq.read_table(f).num_rows for f in parquet) == 2000
    assert pq.ParquetFile(parquet[0]).metadata.row_group(0).column(0).compression == "ZSTD"


def test_bigquery_export_refuses_existing_files_unless_overwrite(bigquery_emulator, table):
    client = bigquery_emulator.client(PROJECT)
    uri = f"gs://exports/{_name('again')}/part-*.csv"
    _export(client, table, uri, ", format='CSV', header=true")
    with pytest.raises(gexc.BadRequest, match="overwrite is false"):
        _export(client, table, uri, ", format='CSV', header=true")
    _export(client, table, uri, ", format='CSV', header=true, overwrite=true")


def test_bigquery_functions_and_time_travel(bigquery_emulator, table):
    client = bigquery_emulator.client(PROJECT)
    ref = table.full_table_id.replace(":", ".")
    row = next(iter(client.query(
        f"SELECT TO_JSON_STRING(rec) AS j, FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6SZ', ts) AS f "
        f"FROM `{ref}` WHERE id = 7").result()))
    assert (row.j, row.f) == ('{"a":7}', "2024-01-02T03:04:05.123456Z")

    before = next(iter(client.query("SELECT CURRENT_TIMESTAMP() AS now").result())).now
    time.sleep(0.05)
    assert client.insert_rows_json(table, [{"id": 5000}]) == []
    count = f"SELECT COUNT(*) AS n FROM `{ref}`"
    assert next(iter(client.query(count).result())).n == 2001
    as_of = next(iter(client.query(
        f"{count} FOR SYSTEM_TIME AS OF TIMESTAMP '{before.isoformat()}'").result())).n
    assert as_of == 2000


def test_bigquery_table_modified_moves_only_on_metadata_changes(bigquery_emulator, table):
    client = bigquery_emulator.client(PROJECT)
    first = client.get_table(table).modified
    assert first is not None
    time.sleep(0.01)
    assert client.insert_rows_json(table, [{"id": 9000}]) == []
    client.query(f"UPDATE `{table.full_table_id.replace(':', '.')}` SET name = 'z' WHERE id = 1").result()
    # Real BigQuery moves lastModifiedTime on data changes too (streaming may lag).
    assert client.get_table(table).modified == first
    t = client.get_table(table)
    t.description = "touched"
    client.update_table(t, ["description"])
    assert client.get_table(table).modified > first


def test_bigquery_same_job_id_reruns_instead_of_conflict(bigquery_emulator, table):
    """Real BigQuery answers 409 Conflict to a second jobs.insert with the same id
    (the client then fetches the existing job). bqemulator answers 200, runs the
    new job and replaces the old one: a duplicate export really runs twice."""
    client = bigquery_emulator.client(PROJECT)
    job_id = _name("export-job")
    a, b = _name("a"), _name("b")
    _export(client, table, f"gs://exports/{a}/part-*.csv", ", format='CSV', header=true", job_id=job_id)
    _export(client, table, f"gs://exports/{b}/part-*.csv", ", format='CSV', header=true", job_id=job_id)
    root = bigquery_emulator.export_root / "exports"
    assert (root / a).is_dir() and (root / b).is_dir()
    assert f"/{b}/" in client.get_job(job_id).query


def test_bigquery_emulator_crash_fails_fast(bigquery_emulator):
    # AVRO needs a DuckDB extension we cannot download. The launcher turns the
    # resulting internal error into a non-retried 500 instead of a 10-minute retry.
    client = bigquery_emulator.client(PROJECT)
    started = time.monotonic()
    sql = f"EXPORT DATA OPTIONS(uri='gs://exports/{_name('avro')}/p-*.avro', format='AVRO') AS SELECT 1 AS a"
    with pytest.raises(gexc.InternalServerError, match="bqemulator crashed"):
        client.query(sql).result()
    assert time.monotonic() - started < 10


# --------------------------------------------------------------------------
# Cloud Tasks
# --------------------------------------------------------------------------


@pytest.fixture
def http_target():
    """A local HTTP server recording every request; POST /fail answers 500."""
    received: queue.Queue = queue.Queue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.put((self.path, self.headers, body))  # case-insensitive lookups
            self.send_response(500 if self.path.startswith("/fail") else 204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    running = ServerThread(server, "http-target")
    try:
        yield running.url, received
    finally:
        running.stop()


@pytest.fixture
def tasks_queue(tasks_emulator):
    client = tasks_emulator.client()
    parent = f"projects/{PROJECT}/locations/us-central1"
    q = client.create_queue(parent=parent, queue=tasks_v2.Queue(name=f"{parent}/queues/{_name('q')}"))
    yield client, q.name
    client.transport.close()


def _http_task(url: str, name: str | None = None, schedule_time=None) -> tasks_v2.Task:
    return tasks_v2.Task(
        name=name, schedule_time=schedule_time,
        http_request=tasks_v2.HttpRequest(
            url=url, http_method=tasks_v2.HttpMethod.POST,
            headers={"Content-Type": "application/json", "X-Custom": "yes"}, body=b'{"hello": 1}',
        ),
    )


def _next(received: queue.Queue, timeout: float = 10):
    return received.get(timeout=timeout)


def test_tasks_http_task_is_delivered_with_cloudtasks_headers(tasks_queue, http_target):
    client, queue_name = tasks_queue
    url, received = http_target
    task = client.create_task(
        parent=queue_name, task=_http_task(f"{url}/work?x=1", f"{queue_name}/tasks/job-1"))
    assert task.name == f"{queue_name}/tasks/job-1"

    path, headers, body = _next(received)
    assert (path, body) == ("/work?x=1", b'{"hello": 1}')
    assert headers["X-Custom"] == "yes" and headers["Content-Type"] == "application/json"
    # The emulator sends the FULL queue name (real Cloud Tasks: the short queue id).
    assert headers["X-CloudTasks-QueueName"] == queue_name
    assert headers["X-CloudTasks-TaskName"] == "job-1"
    assert headers["X-CloudTasks-TaskRetryCount"] == "0"
    assert headers["X-CloudTasks-TaskExecutionCount"] == "0"
    assert headers["X-CloudTasks-TaskETA"] == ""  # empty unless the task has a schedule_time
    assert "Authorization" not in headers  # no OIDC token, ever
    # On the wire the names read "X-Cloudtasks-Queuename" (urllib re-cases them): read them
    # case-insensitively. The User-Agent is urllib's (real Cloud Tasks: "Google-Cloud-Tasks").
    assert "X-Cloudtasks-Queuename" in headers.keys()
    assert headers["User-Agent"].startswith("Python-urllib/")


def test_tasks_schedule_time_is_honoured(tasks_queue, http_target):
    client, queue_name = tasks_queue
    url, received = http_target
    eta = datetime.now(timezone.utc) + timedelta(seconds=1.5)
    client.create_task(parent=queue_name, task=_http_task(f"{url}/later", schedule_time=eta))
    _, headers, _ = _next(received)
    assert time.time() >= eta.timestamp()
    assert float(headers["X-CloudTasks-TaskETA"]) == pytest.approx(eta.timestamp(), abs=0.001)


def test_tasks_non_2xx_is_retried_max_retries_times(tasks_queue, http_target):
    client, queue_name = tasks_queue
    url, received = http_target
    client.create_task(parent=queue_name, task=_http_task(f"{url}/fail"))
    counts = [_next(received)[1]["X-CloudTasks-TaskRetryCount"] for _ in range(3)]
    assert counts == ["0", "1", "2"]  # --max-retries 2: 3 attempts, no backoff, then dropped
    with pytest.raises(queue.Empty):
        received.get(timeout=1)


def test_tasks_same_name_is_not_deduplicated(tasks_queue, http_target):
    # Real Cloud Tasks answers ALREADY_EXISTS to a reused name; the emulator queues it again.
    client, queue_name = tasks_queue
    url, received = http_target
    for _ in range(2):
        client.create_task(parent=queue_name, task=_http_task(f"{url}/dup", f"{queue_name}/tasks/same"))
    assert [_next(received)[0] for _ in range(2)] == ["/dup", "/dup"]
