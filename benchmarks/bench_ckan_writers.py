"""CKAN JSON and XML writing cost per million rows, beside CSV written from the same Parquet by pyarrow and DuckDB.

Set-up: the demo flights table (336,776 rows, 19 columns) loaded as `python main.py demo` does; its Parquet file
is the input of every writer, as the worker's export would be. Each writer streams to a file on local disk:

  bqdump json   jobs.ckan_writers.json_chunks(parquet_batches(file)) -> file   (CKAN's JSON dump bytes)
  bqdump xml    jobs.ckan_writers.xml_chunks(parquet_batches(file))  -> file   (CKAN's XML dump bytes)
  peer: pyarrow csv   pyarrow.csv.CSVWriter over the same record batches
  peer: DuckDB csv    COPY (SELECT * FROM read_parquet(file)) TO out.csv, one thread

Figures: best of --reps wall-clock seconds, seconds per million rows, output MB, and the growth of this
process's peak RSS while writing (sampled every 5 ms with psutil), which stays flat per batch, not per table.

    .venv/bin/python benchmarks/bench_ckan_writers.py [--reps 3]
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    import pyarrow.parquet as pq

    with temp_dir("writers") as folder:
        source = load_flights(folder)
        rows = pq.ParquetFile(source).metadata.num_rows
        writers = [("bqdump json (CKAN)", ckan_writer("json")), ("bqdump xml (CKAN)", ckan_writer("xml")),
                   ("peer: pyarrow csv", pyarrow_csv), ("peer: DuckDB csv", duckdb_csv)]
        results, lines = {}, []
        for label, write in writers:
            target = folder / "out"
            best, growth = float("inf"), 0.0
            for _ in range(args.reps):
                with PeakRss() as rss:
                    started = time.perf_counter()
                    write(source, target)
                    elapsed = time.perf_counter() - started
                best, growth = min(best, elapsed), max(growth, rss.growth_mib)
            size = target.stat().st_size / MIB
            per_million = best / rows * 1e6
            results[label] = per_million
            lines.append([label, f"{best:.2f}", f"{per_million:.2f}", f"{size:.1f}", f"{growth:.0f}"])
        print(f"flights: {rows:,} rows, {len(pq.read_schema(source))} columns; best of {args.reps}")
        print(table(lines, ["writer", "seconds", "s / million rows", "output MB", "peak RSS growth MiB"]))
        emit_result("ckan_writers", rows=rows, **{k: round(v, 3) for k, v in results.items()})


if __name__ == "__main__":
    main()
