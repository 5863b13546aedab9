"""The follow route over a real socket on the local backend: a miss never answers 2xx with a message; the
follower gets the published file (length, Range, ETag), the failure's error status, or a 503 at the bound."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import requests

from functions.core import layout
from tests.support.app import HeldQueue, doors_with_catalogue
from tests.support.published import attempts, published_bytes
from tests.support.tables import SMALL_CSV, get_dump, load_csv, load_numbers


def test_a_cold_download_redirects_to_the_follow_route_which_serves_the_published_file(make_app, serve, tmp_path):
    app = make_app(DUMP_WAIT_SECONDS=0)
    load_numbers(app, "numbers", 20_000, tmp_path)
    live = serve(app)
    miss = get_dump(live, "numbers")
    assert miss.status_code == 302 and miss.content == b""
    follow = miss.headers["Location"]
    assert follow.startswith(f"{live.url}/follow/numbers?") and miss.headers["Cache-Control"] == "no-store"
    asked = parse_qs(urlsplit(follow).query)
    assert asked["format"] == ["csv"] and asked["attempt"] == ["1"] and asked["token"][0]
    answer = requests.get(follow, timeout=60)
    assert answer.status_code == 200
    published = published_bytes(app, "numbers", "csv")
    assert answer.content == published and published.startswith(b"id,label,at\r\n") and len(published) > 500_000
    # streamed as its pieces became final (chunked, no length yet), or served published (with its length)
    assert answer.headers.get("Transfer-Encoding") == "chunked" or int(answer.headers["Content-Length"]) == len(
        published)
    head = requests.head(follow, timeout=60)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(published)
    assert answer.headers["Content-Disposition"] == 'attachment; filename="numbers.csv"'
    hit = get_dump(live, "numbers")
    assert answer.headers["ETag"] == hit.headers["ETag"] == layout.etag(app.catalogue.current(
        "numbers", hit_variant(app)).variant, asked["rev"][0])
    part = requests.get(follow, headers={"Range": "bytes=100-199"}, timeout=60)
    assert part.status_code == 206 and part.content == published[100:200]
    assert attempts(app, "numbers", "csv") == {f"{asked['rev'][0]}/1"}


def hit_variant(app):
    from functions.core.identifiers import dump_variant

    return dump_variant("csv", None, None)


def test_requests_follows_to_the_complete_file_for_every_format(make_app, serve, tmp_path):
    app = make_app(DUMP_WAIT_SECONDS=0)
    load_numbers(app, "numbers", 3000, tmp_path)
    live = serve(app)
    for params, key in [({"format": "tsv", "bom": "true"}, "tsv-bom"), ({"format": "ndjson"}, "ndjson"),
                        ({"format": "csv", "compression": "gzip"}, "csv.gz"), ({"format": "parquet"}, "parquet"),
                        ({"format": "json"}, "json"), ({"format": "xml", "compression": "gzip"}, "xml.gz")]:
        answer = requests.get(f"{live.url}/datastore/dump/numbers", params=params, timeout=60)
        assert answer.status_code == 200 and answer.history[0].status_code == 302, (key, answer.text[:200])
        assert answer.content == published_bytes(app, "numbers", key), key


def test_a_failed_export_is_its_error_status_at_the_follow_route(make_app, serve, tmp_path):
    app = make_app(DUMP_WAIT_SECONDS=0)
    load_csv(app, "broken", SMALL_CSV, tmp_path)
    app.backend.read_write.warehouse.table_file("broken").write_bytes(b"not parquet")
    live = serve(app)
    miss = get_dump(live, "broken")
    assert miss.status_code == 302 and "/follow/broken?" in miss.headers["Location"]
    failed = requests.get(miss.headers["Location"], timeout=60)
    assert failed.status_code == 502 and failed.headers["Content-Type"] == "application/json"
    assert failed.json()["error"] == "export_failed" and int(failed.headers["Retry-After"]) >= 1


def test_a_follower_past_the_functions_bound_gets_503_with_retry_after(make_app, serve, tmp_path):
    app = make_app(DUMP_WAIT_SECONDS=0, STREAM_TIMEOUT_SECONDS=0.6)  # a follower waits five sixths: 0.5 s
    load_numbers(app, "numbers", 10, tmp_path)
    live = serve(doors_with_catalogue(app, queue=HeldQueue()))  # the export never finishes during this test
    miss = get_dump(live, "numbers")
    started = time.monotonic()
    late = requests.get(miss.headers["Location"], timeout=60)
    assert late.status_code == 503 and int(late.headers["Retry-After"]) >= 1
    assert late.json()["error"] == "unavailable" and "/datastore/dump/numbers" in late.json()["hint"]
    assert time.monotonic() - started >= 0.5


def test_the_follow_token_opens_exactly_its_attempt(make_app, serve, tmp_path):
    app = make_app(DUMP_WAIT_SECONDS=0)
    load_numbers(app, "numbers", 10, tmp_path)
    live = serve(doors_with_catalogue(app, queue=HeldQueue()))
    follow = get_dump(live, "numbers").headers["Location"]
    for bad in [follow.replace("attempt=1", "attempt=2"), follow.replace("format=csv", "format=tsv"),
                follow.replace("/follow/numbers", "/follow/other"), follow.replace("token=", "token=1"),
                follow.replace("/follow/", "/stream/")]:  # a follow token is no stream token
        answer = requests.get(bad, timeout=30)
        assert answer.status_code in (400, 403), bad
        assert answer.headers["Content-Type"] == "application/json"


def test_respond_async_and_head_answer_at_once(make_app, serve, tmp_path):
    app = make_app(DUMP_WAIT_SECONDS=600)  # a request that waited would time out below
    load_numbers(app, "numbers", 10, tmp_path)
    live = serve(doors_with_catalogue(app, queue=HeldQueue()))
    for headers in [{"Prefer": "respond-async"}, {"Prefer": "handling=lenient, Respond-Async"}]:
        answer = requests.get(f"{live.url}/datastore/dump/numbers", headers=headers, allow_redirects=False, timeout=5)
        assert answer.status_code == 202 and answer.json()["status"] == "exporting" and answer.headers["Retry-After"]
    head = requests.head(f"{live.url}/datastore/dump/numbers", timeout=5)  # queued, and redirected at once
    assert head.status_code == 302 and "/follow/numbers?" in head.headers["Location"]


def test_concurrent_cold_requests_follow_one_export(make_app, serve, tmp_path):
    app = make_app(DUMP_WAIT_SECONDS=0)
    load_numbers(app, "numbers", 50_000, tmp_path)
    live = serve(app)
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda _: requests.get(f"{live.url}/datastore/dump/numbers", timeout=120), range(12)))
    published = published_bytes(app, "numbers", "csv")
    assert all(a.status_code == 200 and a.content == published for a in answers)
    assert len(attempts(app, "numbers", "csv")) == 1  # one export, one attempt, one published file
    assert len(app.backend.read_write.warehouse._jobs) == 1
