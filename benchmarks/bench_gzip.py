"""csv.gz on the embedded default: bqdump's export (plain COPY, then gzip members on every core) beside DuckDB's
own COPY of the same rows, plain and gzip, from one run.

Set-up: a generated table (--rows rows, default 5,000,000; 4 columns: int, text with commas and quotes, float,
timestamp) as one Parquet file. Each repetition runs, interleaved:

  peer: DuckDB csv COPY       COPY (SELECT * FROM read_parquet(file)) TO out.csv (FORMAT csv), threads=1 as exports
  peer: DuckDB csv.gz COPY    the same with COMPRESSION gzip (DuckDB compresses on its one writer thread)
  bqdump csv.gz export        functions.adapters.local.warehouse._export of a gzip csv job (the app's statement with
                              its value formatting, then jobs.parallel_gzip over jobs.parallel_gzip.THREADS threads)
  bqdump csv export           the same job without gzip: what the formatting costs, so that the gzip step shows alone

Figures: medians, and bqdump csv.gz beside "its csv plus the compression spread over the cores"
(csv + (DuckDB gzip - DuckDB csv) / threads); the output sizes.

    .venv/bin/python benchmarks/bench_gzip.py [--rows 5000000] [--reps 3]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from _common import MIB, emit_result, median, table, temp_dir


def generated(path: Path, rows: int) -> Path:
    import duckdb

    with duckdb.connect() as con:
        con.execute(f"""COPY (
            SELECT i AS _id, 'text, "quoted" ' || (i * 7919 % 100000)::VARCHAR || ', end' AS name,
                   i / 7.0 AS amount, TIMESTAMP '2020-01-01' + to_microseconds(i * 1234567) AS at
            FROM range(1, {int(rows)} + 1) t(i)
        ) TO '{path}' (FORMAT parquet, COMPRESSION zstd)""")
    return path


def duckdb_copy(source: Path, target: Path, gzip: bool) -> None:
    import duckdb

    with duckdb.connect() as con:
        con.execute("SET threads = 1")
        compression = ", COMPRESSION gzip" if gzip else ""
        con.execute(f"COPY (SELECT * FROM read_parquet('{source}')) TO '{target}' (FORMAT csv{compression})")


def bqdump_export(source: Path, target: Path, gzip: bool) -> None:
    from functions.adapters.local.warehouse import _export
    from functions.core.model import ExportJob, Format

    job = ExportJob(f"bench_{gzip}", "bench", Format.CSV, "bench/", 1 << 40, header=True, gzip=gzip)
    _export(source, target, job, target.parent / "scratch")


def timed(write, source: Path, target: Path, gzip: bool) -> tuple[float, int]:
    started = time.perf_counter()
    write(source, target, gzip)
    elapsed = time.perf_counter() - started
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) if target.is_dir() else target.stat().st_size
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    return elapsed, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    from jobs.parallel_gzip import THREADS

    runs = {"copy_csv": (duckdb_copy, False), "copy_gz": (duckdb_copy, True), "bqdump_gz": (bqdump_export, True),
            "bqdump_csv": (bqdump_export, False)}
    with temp_dir("gzip") as folder:
        source = generated(folder / "rows.parquet", args.rows)
        seconds: dict[str, list[float]] = {name: [] for name in runs}
        sizes: dict[str, int] = {}
        for _ in range(args.reps):
            for name, (write, gzip) in runs.items():
                elapsed, sizes[name] = timed(write, source, folder / f"out-{name}", gzip)
                seconds[name].append(elapsed)
        m = {name: median(values) for name, values in seconds.items()}
        spread = m["bqdump_csv"] + (m["copy_gz"] - m["copy_csv"]) / THREADS
        lines = [["peer: DuckDB csv COPY", f"{m['copy_csv']:.2f}", f"{sizes['copy_csv'] / MIB:.0f}"],
                 ["peer: DuckDB csv.gz COPY (one thread)", f"{m['copy_gz']:.2f}", f"{sizes['copy_gz'] / MIB:.0f}"],
                 ["bqdump csv export", f"{m['bqdump_csv']:.2f}", f"{sizes['bqdump_csv'] / MIB:.0f}"],
                 [f"bqdump csv.gz export ({THREADS} gzip threads)", f"{m['bqdump_gz']:.2f}",
                  f"{sizes['bqdump_gz'] / MIB:.0f}"],
                 ["= its csv + the compression spread over the cores", f"{spread:.2f}", ""]]
        print(f"{args.rows:,} rows (int, text, float, timestamp); median of {args.reps} interleaved runs")
        print(table(lines, ["writer", "seconds", "output MB"]))
        print(f"bqdump csv.gz / DuckDB csv.gz COPY: {m['bqdump_gz'] / m['copy_gz']:.2f}; "
              f"bqdump csv.gz / (its csv + compression / cores): {m['bqdump_gz'] / spread:.2f}")
        emit_result("gzip", rows=args.rows, reps=args.reps, threads=THREADS,
                    **{f"{name}_s": round(value, 3) for name, value in m.items()},
                    spread_s=round(spread, 3), gz_ratio_to_copy_gz=round(m["bqdump_gz"] / m["copy_gz"], 3),
                    gz_ratio_to_spread=round(m["bqdump_gz"] / spread, 3),
                    **{f"{name}_MB": round(size / MIB, 1) for name, size in sizes.items()})


if __name__ == "__main__":
    main()
