"""Streaming throughput: a multi-file export joined by /stream vs the same bytes as one file via /_objects.

Two folders hold the same flights table: one exported with DUMP_SHARD_BYTES = 1 GiB (one file, the
dump redirects to a locally signed /_objects URL) and one with DUMP_SHARD_BYTES = 2 MB (~16 files,
the dump redirects to /stream: DUMP_COMPOSE=false, else the worker would compose the files into one
object; bench_compose.py compares the two). Each is served by the same server implementation (make_local_server)
in its own subprocess; the clients are threads of THIS process, so on 2 cores the client load
competes with the server for CPU. Each client does full downloads with 64 KiB reads, discarding
the bytes. Figures are MB/s (10^6 bytes per second) of body bytes over wall time.

    .venv/bin/python benchmarks/bench_streaming.py [--clients 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from _common import (SubprocessServer, download, emit_result, env_for, load_flights, publish, table,
                     temp_dir)

SHARDED_BYTES = 2_000_000


def throughput(url: str, clients: int, downloads_per_client: int = 1) -> tuple[float, int, float]:
    """All clients start together; MB/s, total bytes, seconds."""
    barrier = threading.Barrier(clients + 1)

    def client() -> int:
        barrier.wait()
        return sum(download(url) for _ in range(downloads_per_client))

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client) for _ in range(clients)]
        barrier.wait()
        start = time.perf_counter()
        total = sum(f.result() for f in futures)
        elapsed = time.perf_counter() - start
    return total / elapsed / 1e6, total, elapsed


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5, help="rounds per measurement; the median is reported")
    args = parser.parse_args()

    with temp_dir("single") as single_dir, temp_dir("sharded") as sharded_dir:
        load_flights(single_dir)
        load_flights(sharded_dir)
        with SubprocessServer(env_for(single_dir, 1 << 30)) as single_srv, \
                SubprocessServer(env_for(sharded_dir, SHARDED_BYTES, DUMP_COMPOSE="false")) as sharded_srv:
            single_url = publish(single_srv.base, "csv")
            stream_url = publish(sharded_srv.base, "csv")
            assert "/_objects/" in single_url and "/stream/" in stream_url, (single_url, stream_url)
            files = sum(1 for p in (sharded_dir / "bucket").rglob("part-*"))
            size_single, size_stream = download(single_url), download(stream_url)  # warm-up (and page cache)
            print(f"flights.csv: single file {size_single:,} B via /_objects; "
                  f"{files} files (DUMP_SHARD_BYTES={SHARDED_BYTES:,}) joined to {size_stream:,} B via /stream")
            print("servers: 2 subprocesses (same make_local_server); clients: threads in the benchmark process "
                  "(pid-separate from the servers, sharing the same 2 cores)")

            results = {}
            for clients in (1, args.clients):
                # 0.5 GB (1 client) to 2 GB (32 clients) per round; single and stream rounds alternate so drift hits both alike
                per_client = max(2, 16 // clients)
                rates = {"single": [], "stream": []}
                for _ in range(args.rounds):
                    for label, url in (("single", single_url), ("stream", stream_url)):
                        rates[label].append(throughput(url, clients, per_client)[0])
                for label in ("single", "stream"):
                    ordered = sorted(rates[label])
                    results[(label, clients)] = ordered[len(ordered) // 2]
                    print(f"  {label:6s} {clients:3d} client(s) x {per_client} download(s), {args.rounds} rounds: "
                          + ", ".join(f"{r:.0f}" for r in ordered) + " MB/s")

    rows = []
    summary = {}
    for clients in (1, args.clients):
        single, stream = results[("single", clients)], results[("stream", clients)]
        ratio = stream / single
        rows.append([f"{clients} client(s)", f"{stream:.0f} MB/s", f"{single:.0f} MB/s", f"{ratio:.2f}",
                     "ok" if ratio >= 0.8 else "BELOW TARGET"])
        summary[f"stream_{clients}c_MBps"] = round(stream, 1)
        summary[f"single_{clients}c_MBps"] = round(single, 1)
        summary[f"ratio_{clients}c"] = round(ratio, 3)
    print()
    print(table(rows, ["streaming throughput", "/stream (many files)", "/_objects (one file)", "ratio",
                       "target >= 0.8"]))
    emit_result("streaming", **summary)
    return summary


if __name__ == "__main__":
    main()
