"""Cache-hit latency: GET /datastore/dump/flights?format=csv answering 302 on a published export,
vs GET /healthz on the same server (the floor of the HTTP stack: routing, one JSON answer).

The server runs in a subprocess; the client is this process, one request at a time, each on a fresh
TCP connection (http.client, no keep-alive), so every figure includes connect + request + response.
Dump and healthz requests alternate so drift affects both alike. Also measured: the same dump request
when the export was written as 15 files, served through /stream (DUMP_COMPOSE=false: 302 to /stream,
the listing holds 15 more objects) and composed into one object (the default: 302 to /_objects).

    .venv/bin/python benchmarks/bench_latency.py [--requests 500]
"""

from __future__ import annotations

import argparse
import http.client
import time

from _common import SubprocessServer, emit_result, env_for, load_flights, median, percentile, publish, table, temp_dir


def timed_get(port: int, path: str, expect: int) -> float:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    elapsed = time.perf_counter() - start
    conn.close()
    if resp.status != expect:
        raise RuntimeError(f"{path} answered {resp.status}, expected {expect}")
    return elapsed * 1000


def run(port: int, paths: dict[str, tuple[str, int]], requests: int) -> dict[str, list[float]]:
    for path, expect in paths.values():  # warm-up
        for _ in range(20):
            timed_get(port, path, expect)
    times = {label: [] for label in paths}
    for _ in range(requests):
        for label, (path, expect) in paths.items():
            times[label].append(timed_get(port, path, expect))
    return times


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    dump = "/datastore/dump/flights?format=csv"
    with temp_dir("lat") as local_dir, temp_dir("lat-sharded") as sharded_dir, \
            temp_dir("lat-composed") as composed_dir:
        load_flights(local_dir)
        load_flights(sharded_dir)
        load_flights(composed_dir)
        with SubprocessServer(env_for(local_dir)) as server:
            assert "/_objects/" in publish(server.base, "csv")
            times = run(server.port, {"dump": (dump, 302), "healthz": ("/healthz", 200)}, args.requests)
        with SubprocessServer(env_for(sharded_dir, 2_000_000, DUMP_COMPOSE="false")) as server:
            assert "/stream/" in publish(server.base, "csv")
            times["dump_stream"] = run(server.port, {"d": (dump, 302)}, args.requests)["d"]
        with SubprocessServer(env_for(composed_dir, 2_000_000)) as server:  # DUMP_COMPOSE default: true
            assert "/_objects/" in publish(server.base, "csv")
            times["dump_composed"] = run(server.port, {"d": (dump, 302)}, args.requests)["d"]

    labels = {"dump": "dump 302 -> /_objects (1 file)",
              "dump_stream": "dump 302 -> /stream (15 files, DUMP_COMPOSE=false)",
              "dump_composed": "dump 302 -> /_objects (15 files composed)",
              "healthz": "/healthz (peer: HTTP floor)"}
    rows = []
    summary = {}
    for key in ("dump", "dump_stream", "dump_composed", "healthz"):
        values = times[key]
        med, p95 = median(values), percentile(values, 95)
        target = ("ok" if med < 10 else "ABOVE TARGET") if key != "healthz" else ""
        rows.append([labels[key], f"{med:.2f} ms", f"{p95:.2f} ms", f"{max(values):.2f} ms", target])
        summary[f"{key}_median_ms"] = round(med, 3)
        summary[f"{key}_p95_ms"] = round(p95, 3)
    print(f"{args.requests} sequential requests each, fresh TCP connection per request, server in a subprocess:")
    print(table(rows, ["request", "median", "p95", "max", "target median < 10 ms"]))
    print(f"dump minus healthz (median): {summary['dump_median_ms'] - summary['healthz_median_ms']:.2f} ms "
          f"of app work per cache hit")
    emit_result("latency", **summary)
    return summary


if __name__ == "__main__":
    main()
