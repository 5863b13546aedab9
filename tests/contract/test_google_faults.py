"""Faults on the Google path: fake-gcs-server and bqemulator behind a FaultProxy (tests/support/fault_proxy.py)
that fails, stalls or cuts chosen calls during the export, the assembly and the download. Whatever happens,
nothing half-written is served, a failure ends as a failure record, and the next request recovers (issue 14).

Deliveries are made as Cloud Tasks makes them (ExportWorker.deliver, `last` on the final one); dump requests
queue into a HeldQueue so each test decides when a delivery happens. Persistent faults use answers the
client libraries do not retry (403; a 503 only on a compose step, which has no precondition): a 503 on an
upload, a patch or a job insert is retried by them for up to 2 minutes (BigQuery: 10), which the tests show
with one-off faults instead.
"""

from __future__ import annotations

import json

import pytest
import requests

from functions.core import identifiers, layout
from tests.support.app import HeldQueue
from tests.support.fault_proxy import CUT, ERROR, STALL
from tests.support.google_app import ProxiedGoogleApp

ROWS = 3000
CSV = identifiers.dump_variant("csv", None, None)
NDJSON = identifiers.dump_variant("ndjson", None, None)
STREAM_ROWS = 12_000  # bqemulator splits an export at 64 KiB of result: this table's NDJSON comes in several files
COMPOSE = r"/compose"
HEADER_WRITE = r"/upload/storage/v1/b/[^/]+/o\?uploadType=multipart$"  # the only unconditional upload
WRITE_IF_ABSENT = r"/upload/storage/v1/b/[^/]+/o\?uploadType=multipart&ifGenerationMatch=0"  # manifest, failure
JOB_INSERT = r"/projects/[^/]+/jobs(\?|$)"


def expected_csv(rows: int) -> bytes:
    return ("_id,label\r\n" + "".join(f"{i},row-{i}\n" for i in range(1, rows + 1))).encode()


def deployment(gcs, bq, rows=ROWS, **env) -> ProxiedGoogleApp:
    settings = {"DUMP_FAILURE_COOLDOWN_SECONDS": "0", "DUMP_WORKER_WAIT_SECONDS": "20", **env}
    return ProxiedGoogleApp(gcs, bq, rows=rows, env=settings, queue=HeldQueue())


@pytest.fixture
def google(gcs_emulator, bigquery_emulator):
    app = deployment(gcs_emulator, bigquery_emulator)
    yield app
    app.close()


def dump(google):
    """respond-async: a miss answers 202 at once instead of redirecting to the follow route."""
    return requests.get(f"{google.url}/datastore/dump/{google.rid}", params={"format": "csv"},
                        headers={"Prefer": "respond-async"}, allow_redirects=False, timeout=60)


def deliver(google, attempt: int, last: bool = False):
    target = google.app.catalogue.current(google.rid, CSV)
    return google.app.worker.deliver(target.task_payload(attempt), last=last)


def objects(google) -> list[str]:
    return [o.name for o in google.app.backend.read_write.store.list(layout.variant_prefix(google.rid, CSV))]


def failure_of(google, attempt: int) -> dict:
    name = next(n for n in objects(google) if n.endswith(f"/{attempt}/{layout.FAILURE}"))
    return json.loads(google.app.backend.read_write.store.read_bytes(name))


def assert_recovers(google, attempt: int) -> None:
    """After the faults are gone, the next request queues a new attempt; its delivery publishes a whole file."""
    google.storage_proxy.clear_faults()
    google.bigquery_proxy.clear_faults()
    queued = dump(google)
    assert queued.status_code == 202 and queued.json()["attempt"] == attempt, queued.text
    assert deliver(google, attempt).reason == "published"
    served = dump(google)
    assert served.status_code == 302, served.text
    download = requests.get(served.headers["Location"], timeout=60)
    assert download.status_code == 200 and download.content == expected_csv(ROWS)


@pytest.mark.parametrize("method,call,status", [("POST", COMPOSE, 503), ("POST", HEADER_WRITE, 403),
                                                ("PATCH", r"download\.csv", 403)],
                         ids=["compose", "header write", "download headers"])
def test_an_assembly_call_failing_records_a_failure_and_the_next_request_recovers(google, method, call, status):
    assert dump(google).status_code == 202  # attempt 1 queued
    google.storage_proxy.add_fault(method, call, ERROR, status=status)
    outcome = deliver(google, 1)
    assert (outcome.done, outcome.reason) == (True, "failed"), outcome.body()
    assert not any(n.endswith(layout.MANIFEST) for n in objects(google))  # nothing half-served
    record = failure_of(google, 1)
    assert record["kind"] == "failed" and "Cloud Storage could not" in record["reason"]
    assert_recovers(google, 2)


def test_a_manifest_write_refused_records_a_failure_and_one_that_fails_twice_is_retried_by_the_client(google):
    assert dump(google).status_code == 202
    google.storage_proxy.add_fault("POST", WRITE_IF_ABSENT, ERROR, status=403, nth=1)  # the manifest, not the record
    assert deliver(google, 1).reason == "failed"
    assert not any(n.endswith(layout.MANIFEST) for n in objects(google))
    assert failure_of(google, 1)["kind"] == "failed"
    google.storage_proxy.clear_faults()
    assert dump(google).json()["attempt"] == 2
    for nth in (1, 2):  # two 503s on the write-if-absent: the storage client retries it, the delivery publishes
        google.storage_proxy.add_fault("POST", WRITE_IF_ABSENT, ERROR, status=503, nth=nth)
    google.storage_proxy.reset_counts()
    assert deliver(google, 2).reason == "published"
    assert google.storage_proxy.count("POST", WRITE_IF_ABSENT) == 3
    served = dump(google)
    assert served.status_code == 302
    assert requests.get(served.headers["Location"], timeout=60).content == expected_csv(ROWS)


def test_an_export_that_cannot_start_is_retried_and_recorded_on_the_last_delivery(google):
    assert dump(google).status_code == 202
    google.bigquery_proxy.add_fault("POST", JOB_INSERT, ERROR, status=403)
    first = deliver(google, 1)
    assert not first.done  # the queue delivers it again
    assert not objects(google)
    last = deliver(google, 1, last=True)
    assert (last.done, last.reason) == (True, "failed")
    assert failure_of(google, 1)["kind"] == "transient"  # the next request starts a new attempt at once
    assert_recovers(google, 2)


def test_a_stalled_and_a_failed_call_during_the_export_are_absorbed(google):
    assert dump(google).status_code == 202
    google.bigquery_proxy.add_fault("GET", r"/jobs/bqdump_", STALL, stall_seconds=1, nth=1)  # the first status poll
    google.bigquery_proxy.add_fault("POST", JOB_INSERT, ERROR, status=503, nth=1)
    assert deliver(google, 1).reason == "published"
    served = dump(google)
    assert served.status_code == 302
    assert requests.get(served.headers["Location"], timeout=60).content == expected_csv(ROWS)


@pytest.fixture
def streamed(gcs_emulator, bigquery_emulator):
    """DUMP_COMPOSE=false: the streaming function reads the export's files through the proxy."""
    app = deployment(gcs_emulator, bigquery_emulator, STREAM_ROWS, DUMP_COMPOSE="false",
                     STREAM_URL="http://placeholder")
    yield app
    app.close()



def stream_location(google) -> str:
    """Publishes the NDJSON export (several files, not composed) and returns its /stream link on this server."""
    target = google.app.catalogue.current(google.rid, NDJSON)
    assert google.app.worker.deliver(target.task_payload(1)).reason == "published"
    answer = requests.get(f"{google.url}/datastore/dump/{google.rid}", params={"format": "ndjson"},
                          allow_redirects=False, timeout=60)
    location = answer.headers["Location"]
    return google.url + location[location.index("/stream/"):]  # this server mounts the streaming function


def whole_ndjson(location: str) -> bytes:
    body = requests.get(location, timeout=60)
    assert body.status_code == 200 and len(body.content.splitlines()) == STREAM_ROWS
    return body.content


def test_a_download_cut_mid_body_is_never_whole_and_the_next_one_is(streamed):
    location = stream_location(streamed)
    whole = whole_ndjson(location)
    streamed.storage_proxy.add_fault("GET", r"alt=media", CUT, nth=2, cut_after=1000)  # the second file
    with pytest.raises(requests.exceptions.RequestException):
        cut = requests.get(location, timeout=60)
        assert len(cut.content) == int(cut.headers["Content-Length"])  # never reached: the body stops short
    assert whole_ndjson(location) == whole


def test_a_download_whose_first_read_stalls_or_fails_is_a_json_503_and_the_next_one_is_whole(streamed):
    location = stream_location(streamed)
    whole = whole_ndjson(location)
    for action in (STALL, ERROR):
        streamed.storage_proxy.add_fault("GET", r"alt=media", action, nth=1, stall_seconds=1, status=503)
        refused = requests.get(location, timeout=60)
        assert refused.status_code == 503 and {"error", "message", "hint"} <= refused.json().keys()
        streamed.storage_proxy.clear_faults()
    assert whole_ndjson(location) == whole
