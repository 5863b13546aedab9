"""A cold download through the follow route beside the export's own duration, and many followers of one export.

    .venv/bin/python benchmarks/bench_follow.py [--rows 5000000] [--followers 50]

For csv, json and parquet of a generated table (_common.generated_parquet; the local backend in its own process):
- export: the export's own time, queue to publish, with no follower (`Prefer: respond-async, wait=N` holds the
  request until it is published), of two copies of the table, one before and one after the cold download (the
  machine is shared: their mean is the export time the cold download is set beside);
- cold: one client downloads a cold copy of the same table from the dump URL, the server on its default settings:
  time to its first byte and to its last byte (the dump function's wait until a first piece is final, the 302 to
  the follow route, then the bytes as the pieces become final), and whether they are the published file's bytes
  (length and CRC-32: the client checks what it got as cheaply as curl writes it, not a cryptographic hash);
- followers: N clients start the same cold csv download at once: how many export jobs ran (attempt folders),
  whether every client got the published bytes, and the server's memory per waiting follower.
Targets (issue 17): first byte of a cold csv within 2 s; last byte within 1.2 x the export's time; N followers =
one export.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import threading
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import SubprocessServer, emit_result, env_for, generated_parquet, table, temp_dir  # noqa: E402

FORMATS = ("csv", "json", "parquet")


def request(url: str, headers: dict | None = None, timeout: float = 3600):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
    return conn, conn.getresponse()


def cold_download(url: str) -> dict:
    """Follows redirects; times the first and the last byte from the first request; checksums the body."""
    started = time.perf_counter()
    first = None
    digest, size = 0, 0
    while True:
        conn, resp = request(url)
        if resp.status in (301, 302):
            url = resp.getheader("Location")
            resp.read()
            conn.close()
            continue
        if resp.status != 200:
            raise RuntimeError(f"{url}: {resp.status} {resp.read()[:300]!r}")
        while chunk := resp.read1(1 << 20):
            if first is None:
                first = time.perf_counter() - started
            digest = zlib.crc32(chunk, digest)
            size += len(chunk)
        conn.close()
        return {"first": first, "last": time.perf_counter() - started, "crc": digest, "bytes": size}


def published_crc(local_dir: Path, rid: str, fmt: str) -> tuple[int, int]:
    from functions.core.publish import parse_manifest, revision_state
    from functions.adapters.local.object_store import LocalObjectStore

    store = LocalObjectStore(local_dir / "bucket")
    state = revision_state(store.list(f"dumps/{rid}/{fmt}/"))
    manifest = parse_manifest(store.read_bytes(state.published.manifest.name))
    digest, size = 0, 0
    for piece in manifest.pieces:
        for chunk in store.read_range(piece.name, piece.skip, piece.size - piece.skip, 1 << 20):
            digest = zlib.crc32(chunk, digest)
            size += len(chunk)
    return digest, size


def attempt_folders(local_dir: Path, rid: str, fmt: str) -> int:
    root = local_dir / "bucket" / "dumps" / rid / fmt
    return sum(1 for rev in root.iterdir() for _ in rev.iterdir()) if root.exists() else 0


def at_least_one(text: str) -> int:
    """--followers: the followers' part (one export for N cold requests) needs at least one follower."""
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number}: give at least 1")
    return number


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--followers", type=at_least_one, default=50)
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args()
    formats = args.formats.split(",")
    with temp_dir("follow") as local_dir:
        from functions.adapters.local.factory import local_warehouse
        from functions.adapters.system_clock import SYSTEM_CLOCK

        source = generated_parquet(local_dir / "source.parquet", args.rows)
        warehouse = local_warehouse(local_dir, SYSTEM_CLOCK, exports=2)
        rids = ["own", "cold", "again", "many"]
        for rid in rids:
            warehouse.load(rid, source)
        warehouse.close()
        env = env_for(local_dir)
        del env["DUMP_WAIT_SECONDS"]  # the embedded default's wait: a download follows once a first piece is final
        results, rows = {}, []
        with SubprocessServer(env) as server:
            def export_alone(rid: str, fmt: str) -> float:
                start = time.perf_counter()
                conn, resp = request(f"{server.base}/datastore/dump/{rid}?format={fmt}",
                                     {"Prefer": "respond-async, wait=3600"})
                resp.read()
                conn.close()
                if resp.status != 302:  # DUMP_WAIT_SECONDS caps the wait: poll until published
                    while True:
                        conn, resp = request(f"{server.base}/datastore/dump/{rid}?format={fmt}",
                                             {"Prefer": "respond-async"})
                        resp.read()
                        conn.close()
                        if resp.status == 302:
                            break
                        time.sleep(0.05)
                return time.perf_counter() - start

            for fmt in formats:
                before = export_alone("own", fmt)
                cold = cold_download(f"{server.base}/datastore/dump/cold?format={fmt}")
                after = export_alone("again", fmt)
                export = (before + after) / 2
                crc, size = published_crc(local_dir, "cold", fmt)
                same = cold["crc"] == crc and cold["bytes"] == size
                results[fmt] = {"export_s": export, "first_byte_s": cold["first"], "last_byte_s": cold["last"],
                                "ratio": cold["last"] / export, "bytes": size, "same_bytes": same}
                rows.append([fmt, f"{size / 1e6:.0f} MB", f"{export:.2f} s ({before:.1f}, {after:.1f})", f"{cold['first']:.2f} s",
                             f"{cold['last']:.2f} s", f"{cold['last'] / export:.2f}", "yes" if same else "NO"])
            print(table(rows, ["format", "size", "export alone (before, after)", "cold: first byte", "cold: last byte",
                               "last/export", "bytes = published"]))

            process = psutil.Process(server.pid)
            idle_rss = process.memory_info().rss
            peak = [idle_rss]
            outcomes: list = [None] * args.followers
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    peak[0] = max(peak[0], process.memory_info().rss)
                    time.sleep(0.01)

            def follower(i):
                try:
                    outcomes[i] = cold_download(f"{server.base}/datastore/dump/many?format=csv")
                except Exception as error:  # counted as a failed follower below
                    outcomes[i] = error

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            threads = [threading.Thread(target=follower, args=(i,)) for i in range(args.followers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            stop.set()
            sampler.join()
            crc, size = published_crc(local_dir, "many", "csv")
            good = sum(1 for o in outcomes if isinstance(o, dict) and o["crc"] == crc and o["bytes"] == size)
            jobs = attempt_folders(local_dir, "many", "csv")
            per_follower = (peak[0] - idle_rss) / args.followers
            print(f"\n{args.followers} concurrent cold csv followers: {jobs} export attempt(s), {good} of "
                  f"{args.followers} got the published bytes, server RSS {idle_rss / 2**20:.0f} MiB idle, peak "
                  f"{peak[0] / 2**20:.0f} MiB: {per_follower / 1024:.0f} KiB per follower (bytes included)")
        csv = results.get("csv", {})
        print(f"\ntargets: cold csv first byte {csv.get('first_byte_s', float('nan')):.2f} s (<= 2 s); last byte "
              + ", ".join(f"{f} {r['ratio']:.2f}x" for f, r in results.items()) + " of the export (<= 1.2x); "
              f"{args.followers} followers = {jobs} export(s) (target 1)")
        emit_result("follow", rows=args.rows, followers=args.followers, follower_jobs=jobs, follower_ok=good,
                    follower_KiB=per_follower / 1024, **{f"{f}_{k}": v for f, r in results.items() for k, v in r.items()})


if __name__ == "__main__":
    main()
