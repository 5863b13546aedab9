"""Resident memory per open download: 64 slow /stream downloads vs 64 slow single-file /_objects downloads.

The server runs in a subprocess (its RSS is read with psutil). After a warm-up (one dump request and one
full download of each kind, so one-time imports and caches are not counted), 64 raw-socket clients each
send a GET, read a few 64 KiB chunks and then stop reading while keeping the connection open, so 64
server threads sit in the middle of a response. Reported: (RSS during - RSS idle) / 64 in KiB, for the
streaming route (multi-file export, DUMP_SHARD_BYTES = 2 MB, DUMP_COMPOSE=false so it is served by
/stream rather than composed into one object) and for the peer (single-file export
served through the signed /_objects URL, same server code). Two passes are made per server: the first
includes the first-time cost of 64 threads (thread stacks, malloc arenas), the second shows what a
server that has already seen such a burst pays again.

    .venv/bin/python benchmarks/bench_memory.py [--streams 64]
"""

from __future__ import annotations

import argparse
import socket
import time
from urllib.parse import urlsplit

import psutil

from _common import SubprocessServer, download, emit_result, env_for, load_flights, publish, table, temp_dir

SHARDED_BYTES = 2_000_000
READ_BEFORE_PAUSE = 4 * 64 * 1024  # a few chunks, then the client stops reading


def open_slow(url: str, count: int) -> list[socket.socket]:
    parts = urlsplit(url)
    request = (f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
               f"Connection: close\r\n\r\n").encode()
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # keep the kernel from absorbing the body
        s.connect((parts.hostname, parts.port))
        s.sendall(request)
        socks.append(s)
    for s in socks:
        got = 0
        while got < READ_BEFORE_PAUSE:
            data = s.recv(65536)
            if not data:
                raise RuntimeError("server closed a slow download early")
            got += len(data)
    return socks


def sample_rss(proc: psutil.Process, seconds: float = 1.0, samples: int = 5) -> int:
    values = []
    for _ in range(samples):
        values.append(proc.memory_info().rss)
        time.sleep(seconds / samples)
    return sorted(values)[len(values) // 2]


def measure(server: SubprocessServer, url: str, streams: int) -> list[dict]:
    proc = psutil.Process(server.pid)
    passes = []
    for number in (1, 2):
        time.sleep(0.5)
        idle = sample_rss(proc)
        idle_threads = proc.num_threads()
        socks = open_slow(url, streams)
        time.sleep(0.5)
        during = sample_rss(proc)
        threads = proc.num_threads()
        for s in socks:
            s.close()
        deadline = time.monotonic() + 10
        while proc.num_threads() > idle_threads and time.monotonic() < deadline:
            time.sleep(0.05)
        after = sample_rss(proc, 0.5)
        passes.append({"pass": number, "idle": idle, "during": during, "after": after, "threads": threads,
                       "per_stream_kib": (during - idle) / streams / 1024})
    return passes


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=64)
    args = parser.parse_args()
    results = {}
    with temp_dir("mem-single") as single_dir, temp_dir("mem-sharded") as sharded_dir:
        load_flights(single_dir)
        load_flights(sharded_dir)
        for label, local_dir, shard_bytes, route in (("stream", sharded_dir, SHARDED_BYTES, "/stream/"),
                                                     ("single", single_dir, 1 << 30, "/_objects/")):
            # one file: the csv's header object and its file composed into one object (without compose a csv is
            # always two pieces, header and rows, and goes through /stream)
            compose = "false" if label == "stream" else "true"
            with SubprocessServer(env_for(local_dir, shard_bytes, DUMP_COMPOSE=compose)) as server:
                url = publish(server.base, "csv")
                assert route in url, url
                download(url)  # warm-up: one full request of this kind (and a dump request above)
                publish(server.base, "csv")
                results[label] = measure(server, url, args.streams)
                for p in results[label]:
                    print(f"  {label:6s} pass {p['pass']}: idle {p['idle'] / 2**20:.1f} MiB, with {args.streams} open "
                          f"{p['during'] / 2**20:.1f} MiB ({p['threads']} threads), after closing "
                          f"{p['after'] / 2**20:.1f} MiB -> {p['per_stream_kib']:.0f} KiB per stream")

    rows = []
    for number in (1, 2):
        stream, single = results["stream"][number - 1], results["single"][number - 1]
        rows.append([f"pass {number} ({'first burst' if number == 1 else 'repeat'})",
                     f"{stream['per_stream_kib']:.0f} KiB", f"{single['per_stream_kib']:.0f} KiB",
                     "ok" if stream["per_stream_kib"] <= 256 else "ABOVE TARGET"])
    print()
    print(f"RSS growth per open download, {args.streams} concurrent slow clients, server in a subprocess:")
    print(table(rows, ["", "/stream (many files)", "/_objects (one file)", "target <= 256 KiB"]))
    summary = {f"{label}_pass{p['pass']}_KiB_per_stream": round(p["per_stream_kib"], 1)
               for label in results for p in results[label]}
    emit_result("memory", **summary)
    return summary


if __name__ == "__main__":
    main()
