"""Parquet merge: the footer join (jobs.assemble.merge_parquet) beside today's re-encoding (reencode_parquet).

Target (issue 11): under 1 s and under 64 MiB whatever the table's size, and the worker reads no more
bytes than the files' footers.

Set-up, per size: a generated table (benchmarks/_common.generated_parquet, 12 columns) of --rows rows
(default 2,500,000) and of 10 times that, exported by the local warehouse's own export step with
DUMP_SHARD_BYTES = 1, so every 122,880-row group is its own file (21 files, then 204). Each merge runs in
a FRESH Python subprocess that has imported pyarrow, DuckDB and the app modules (not thriftpy2: the
join pays its first-use import and IDL parse inside the timing); a thread samples RSS every 2 ms, and
ru_maxrss is read after. The store is the local folder, observed at the port:

  bytes read   every byte the merge reads through the port (read_range, read_bytes, open_reader)
  worker time  the merge minus the time spent inside store.compose, which on Cloud Storage is one
               server-side call a step and here is the local folder copying the files (shown apart)
  footers      the files' footers and 8-byte trailers, summed: what "bytes read" is held to

Then the compose calls of the footer join for 1,000 files (a 1 TB export of 1 GiB files), counted at
the port on 1,000 small files, and thriftpy2's first-use cost (import + IDL) in a fresh process.

    .venv/bin/python benchmarks/bench_parquet_merge.py [--rows 2500000] [--scale 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, PeakRss, emit_result, generated_parquet, table, temp_dir

from tests.support.observed import Observed

MIB = 1024 * 1024
PARQUET = "application/vnd.apache.parquet"


def child(mode: str, bucket: str, names: list[str], out: str) -> None:
    import duckdb  # noqa: F401  (imported before the baseline in both modes alike)
    import psutil
    import pyarrow.parquet as pq

    from functions.adapters.local.object_store import LocalObjectStore
    from jobs import assemble

    store = Observed(LocalObjectStore(Path(bucket)))
    shards = [next(o for o in store.list(n) if o.name == n) for n in names]
    proc = psutil.Process()
    with PeakRss(proc) as memory:
        start = time.perf_counter()
        if mode == "join":
            merged = assemble.merge_parquet(store, shards, out, PARQUET)
        else:
            merged = assemble.reencode_parquet(store, names, out, PARQUET)
        elapsed = time.perf_counter() - start
    metadata = pq.ParquetFile(str(Path(bucket) / merged.name)).metadata
    print(json.dumps({"seconds": elapsed, "compose_seconds": store.seconds("compose"), "composes": store.count("compose"),
                      "growth": memory.growth, "bytes_read": store.bytes_read, "rows": metadata.num_rows,
                      "row_groups": metadata.num_row_groups, "out_bytes": merged.size}))


def run_child(mode: str, bucket: Path, names: list[str], out: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(bucket), out, *names], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} merge failed:\n{proc.stderr[-2000:]}")
    (bucket / out).unlink(missing_ok=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def export_shards(folder: Path, rows: int) -> tuple[Path, list[str]]:
    """The warehouse's export step on a generated table, one file per row group; (bucket, object names)."""
    import functions.adapters.local.warehouse as warehouse_module
    from functions.core.model import ExportJob, Format
    from functions.core.shards import order_shards

    source = generated_parquet(folder / "source.parquet", rows)
    bucket, prefix = folder / "bucket", "dumps/wide/parquet/bench/1/"
    warehouse_module._export(source, bucket / prefix, ExportJob("bench", "wide", Format.PARQUET, prefix, 1))
    source.unlink()
    return bucket, order_shards([p.relative_to(bucket).as_posix() for p in (bucket / prefix).glob("part-*")])


def footer_bytes(path: Path) -> int:
    from jobs import parquet_footer

    with open(path, "rb") as handle:
        handle.seek(-parquet_footer.TRAILER, 2)
        trailer = handle.read()
    return parquet_footer.TRAILER + parquet_footer.footer_length(path.name, path.stat().st_size, trailer)


def thousand_files(folder: Path) -> dict:
    """The footer join of 1,000 small files on the local store: compose calls and time, at the port."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from functions.adapters.local.object_store import LocalObjectStore
    from functions.core.assembly import compose_steps
    from functions.core.shards import order_shards
    from jobs import assemble

    store = Observed(LocalObjectStore(folder / "bucket"))
    prefix = "dumps/many/parquet/bench/1/"
    folder_of_files = folder / "bucket" / prefix
    folder_of_files.mkdir(parents=True)
    for index in range(1000):  # 1 row each: the count of compose calls depends only on the count of files
        pq.write_table(pa.table({"id": pa.array([index], pa.int64())}), folder_of_files / f"part-{index}.parquet")
    found = {o.name: o for o in store.list(prefix + "part-")}
    shards = [found[name] for name in order_shards(found)]
    start = time.perf_counter()
    merged = assemble.merge_parquet(store, shards, prefix + "download.parquet", PARQUET)
    seconds = time.perf_counter() - start
    rows = pq.ParquetFile(str(folder / "bucket" / merged.name)).read().column("id").to_pylist()
    if rows != list(range(1000)):
        raise RuntimeError("1,000-file merge read back wrong")
    return {"composes": store.count("compose"), "expected": len(compose_steps([""] * 1001, "x")) + 1, "seconds": seconds,
            "bytes_read": store.bytes_read}


def first_use_seconds() -> float:
    code = ("import time; t = time.perf_counter(); from jobs import parquet_footer; parquet_footer._thrift(); "
            "print(time.perf_counter() - t)")
    return float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout)


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_500_000)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, bucket, out, *names = args.child
        return child(mode, bucket, names, out)

    summary, rows = {"rows": args.rows, "scale": args.scale}, []
    for label, count in (("1x", args.rows), (f"{args.scale}x", args.rows * args.scale)):
        with temp_dir("pqmerge") as folder:
            t0 = time.perf_counter()
            bucket, names = export_shards(folder, count)
            size = sum((bucket / n).stat().st_size for n in names)
            footers = sum(footer_bytes(bucket / n) for n in names)
            print(f"{count:,} rows exported as {len(names)} Parquet files ({size / MIB:.0f} MiB, footers "
                  f"{footers / 1024:.0f} KiB) in {time.perf_counter() - t0:.0f} s", flush=True)
            out = names[0].rsplit("/", 1)[0] + "/download.parquet"
            runs = {mode: run_child(mode, bucket, names, out) for mode in ("join", "reencode")}
        for mode, r in runs.items():
            if r["rows"] != count:
                raise RuntimeError(f"{mode}: merged {r['rows']} rows, expected {count}")
        join, old = runs["join"], runs["reencode"]
        worker = join["seconds"] - join["compose_seconds"]
        ok = worker < 1 and join["growth"] < 64 * MIB and join["bytes_read"] <= footers
        rows.append([f"{count / 1e6:g}M rows, {len(names)} files", f"{worker:.2f} s (+{join['compose_seconds']:.2f} s "
                     f"local compose, {join['composes']} calls)", f"{old['seconds']:.1f} s",
                     f"{join['growth'] / MIB:.0f} MiB", f"{old['growth'] / MIB:.0f} MiB",
                     f"{join['bytes_read'] / 1024:.0f} KiB", f"{old['bytes_read'] / MIB:.0f} MiB",
                     f"{footers / 1024:.0f} KiB", "yes" if ok else "NO"])
        summary.update({f"{label}_files": len(names), f"{label}_data_MiB": round(size / MIB),
                        f"{label}_footers_KiB": round(footers / 1024, 1),
                        f"{label}_join_worker_s": round(worker, 3),
                        f"{label}_join_local_compose_s": round(join["compose_seconds"], 3),
                        f"{label}_join_peak_MiB": round(join["growth"] / MIB, 1),
                        f"{label}_join_read_KiB": round(join["bytes_read"] / 1024, 1),
                        f"{label}_reencode_s": round(old["seconds"], 2),
                        f"{label}_reencode_peak_MiB": round(old["growth"] / MIB, 1),
                        f"{label}_reencode_read_MiB": round(old["bytes_read"] / MIB, 1), f"{label}_ok": ok})
    with temp_dir("pqmerge-many") as folder:
        many = thousand_files(folder)
    summary.update({"thousand_composes": many["composes"], "thousand_seconds": round(many["seconds"], 2),
                    "thousand_read_KiB": round(many["bytes_read"] / 1024, 1)})
    if many["composes"] != many["expected"]:
        raise RuntimeError(f"1,000 files took {many['composes']} compose calls, compose_steps says {many['expected']}")
    summary["thrift_first_use_ms"] = round(first_use_seconds() * 1000)
    print()
    print("merge of one export (fresh subprocess each; peak = RSS growth over the RSS just before the merge):")
    print(table(rows, ["export", "footer join: worker time", "re-encode", "join peak", "re-encode peak",
                       "join read", "re-encode read", "footers", "target met"]))
    print(f"\n1,000 files (a 1 TB export): {many['composes']} compose calls (a chain of {many['composes'] - 1} over "
          f"1,001 sources, then the if-absent copy), {many['seconds']:.2f} s on the local store, "
          f"{many['bytes_read'] / 1024:.0f} KiB read")
    print(f"thriftpy2 first use in a fresh process (import + parquet_footer.thrift parsed): {summary['thrift_first_use_ms']} ms")
    emit_result("parquet_merge", **summary)
    return summary


if __name__ == "__main__":
    main()
