"""What checking a file costs `python main.py load`: flights (336,776 rows) as CSV and as NDJSON.

    .venv/bin/python benchmarks/bench_load.py [--reps 3]

For each file, the median of --reps runs of: the backend-neutral check (functions/source_files.check: every row
read once), the local warehouse's load (DuckDB reads the file and writes the table's Parquet), and the peer: one
raw DuckDB COPY of the same file to Parquet with everything sniffed, as the loader ran before issue 22 (no
check, no given dialect). Load time = check + warehouse load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import flights_csv  # noqa: E402

from functions.adapters.local.warehouse import LocalWarehouse  # noqa: E402
from functions.adapters.system_clock import SYSTEM_CLOCK  # noqa: E402
from functions.source_files import check  # noqa: E402


def median_seconds(action, reps: int) -> float:
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bqdump-bench-load-") as work:
        work = Path(work)
        csv = flights_csv()
        ndjson = work / "flights.ndjson"
        duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv}', nullstr = 'NA')) TO '{ndjson}' (FORMAT json)")
        warehouse = LocalWarehouse(work / "state", work / "state" / "bucket", SYSTEM_CLOCK, max_jobs=1)
        print(f"{'file':26} {'check':>8} {'warehouse load':>15} {'load total':>11} {'peer: raw COPY':>15}")
        try:
            for source in (csv, ndjson):
                nulls = "NA" if source.suffix == ".csv" else None
                checked = median_seconds(lambda source=source: check(source), args.reps)
                loaded = median_seconds(lambda source=source, nulls=nulls: warehouse.load(
                    "flights", source, null_string=nulls), args.reps)
                reader = f"read_csv('{source}', nullstr = 'NA')" if nulls else f"read_json('{source}')"
                peer = median_seconds(lambda reader=reader: duckdb.connect().execute(
                    f"COPY (SELECT * FROM {reader}) TO '{work / 'peer.parquet'}' (FORMAT parquet, "
                    "COMPRESSION zstd)"), args.reps)
                size = f"{source.name} ({source.stat().st_size / 2**20:.0f} MiB)"
                print(f"{size:26} {checked:7.2f}s {loaded:14.2f}s {checked + loaded:10.2f}s {peer:14.2f}s")
        finally:
            warehouse.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
