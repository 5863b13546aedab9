"""Runs every benchmark (each in its own process, one after the other) and prints a summary table.

    .venv/bin/python benchmarks/run_all.py [--quick]

--quick uses fewer rounds/requests (about a minute less); the figures are noisier.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import table  # noqa: E402

BENCHMARKS = {
    "streaming": ("bench_streaming.py", [], ["--rounds", "3"]),
    "memory": ("bench_memory.py", [], []),
    "latency": ("bench_latency.py", [], ["--requests", "200"]),
    "export": ("bench_export.py", [], ["--reps", "2"]),
}


def run(script: str, extra: list[str]) -> tuple[dict, float]:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(HERE / script), *extra], cwd=HERE.parent, stdout=subprocess.PIPE,
                            text=True)
    result = {}
    for line in proc.stdout:
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
        else:
            print("    " + line, end="", flush=True)
    if proc.wait() != 0:
        raise SystemExit(f"{script} failed with exit code {proc.returncode}")
    return result, time.perf_counter() - start


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="comma-separated subset of " + ",".join(BENCHMARKS))
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    results, durations = {}, {}
    for name in names:
        script, normal, quick = BENCHMARKS[name]
        print(f"== {name}: {script}", flush=True)
        results[name], durations[name] = run(script, quick if args.quick else normal)
        print(f"   ({durations[name]:.0f} s)\n", flush=True)

    rows = []
    if "streaming" in results:
        r = results["streaming"]
        for c in sorted({int(k.split("_")[1][:-1]) for k in r if k.startswith("ratio_")}):
            rows.append([f"streaming throughput, {c} client(s)", f"{r[f'stream_{c}c_MBps']:.0f} MB/s",
                         f"{r[f'single_{c}c_MBps']:.0f} MB/s (one file)", f"ratio {r[f'ratio_{c}c']:.2f}",
                         ">= 0.8", verdict(r[f"ratio_{c}c"] >= 0.8)])
    if "memory" in results:
        r = results["memory"]
        for p in (1, 2):
            s, o = r[f"stream_pass{p}_KiB_per_stream"], r[f"single_pass{p}_KiB_per_stream"]
            rows.append([f"RSS per open stream, 64 slow, pass {p}", f"{s:.0f} KiB", f"{o:.0f} KiB (one file)", "",
                         "<= 256 KiB", verdict(s <= 256)])
    if "latency" in results:
        r = results["latency"]
        rows.append(["cache-hit dump 302, median", f"{r['dump_median_ms']:.2f} ms", f"{r['healthz_median_ms']:.2f} ms "
                     "(/healthz)", f"p95 {r['dump_p95_ms']:.2f} ms", "< 10 ms", verdict(r["dump_median_ms"] < 10)])
        rows.append(["cache-hit dump 302 to /stream, median", f"{r['dump_stream_median_ms']:.2f} ms", "", 
                     f"p95 {r['dump_stream_p95_ms']:.2f} ms", "< 10 ms", verdict(r["dump_stream_median_ms"] < 10)])
    if "export" in results:
        r = results["export"]
        for fmt in ("csv", "ndjson", "parquet"):
            if f"{fmt}_cold_ms" in r:
                rows.append([f"cold export -> 302, {fmt}", f"{r[f'{fmt}_cold_ms']:.0f} ms",
                             f"{r[f'{fmt}_raw_t1_ms']:.0f} ms raw COPY t=1 / {r[f'{fmt}_raw_default_ms']:.0f} ms default",
                             f"COPY {r[f'{fmt}_worker_copy_ms']:.0f} ms + poll wait {r[f'{fmt}_poll_wait_ms']:.0f} ms",
                             "", ""])
    print("== summary (2-core figures in benchmarks/README.md)")
    print(table(rows, ["measure", "bqdump", "peer", "detail", "target", ""]))
    print(f"total {sum(durations.values()):.0f} s")


if __name__ == "__main__":
    main()
