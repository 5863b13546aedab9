"""The fault proxy in front of the real emulators: delay, counting, 5xx, stalls, cut bodies, streaming."""

from __future__ import annotations

import http.client
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, storage

from tests.support.fault_proxy import CUT, ERROR, STALL, FaultProxy
from tests.support.servers import ServerThread

PROJECT = "test-project"
BIG = secrets.token_bytes(3 * 1024 * 1024)


@pytest.fixture
def bucket(gcs_emulator):
    name = f"proxy-{secrets.token_hex(6)}"
    bucket = gcs_emulator.client(PROJECT).create_bucket(name)
    bucket.blob("big.bin").upload_from_string(BIG)
    bucket.blob("small.txt").upload_from_string(b"hello")
    return name


@pytest.fixture
def gcs_proxy(gcs_emulator):
    with FaultProxy(gcs_emulator.endpoint) as proxy:
        yield proxy


def client_through(proxy: FaultProxy) -> storage.Client:
    return storage.Client(project=PROJECT, credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": proxy.url})


def media(proxy: FaultProxy, bucket: str, name: str) -> str:
    return f"{proxy.url}/download/storage/v1/b/{bucket}/o/{name}?alt=media"


def test_a_google_client_works_through_it_and_each_call_is_counted(gcs_proxy, bucket):
    client = client_through(gcs_proxy)
    blob = client.bucket(bucket).blob("new.txt")
    blob.upload_from_string(b"through the proxy")
    assert [b.name for b in client.list_blobs(bucket)] == ["big.bin", "new.txt", "small.txt"]
    assert client.bucket(bucket).blob("big.bin").download_as_bytes() == BIG
    assert gcs_proxy.count("POST", r"/upload/storage/v1/b/") == 1
    assert gcs_proxy.count("GET", rf"/storage/v1/b/{bucket}/o\?") == 1
    assert gcs_proxy.count("GET", r"alt=media") == 1
    assert gcs_proxy.count("*", ".") == len(gcs_proxy.calls) >= 3  # the upload also reads the bucket first
    gcs_proxy.reset_counts()
    assert gcs_proxy.count("*", ".") == 0


def test_the_emulators_own_address_in_metadata_points_back_at_the_proxy(gcs_proxy, gcs_emulator, bucket):
    blob = client_through(gcs_proxy).bucket(bucket).get_blob("small.txt")
    assert blob.media_link.startswith(gcs_proxy.url) and gcs_emulator.endpoint not in blob.media_link
    assert blob.download_as_bytes() == b"hello"  # through the media link, so through the proxy
    assert gcs_proxy.count("GET", "alt=media") == 1


def test_every_call_waits_the_delay(gcs_emulator, bucket):
    with FaultProxy(gcs_emulator.endpoint, delay=0.05) as proxy:
        client = client_through(proxy)
        client.bucket(bucket).blob("small.txt").download_as_bytes()  # connection made
        start = time.perf_counter()
        for _ in range(4):
            client.bucket(bucket).blob("small.txt").download_as_bytes()
        assert time.perf_counter() - start >= 4 * 0.05


def test_bigquery_calls_go_through_it_too(bigquery_emulator):
    dataset = f"proxy_{secrets.token_hex(4)}"
    bigquery_emulator.client(PROJECT).create_dataset(dataset)
    bigquery_emulator.client(PROJECT).query(f"CREATE TABLE `{PROJECT}.{dataset}.t` AS SELECT 1 AS x",
                                            job_retry=None).result()
    with FaultProxy(bigquery_emulator.endpoint) as proxy:
        client = bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(),
                                 client_options=ClientOptions(api_endpoint=proxy.url))
        proxy.add_fault("GET", r"/tables/t(\?|$)", ERROR, nth=1, status=500)
        table = client.get_table(f"{PROJECT}.{dataset}.t")  # the client retries the 500
        assert table.num_rows == 1
        assert proxy.count("GET", rf"/projects/{PROJECT}/datasets/{dataset}/tables/t(\?|$)") == 2


def test_the_nth_matching_call_gets_the_chosen_5xx(gcs_proxy, bucket):
    gcs_proxy.add_fault("GET", r"/o/small\.txt\?alt=media", ERROR, nth=2, status=503)
    statuses = [requests.get(media(gcs_proxy, bucket, "small.txt"), timeout=5).status_code for _ in range(3)]
    assert statuses == [200, 503, 200]
    assert requests.get(media(gcs_proxy, bucket, "big.bin"), timeout=5).status_code == 200  # not matched
    gcs_proxy.add_fault("*", "alt=media", ERROR, status=500)  # every call from now on
    answer = requests.get(media(gcs_proxy, bucket, "big.bin"), timeout=5)
    assert answer.status_code == 500 and answer.json()["error"]["code"] == 500
    gcs_proxy.clear_faults()
    assert requests.get(media(gcs_proxy, bucket, "big.bin"), timeout=5).status_code == 200


def test_a_stalled_call_times_out_and_stopping_the_proxy_releases_it(gcs_emulator, bucket):
    proxy = FaultProxy(gcs_emulator.endpoint).start()
    proxy.add_fault("GET", "small", STALL, stall_seconds=60)
    start = time.perf_counter()
    with pytest.raises(requests.ReadTimeout):
        requests.get(media(proxy, bucket, "small.txt"), timeout=0.5)
    assert time.perf_counter() - start < 5
    assert requests.get(media(proxy, bucket, "big.bin"), timeout=5).status_code == 200  # others still served
    proxy.stop()


def test_a_cut_sends_the_headers_and_part_of_the_body_then_drops_the_connection(gcs_proxy, bucket):
    gcs_proxy.add_fault("GET", "big.bin", CUT, nth=1, cut_after=100_000)
    conn = http.client.HTTPConnection("127.0.0.1", gcs_proxy.port, timeout=10)
    conn.request("GET", f"/download/storage/v1/b/{bucket}/o/big.bin?alt=media")
    response = conn.getresponse()
    assert response.status == 200 and int(response.getheader("Content-Length")) == len(BIG)
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert len(caught.value.partial) == 100_000 and caught.value.partial == BIG[:100_000]
    conn.close()
    # The Google client notices the short body and retries; the second call is whole.
    assert client_through(gcs_proxy).bucket(bucket).blob("big.bin").download_as_bytes() == BIG
    assert gcs_proxy.count("GET", "big.bin") == 2


class HeldBackBody(BaseHTTPRequestHandler):
    """A stand-in upstream that sends the first half of its body, then waits to be released: only a server we
    control can show that the proxy forwards what it has rather than waiting for the whole body."""

    release = threading.Event()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "16")
        self.end_headers()
        self.wfile.write(b"first---")
        self.wfile.flush()
        self.release.wait(10)
        self.wfile.write(b"--second")

    def log_message(self, *args):
        pass


def test_bodies_stream_through_without_waiting_for_the_end():
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), HeldBackBody)
    running = ServerThread(upstream, "held-back-upstream")
    try:
        with FaultProxy(f"http://127.0.0.1:{upstream.server_port}") as proxy:
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
            conn.request("GET", "/anything")
            response = conn.getresponse()
            assert response.read(8) == b"first---"  # arrived while the upstream still holds its connection open
            HeldBackBody.release.set()
            assert response.read() == b"--second"
            conn.close()
    finally:
        HeldBackBody.release.set()
        running.stop()


def test_a_client_that_goes_away_mid_download_leaves_the_proxy_serving(gcs_proxy, bucket):
    for _ in range(3):
        conn = http.client.HTTPConnection("127.0.0.1", gcs_proxy.port, timeout=5)
        conn.request("GET", f"/download/storage/v1/b/{bucket}/o/big.bin?alt=media")
        assert conn.getresponse().read(1000) == BIG[:1000]
        conn.close()  # 3 MiB still to come
    assert requests.get(media(gcs_proxy, bucket, "big.bin"), timeout=5).content == BIG
