"""The local export in ranges (functions.adapters.local.export: a small first range, then growing runs of row
groups, each its own COPY) beside the same export as one COPY of the whole table, alternated in one process so
both see the same machine; and when the first file of each lands.

    .venv/bin/python benchmarks/bench_ranges.py [--rows 5000000] [--reps 3] [--formats csv,ndjson,parquet]

Both write into a scratch folder and move the files into the attempt folder, as the app does. "One COPY" is
the export of a job that is not `early`: what the app did before, and does for the Parquet behind json and xml.
Target: the ranges cost no more than noise.
"""

from __future__ import annotations

import argparse
import shutil
import threading
import time
from pathlib import Path

from _common import emit_result, generated_parquet, median, table, temp_dir

from functions.adapters.local import export  # noqa: E402
from functions.core.model import ExportJob, Format  # noqa: E402


def timed(source: Path, folder: Path, fmt: Format, ranged: bool) -> tuple[float, float, int]:
    """Seconds to the end, seconds to the first file landed, files."""
    destination = folder / "out"
    job = ExportJob("bench", "bench", fmt, "bench/", 1 << 30, header=False, early=ranged)  # not early: one COPY
    first: list[float] = []
    done = threading.Event()
    started = time.perf_counter()

    def watch():
        while not done.is_set() and not first:
            if destination.is_dir() and any(p.name.startswith("part-") for p in destination.iterdir()):
                first.append(time.perf_counter() - started)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    export.export(source, destination, job, folder / "scratch")
    elapsed = time.perf_counter() - started
    done.set()
    watcher.join()
    files = len(list(destination.iterdir()))
    shutil.rmtree(destination)
    return elapsed, (first[0] if first else elapsed), files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--formats", default="csv,ndjson,parquet")
    args = parser.parse_args()
    with temp_dir("ranges") as folder:
        source = generated_parquet(folder / "rows.parquet", args.rows)
        rows, results = [], {}
        for name in args.formats.split(","):
            fmt = Format(name)
            runs: dict[bool, list[tuple[float, float, int]]] = {True: [], False: []}
            for rep in range(args.reps):
                for ranged in ((True, False) if rep % 2 == 0 else (False, True)):
                    runs[ranged].append(timed(source, folder, fmt, ranged))
            one, ranged = median([r[0] for r in runs[False]]), median([r[0] for r in runs[True]])
            first_one, first_ranged = median([r[1] for r in runs[False]]), median([r[1] for r in runs[True]])
            results[name] = {"one_copy_s": one, "ranges_s": ranged, "ratio": ranged / one,
                             "first_file_one_copy_s": first_one, "first_file_ranges_s": first_ranged}
            rows.append([name, f"{one:.2f} s", f"{ranged:.2f} s", f"{ranged / one:.2f}", f"{first_one:.2f} s",
                         f"{first_ranged:.2f} s", f"{runs[False][0][2]} / {runs[True][0][2]}"])
        print(table(rows, ["format", "one COPY", "ranges", "ranges/one", "first file: one COPY", "first file: ranges",
                           "files"]))
        print(f"\n{args.rows:,} rows, median of {args.reps}, alternated; each run: every file landed in the attempt")
        emit_result("ranges", rows=args.rows, reps=args.reps, **{f"{f}_{k}": v for f, r in results.items()
                                                                  for k, v in r.items()})


if __name__ == "__main__":
    main()
