"""The HTTP contract over a real socket, on the embedded default (real DuckDB, real files)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import duckdb
import pytest
import requests

from functions.adapters.system_clock import SYSTEM_CLOCK
from functions.core.keys import worker_door_secret
from functions.core.layout import revision_of
from tests.support.app import HeldQueue, doors_with_catalogue
from tests.support.clock import ShiftedClock
from tests.support.tables import EXPECTED_CSV, EXPECTED_NDJSON, SMALL_CSV, get_dump, load_csv, load_numbers

def test_single_file_csv_download_end_to_end(make_app, serve, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
    first = get_dump(live, "small")
    assert first.status_code == 302, first.text
    rev = revision_of(app.backend.read_write.warehouse.table_modified("small"))
    assert first.headers["ETag"] == f'"{rev}-csv"'
    download = requests.get(first.headers["Location"], timeout=30)
    assert download.status_code == 200
    assert download.text == EXPECTED_CSV
    assert download.headers["Content-Disposition"] == 'attachment; filename="small.csv"'
    assert download.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert int(download.headers["Content-Length"]) == len(EXPECTED_CSV.encode())
    assert get_dump(live, "small").headers["Location"].split("?")[0] == first.headers["Location"].split("?")[0]


def test_ndjson_tsv_and_parquet_values(make_app, serve, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
    ndjson = requests.get(get_dump(live, "small", format="ndjson").headers["Location"], timeout=30)
    assert ndjson.text == EXPECTED_NDJSON
    assert ndjson.headers["Content-Disposition"].endswith('filename="small.ndjson"')
    tsv = requests.get(get_dump(live, "small", format="tsv").headers["Location"], timeout=30)
    assert tsv.text.splitlines()[1] == "1\talpha\t9007199254740993\t2024-01-02T03:04:05.000\t"
    parquet = requests.get(get_dump(live, "small", format="parquet").headers["Location"], timeout=30)
    path = tmp_path / "got.parquet"
    path.write_bytes(parquet.content)
    rows = duckdb.sql(f"SELECT id, amount, seen_at FROM read_parquet('{path}') ORDER BY id").fetchall()
    assert rows[0] == (1, 9007199254740993, datetime(2024, 1, 2, 3, 4, 5))  # native types kept
    assert rows[2][1:] == (None, None)


def test_range_requests_and_signature_checks(make_app, serve, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
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
    expired = app.backend.read_write.signer.sign(name, filename="small.csv", content_type="text/csv",
                                   expires_at=datetime.now(timezone.utc) - timedelta(seconds=1), base_url=live.url)
    answer = requests.get(expired, timeout=30)
    assert answer.status_code == 403 and "expired" in answer.json()["message"]


def test_several_parquet_files_are_merged_into_one(make_app, serve, tmp_path):
    app = make_app(DUMP_SHARD_BYTES=100_000, DUMP_COMPOSE="false")  # merging does not depend on compose
    load_numbers(app, "big", 300_000, tmp_path)
    live = serve(app)
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
def test_bad_input_gets_a_clear_json_error(make_app, serve, path, status):
    live = serve(make_app())
    answer = requests.get(live.url + path, allow_redirects=False, timeout=30)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["message"] and body["hint"]


def test_worker_route_is_not_public_and_refuses_non_json(make_app, serve, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
    payload = {"resource_id": "small", "format": "csv", "attempt": 1,
               "revision": revision_of(app.backend.read_write.warehouse.table_modified("small"))}
    refused = requests.post(live.url + "/tasks/export", json=payload, timeout=30)
    assert refused.status_code == 403 and "X-Worker-Secret" in refused.json()["message"]
    secret = {"X-Worker-Secret": worker_door_secret(b"test-secret")}  # from DUMP_TOKEN_SECRET in tests/conftest.py
    assert requests.post(live.url + "/tasks/export", data="nope", headers=secret, timeout=30).status_code == 400
    done = requests.post(live.url + "/tasks/export", json=payload, headers=secret, timeout=30)
    assert done.status_code == 200 and done.json()["status"] == "published"
    assert requests.delete(live.url + "/datastore/dump/x", timeout=30).status_code == 405


def test_respond_async_answers_202_then_redirects_to_the_file(make_app, serve, tmp_path):
    app = make_app(DUMP_WAIT_SECONDS=0)
    load_numbers(app, "numbers", 1000, tmp_path)
    live = serve(app)
    pending = get_dump(live, "numbers", headers={"Prefer": "respond-async"})
    assert pending.status_code == 202
    assert int(pending.headers["Retry-After"]) > 0
    assert pending.json()["status"] == "exporting" and "again" in pending.json()["hint"]
    app.backend.read_write.queue.drain(30)
    answer = get_dump(live, "numbers", headers={"Prefer": "respond-async"})
    assert answer.status_code == 302 and "/download.csv" in answer.headers["Location"]


def test_a_browser_that_prefers_respond_async_gets_the_self_refreshing_page(make_app, serve, tmp_path):
    app = make_app(DUMP_WAIT_SECONDS=0)
    load_numbers(app, "numbers", 10, tmp_path)
    live = serve(doors_with_catalogue(app, queue=HeldQueue()))  # the export never finishes during this test
    page = requests.get(f"{live.url}/datastore/dump/numbers",
                        headers={"Accept": "text/html,*/*", "Prefer": "respond-async"}, allow_redirects=False,
                        timeout=30)
    assert page.status_code == 202 and page.headers["Content-Type"].startswith("text/html")
    assert 'http-equiv="refresh"' in page.text and "numbers" in page.text
    followed = requests.get(f"{live.url}/datastore/dump/numbers", headers={"Accept": "text/html,*/*"},
                            allow_redirects=False, timeout=30)
    assert followed.status_code == 302 and "/follow/numbers?" in followed.headers["Location"]  # as everyone else


def test_a_failed_export_is_reported_then_retried_after_the_cooldown(make_app, serve, tmp_path):
    clock = ShiftedClock(SYSTEM_CLOCK)
    app = make_app(clock, DUMP_FAILURE_COOLDOWN_SECONDS=60)
    load_csv(app, "small", SMALL_CSV, tmp_path)
    data_file = app.backend.read_write.warehouse.table_file("small")
    good = data_file.read_bytes()
    data_file.write_bytes(b"this is not parquet")
    live = serve(app)
    failed = get_dump(live, "small")
    assert failed.status_code == 502, failed.text
    assert failed.json()["error"] == "export_failed" and "DuckDB" in failed.json()["message"]
    assert 1 <= int(failed.headers["Retry-After"]) <= 60
    again = get_dump(live, "small")
    assert again.status_code == 502  # reported, not an endless 202
    data_file.write_bytes(good)
    clock.offset = timedelta(seconds=61)  # the cooldown has passed
    retried = get_dump(live, "small")
    assert retried.status_code == 302, retried.text
    assert "/2/download.csv" in retried.headers["Location"]
    assert requests.get(retried.headers["Location"], timeout=30).text == EXPECTED_CSV


def test_head_answers_like_get_without_a_body(make_app, serve, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
    get_dump(live, "small")
    head = requests.head(f"{live.url}/datastore/dump/small", timeout=30)
    assert head.status_code == 302 and head.headers["Location"] and head.content == b""
    bad = requests.head(f"{live.url}/datastore/dump/small?format=nope", timeout=30)
    assert bad.status_code == 400 and bad.content == b""


def test_healthz(make_app, serve):
    live = serve(make_app())
    assert requests.get(live.url + "/healthz", timeout=30).json()["status"] == "ok"


def test_conditional_requests_answer_304_without_signing_or_exporting(make_app, serve, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    signed = []

    class RecordingSigner:
        def sign(self, *a, **k):
            signed.append(a)
            return app.backend.read_write.signer.sign(*a, **k)

    live = serve(replace(app.doors, dump=replace(app.doors.dump, signer=RecordingSigner())))
    first = get_dump(live, "small")
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert len(signed) == 1
    signed.clear()
    same = requests.get(f"{live.url}/datastore/dump/small", headers={"If-None-Match": etag}, allow_redirects=False,
                        timeout=30)
    assert same.status_code == 304 and same.headers["ETag"] == etag and signed == []
    since = requests.get(f"{live.url}/datastore/dump/small", headers={"If-Modified-Since": last_modified},
                         allow_redirects=False, timeout=30)
    assert since.status_code == 304
    other_format = requests.get(f"{live.url}/datastore/dump/small?format=tsv", headers={"If-None-Match": etag},
                                allow_redirects=False, timeout=30)
    assert other_format.status_code == 302  # a different variant has a different ETag
    load_csv(app, "small", SMALL_CSV, tmp_path)  # a new revision
    changed = requests.get(f"{live.url}/datastore/dump/small", headers={"If-None-Match": etag},
                           allow_redirects=False, timeout=30)
    assert changed.status_code == 302 and changed.headers["ETag"] != etag
    nothing_exported = requests.get(f"{live.url}/datastore/dump/small?format=ndjson",
                                    headers={"If-None-Match": changed.headers["ETag"].replace("-csv", "-ndjson")},
                                    allow_redirects=False, timeout=30)
    assert nothing_exported.status_code == 304
    assert not app.backend.read_write.store.list("dumps/small/ndjson/")  # the 304 queued no export


def test_an_export_cut_off_by_a_restart_is_retried_at_once(make_app, serve, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    rev = revision_of(app.backend.read_write.warehouse.table_modified("small"))
    leftover = app.backend.read_write.store.root / f"dumps/small/csv/{rev}/1/part-0.csv"
    leftover.parent.mkdir(parents=True)
    leftover.write_text("id,na")  # what a killed server left behind: files, no manifest, no job
    live = serve(app)
    answer = get_dump(live, "small")  # attempt 1 fails as interrupted; the same request waits for attempt 2
    assert answer.status_code == 302 and f"/{rev}/2/" in answer.headers["Location"]
    assert requests.get(answer.headers["Location"], timeout=30).text == EXPECTED_CSV
