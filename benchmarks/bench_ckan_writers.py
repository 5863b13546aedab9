"""CKAN JSON and XML writing cost per million rows, beside CSV written from the same Parquet by pyarrow and DuckDB.

Set-up: the demo flights table (336,776 rows, 19 columns) loaded as `python main.py demo` does; its Parquet file
is the input of every writer, as the worker's export would be. Each writer streams to a file on local disk:

  bqdump json   jobs.ckan_writers.json_chunks(parquet_batches(file)) -> file   (CKAN's JSON dump bytes)
  bqdump xml    jobs.ckan_writers.xml_chunks(parquet_batches(file))  -> file   (CKAN's XML dump bytes)
  peer: pyarrow csv   pyarrow.csv.CSVWriter over the same record batches
  peer: DuckDB csv    COPY (SELECT * FROM read_parquet(file)) TO out.csv, one thread

Figures: best of --reps wall-clock seconds, seconds per million rows, output MB, and the growth of this
process's peak RSS while writing (sampled every 5 ms with psutil). Then the claim "memory flat per batch,
whatever the size": json and xml once more on flights repeated --copies times (one Parquet file, DuckDB's
122,880-row row groups), peak RSS growth side by side with the 1x figure.

    .venv/bin/python benchmarks/bench_ckan_writers.py [--reps 3] [--copies 4]
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import psutil

from _common import MIB, emit_result, load_flights, table, temp_dir


class PeakRss:
    def __init__(self):
        self.process = psutil.Process()
        self.base = self.peak = self.process.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.base) / MIB


def ckan_writer(kind: str):
    from jobs.ckan_writers import ckan_fields, json_chunks, parquet_batches, xml_chunks
    import pyarrow.parquet as pq

    chunks = json_chunks if kind == "json" else xml_chunks

    def write(source: Path, target: Path) -> None:
        fields = ckan_fields(pq.read_schema(source))
        with open(target, "wb") as out:
            for chunk in chunks(parquet_batches(source), fields):
                out.write(chunk)
    return write


def pyarrow_csv(source: Path, target: Path) -> None:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from jobs.ckan_writers import parquet_batches

    with pcsv.CSVWriter(str(target), pq.read_schema(source)) as writer:
        for batch in parquet_batches(source):
            writer.write_batch(batch)


def duckdb_csv(source: Path, target: Path) -> None:
    import duckdb

    with duckdb.connect(config={"threads": 1}) as connection:
        connection.execute(f"COPY (SELECT * FROM read_parquet('{source}')) TO '{target}' (FORMAT csv, HEADER true)")


def repeated(source: Path, target: Path, copies: int) -> Path:
    """`copies` times the rows of `source`, streamed into one Parquet file (never the whole result in memory)."""
    import pyarrow.parquet as pq

    from jobs.ckan_writers import parquet_batches

    with pq.ParquetWriter(target, pq.read_schema(source)) as writer:
        for _ in range(copies):
            for batch in parquet_batches(source, 122_880):
                writer.write_batch(batch, row_group_size=122_880)
    return target


def measure(write, source: Path, target: Path, reps: int) -> tuple[float, float]:
    best, growth = float("inf"), 0.0
    for _ in range(reps):
        with PeakRss() as rss:
            started = time.perf_counter()
            write(source, target)
            elapsed = time.perf_counter() - started
        best, growth = min(best, elapsed), max(growth, rss.growth_mib)
    return best, growth


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--copies", type=int, default=4)
    args = parser.parse_args()
    import pyarrow.parquet as pq

    with temp_dir("writers") as folder:
        source = load_flights(folder)
        rows = pq.ParquetFile(source).metadata.num_rows
        writers = [("bqdump json (CKAN)", "json", ckan_writer("json")), ("bqdump xml (CKAN)", "xml", ckan_writer("xml")),
                   ("peer: pyarrow csv", "pyarrow_csv", pyarrow_csv), ("peer: DuckDB csv", "duckdb_csv", duckdb_csv)]
        results, lines = {}, []
        for label, slug, write in writers:
            target = folder / "out"
            best, growth = measure(write, source, target, args.reps)
            per_million = best / rows * 1e6
            results[f"{slug}_s_per_million_rows"] = round(per_million, 3)
            results[f"{slug}_rss_growth_MiB"] = round(growth)
            lines.append([label, f"{best:.2f}", f"{per_million:.2f}", f"{target.stat().st_size / MIB:.1f}",
                          f"{growth:.0f}"])
        print(f"flights: {rows:,} rows, {len(pq.read_schema(source))} columns; best of {args.reps}")
        print(table(lines, ["writer", "seconds", "s / million rows", "output MB", "peak RSS growth MiB"]))
        big = repeated(source, folder / "big.parquet", args.copies)
        flat = []
        for (label, slug, write), line in zip(writers[:2], lines[:2]):
            _, growth = measure(write, big, folder / "out", 1)
            flat.append([label, line[4], f"{growth:.0f}"])
            results[f"{slug}_rss_growth_MiB_copies"] = round(growth)
        print(f"\npeak RSS growth (MiB), flights 1x ({rows:,} rows) beside {args.copies}x ({rows * args.copies:,} rows):")
        print(table(flat, ["writer", "1x", f"{args.copies}x"]))
        emit_result("ckan_writers", rows=rows, copies=args.copies, **results)


if __name__ == "__main__":
    main()
