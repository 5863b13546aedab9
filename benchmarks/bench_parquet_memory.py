"""Parquet merge memory: peak memory of jobs.assemble.reencode_parquet vs the largest row group and the table.

reencode_parquet is the merge's fallback for files whose footers cannot be joined (different schemas);
the merge itself (footers joined, files composed) is measured by bench_parquet_merge.py.
The claim (jobs/assemble.py): "Row group by row group, so memory stays bounded by the largest row
group, not the table."

Set-up: a generated table (benchmarks/_common.generated_parquet: 12 columns, ~220 B a row in Arrow) of
--rows rows (default 2,500,000, ~550 MB in Arrow) is loaded into a local warehouse and exported by the
warehouse's own export step as Parquet with DUMP_SHARD_BYTES = 1, so that every row group (DuckDB's
122,880 rows) is its own file (~21 files). Then each merge runs in a FRESH Python subprocess that has
already imported pyarrow, DuckDB and the app modules; a thread samples the process RSS with psutil every
2 ms, and after the merge the child also reports ru_maxrss (the kernel's exact high-water mark) and
pyarrow.default_memory_pool().max_memory() (peak bytes held by Arrow's allocator). Reported growth =
peak - RSS just before the merge.

  bqdump            jobs.assemble.reencode_parquet(LocalObjectStore(bucket), all files, ...) as the worker calls it
  bqdump, 1/3       the same on the first third of the files: if memory is bounded by the row group, the
                    peak does not grow with the number of files. Verdict "holds" when going from a third
                    of the files to all of them raises the peak by < 25 % of the Arrow bytes added
  peer: whole table pyarrow.parquet.read_table(files) then write_table: the table-in-memory way to merge
  peer: DuckDB      COPY (SELECT * FROM read_parquet([files])) TO one.parquet, threads=1 (DuckDB streams)
Reference sizes: the largest row group's pyarrow Table.nbytes and the whole table's (sum over row groups).

    .venv/bin/python benchmarks/bench_parquet_memory.py [--rows 2500000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, PeakRss, emit_result, load_generated, table, temp_dir

MIB = 1024 * 1024


# ---------------------------------------------------------------- child: one merge, measured

def child(mode: str, bucket: str, names: list[str], out: str) -> None:
    import duckdb  # noqa: F401  (imported before the baseline in every mode alike)
    import psutil
    import pyarrow as pa
    import pyarrow.parquet as pq

    from functions.adapters.local.object_store import LocalObjectStore
    from functions.adapters.local.sql import quote_literal
    from jobs import assemble

    proc = psutil.Process()
    store = LocalObjectStore(Path(bucket))
    paths = [str(Path(bucket) / n) for n in names]
    pool = pa.default_memory_pool()
    with PeakRss(proc) as memory:
        start = time.perf_counter()
        if mode.startswith("bqdump"):
            assemble.reencode_parquet(store, names, out, "application/vnd.apache.parquet")
            result_path = Path(bucket) / out
        elif mode == "whole_table":
            whole = pq.read_table(paths)
            pq.write_table(whole, str(Path(bucket) / out), compression="zstd")
            del whole
            result_path = Path(bucket) / out
        elif mode == "duckdb":
            with duckdb.connect() as con:
                con.execute("SET threads = 1")
                sources = "[" + ", ".join(quote_literal(p) for p in paths) + "]"
                con.execute(f"COPY (SELECT * FROM read_parquet({sources})) TO {quote_literal(str(Path(bucket) / out))} "
                            "(FORMAT parquet, COMPRESSION zstd)")
            result_path = Path(bucket) / out
        else:
            raise SystemExit(f"unknown mode {mode}")
        elapsed = time.perf_counter() - start
    rows = pq.ParquetFile(str(result_path)).metadata.num_rows
    print(json.dumps({"mode": mode, "rss_before": memory.before, "sampled_peak": memory.sampled_peak,
                      "maxrss_before": memory.max_before, "maxrss_after": memory.max_after, "growth": memory.growth,
                      "arrow_max": pool.max_memory(), "arrow_backend": pool.backend_name,
                      "seconds": elapsed, "rows": rows, "out_bytes": result_path.stat().st_size}))


def run_child(mode: str, bucket: Path, names: list[str], out: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(bucket), out, *names], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} merge failed:\n{proc.stderr[-2000:]}")
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    (bucket / out).unlink(missing_ok=True)
    return found


# ---------------------------------------------------------------- parent

def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_500_000)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, bucket, out, *names = args.child
        return child(mode, bucket, names, out)

    import pyarrow.parquet as pq

    import functions.adapters.local.warehouse as warehouse_module
    from functions.adapters.local.factory import local_warehouse
    from functions.adapters.system_clock import SYSTEM_CLOCK
    from functions.core.model import ExportJob, Format
    from functions.core.shards import order_shards

    with temp_dir("pqmem") as local_dir:
        t0 = time.perf_counter()
        load_generated(local_dir, "wide", args.rows)
        bucket = local_dir / "bucket"
        warehouse = local_warehouse(local_dir, SYSTEM_CLOCK, exports=2)
        try:
            source = warehouse.table_file("wide")
            prefix = "dumps/wide/parquet/bench/1/"
            job = ExportJob("bench", "wide", Format.PARQUET, prefix, 1)  # DUMP_SHARD_BYTES = 1
            warehouse_module._export(source, bucket / prefix, job)  # the worker's export step
        finally:
            warehouse.close()
        names = order_shards([p.relative_to(bucket).as_posix() for p in (bucket / prefix).glob("part-*")])
        print(f"{args.rows:,} generated rows loaded and exported as {len(names)} Parquet files "
              f"({sum((bucket / n).stat().st_size for n in names) / MIB:.0f} MiB on disk) in "
              f"{time.perf_counter() - t0:.1f} s")

        group_sizes, group_rows, file_bytes = [], [], {}
        for name in names:
            parquet = pq.ParquetFile(str(bucket / name))
            for index in range(parquet.num_row_groups):
                group = parquet.read_row_group(index)
                group_sizes.append(group.nbytes)
                group_rows.append(group.num_rows)
                file_bytes[name] = file_bytes.get(name, 0) + group.nbytes
                del group
        largest, whole = max(group_sizes), sum(group_sizes)
        print(f"row groups: {len(group_sizes)} (largest {max(group_rows):,} rows, {largest / MIB:.1f} MiB as an Arrow "
              f"table); whole table {whole / MIB:.1f} MiB as Arrow")

        third = names[: max(1, len(names) // 3)]
        runs = {
            "bqdump": run_child("bqdump", bucket, names, prefix + "download.parquet"),
            "bqdump_third": run_child("bqdump_third", bucket, third, prefix + "download.parquet"),
            "whole_table": run_child("whole_table", bucket, names, prefix + "whole.parquet"),
            "duckdb": run_child("duckdb", bucket, names, prefix + "duck.parquet"),
        }
        for key, r in runs.items():
            expected = sum(group_rows) if key != "bqdump_third" else sum(
                pq.ParquetFile(str(bucket / n)).metadata.num_rows for n in third)
            if r["rows"] != expected:
                raise RuntimeError(f"{key}: merged {r['rows']} rows, expected {expected}")

    labels = {"bqdump": f"bqdump reencode_parquet, {len(names)} files",
              "bqdump_third": f"bqdump reencode_parquet, first {len(third)} files",
              "whole_table": "peer: pyarrow read_table + write_table",
              "duckdb": "peer: DuckDB COPY merge, threads=1"}
    rows = []
    summary = {"rows": args.rows, "files": len(names), "row_groups": len(group_sizes),
               "largest_row_group_MiB": round(largest / MIB, 1), "table_MiB": round(whole / MIB, 1)}
    for key, r in runs.items():
        growth = r["growth"]
        rows.append([labels[key], f"{growth / MIB:.0f} MiB", f"{r['arrow_max'] / MIB:.0f} MiB" if key != "duckdb" else "-",
                     f"{growth / largest:.1f}x", f"{growth / whole:.2f}x", f"{r['seconds']:.2f} s"])
        summary[f"{key}_peak_growth_MiB"] = round(growth / MIB, 1)
        summary[f"{key}_arrow_max_MiB"] = round(r["arrow_max"] / MIB, 1)
        summary[f"{key}_seconds"] = round(r["seconds"], 2)
    print()
    print(f"peak memory of one merge in a fresh subprocess (RSS growth over the RSS just before it; Arrow pool "
          f"'{runs['bqdump']['arrow_backend']}'); largest row group {largest / MIB:.1f} MiB, table {whole / MIB:.1f} MiB:")
    print(table(rows, ["merge", "peak RSS growth", "Arrow pool peak", "/ largest row group", "/ table", "time"]))
    # bounded: going from a third of the files to all of them (same largest row group) adds little peak memory
    # compared with the table data added; the whole-table peer adds about as much as the data itself
    added = whole - sum(file_bytes[n] for n in third)
    marginal = (runs["bqdump"]["growth"] - runs["bqdump_third"]["growth"]) / added
    bounded = marginal < 0.25
    print("claim 'memory bounded by the largest row group, not the table': "
          + ("holds" if bounded else "DOES NOT HOLD") + f" (all files vs a third: +{marginal * 100:.0f} % of the "
          f"{added / MIB:.0f} MiB of table data added; bqdump peak {runs['bqdump']['growth'] / largest:.1f}x the largest "
          f"row group, with a third of the files {runs['bqdump_third']['growth'] / largest:.1f}x)")
    summary["marginal_growth_per_table_byte"] = round(marginal, 3)
    summary["bounded"] = bounded
    emit_result("parquet_memory", **summary)
    return summary


if __name__ == "__main__":
    main()
