"""The streaming function over a real socket: multi-file exports joined into one download, tokens, disconnects."""

from __future__ import annotations

import socket
import time

import requests

from tests.support.app import doors_with_catalogue
from tests.support.tables import get_dump, load_numbers
from tests.support.observed import Observed


def test_multi_file_export_streams_as_one_file_with_one_header(make_app, serve, tmp_path):
    whole, split = make_app(), make_app(DUMP_SHARD_BYTES=20_000, DUMP_COMPOSE="false")
    for app in (whole, split):
        load_numbers(app, "numbers", 5000, tmp_path)
    single = requests.get(get_dump(serve(whole), "numbers").headers["Location"], timeout=30).content
    live = serve(split)
    redirect = get_dump(live, "numbers")
    assert redirect.status_code == 302 and "/stream/numbers?" in redirect.headers["Location"]
    listing = [o.name for o in split.backend.read_write.store.list("dumps/numbers/csv/") if "part-" in o.name]
    assert len(listing) >= 3  # a middle shard too
    streamed = requests.get(redirect.headers["Location"], timeout=30)
    assert streamed.status_code == 200
    assert streamed.content == single and streamed.content.count(b"id,label,at\r\n") == 1
    assert int(streamed.headers["Content-Length"]) == len(single)
    assert streamed.headers["Content-Disposition"] == 'attachment; filename="numbers.csv"'
    for start, end in [(0, 0), (19_990, 20_050), (len(single) - 7, len(single) - 1), (5, 60_000)]:
        part = requests.get(redirect.headers["Location"], headers={"Range": f"bytes={start}-{end}"}, timeout=30)
        assert part.status_code == 206 and part.content == single[start:end + 1]
    ndjson_single = requests.get(get_dump(serve(whole), "numbers", format="ndjson").headers["Location"], timeout=30)
    ndjson = requests.get(get_dump(live, "numbers", format="ndjson").headers["Location"], timeout=30)
    assert ndjson.content == ndjson_single.content and len(ndjson.content.splitlines()) == 5000


def test_stream_token_is_checked_before_anything_is_read(make_app, serve, tmp_path):
    app = make_app(DUMP_SHARD_BYTES=20_000, DUMP_COMPOSE="false")
    load_numbers(app, "numbers", 5000, tmp_path)
    live = serve(app)
    location = get_dump(live, "numbers").headers["Location"]
    for bad in [location.replace("token=", "token=1"), location.replace("format=csv", "format=tsv"),
                location.replace("/stream/numbers", "/stream/other"), location.split("&token=")[0]]:
        answer = requests.get(bad, timeout=30)
        assert answer.status_code == 403, (bad, answer.status_code)
        assert answer.headers["Content-Type"] == "application/json"


def test_client_disconnect_stops_the_upstream_reads(make_app, serve, tmp_path):
    app = make_app(DUMP_SHARD_BYTES=2_000_000, DUMP_COMPOSE="false")
    load_numbers(app, "numbers", 400_000, tmp_path)
    live = serve(app)
    published = get_dump(live, "numbers", {"Prefer": "respond-async, wait=25"})  # a long export would be followed
    location = published.headers["Location"]
    assert "/stream/numbers?" in location
    counting = Observed(app.backend.read_only.bucket)
    counted = serve(doors_with_catalogue(app, bucket=counting))  # the streaming function reads the read-only view
    total = sum(o.size for o in counting.list("dumps/numbers/csv/"))
    path = location.split(live.url)[1]
    with socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # keep loopback buffers from hiding the close
        client.connect(("127.0.0.1", counted.server.port))
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        client.recv(65536)
    deadline = time.monotonic() + 10
    while counting.streams_closed < counting.count("read_range") and time.monotonic() < deadline:
        time.sleep(0.05)
    opened = counting.count("read_range")
    assert opened >= 1 and counting.streams_closed == opened, (opened, counting.streams_closed)
    assert counting.chunks * 65536 < total / 2, (counting.chunks, total)
