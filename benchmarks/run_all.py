"""Runs every benchmark (each in its own process, one after the other) and prints a summary table.

    .venv/bin/python benchmarks/run_all.py [--quick]

--quick uses fewer rounds/requests/rows (about 1.5 minutes less); the figures are noisier.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import table  # noqa: E402

LAST_RUN = HERE / "last-run.json"  # the last run's figures (untracked): --readme-from rewrites the table from it
README_BEGIN, README_END = "<!-- make bench: begin -->", "<!-- make bench: end -->"

BENCHMARKS = {
    "streaming": ("bench_streaming.py", [], ["--rounds", "3"]),
    "memory": ("bench_memory.py", [], []),
    "latency": ("bench_latency.py", [], ["--requests", "200"]),
    "export": ("bench_export.py", [], ["--reps", "2"]),
    "formats": ("bench_formats.py", [], ["--rows", "1000000", "--reps", "2"]),
    "compose": ("bench_compose.py", ["--rounds", "3", "--reps", "2"], ["--rounds", "2", "--reps", "1"]),
    "parquet_memory": ("bench_parquet_memory.py", [], ["--rows", "1000000"]),
    "ckan_writers": ("bench_ckan_writers.py", [], ["--rows", "1000000", "--reps", "2"]),
    "gzip": ("bench_gzip.py", [], ["--rows", "1000000", "--reps", "2"]),
    "ckan_dump": ("bench_ckan_dump.py", [], ["--reps", "2"]),
    "cache_hit_google": ("bench_cache_hit_google.py", [], ["--requests", "40"]),
    "parquet_merge": ("bench_parquet_merge.py", [], ["--rows", "1000000"]),
    "concurrency": ("bench_concurrency.py", [], ["--idle", "50", "--busy-seconds", "5", "--before-seconds", "45"]),
    "follow": ("bench_follow.py", [], ["--rows", "1000000", "--followers", "20"]),
}


def run(script: str, extra: list[str]) -> tuple[dict | None, float]:
    """The script's RESULT line (None when it failed: the run goes on, and README.md is left as it was)."""
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
        print(f"    {script} FAILED with exit code {proc.returncode}", flush=True)
        return None, time.perf_counter() - start
    return result, time.perf_counter() - start


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="comma-separated subset of " + ",".join(BENCHMARKS))
    parser.add_argument("--readme", action="store_true",
                        help="write the summary into README.md's performance table (between its markers)")
    parser.add_argument("--readme-from", type=Path, metavar="RESULTS_JSON",
                        help="only rewrite README.md's table from a saved run (benchmarks/last-run.json)")
    args = parser.parse_args()
    if args.readme_from:
        saved = json.loads(args.readme_from.read_text())
        write_readme(summary_rows(saved["results"]), saved["note"])
        return
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    results, durations, failed = {}, {}, []
    for name in names:
        script, normal, quick = BENCHMARKS[name]
        print(f"== {name}: {script}", flush=True)
        result, durations[name] = run(script, quick if args.quick else normal)
        if result is None:
            failed.append(name)
        else:
            results[name] = result
        print(f"   ({durations[name]:.0f} s)\n", flush=True)
    rows = summary_rows(results)
    print("== summary (2-core figures in benchmarks/README.md)")
    print(table(rows, ["measure", "bqdump", "peer", "detail", "target", ""]))
    print(f"total {sum(durations.values()):.0f} s")
    note = (f"{time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} cores"
            + (", --quick" if args.quick else "") + (f", only {args.only}" if args.only else ""))
    LAST_RUN.write_text(json.dumps({"note": note, "results": results}, indent=1))
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}; README.md was left as it was")
    if args.readme:
        write_readme(rows, note)


def write_readme(rows: list[list[str]], note: str, readme: Path = HERE.parent / "README.md") -> None:
    """README.md's performance table, replaced whole between its markers by this run's summary rows."""
    text = readme.read_text()
    begin, end = text.index(README_BEGIN) + len(README_BEGIN), text.index(README_END)
    readme.write_text(text[:begin] + "\n" + "\n".join(readme_table(rows, note)) + "\n" + text[end:])
    print(f"README.md's performance table: {len(rows)} rows")


README_HEADER = ["| measure | bqdump | peer, same run | detail | target |", "|---|---|---|---|---|"]


def readme_table(rows: list[list[str]], note: str) -> list[str]:
    """The lines written between the markers (tests/test_docs.py checks README.md's are in this form)."""
    lines = [f"<!-- generated by `make bench` ({note}); edit benchmarks/run_all.py, not this table -->", *README_HEADER]
    for m, b, p, d, t, v in rows:
        cells = [m, b, p, d, f"{t}: {v}" if t and v else t]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return lines


def summary_rows(results: dict) -> list[list[str]]:
    """One row per figure: measure, bqdump's figure, the peer's from the same run, detail, target, verdict."""
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
        rows.append(["cache-hit dump 302 to /stream, median", f"{r['dump_stream_median_ms']:.2f} ms",
                     f"{r['healthz_median_ms']:.2f} ms (/healthz)",
                     f"p95 {r['dump_stream_p95_ms']:.2f} ms", "< 10 ms", verdict(r["dump_stream_median_ms"] < 10)])
        if "dump_composed_median_ms" in r:
            rows.append(["cache-hit dump 302, composed 15 files, median", f"{r['dump_composed_median_ms']:.2f} ms",
                         f"{r['healthz_median_ms']:.2f} ms (/healthz)",
                         f"p95 {r['dump_composed_p95_ms']:.2f} ms", "< 10 ms", verdict(r["dump_composed_median_ms"] < 10)])
    if "cache_hit_google" in results:
        r = results["cache_hit_google"]
        one = r["one_call_p50_ms"]
        for name in sorted({k.split("_hit_p50_ms")[0] for k in r if k.endswith("_hit_p50_ms")}):
            calls = {k[len(f"{name}_hit_calls_"):]: v for k, v in r.items() if k.startswith(f"{name}_hit_calls_") and v}
            rows.append([f"Google cache hit 302 ({name}), {r['delay_ms']:g} ms a call, p50",
                         f"{r[f'{name}_hit_p50_ms']:.0f} ms", f"{one:.0f} ms (one call)",
                         f"p95 {r[f'{name}_hit_p95_ms']:.0f} ms; per hit: "
                         + ", ".join(f"{k} {v:g}" for k, v in calls.items()),
                         "<= 1.3 x one call, no signBlob",
                         verdict(r[f"{name}_hit_p50_ms"] <= 1.3 * one and not r[f"{name}_hit_calls_signBlob"])])
            rows.append([f"Google 304 If-None-Match ({name}), p50", f"{r[f'{name}_not_modified_p50_ms']:.0f} ms",
                         f"{one:.0f} ms (one call)", f"p95 {r[f'{name}_not_modified_p95_ms']:.0f} ms", "<= 1 call",
                         verdict(sum(v for k, v in r.items() if k.startswith(f"{name}_not_modified_calls_")) <= 1)])
    if "export" in results:
        r = results["export"]
        for fmt in ("csv", "ndjson", "parquet"):
            if f"{fmt}_cold_ms" in r:
                ratio = r[f"{fmt}_cold_ms"] / r[f"{fmt}_raw_t1_ms"]
                rows.append([f"flights request -> published, {fmt}", f"{r[f'{fmt}_cold_ms']:.0f} ms",
                             f"{r[f'{fmt}_raw_t1_ms']:.0f} ms raw COPY t=1 / {r[f'{fmt}_raw_default_ms']:.0f} ms default",
                             f"ratio {ratio:.2f}; COPY {r[f'{fmt}_worker_copy_ms']:.0f} ms + publish "
                             f"{r.get(f'{fmt}_publish_ms', 0):.0f} ms + poll wait {r[f'{fmt}_poll_wait_ms']:.0f} ms",
                             "<= 1.3 x raw COPY" if fmt != "parquet" else "",
                             verdict(ratio <= 1.3) if fmt != "parquet" else ""])
    if "formats" in results:
        r = results["formats"]
        for fmt in ("csv", "tsv", "ndjson"):
            if f"{fmt}_ratio" in r:
                peer = min(r[f"{fmt}_raw_t1_s"], r[f"{fmt}_raw_ordered_s"])
                rows.append([f"{fmt} request -> published, {r['rows'] / 1e6:g}M rows", f"{r[f'{fmt}_bqdump_s']:.2f} s",
                             f"{peer:.2f} s (raw DuckDB COPY in _id order)",
                             f"ratio {r[f'{fmt}_ratio']:.2f}; CPU {r[f'{fmt}_bqdump_cpu_s']:.2f} vs "
                             f"{r[f'{fmt}_raw_t1_cpu_s']:.2f} s (ratio {r[f'{fmt}_cpu_ratio']:.2f}); the app's "
                             f"statement alone {r[f'{fmt}_app_t1_s']:.2f} s", "<= 1.3 x raw COPY",
                             verdict(r[f"{fmt}_ratio"] <= 1.3)])
    if "compose" in results:
        r = results["compose"]
        for split in ("21", "42"):
            for c in sorted({int(k.split("_")[2][:-1]) for k in r if k.startswith(f"dl_{split}f_")}):
                k = f"dl_{split}f_{c}c"
                rows.append([f"download via composed object, {r[f'files_{split}']} files, {c} client(s)",
                             f"TTFB {r[f'{k}_composed_ttfb_ms']:.1f} / total {r[f'{k}_composed_total_ms']:.0f} ms",
                             f"/stream: {r[f'{k}_stream_ttfb_ms']:.1f} / {r[f'{k}_stream_total_ms']:.0f} ms",
                             f"MB/s {r[f'{k}_composed_MBps']:.0f} vs {r[f'{k}_stream_MBps']:.0f}", "", ""])
        for slug, label in (("csv_21", "csv ~20 files"), ("csv_42", "csv ~40 files (chain)"), ("csvgz", "csv gzip"),
                            ("ndjson", "ndjson"), ("parquet_split", "parquet 9 files (merge)")):
            t = f"worker_{slug}_compose"
            if f"{t}_total_ms" in r:
                peer = r.get(f"worker_{slug}_nocompose_extra_ms")
                what = "DUMP_COMPOSE=false: merged all the same" if slug == "parquet_split" else "DUMP_COMPOSE=false"
                rows.append([f"worker extra time, {label}", f"+{r[f'{t}_extra_ms']:.0f} ms",
                             f"+{peer:.0f} ms ({what})" if peer is not None else "",
                             f"export step {r[f'{t}_export_ms']:.0f} ms, {r[f'{t}_files']:.0f} files", "", ""])
        if "duckdb_merge_ms" in r:
            rows.append(["parquet merge, 1M rows, 9 files", f"{r['worker_parquet_split_compose_assemble_ms']:.0f} ms",
                         f"DuckDB COPY merge {r['duckdb_merge_ms']:.0f} ms",
                         f"one-file export {r['worker_parquet_one_compose_total_ms']:.0f} ms total", "", ""])
    if "parquet_memory" in results:
        r = results["parquet_memory"]
        rows.append([f"parquet merge peak RSS growth, {r['rows'] / 1e6:g}M rows, {r['files']} files",
                     f"{r['bqdump_peak_growth_MiB']:.0f} MiB",
                     f"read_table {r['whole_table_peak_growth_MiB']:.0f} MiB / DuckDB {r['duckdb_peak_growth_MiB']:.0f} MiB",
                     f"row group {r['largest_row_group_MiB']:.0f} MiB, table {r['table_MiB']:.0f} MiB; 1/3 of files "
                     f"{r['bqdump_third_peak_growth_MiB']:.0f} MiB", "not growing with the table",
                     verdict(r["bounded"])])
    if "ckan_writers" in results:
        r = results["ckan_writers"]
        for fmt in ("json", "xml"):
            rows.append([f"CKAN {fmt} writing, {r['rows'] / 1e6:g}M rows", f"{r[f'{fmt}_s']:.2f} s",
                         f"{r['copy_s']:.2f} s (DuckDB json COPY)",
                         f"ratio {r[f'{fmt}_ratio']:.2f}; peak RSS +{r[f'{fmt}_rss_growth_MiB']} MiB, {r['copies']}x rows "
                         f"+{r[f'{fmt}_rss_growth_MiB_copies']} MiB", "<= 1.5 x COPY, RSS flat with the rows",
                         verdict(r[f"{fmt}_ratio"] <= 1.5
                                 and r[f"{fmt}_rss_growth_MiB_copies"] <= 1.5 * r[f"{fmt}_rss_growth_MiB"] + 64)])
    if "gzip" in results:
        r = results["gzip"]
        rows.append([f"csv.gz export, {r['rows'] / 1e6:g}M rows", f"{r['bqdump_gz_s']:.2f} s",
                     f"{r['copy_gz_s']:.2f} s (DuckDB gzip COPY, one thread)",
                     f"its csv {r['bqdump_csv_s']:.2f} s + compression / {r['threads']} cores = {r['spread_s']:.2f} s "
                     f"(ratio {r['gz_ratio_to_spread']:.2f}); raw csv COPY {r['copy_csv_s']:.2f} s; "
                     f"{r['bqdump_gz_MB']:.0f} vs {r['copy_gz_MB']:.0f} MB",
                     "about its csv + compression over the cores", verdict(r["gz_ratio_to_spread"] <= 1.25)])
    if "ckan_dump" in results:
        r = results["ckan_dump"]
        rows.append(["filtered dump (UA, July) request -> published", f"{r['filtered_ms']:.0f} ms",
                     f"raw DuckDB COPY of the query {r['raw_t1_ms']:.0f} ms", f"{r['filtered_rows']} rows",
                     "", ""])
        for fmt in ("json", "xml"):
            rows.append([f"whole table {fmt} request -> published", f"{r[f'{fmt}_ms']:.0f} ms",
                         f"csv {r['csv_ms']:.0f} ms", f"{r[f'{fmt}_ms'] / r['csv_ms']:.1f}x", "", ""])
    if "parquet_merge" in results:
        r = results["parquet_merge"]
        for label in ("1x", f"{r['scale']}x"):
            rows.append([f"parquet merge by footer, {r['rows'] * int(label[:-1]) / 1e6:g}M rows, {r[f'{label}_files']} files",
                         f"{r[f'{label}_join_worker_s']:.2f} s / {r[f'{label}_join_peak_MiB']:.0f} MiB / "
                         f"{r[f'{label}_join_read_KiB']:.0f} KiB read",
                         f"re-encode {r[f'{label}_reencode_s']:.1f} s / {r[f'{label}_reencode_peak_MiB']:.0f} MiB / "
                         f"{r[f'{label}_reencode_read_MiB']:.0f} MiB read",
                         f"footers {r[f'{label}_footers_KiB']:.0f} KiB", "< 1 s, < 64 MiB, footers only",
                         verdict(r[f"{label}_ok"])])
        rows.append(["parquet merge by footer, 1,000 files", f"{r['thousand_composes']} compose calls",
                     "", f"{r['thousand_seconds']:.2f} s local", "", ""])
    if "follow" in results:
        r = results["follow"]
        for fmt in ("csv", "json", "parquet"):
            if f"{fmt}_export_s" in r:
                rows.append([f"cold {fmt} download, {r['rows'] / 1e6:g}M rows: first / last byte",
                             f"{r[f'{fmt}_first_byte_s']:.1f} s / {r[f'{fmt}_last_byte_s']:.1f} s",
                             f"the export alone {r[f'{fmt}_export_s']:.1f} s", f"{r[f'{fmt}_ratio']:.2f}x",
                             "last <= 1.2x" + (", first <= 2 s" if fmt == "csv" else ""),
                             verdict(r[f"{fmt}_ratio"] <= 1.2 and r[f"{fmt}_same_bytes"]
                                     and (fmt != "csv" or r["csv_first_byte_s"] <= 2))])
        rows.append([f"{r['followers']} cold followers of one csv export", f"{r['follower_jobs']} export(s)",
                     f"{r['follower_ok']} complete", f"{r['follower_KiB']:.0f} KiB per follower", "1 export",
                     verdict(r["follower_jobs"] == 1 and r["follower_ok"] == r["followers"])])
    if "concurrency" in results:
        r = results["concurrency"]
        busy = f"{r['in_flight']} other requests in flight"
        for scenario, probe, what in (("dump", "hit", "cache-hit dump 302"), ("stream", "range", "1 KiB stream range")):
            after, before = f"{scenario}_after_{probe}", f"{scenario}_before_{probe}"
            rows.append([f"{what} in the last slot, {busy}, p99", f"{r[f'{after}_busy_p99']:.1f} ms (THREADS="
                         f"{r['threads']})", f"{r[f'{before}_busy_p99']:.0f} ms (default threads)",
                         f"p50 {r[f'{after}_busy_p50']:.1f} ms; idle p50 {r[f'{after}_idle_p50']:.1f} / p99 "
                         f"{r[f'{after}_idle_p99']:.1f} ms; RSS {r[f'{scenario}_after_KiB_per_request']:.0f} KiB "
                         "per in-flight request", "< 50 ms", verdict(r[f"{after}_busy_p99"] < 50)])
    return rows


if __name__ == "__main__":
    main()
