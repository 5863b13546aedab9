"""The HTTP contract over a real socket, on the embedded default (real DuckDB, real files)."""

from __future__ import annotations

import socket
import time
from datetime import datetime, timedelta, timezone

import duckdb
import pytest
import requests

from functions.core.keys import worker_door_secret
from functions.core.layout import revision_of

SMALL_CSV = (
    "id,name,amount,seen_at,note\n"
    "1,alpha,9007199254740993,2024-01-02 03:04:05,\n"
    "2,\"beta, with comma\",-5,2024-01-02 03:04:05.25,\"quoted \"\"text\"\"\"\n"
    "3,gamma,,,\n"
)
EXPECTED_CSV = (
    "id,name,amount,seen_at,note\n"
    "1,alpha,9007199254740993,2024-01-02T03:04:05,\n"
    "2,\"beta, with comma\",-5,2024-01-02T03:04:05.25,\"quoted \"\"text\"\"\"\n"
    "3,gamma,,,\n"
)
EXPECTED_NDJSON = (
    '{"id":1,"name":"alpha","amount":9007199254740993,"seen_at":"2024-01-02T03:04:05","note":null}\n'
    '{"id":2,"name":"beta, with comma","amount":-5,"seen_at":"2024-01-02T03:04:05.25","note":"quoted \\"text\\""}\n'
    '{"id":3,"name":"gamma","amount":null,"seen_at":null,"note":null}\n'
)


def load_csv(services, rid, text, tmp_path):
    source = tmp_path / f"{rid}.csv"
    source.write_text(text)
    services.warehouse.load(rid, source)


def load_numbers(services, rid, rows, tmp_path):
    """A bigger table (ids with padding text) so small DUMP_SHARD_BYTES splits its exports."""
    source = tmp_path / f"{rid}.parquet"
    duckdb.sql(f"COPY (SELECT range AS id, 'row-' || lpad(range::VARCHAR, 8, '0') AS label, "
               f"TIMESTAMP '2020-01-01' + to_seconds(range) AS at FROM range({rows})) TO '{source}' (FORMAT parquet)")
    services.warehouse.load(rid, source)


def get_dump(live, rid, **params):
    return requests.get(f"{live.url}/datastore/dump/{rid}", params=params, allow_redirects=False, timeout=30)


def test_single_file_csv_download_end_to_end(make_services, serve, tmp_path):
    services = make_services()
    load_csv(services, "small", SMALL_CSV, tmp_path)
    live = serve(services)
    first = get_dump(live, "small")
    assert first.status_code == 302, first.text
    rev = revision_of(services.warehouse.table_modified("small"))
    assert first.headers["ETag"] == f'"{rev}-csv"'
    download = requests.get(first.headers["Location"], timeout=30)
    assert download.status_code == 200
    assert download.text == EXPECTED_CSV
    assert download.headers["Content-Disposition"] == 'attachment; filename="small.csv"'
    assert download.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert int(download.headers["Content-Length"]) == len(EXPECTED_CSV.encode())
    assert get_dump(live, "small").headers["Location"].split("?")[0] == first.headers["Location"].split("?")[0]


def test_ndjson_tsv_and_parquet_values(make_services, serve, tmp_path):
    services = make_services()
    load_csv(services, "small", SMALL_CSV, tmp_path)
    live = serve(services)
    ndjson = requests.get(get_dump(live, "small", format="ndjson").headers["Location"], timeout=30)
    assert ndjson.text == EXPECTED_NDJSON
    assert ndjson.headers["Content-Disposition"].endswith('filename="small.ndjson"')
    tsv = requests.get(get_dump(live, "small", format="tsv").headers["Location"], timeout=30)
    assert tsv.text.splitlines()[1] == "1\talpha\t9007199254740993\t2024-01-02T03:04:05\t"
    parquet = requests.get(get_dump(live, "small", format="parquet").headers["Location"], timeout=30)
    path = tmp_path / "got.parquet"
    path.write_bytes(parquet.content)
    rows = duckdb.sql(f"SELECT id, amount, seen_at FROM read_parquet('{path}') ORDER BY id").fetchall()
    assert rows[0] == (1, 9007199254740993, datetime(2024, 1, 2, 3, 4, 5))  # native types kept
    assert rows[2][1:] == (None, None)


def test_range_requests_and_signature_checks(make_services, serve, tmp_path):
    services = make_services()
    load_csv(services, "small", SMALL_CSV, tmp_path)
    live = serve(services)
    location = get_dump(live, "small").headers["Location"]
    part = requests.get(location, headers={"Range": "bytes=10-19"}, timeout=30)
    assert part.status_code == 206 and part.content == EXPECTED_CSV.encode()[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(EXPECTED_CSV)}"
    outside = requests.get(location, headers={"Range": "bytes=100000-"}, timeout=30)
    assert outside.status_code == 416 and outside.headers["Content-Range"] == f"bytes */{len(EXPECTED_CSV)}"
    tampered = requests.get(location.replace("signature=", "signature=A"), timeout=30)
    assert tampered.status_code == 403 and "signature" in tampered.json()["message"]
    other_name = requests.get(location.replace("filename=small.csv", "filename=evil.csv"), timeout=30)
    assert other_name.status_code == 403
    as_html = requests.get(location.replace("type=text%2Fcsv", "type=text%2Fhtml"), timeout=30)
    assert "type=text%2Fcsv" in location and as_html.status_code == 403  # the type is signed too
    name = location.split("/_objects/")[1].split("?")[0]
    expired = services.signer.sign(name, filename="small.csv", content_type="text/csv",
                                   expires_at=datetime.now(timezone.utc) - timedelta(seconds=1), base_url=live.url)
    answer = requests.get(expired, timeout=30)
    assert answer.status_code == 403 and "expired" in answer.json()["message"]


def test_multi_file_export_streams_as_one_file_with_one_header(make_services, serve, tmp_path):
    whole, split = make_services(), make_services(DUMP_SHARD_BYTES=20_000, DUMP_COMPOSE="false")
    for services in (whole, split):
        load_numbers(services, "numbers", 5000, tmp_path)
    single = requests.get(get_dump(serve(whole), "numbers").headers["Location"], timeout=30).content
    live = serve(split)
    redirect = get_dump(live, "numbers")
    assert redirect.status_code == 302 and "/stream/numbers?" in redirect.headers["Location"]
    listing = [o.name for o in split.store.list("dumps/numbers/csv/") if "part-" in o.name]
    assert len(listing) >= 3  # a middle shard too
    streamed = requests.get(redirect.headers["Location"], timeout=30)
    assert streamed.status_code == 200
    assert streamed.content == single and streamed.content.count(b"id,label,at\n") == 1
    assert int(streamed.headers["Content-Length"]) == len(single)
    assert streamed.headers["Content-Disposition"] == 'attachment; filename="numbers.csv"'
    for start, end in [(0, 0), (19_990, 20_050), (len(single) - 7, len(single) - 1), (5, 60_000)]:
        part = requests.get(redirect.headers["Location"], headers={"Range": f"bytes={start}-{end}"}, timeout=30)
        assert part.status_code == 206 and part.content == single[start:end + 1]
    ndjson_single = requests.get(get_dump(serve(whole), "numbers", format="ndjson").headers["Location"], timeout=30)
    ndjson = requests.get(get_dump(live, "numbers", format="ndjson").headers["Location"], timeout=30)
    assert ndjson.content == ndjson_single.content and len(ndjson.content.splitlines()) == 5000


def test_stream_token_is_checked_before_anything_is_read(make_services, serve, tmp_path):
    services = make_services(DUMP_SHARD_BYTES=20_000, DUMP_COMPOSE="false")
    load_numbers(services, "numbers", 5000, tmp_path)
    live = serve(services)
    location = get_dump(live, "numbers").headers["Location"]
    for bad in [location.replace("token=", "token=1"), location.replace("format=csv", "format=tsv"),
                location.replace("/stream/numbers", "/stream/other"), location.split("&token=")[0]]:
        answer = requests.get(bad, timeout=30)
        assert answer.status_code in (403, 400), bad
        assert answer.headers["Content-Type"] == "application/json"


def test_several_parquet_files_are_merged_into_one(make_services, serve, tmp_path):
    services = make_services(DUMP_SHARD_BYTES=100_000, DUMP_COMPOSE="false")  # merging does not depend on compose
    load_numbers(services, "big", 300_000, tmp_path)
    live = serve(services)
    answer = get_dump(live, "big", format="parquet")
    assert answer.status_code == 302, answer.text
    assert "/_objects/" in answer.headers["Location"] and "download.parquet" in answer.headers["Location"]
    path = tmp_path / "merged.parquet"
    path.write_bytes(requests.get(answer.headers["Location"], timeout=30).content)
    import pyarrow.parquet as pq

    merged = pq.ParquetFile(path)
    assert merged.metadata.num_rows == 300_000 and merged.num_row_groups >= 2
    ids = merged.read(columns=["id"]).column("id").to_pylist()
    assert ids == list(range(300_000))  # every row, in order
    assert merged.schema_arrow.field("at").type.__str__().startswith("timestamp")


@pytest.mark.parametrize("path,status", [
    ("/datastore/dump/flights?format=xlsx", 400), ("/datastore/dump/bad.name", 400),
    ("/datastore/dump/a%2F..%2Fb", 400), ("/datastore/dump/" + "x" * 1025, 400), ("/datastore/dump/missing", 404),
    ("/datastore/dump/missing?format=", 404), ("/nowhere", 404), ("/stream/x?format=csv&rev=zz&token=1.a", 400),
    ("/_objects/dumps/x?expires=1&filename=x.csv&type=text/csv&signature=bad", 403),
    ("/_objects/..%2Fsecret?expires=99999999999&filename=x.csv&type=text/csv&signature=x", 403),
])
def test_bad_input_gets_a_clear_json_error(make_services, serve, path, status):
    live = serve(make_services())
    answer = requests.get(live.url + path, allow_redirects=False, timeout=30)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["message"] and body["hint"]


def test_worker_route_is_not_public_and_refuses_non_json(make_services, serve, tmp_path):
    services = make_services()
    load_csv(services, "small", SMALL_CSV, tmp_path)
    live = serve(services)
    payload = {"resource_id": "small", "format": "csv", "attempt": 1,
               "revision": revision_of(services.warehouse.table_modified("small"))}
    refused = requests.post(live.url + "/tasks/export", json=payload, timeout=30)
    assert refused.status_code == 403 and "X-Worker-Secret" in refused.json()["message"]
    secret = {"X-Worker-Secret": worker_door_secret(b"test-secret")}  # from DUMP_TOKEN_SECRET in tests/conftest.py
    assert requests.post(live.url + "/tasks/export", data="nope", headers=secret, timeout=30).status_code == 400
    done = requests.post(live.url + "/tasks/export", json=payload, headers=secret, timeout=30)
    assert done.status_code == 200 and done.json()["status"] == "published"
    assert requests.delete(live.url + "/datastore/dump/x", timeout=30).status_code == 405


def test_not_published_yet_answers_202_then_redirects(make_services, serve, tmp_path):
    services = make_services(DUMP_WAIT_SECONDS=0)
    load_numbers(services, "numbers", 1000, tmp_path)
    live = serve(services)
    pending = get_dump(live, "numbers")
    assert pending.status_code == 202
    assert int(pending.headers["Retry-After"]) > 0
    assert pending.json()["status"] == "exporting" and "again" in pending.json()["hint"]
    page = requests.get(f"{live.url}/datastore/dump/numbers", headers={"Accept": "text/html"},
                        allow_redirects=False, timeout=30)
    assert page.status_code in (202, 302)
    if page.status_code == 202:
        assert 'http-equiv="refresh"' in page.text
    deadline = time.monotonic() + 30
    while (answer := get_dump(live, "numbers")).status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert answer.status_code == 302


def test_browser_gets_a_self_refreshing_page(make_services, serve, tmp_path):
    services = make_services(DUMP_WAIT_SECONDS=0)
    load_numbers(services, "numbers", 10, tmp_path)
    services.queue.deliver = lambda payload: 503  # keep the export from finishing during this test
    live = serve(services)
    page = requests.get(f"{live.url}/datastore/dump/numbers", headers={"Accept": "text/html,*/*"},
                        allow_redirects=False, timeout=30)
    assert page.status_code == 202 and page.headers["Content-Type"].startswith("text/html")
    assert 'http-equiv="refresh"' in page.text and "numbers" in page.text


def test_a_failed_export_is_reported_then_retried_after_the_cooldown(make_services, serve, tmp_path):
    services = make_services(DUMP_FAILURE_COOLDOWN_SECONDS=1)
    load_csv(services, "small", SMALL_CSV, tmp_path)
    data_file = services.warehouse.table_file("small")
    good = data_file.read_bytes()
    data_file.write_bytes(b"this is not parquet")
    live = serve(services)
    failed = get_dump(live, "small")
    assert failed.status_code == 502, failed.text
    assert failed.json()["error"] == "export_failed" and "DuckDB" in failed.json()["message"]
    assert int(failed.headers["Retry-After"]) >= 1
    again = get_dump(live, "small")
    assert again.status_code == 502  # reported, not an endless 202
    data_file.write_bytes(good)
    time.sleep(1.1)
    retried = get_dump(live, "small")
    assert retried.status_code == 302, retried.text
    assert "/2/download.csv" in retried.headers["Location"]
    assert requests.get(retried.headers["Location"], timeout=30).text == EXPECTED_CSV


def test_head_answers_like_get_without_a_body(make_services, serve, tmp_path):
    services = make_services()
    load_csv(services, "small", SMALL_CSV, tmp_path)
    live = serve(services)
    get_dump(live, "small")
    head = requests.head(f"{live.url}/datastore/dump/small", timeout=30)
    assert head.status_code == 302 and head.headers["Location"] and head.content == b""
    bad = requests.head(f"{live.url}/datastore/dump/small?format=nope", timeout=30)
    assert bad.status_code == 400 and bad.content == b""


def test_healthz(make_services, serve):
    live = serve(make_services())
    assert requests.get(live.url + "/healthz", timeout=30).json()["status"] == "ok"


class CountingStore:
    """The real local store, observed: counts chunks handed out and whether each read was closed."""

    def __init__(self, inner):
        self.inner, self.chunks, self.opened, self.closed = inner, 0, 0, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def read_range(self, name, start, length, chunk_size):
        self.opened += 1
        inner = self.inner.read_range(name, start, length, chunk_size)
        try:
            for chunk in inner:
                self.chunks += 1
                yield chunk
        finally:
            inner.close()
            self.closed += 1


def test_client_disconnect_stops_the_upstream_reads(make_services, serve, tmp_path):
    services = make_services(DUMP_SHARD_BYTES=2_000_000, DUMP_COMPOSE="false")
    load_numbers(services, "numbers", 400_000, tmp_path)
    live = serve(services)
    location = get_dump(live, "numbers").headers["Location"]
    counting = CountingStore(services.reader)
    services.reader = counting  # the streaming function reads through the read-only view
    total = sum(o.size for o in counting.list("dumps/numbers/csv/"))
    path = location.split(live.url)[1]
    with socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # keep loopback buffers from hiding the close
        client.connect(("127.0.0.1", live.server.port))
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        client.recv(65536)
    deadline = time.monotonic() + 10
    while counting.closed < counting.opened and time.monotonic() < deadline:
        time.sleep(0.05)
    assert counting.opened >= 1 and counting.closed == counting.opened, (counting.opened, counting.closed)
    assert counting.chunks * 65536 < total / 2, (counting.chunks, total)


def test_conditional_requests_answer_304_without_signing_or_exporting(make_services, serve, tmp_path):
    services = make_services()
    load_csv(services, "small", SMALL_CSV, tmp_path)
    live = serve(services)
    first = get_dump(live, "small")
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    signed = []
    real_sign = services.signer.sign
    services.signer.sign = lambda *a, **k: signed.append(a) or real_sign(*a, **k)
    same = requests.get(f"{live.url}/datastore/dump/small", headers={"If-None-Match": etag}, allow_redirects=False,
                        timeout=30)
    assert same.status_code == 304 and same.headers["ETag"] == etag and signed == []
    since = requests.get(f"{live.url}/datastore/dump/small", headers={"If-Modified-Since": last_modified},
                         allow_redirects=False, timeout=30)
    assert since.status_code == 304
    other_format = requests.get(f"{live.url}/datastore/dump/small?format=tsv", headers={"If-None-Match": etag},
                                allow_redirects=False, timeout=30)
    assert other_format.status_code == 302  # a different variant has a different ETag
    load_csv(services, "small", SMALL_CSV, tmp_path)  # a new revision
    changed = requests.get(f"{live.url}/datastore/dump/small", headers={"If-None-Match": etag},
                           allow_redirects=False, timeout=30)
    assert changed.status_code == 302 and changed.headers["ETag"] != etag
    nothing_exported = requests.get(f"{live.url}/datastore/dump/small?format=ndjson",
                                    headers={"If-None-Match": changed.headers["ETag"].replace("-csv", "-ndjson")},
                                    allow_redirects=False, timeout=30)
    assert nothing_exported.status_code == 304
    assert not services.store.list("dumps/small/ndjson/")  # the 304 queued no export


def test_an_export_cut_off_by_a_restart_is_retried_at_once(make_services, serve, tmp_path):
    services = make_services()
    load_csv(services, "small", SMALL_CSV, tmp_path)
    rev = revision_of(services.warehouse.table_modified("small"))
    leftover = services.store.root / f"dumps/small/csv/{rev}/1/part-0.csv"
    leftover.parent.mkdir(parents=True)
    leftover.write_text("id,na")  # what a killed server left behind: files, no manifest, no job
    live = serve(services)
    answer = get_dump(live, "small")  # attempt 1 fails as interrupted; the same request waits for attempt 2
    assert answer.status_code == 302 and f"/{rev}/2/" in answer.headers["Location"]
    assert requests.get(answer.headers["Location"], timeout=30).text == EXPECTED_CSV
