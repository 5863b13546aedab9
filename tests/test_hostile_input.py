"""Hostile and malformed requests over a real socket: a clear 4xx JSON answer each, never a 500 or silence.

One test per class of input (issue 14), each with a few representatives of its class.
"""

from __future__ import annotations

import json
import socket

import pytest
import requests

from functions.core import keys
from functions.core.layout import revision_of
from tests.support.tables import SMALL_CSV, get_dump, load_csv
from tests.support.servers import ServerThread


def assert_json_error(answer: requests.Response, *statuses: int) -> dict:
    assert answer.status_code in statuses, (answer.status_code, answer.text[:300])
    assert answer.headers["Content-Type"].startswith("application/json"), answer.text[:300]
    body = answer.json()
    assert body["error"] and body["message"] and body["hint"], body
    return body


def raw_exchange(live, request: bytes) -> bytes:
    """Sends bytes as they are (no client library tidies them up) and reads the whole answer."""
    with socket.create_connection(("127.0.0.1", live.server.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def split_answer(raw: bytes) -> tuple[int, dict, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.fixture
def small(make_app, serve, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
    return app, live


def test_object_signature_and_expiry_of_any_text_are_refused(small):
    _, live = small
    location = get_dump(live, "small").headers["Location"]
    base, query = location.split("?", 1)
    params = dict(part.split("=", 1) for part in query.split("&"))
    for field, value in [("signature", "é"), ("signature", "\u0663\u0664"), ("signature", "x" * 5000),
                         ("expires", "\u0663\u0664\u0665"), ("expires", "\u00b2"), ("expires", "9" * 5000),
                         ("expires", "-1"), ("expires", "")]:
        answer = requests.get(base, params={**params, field: value}, timeout=30)
        assert_json_error(answer, 403)


def test_stream_token_of_any_text_is_refused(small):
    app, live = small
    rev = revision_of(app.backend.read_write.warehouse.table_modified("small"))
    for token in ["é.abc", "1.é", "\u0663.abc", "9" * 5000 + ".abc", "1." + "é" * 3000]:
        answer = requests.get(f"{live.url}/stream/small", params={"rev": rev, "token": token}, timeout=30)
        assert_json_error(answer, 403)


def test_ranges_with_huge_numbers_are_refused_or_ignored(small):
    _, live = small
    location = get_dump(live, "small").headers["Location"]
    size = len(requests.get(location, timeout=30).content)
    for header, status in [("bytes=" + "9" * 5000 + "-", 416),  # starts past the end
                           ("bytes=0-" + "9" * 5000, 206), ("bytes=-" + "9" * 5000, 206),  # the whole file
                           ("bytes=\u0663-", 200), ("bytes=1-\u0663", 200)]:  # not a range: ignored
        answer = requests.get(location, headers={"Range": header.encode("utf-8")}, timeout=30)
        if status == 416:
            assert_json_error(answer, 416)
        else:
            assert (answer.status_code, len(answer.content)) == (status, size), (header[:40], answer.status_code)


@pytest.mark.parametrize("length", [255, 256, 300, 1024])
def test_resource_ids_up_to_the_documented_limit_work_on_the_local_backend(make_app, serve, tmp_path, length):
    app = make_app()
    rid = "r" * length
    source = tmp_path / "t.csv"
    source.write_text(SMALL_CSV)
    app.backend.read_write.warehouse.load(rid, source)
    assert rid in app.backend.read_write.warehouse.list_tables()
    live = serve(app)
    first = get_dump(live, rid)
    assert first.status_code == 302, first.text[:300]
    download = requests.get(first.headers["Location"], timeout=30)
    assert download.status_code == 200 and download.text.startswith("id,name")
    filtered = get_dump(live, rid, filters='{"id": 1}')  # the query path derives the table's folder too
    assert filtered.status_code == 302, filtered.text[:300]
    download = requests.get(filtered.headers["Location"], timeout=30)
    rows = [line[:8] for line in download.text.splitlines()[1:]]
    assert download.status_code == 200 and rows == ["1,alpha,"], download.text[:300]
    assert_json_error(get_dump(live, "q" * length), 404)  # an unknown long id: a 404, not a 500


def worker_headers(app) -> dict:
    return {"X-Worker-Secret": keys.worker_door_secret(b"test-secret"), "Content-Type": "application/json"}


def test_task_bodies_with_values_of_the_wrong_type_are_rejected(small):
    app, live = small
    rev = revision_of(app.backend.read_write.warehouse.table_modified("small"))
    good = {"resource_id": "small", "format": "csv", "revision": rev, "attempt": 1}
    bad_values = [("format", 5), ("format", ["csv"]), ("format", {"a": 1}), ("compression", 1),
                  ("compression", True), ("bom", []), ("bom", 1.5), ("attempt", float("inf")),
                  ("attempt", float("nan")), ("attempt", 10 ** 400), ("attempt", "1" * 5000), ("attempt", True),
                  ("attempt", 1.5), ("resource_id", ["small"]), ("revision", 12)]
    for field, value in bad_values:
        body = json.dumps({**good, field: value})  # json.dumps writes Infinity and NaN as Python reads them
        answer = requests.post(live.url + "/tasks/export", data=body, headers=worker_headers(app), timeout=30)
        assert answer.status_code == 200 and answer.json()["status"] == "rejected", (field, value, answer.text[:200])


@pytest.mark.parametrize("route", ["/tasks/export", "/datastore/dump/prewarm"])
def test_deeply_nested_or_huge_json_is_refused(make_app, serve, route):
    app = make_app(PREWARM_SECRET="pw")
    live = serve(app)
    headers = {**worker_headers(app), "X-Prewarm-Secret": "pw"}
    for body in ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000,
                 '{"resources": ["' + "x" * 2_000_000 + '"]}']:
        answer = requests.post(live.url + route, data=body, headers=headers, timeout=30)
        assert_json_error(answer, 400, 413)


@pytest.mark.parametrize("host", [b"xn--a", b"\xff\xfe", b"a..b", b".", b"xn--zz-.com", b"ex ample.com",
                                  b"a" * 300, b"[::1", b"127.0.0.1:99999999", b"evil.example", b"b\xc3\xbccher.de"])
def test_any_host_header_gets_json(small, host):
    _, live = small
    raw = raw_exchange(live, b"GET /datastore/dump/small HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
    status, headers, body = split_answer(raw)
    assert status < 500, raw[:300]
    if status >= 400:
        assert status == 400 and headers["content-type"].startswith("application/json"), raw[:300]
        assert {"error", "message", "hint"} <= json.loads(body).keys()
    else:  # a host name, if not this one: the link still points at the server's own address
        assert status == 302 and headers["location"].startswith(live.url), raw[:300]


def test_the_redirect_never_points_at_the_host_header(small):
    _, live = small
    answer = requests.get(f"{live.url}/datastore/dump/small", headers={"Host": "evil.example"},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(live.url + "/_objects/"), answer.headers["Location"]


def test_a_malformed_request_line_gets_a_json_400_and_its_query_is_not_logged(small, caplog):
    _, live = small
    for line in [b"GET /_objects/x?signature=LIVE-SIGNATURE HTTP/1.1 extra\r\n", b"\xff\xfe\r\n",
                 b"GARBAGE /_objects/x?signature=LIVE-SIGNATURE\r\n", b"GET\r\n"]:
        with caplog.at_level("INFO"):
            raw = raw_exchange(live, line + b"Host: 127.0.0.1\r\n\r\n")
        assert raw, line
        status, headers, body = split_answer(raw)
        assert status == 400 and headers["content-type"].startswith("application/json"), raw[:300]
        assert {"error", "message", "hint"} <= json.loads(body).keys()
    assert "LIVE-SIGNATURE" not in caplog.text


def test_a_failed_local_export_names_no_server_path_to_the_caller(make_app, serve, tmp_path, caplog):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    app.backend.read_write.warehouse.table_file("small").write_bytes(b"not parquet at all")  # DuckDB's error names the file
    live = serve(app)
    with caplog.at_level("WARNING"):
        answer = get_dump(live, "small")
    body = assert_json_error(answer, 502)
    assert str(tmp_path) not in answer.text and "/tables/" not in answer.text, body
    assert str(tmp_path) in caplog.text  # the administrator still sees where


BAD_HOSTS = ["a..b", ".", "xn--a", "xn--zz-.com", "ex ample.com", "a" * 300, "[::1", "127.0.0.1:99999999", ":80"]


def test_functions_framework_answers_a_bad_host_with_json_too(tmp_path, monkeypatch):
    """functions-framework's Flask app parses Host before our code runs; served here over a real socket."""
    from types import SimpleNamespace

    import functions_framework
    from werkzeug.serving import make_server

    for key, value in {"DUMP_BACKEND": "local", "DUMP_LOCAL_DIR": str(tmp_path), "DUMP_TOKEN_SECRET": "s"}.items():
        monkeypatch.setenv(key, value)
    server = make_server("127.0.0.1", 0, functions_framework.create_app(target="dump", source="main.py"),
                         threaded=True)
    running = ServerThread(server, "functions-framework-app")
    try:
        live = SimpleNamespace(server=server)
        for host in [b"dumps.example.org"] + [host.encode() for host in BAD_HOSTS]:
            raw = raw_exchange(live, b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
            status, headers, body = split_answer(raw)
            assert status == (200 if host == b"dumps.example.org" else 400), (host, raw[:300])
            assert headers["content-type"].startswith("application/json"), (host, raw[:300])
            if status == 400:
                assert {"error", "message", "hint"} <= json.loads(body).keys(), (host, body[:300])
    finally:
        running.stop()


def test_an_unreadable_manifest_names_neither_object_nor_path_to_the_caller(make_app, serve, tmp_path, caplog):
    from functions.core import layout
    from functions.core.model import Format, Variant

    app = make_app()
    load_csv(app, "broken", SMALL_CSV, tmp_path)
    rev = revision_of(app.backend.read_write.warehouse.table_modified("broken"))
    prefix = layout.attempt_prefix("broken", Variant(Format.CSV), rev, 1)
    app.backend.read_write.store.write_bytes(prefix + layout.MANIFEST, b'{"not": "a manifest"}', "application/json")
    live = serve(app)
    with caplog.at_level("ERROR"):
        answer = get_dump(live, "broken")
    assert_json_error(answer, 503)
    assert "manifest.json" not in answer.text and "dumps/" not in answer.text and str(tmp_path) not in answer.text
    assert prefix + layout.MANIFEST in caplog.text
