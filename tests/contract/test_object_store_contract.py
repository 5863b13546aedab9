"""The ObjectStore contract, on a local folder and on Cloud Storage (fake-gcs-server)."""

from __future__ import annotations

import gc
import os
import tracemalloc
from dataclasses import dataclass
from typing import Callable

import psutil
import pytest
import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from functions.adapters.google.storage import GcsObjectStore
from functions.adapters.local.object_store import LocalObjectStore
from functions.core.errors import NotFound
from tests.contract.conftest import PROJECT

DATA = os.urandom(300 * 1024)  # five 64 KiB chunks and a bit


@dataclass
class Backend:
    store: object
    open_handles: Callable[[], set]  # what a read holds open upstream: files, or TCP connections
    stored_headers: Callable[[str], tuple[str, str] | None]
    requests: list | None = None  # (method, url) of every API call, where the backend has any


@pytest.fixture(params=["local", "gcs"])
def backend(request, tmp_path) -> Backend:
    if request.param == "local":
        store = LocalObjectStore(tmp_path / "bucket")
        files = lambda: {f.path for f in psutil.Process().open_files() if f.path.startswith(str(store.root))}  # noqa: E731
        return Backend(store, files, lambda name: None)
    emulator = request.getfixturevalue("gcs_emulator")
    bucket = request.getfixturevalue("gcs_bucket")
    session = RecordingSession()
    client = storage.Client(project=PROJECT, credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": emulator.endpoint}, _http=session)
    store = GcsObjectStore(lambda: client, bucket, lambda: session)
    port = int(emulator.endpoint.rsplit(":", 1)[1])

    def connections() -> set:
        return {c.laddr for c in psutil.Process().net_connections("tcp")
                if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED}

    def headers(name: str):
        blob = client.bucket(bucket).get_blob(name)
        return blob.content_type, blob.content_disposition

    return Backend(store, connections, headers, session.calls)


class RecordingSession(requests.Session):
    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, str]] = []

    def request(self, method, url, *args, **kwargs):
        self.calls.append((method, url))
        return super().request(method, url, *args, **kwargs)


def test_list_is_by_prefix_with_sizes_and_aware_times(backend):
    store = backend.store
    for name in ("dumps/a/1/part-1.csv", "dumps/a/1/part-2.csv", "dumps/ab/x.csv", "dumps/b/1/manifest.json"):
        store.write_bytes(name, name.encode(), "text/csv")
    listed = store.list("dumps/a/")
    assert [o.name for o in listed] == ["dumps/a/1/part-1.csv", "dumps/a/1/part-2.csv"]
    assert [o.size for o in listed] == [len(o.name) for o in listed]
    assert all(o.updated.tzinfo is not None for o in listed)
    assert [o.name for o in store.list("dumps/a")] == ["dumps/a/1/part-1.csv", "dumps/a/1/part-2.csv", "dumps/ab/x.csv"]
    assert store.list("nothing/") == []


def test_read_bytes_and_missing_objects(backend):
    backend.store.write_bytes("x/data.bin", DATA, "application/octet-stream")
    assert backend.store.read_bytes("x/data.bin") == DATA
    with pytest.raises(NotFound):
        backend.store.read_bytes("x/missing.bin")
    with pytest.raises(NotFound):
        list(backend.store.read_range("x/missing.bin", 0, 10, 65536))


@pytest.mark.parametrize("start,length", [(0, len(DATA)), (1, 65536), (70_000, 150_001), (len(DATA) - 1, 1)])
def test_read_range_returns_exact_bytes_in_bounded_chunks(backend, start, length):
    backend.store.write_bytes("x/data.bin", DATA, "application/octet-stream")
    chunks = list(backend.store.read_range("x/data.bin", start, length, 65536))
    assert b"".join(chunks) == DATA[start:start + length]
    assert all(0 < len(chunk) <= 65536 for chunk in chunks)
    small = list(backend.store.read_range("x/data.bin", start, min(length, 5000), 1000))
    assert all(len(chunk) <= 1000 for chunk in small) and b"".join(small) == DATA[start:start + min(length, 5000)]


def test_closing_a_half_read_range_releases_what_it_held(backend):
    backend.store.write_bytes("x/data.bin", DATA, "application/octet-stream")
    before = backend.open_handles()
    stream = backend.store.read_range("x/data.bin", 0, len(DATA), 65536)
    assert len(next(stream)) == 65536
    during = backend.open_handles()
    stream.close()
    after = backend.open_handles()
    assert during - after, "the read held nothing open?"
    assert after <= before, f"still open after close: {after - before}"


def test_streaming_a_large_object_keeps_memory_flat(backend):
    size = 16 << 20
    backend.store.write_bytes("x/big.bin", os.urandom(size), "application/octet-stream")
    gc.collect()
    tracemalloc.start()
    try:
        total = sum(len(chunk) for chunk in backend.store.read_range("x/big.bin", 0, size, 65536))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size
    assert peak < 2 << 20, f"peak {peak} bytes while streaming {size}"


def test_write_if_absent_never_replaces(backend):
    store = backend.store
    assert store.write_bytes("x/manifest.json", b"first", "application/json", if_absent=True) is True
    assert store.write_bytes("x/manifest.json", b"second", "application/json", if_absent=True) is False
    assert store.read_bytes("x/manifest.json") == b"first"
    assert store.write_bytes("x/manifest.json", b"third", "application/json") is True
    assert store.read_bytes("x/manifest.json") == b"third"


def test_delete_is_idempotent(backend):
    backend.store.write_bytes("x/a.csv", b"a", "text/csv")
    backend.store.delete("x/a.csv")
    backend.store.delete("x/a.csv")
    backend.store.delete("x/never-was.csv")
    assert backend.store.list("x/") == []


def test_download_headers_are_stored_where_the_store_serves_them(backend):
    backend.store.write_bytes("x/part-0.csv", b"a\n1\n", "application/octet-stream")
    backend.store.set_download_headers("x/part-0.csv", content_type="text/csv; charset=utf-8", filename="small.csv")
    assert backend.store.read_bytes("x/part-0.csv") == b"a\n1\n"
    stored = backend.stored_headers("x/part-0.csv")
    if stored is not None:  # the local store has nothing to store: its signed URL carries both
        assert stored == ("text/csv; charset=utf-8", 'attachment; filename="small.csv"')


def test_compose_concatenates_chains_and_respects_if_absent(backend):
    store = backend.store
    for index in range(3):
        store.write_bytes(f"x/part-{index}.csv", f"row{index}\n".encode(), "text/csv")
    assert store.compose([f"x/part-{i}.csv" for i in range(3)], "x/all.csv", "text/csv") is True
    assert store.read_bytes("x/all.csv") == b"row0\nrow1\nrow2\n"
    assert store.compose(["x/all.csv", "x/part-0.csv"], "x/all.csv", "text/csv") is True  # a chain step
    assert store.read_bytes("x/all.csv") == b"row0\nrow1\nrow2\nrow0\n"
    if backend.requests is None:
        assert store.compose(["x/part-1.csv"], "x/all.csv", "text/csv", if_absent=True) is False
        assert store.read_bytes("x/all.csv") == b"row0\nrow1\nrow2\nrow0\n"
    else:
        # fake-gcs-server ignores preconditions on compose (Cloud Storage answers 412): check that we ask.
        store.compose(["x/part-1.csv"], "x/all.csv", "text/csv", if_absent=True)
        method, url = backend.requests[-1]
        assert method == "POST" and "/o/x%2Fall.csv/compose?" in url and "ifGenerationMatch=0" in url


def test_open_reader_seeks_and_open_writer_publishes_only_on_success(backend):
    store = backend.store
    store.write_bytes("x/data.bin", DATA, "application/octet-stream")
    with store.open_reader("x/data.bin") as reader:
        reader.seek(-10, os.SEEK_END)
        assert reader.read() == DATA[-10:]
        reader.seek(1000)
        assert reader.read(5) == DATA[1000:1005]
    with store.open_writer("x/written.bin", "application/octet-stream") as out:
        out.write(DATA[:1000])
        out.write(DATA[1000:])
    assert store.read_bytes("x/written.bin") == DATA
    with pytest.raises(RuntimeError):
        with store.open_writer("x/broken.bin", "application/octet-stream") as out:
            out.write(b"half")
            raise RuntimeError("the merge failed")
    assert [o.name for o in store.list("x/broken")] == []


def test_parquet_merge_and_compose_chains_work_through_the_store(backend, tmp_path):
    """The worker's assembly steps use only the port, so they must work the same on every store."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from jobs.assemble import compose, merge_parquet

    names = []
    for index in range(3):
        table = pa.table({"id": list(range(index * 1000, (index + 1) * 1000)), "label": ["x" * 20] * 1000})
        path = tmp_path / f"part-{index}.parquet"
        pq.write_table(table, path, row_group_size=400)
        names.append(f"dumps/t/parquet/1/1/part-{index}.parquet")
        backend.store.write_bytes(names[-1], path.read_bytes(), "application/vnd.apache.parquet")
    shards = backend.store.list("dumps/t/parquet/1/1/part-")
    merged = merge_parquet(backend.store, shards, "dumps/t/parquet/1/1/download.parquet", "application/vnd.apache.parquet")
    (tmp_path / "merged.parquet").write_bytes(backend.store.read_bytes(merged.name))
    result = pq.ParquetFile(tmp_path / "merged.parquet")
    assert result.metadata.num_rows == 3000 and result.num_row_groups == 9
    assert result.read(columns=["id"]).column("id").to_pylist() == list(range(3000))
    assert not [o for o in backend.store.list("dumps/t/parquet/1/1/") if ".scratch-" in o.name]

    parts = [f"dumps/t/csv/1/1/part-{i}.csv" for i in range(40)]  # two compose calls: 32, then 1 + 8
    for i, name in enumerate(parts):
        backend.store.write_bytes(name, f"{i}\n".encode(), "text/csv")
    joined = compose(backend.store, parts, "dumps/t/csv/1/1/download.csv", "text/csv")
    assert backend.store.read_bytes(joined.name) == "".join(f"{i}\n" for i in range(40)).encode()
    if backend.requests is None:  # fake-gcs-server ignores ifGenerationMatch on compose (see the compose contract)
        assert compose(backend.store, parts[:2], joined.name, "text/csv").size == joined.size  # never replaced
