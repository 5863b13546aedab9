"""One structured JSON line per request and per worker task, in Cloud Logging's fields, never a secret.

The formatter (functions/core/log_entries.py) is checked on its own; the lines themselves are captured from
stderr while the local server answers real requests over a socket.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import requests
from hypothesis import given, strategies as st

from functions.core import keys
from functions.core.log_entries import LOGGED_QUERY, latency, logged_url, request_entry, severity
from tests.support.app import HeldQueue, doors_with_catalogue
from tests.support.tables import SMALL_CSV, get_dump, load_csv

SECRETS = ("SECRET-TOKEN-1", "SECRET-SIG-2", "SECRET-CRED-3", "SECRET-GOOG-4")
LATENCY = re.compile(r"^\d+\.\d{3}s$")


def test_the_url_keeps_what_was_asked_for_and_nothing_else():
    query = "format=csv&token=t0k&signature=s1g&X-Goog-Signature=g&X-Goog-Credential=c&bom=true&rev=abc"
    assert logged_url("/datastore/dump/r1", query) == "/datastore/dump/r1?format=csv&bom=true&rev=abc"
    assert logged_url("/healthz", "") == "/healthz"
    assert logged_url("/a b/é", "x=1") == "/a%20b/%C3%A9"


@given(st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=30), max_size=6),
       st.text(alphabet="ABCDEFGHJKMNPQRSTUVWXYZ", min_size=12, max_size=20))
def test_no_value_of_a_parameter_outside_the_list_reaches_the_line(params, secret):
    from urllib.parse import urlencode

    query = urlencode({**params, "token": secret, "signature": secret})
    entry = request_entry(method="GET", path="/stream/r", query=query, status=200, response_size=10, seconds=0.01,
                          user_agent="ua", remote_ip="127.0.0.1", fields={})
    if not any(key in LOGGED_QUERY and secret in value for key, value in params.items()):
        assert secret not in json.dumps(entry)


def test_severity_latency_and_size_are_in_cloud_loggings_shapes():
    assert [severity(s) for s in (200, 302, 304, 404, 502)] == ["INFO", "INFO", "INFO", "WARNING", "ERROR"]
    assert latency(0.0123) == "0.012s" and latency(2) == "2.000s" and latency(-1) == "0.000s"
    entry = request_entry(method="GET", path="/p", query="", status=302, response_size=0, seconds=0.5,
                          user_agent="curl/8", remote_ip="10.0.0.1", fields={"outcome": "hit", "revision": None})
    assert entry["httpRequest"] == {"requestMethod": "GET", "requestUrl": "/p", "status": 302, "responseSize": "0",
                                    "latency": "0.500s", "userAgent": "curl/8", "remoteIp": "10.0.0.1"}
    assert entry["outcome"] == "hit" and "revision" not in entry and entry["severity"] == "INFO"


def log_lines(captured: str) -> list[dict]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def one_line_for(lines: list[dict], method: str, path: str) -> dict:
    found = [e for e in lines if "httpRequest" in e and e["httpRequest"]["requestMethod"] == method
             and e["httpRequest"]["requestUrl"].split("?")[0] == path]
    assert len(found) == 1, found
    return found[0]


def assert_cloud_logging_fields(entry: dict, status: int) -> None:
    http = entry["httpRequest"]
    assert http["status"] == status and LATENCY.match(http["latency"]) and http["remoteIp"] == "127.0.0.1"
    assert http["userAgent"].startswith("python-requests/") and int(http["responseSize"]) >= 0
    assert entry["severity"] == severity(status) and entry["message"]


def test_every_dump_request_leaves_one_line_with_its_outcome(make_app, serve, tmp_path, capsys):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
    capsys.readouterr()
    waited = get_dump(live, "small", format="csv")
    hit = get_dump(live, "small", format="csv")
    unchanged = requests.get(f"{live.url}/datastore/dump/small", headers={"If-None-Match": hit.headers["ETag"]},
                             allow_redirects=False, timeout=30)
    assert (waited.status_code, hit.status_code, unchanged.status_code) == (302, 302, 304)
    lines = [e for e in log_lines(capsys.readouterr().err) if "httpRequest" in e]
    dumps = [e for e in lines if e["httpRequest"]["requestUrl"].startswith("/datastore/dump/small")]
    assert [e["outcome"] for e in dumps] == ["waited", "hit", "not-modified"]
    rev = waited.headers["ETag"].strip('"').split("-")[0]
    for entry, status in zip(dumps, (302, 302, 304)):
        assert_cloud_logging_fields(entry, status)
        assert (entry["resource"], entry["variant"], entry["revision"], entry["authorizer"]) == (
            "small", "csv", rev, "anonymous")
    assert dumps[0]["httpRequest"]["requestUrl"] == "/datastore/dump/small?format=csv"


def test_queued_and_failed_requests_say_so(make_app, serve, tmp_path, capsys):
    app = make_app(DUMP_WAIT_SECONDS=0)
    load_csv(app, "small", SMALL_CSV, tmp_path)
    load_csv(app, "broken", SMALL_CSV, tmp_path)
    app.backend.read_write.warehouse.table_file("broken").write_bytes(b"not parquet")
    held = serve(doors_with_catalogue(app, queue=HeldQueue()))
    assert get_dump(held, "small", headers={"Prefer": "respond-async"}).status_code == 202
    queued = one_line_for(log_lines(capsys.readouterr().err), "GET", "/datastore/dump/small")
    assert queued["outcome"] == "queued" and queued["attempt"] == 1
    assert_cloud_logging_fields(queued, 202)

    live = serve(make_app(DUMP_WAIT_SECONDS=10, DUMP_LOCAL_DIR=str(app.config.local_dir)))
    assert get_dump(live, "broken").status_code == 502
    failed = one_line_for(log_lines(capsys.readouterr().err), "GET", "/datastore/dump/broken")
    assert failed["outcome"] == "failed" and failed["failure"] == "failed" and failed["severity"] == "ERROR"
    assert get_dump(live, "no_such_table").status_code == 404
    missing = one_line_for(log_lines(capsys.readouterr().err), "GET", "/datastore/dump/no_such_table")
    assert missing["outcome"] == "error" and missing["severity"] == "WARNING"


def test_worker_tasks_leave_one_line_each_with_job_files_bytes_and_phases(make_app, serve, tmp_path, capsys):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
    capsys.readouterr()
    assert get_dump(live, "small").status_code == 302  # the in-process queue delivered the task
    app.backend.read_write.queue.drain(30)  # the request ends when the manifest is written; the task's line comes after it
    [task] = [e for e in log_lines(capsys.readouterr().err) if e.get("message", "").startswith("export task")]
    assert task["task"] == "published" and task["resource"] == "small" and task["attempt"] == 1
    assert task["job_id"] and task["files"] == 1 and task["bytes"] > 0 and task["retry"] is False
    assert set(task["seconds"]) == {"export", "assemble", "cleanup"} and LATENCY.match(task["latency"])

    worker_key = keys.worker_door_secret(b"test-secret")
    payload = {"resource_id": "small", "format": "ndjson", "revision": task["revision"], "attempt": 1}
    answer = requests.post(live.url + "/tasks/export", json=payload, timeout=30,
                           headers={"X-Worker-Secret": worker_key, "X-CloudTasks-TaskRetryCount": "0"})
    assert answer.status_code == 200
    captured = capsys.readouterr().err
    door = one_line_for(log_lines(captured), "POST", "/tasks/export")
    assert_cloud_logging_fields(door, 200)
    assert door["task"] == "published" and door["variant"] == "ndjson" and door["files"] == 1
    assert door["last_delivery"] is False and set(door["seconds"]) == {"export", "assemble", "cleanup"}
    assert worker_key not in captured


def test_no_token_signature_or_credential_reaches_the_log(make_app, serve, tmp_path, capsys):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
    first = get_dump(live, "small")
    link = first.headers["Location"]
    link_query = parse_qs(urlsplit(link).query)
    capsys.readouterr()
    token, sig, cred, goog = SECRETS
    headers = {"Authorization": f"Bearer {cred}", "Cookie": f"session={cred}"}
    get_dump(live, "small", format="csv", token=token, signature=sig, **{"X-Goog-Signature": goog})
    requests.get(f"{live.url}/datastore/dump/small", params={"token": token}, headers=headers, timeout=30,
                 allow_redirects=False)
    requests.get(f"{live.url}/stream/small", params={"rev": "abc", "token": token}, headers=headers, timeout=30)
    assert requests.get(link, headers=headers, timeout=30).status_code == 200  # a real signed download
    requests.get(link.replace(link_query["signature"][0], sig), timeout=30)  # a forged one
    requests.post(live.url + "/tasks/export", json={}, headers={"X-Worker-Secret": cred}, timeout=30)
    captured = capsys.readouterr().err
    lines = log_lines(captured)
    assert len([e for e in lines if "httpRequest" in e]) == 6  # one per request
    for secret in (*SECRETS, link_query["signature"][0], "test-secret"):
        assert secret not in captured, secret
    objects = [e for e in lines if "httpRequest" in e and e["httpRequest"]["requestUrl"].startswith("/_objects/")]
    assert [e["httpRequest"]["status"] for e in objects] == [200, 403]
    assert all("?" not in e["httpRequest"]["requestUrl"] for e in objects)  # expires, type: not asked-for values


def test_a_query_dump_names_its_query_key_in_the_variant_of_each_line(make_app, serve, tmp_path, capsys):
    """The request, its export task and the touch tasks of later cache hits (through the same worker door and
    key as any task) each carry the query key: `csv.q<key>` as the variant, or `query_key` for a touch."""
    app = make_app(DUMP_QUERY_TOUCH_SECONDS=0)  # every cache hit queues a touch
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
    capsys.readouterr()
    filters = '{"name": "alpha"}'
    assert get_dump(live, "small", filters=filters).status_code == 302
    assert get_dump(live, "small", filters=filters).status_code == 302
    app.backend.read_write.queue.drain(30)  # the export's and the touch's lines come from the queue's threads, after the answers
    lines = log_lines(capsys.readouterr().err)
    requests_ = [e for e in lines if "httpRequest" in e and e["httpRequest"]["requestUrl"].startswith("/datastore")]
    variants = {e["variant"] for e in requests_}
    assert len(variants) == 1 and re.fullmatch(r"csv\.q[0-9a-f]{16}", variant := variants.pop())
    assert [e["outcome"] for e in requests_] == ["waited", "hit"]
    key = variant.split(".q")[1]
    [export] = [e for e in lines if e.get("message") == "export task published"]
    assert export["variant"] == variant
    touches = [e for e in lines if e.get("message") == "export task touched"]
    assert touches and all(t["query_key"] == key and t["resource"] == "small" for t in touches)

    worker_key = keys.worker_door_secret(b"test-secret")
    touch = {"touch": True, "resource_id": "small", "query_key": key}
    answer = requests.post(live.url + "/tasks/export", json=touch, timeout=30,
                           headers={"X-Worker-Secret": worker_key, "X-CloudTasks-TaskRetryCount": "99"})
    assert answer.status_code == 200 and answer.json()["status"] == "touched"
    door = one_line_for(log_lines(capsys.readouterr().err), "POST", "/tasks/export")
    assert door["task"] == "touched" and door["query_key"] == key and door["last_delivery"] is True
    refused = requests.post(live.url + "/tasks/export", json=touch, timeout=30, headers={"X-Worker-Secret": "x"})
    assert refused.status_code == 403
