"""CKAN's JSON and XML dump files written by bqdump, beside DuckDB's own json COPY of the same rows, from one run.

Set-up: the issue's generated table (--rows rows, default 3,000,000: _id int, text with commas and quotes, float,
timestamp, bool) as one Parquet file, the input the worker's CKAN step reads. Each repetition runs, interleaved
so that a busy machine slows all three alike:

  peer: DuckDB json COPY   COPY (SELECT * FROM read_parquet(file) ORDER BY _id) TO out.json (FORMAT json)
  bqdump json              jobs.ckan_writers.json_chunks(parquet_batches(file)) -> file  (CKAN's JSON dump bytes)
  bqdump xml               jobs.ckan_writers.xml_chunks(parquet_batches(file))  -> file  (CKAN's XML dump bytes)

DuckDB and the writers use the same cores (DuckDB's default threads; the writers' RENDER_THREADS). Figures: the
median seconds of each and the median of the per-repetition ratios (bqdump / COPY); the issue's target is 1.5.
Then "memory flat per batch": the peak RSS growth of this process while writing json and xml, at --rows and at
--copies times as many rows.

    .venv/bin/python benchmarks/bench_ckan_writers.py [--rows 3000000] [--reps 3] [--copies 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import psutil

from _common import MIB, PeakRss, emit_result, median, table, temp_dir

TARGET = 1.5


def generated(path: Path, rows: int) -> Path:
    import duckdb

    with duckdb.connect() as con:
        con.execute(f"""COPY (
            SELECT i AS _id, 'text, "quoted" ' || (i * 7919 % 100000)::VARCHAR || ', end' AS name,
                   i / 7.0 AS amount, TIMESTAMP '2020-01-01' + to_microseconds(i * 1234567) AS at, i % 3 = 0 AS ok
            FROM range(1, {int(rows)} + 1) t(i)
        ) TO '{path}' (FORMAT parquet, COMPRESSION zstd)""")
    return path


def duckdb_json(source: Path, target: Path) -> None:
    import duckdb

    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT * FROM read_parquet('{source}') ORDER BY _id) TO '{target}' (FORMAT json)")


def ckan_writer(kind: str):
    import pyarrow.parquet as pq

    from jobs.ckan_writers import ckan_fields, json_chunks, parquet_batches, xml_chunks

    chunks = json_chunks if kind == "json" else xml_chunks

    def write(source: Path, target: Path) -> None:
        fields = ckan_fields(pq.read_schema(source))
        with open(target, "wb") as out:
            for chunk in chunks(parquet_batches(source), fields):
                out.write(chunk)
    return write


def timed(write, source: Path, target: Path) -> tuple[float, int]:
    started = time.perf_counter()
    write(source, target)
    elapsed = time.perf_counter() - started
    size = target.stat().st_size
    target.unlink()
    return elapsed, size


def rss_growth(write, source: Path, target: Path) -> float:
    with PeakRss(psutil.Process()) as rss:
        write(source, target)
    target.unlink()
    return rss.growth / MIB


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--copies", type=int, default=2)
    args = parser.parse_args()
    from jobs.ckan_writers import RENDER_THREADS

    with temp_dir("writers") as folder:
        source = generated(folder / "rows.parquet", args.rows)
        writers = {"json": ckan_writer("json"), "xml": ckan_writer("xml")}
        seconds: dict[str, list[float]] = {"copy": [], "json": [], "xml": []}
        sizes: dict[str, int] = {}
        for _ in range(args.reps):
            for name, write in (("copy", duckdb_json), *writers.items()):
                elapsed, sizes[name] = timed(write, source, folder / f"out.{name}")
                seconds[name].append(elapsed)
        ratios = {k: median([s / c for s, c in zip(seconds[k], seconds["copy"])]) for k in writers}
        lines = [["peer: DuckDB json COPY", f"{median(seconds['copy']):.2f}", "", f"{sizes['copy'] / MIB:.0f}", ""]]
        for kind in writers:
            lines.append([f"bqdump {kind} (CKAN's)", f"{median(seconds[kind]):.2f}", f"{ratios[kind]:.2f}",
                          f"{sizes[kind] / MIB:.0f}", "ok" if ratios[kind] <= TARGET else "MISSED"])
        print(f"{args.rows:,} rows (int, text, float, timestamp, bool); median of {args.reps} interleaved runs; "
              f"writer threads {RENDER_THREADS}")
        print(table(lines, ["writer", "seconds", "ratio to COPY", "output MB", f"<= {TARGET}"]))

        big = generated(folder / "big.parquet", args.rows * args.copies)
        growth = {(kind, n): rss_growth(write, path, folder / "out")
                  for kind, write in writers.items() for n, path in ((1, source), (args.copies, big))}
        print(f"\npeak RSS growth (MiB) while writing, {args.rows:,} rows beside {args.rows * args.copies:,}:")
        print(table([[kind, f"{growth[kind, 1]:.0f}", f"{growth[kind, args.copies]:.0f}"] for kind in writers],
                    ["writer", "1x", f"{args.copies}x"]))
        emit_result("ckan_writers", rows=args.rows, reps=args.reps, copies=args.copies, threads=RENDER_THREADS,
                    copy_s=round(median(seconds["copy"]), 3),
                    **{f"{k}_s": round(median(seconds[k]), 3) for k in writers},
                    **{f"{k}_ratio": round(ratios[k], 3) for k in writers},
                    **{f"{k}_rss_growth_MiB": round(growth[k, 1]) for k in writers},
                    **{f"{k}_rss_growth_MiB_copies": round(growth[k, args.copies]) for k in writers})


if __name__ == "__main__":
    main()
