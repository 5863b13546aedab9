"""Bytes before the export ends, on the local backend over a real socket: a follower gets each piece as it becomes
final, in order, and its bytes are the published file's; a failure after the first byte cuts the transfer; a
follower whose client goes away ends. The manifest write is held (GatedStore) so "before publish" is certain."""

from __future__ import annotations

import errno
import socket
import subprocess
import threading
import time

import pytest
import requests

from functions.core import layout, progress
from tests.support.app import HeldQueue, doors_with_catalogue, rebuilt
from tests.support.published import published_bytes
from tests.support.tables import get_dump, load_numbers


class GatedStore:
    """The worker's real store, with its manifest writes held until the test opens the gate (or failing, as a full
    disk would)."""

    def __init__(self, inner, fail: bool = False):
        self.inner, self.fail = inner, fail
        self.gate, self.reached = threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def write_bytes(self, name, data, content_type="", *, if_absent=False):
        if name.endswith(layout.MANIFEST):
            self.reached.set()
            self.gate.wait(60)
            if self.fail:
                raise OSError(errno.ENOSPC, "No space left on device")
        return self.inner.write_bytes(name, data, content_type, if_absent=if_absent)


def gated(make_app, tmp_path, fail=False, **env):
    app = make_app(**{"DUMP_WAIT_SECONDS": 0, "DUMP_SHARD_BYTES": 300_000, **env})  # many pieces
    load_numbers(app, "numbers", 60_000, tmp_path)
    gate = GatedStore(app.backend.read_write.store, fail)
    app.worker.publisher.store = gate  # the worker's manifest writes; followers read the real bucket
    return app, gate


@pytest.mark.parametrize("params, key", [
    ({"format": "csv"}, "csv"), ({"format": "tsv", "bom": "true"}, "tsv-bom"),
    ({"format": "csv", "compression": "gzip"}, "csv.gz"), ({"format": "ndjson"}, "ndjson"),
    ({"format": "tsv", "compression": "gzip", "bom": "true"}, "tsv-bom.gz"), ({"format": "parquet"}, "parquet"),
    ({"format": "json"}, "json"), ({"format": "xml", "bom": "true"}, "xml-bom"),
    ({"format": "json", "compression": "gzip"}, "json.gz"),
])
def test_a_follower_gets_the_pieces_before_publish_and_the_published_files_bytes(make_app, serve, tmp_path,
                                                                                 params, key):
    app, gate = gated(make_app, tmp_path)
    live = serve(app)
    follow = get_dump(live, "numbers", **params).headers["Location"]
    with requests.get(follow, stream=True, timeout=60) as answer:
        assert answer.status_code == 200 and answer.headers["Transfer-Encoding"] == "chunked"
        filename = layout.download_filename("numbers", answer_variant(key))
        assert answer.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
        first = answer.raw.read(50_000)
        assert len(first) == 50_000 and gate.reached.wait(60)
        assert not [o for o in app.backend.read_write.store.list("dumps/numbers/") if o.name.endswith("manifest.json")]
        gate.gate.set()  # now the worker publishes
        body = first + answer.raw.read()
    assert body == published_bytes(app, "numbers", key)


def test_a_dump_request_that_waits_is_redirected_to_follow_once_the_first_piece_is_final(make_app, serve,
                                                                                      tmp_path):
    """A download does not wait the dump function's whole wait (25 s by default) while the export's first pieces
    could be on their way: it is sent to the follow route as soon as one is final, here with the publish held."""
    app, gate = gated(make_app, tmp_path, DUMP_WAIT_SECONDS=600)
    live = serve(app)
    answer = get_dump(live, "numbers", format="csv")  # at most 30 s: the manifest is held for 60
    assert answer.status_code == 302 and "/follow/numbers" in answer.headers["Location"]
    with requests.get(answer.headers["Location"], stream=True, timeout=60) as followed:
        first = followed.raw.read(1000)
        assert len(first) == 1000 and not gate.gate.is_set()
        gate.gate.set()
        body = first + followed.raw.read()
    assert body == published_bytes(app, "numbers", "csv")


def answer_variant(key):
    from functions.core.identifiers import variant_key

    return variant_key(key)


def test_the_csv_header_comes_once_and_the_bom_first(make_app, serve, tmp_path):
    app, gate = gated(make_app, tmp_path, DUMP_COMPOSE="false")  # every file carries its header: skipped after one
    live = serve(app)
    follow = get_dump(live, "numbers", format="csv", bom="true").headers["Location"]
    with requests.get(follow, stream=True, timeout=60) as answer:
        first = answer.raw.read(10_000)
        gate.reached.wait(60)
        gate.gate.set()
        body = first + answer.raw.read()
    assert body.startswith(b"\xef\xbb\xbfid,label,at\r\n") and body.count(b"id,label,at") == 1
    assert body == published_bytes(app, "numbers", "csv-bom") and len(body.splitlines()) == 60_001


def test_a_failure_after_the_first_byte_cuts_the_transfer(make_app, serve, tmp_path):
    app, gate = gated(make_app, tmp_path, fail=True)  # the manifest write fails as on a full disk
    live = serve(app)
    follow = get_dump(live, "numbers").headers["Location"]
    with requests.get(follow, stream=True, timeout=60) as answer:
        chunks = answer.iter_content(1000)
        assert answer.status_code == 200 and next(chunks)  # the first bytes are out
        gate.gate.set()
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for _ in chunks:
                pass
    again = requests.get(follow, timeout=60)  # the attempt failed before this follower's first byte: its status
    assert again.status_code == 502 and again.json()["error"] == "export_failed"


def test_curl_reports_a_cut_transfer(make_app, serve, tmp_path):
    app, gate = gated(make_app, tmp_path, fail=True)
    live = serve(app)
    follow = get_dump(live, "numbers").headers["Location"]
    out = tmp_path / "out"
    curl = subprocess.Popen(["curl", "-sS", "-o", str(out), follow], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (out.exists() and out.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.01)  # readiness: curl has the first bytes (the headers went out with them)
    gate.gate.set()
    assert curl.wait(60) == 18  # CURLE_PARTIAL_FILE: transfer closed with outstanding read data remaining


def test_a_follower_whose_client_goes_away_ends(make_app, serve, tmp_path, caplog):
    app = make_app(DUMP_WAIT_SECONDS=0)
    load_numbers(app, "numbers", 10, tmp_path)
    live = serve(doors_with_catalogue(app, queue=HeldQueue()))  # the export never comes
    follow = get_dump(live, "numbers").headers["Location"]
    caplog.set_level("INFO", logger="bqdump.requests")
    client = socket.create_connection(("127.0.0.1", int(live.url.rsplit(":", 1)[1])))
    client.sendall(f"GET {follow.split(live.url)[1]} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    client.close()
    deadline = time.monotonic() + 30  # the follower looks again at most every 2 s and sees its client gone
    while not any("client-gone" in r.getMessage() for r in caplog.records) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any("client-gone" in r.getMessage() and "/follow/numbers" in r.getMessage() for r in caplog.records)


class LateRecordReader:
    """The followers' bucket, reading a streamed record only once the worker has published the attempt and deleted
    its records with the leftovers: the race of a follower that listed the records just before the publish."""

    def __init__(self, inner):
        self.inner, self.reading = inner, threading.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def read_bytes(self, name):
        if progress.RECORD.fullmatch(name.rsplit("/", 1)[-1]):
            self.reading.set()  # lets the worker publish (its manifest write waits for this)
            deadline = time.monotonic() + 60
            folder = name.rsplit("/", 1)[0] + "/"
            while any(o.name == name for o in self.inner.list(folder)) and time.monotonic() < deadline:
                time.sleep(0.01)  # readiness: until the worker's cleanup has deleted the record
        return self.inner.read_bytes(name)


def test_a_follower_whose_records_went_with_the_publish_gets_the_published_file(make_app, serve, tmp_path):
    app, gate = gated(make_app, tmp_path)
    reader = LateRecordReader(app.backend.read_only.bucket)
    gate.gate = reader.reading  # the manifest is written once a follower reads a record listed before it
    following = rebuilt(app, bucket=reader)
    following.worker.publisher.store = gate  # the rebuilt app's worker is the one the queue delivers to
    live = serve(following.doors)
    answer = requests.get(live.url + "/datastore/dump/numbers?format=csv", timeout=60)
    assert reader.reading.is_set() and gate.reached.is_set()
    assert answer.status_code == 200 and answer.content == published_bytes(app, "numbers", "csv")
