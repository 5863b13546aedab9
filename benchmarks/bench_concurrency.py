"""A busy instance: cache-hit latency in the last request slot while every other slot waits for an export.

One `dump` target under functions-framework, on the Google backend against the emulators (fake-gcs-server,
bqemulator, gcloud-tasks-emulator), sized as Terraform deploys it: the request concurrency and THREADS are
read from a real `terraform plan` of terraform/examples/basic (tests/support/terraform.py). concurrency - 1
cache misses are kept in flight (each waits DUMP_WAIT_SECONDS, the app default, for an export that never
comes: its task goes to a worker URL nobody serves, as when exports outlast the wait), and cache hits (302 to
a signed URL, export published beforehand by the real worker) are sent one at a time in the last slot.
Measured: hit latency p50/p99 busy vs idle, and RSS of the instance (all its processes) per in-flight
request. "before": THREADS unset (functions-framework's default, 4 per CPU: 8 here, 4 on a 1-vCPU
instance); "after": THREADS as planned. Same run, same emulators.

    .venv/bin/python benchmarks/bench_concurrency.py [--idle 200] [--busy-seconds 20] [--before-seconds 60]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import psutil

from _common import emit_result, percentile, table  # noqa: F401  (sys.path set by _common)
from tests.support.emulators import free_port, start_bigquery_emulator, start_gcs_emulator, start_tasks_emulator
from tests.support.functions_framework import FunctionProcess
from tests.support.rehearsal import ExportBridge, token_endpoint
from tests.support.terraform import Terraform, plan_example

PROJECT, DATASET, BUCKET = "bench-project", "datastore", "bench-exports"
QUEUE = f"projects/{PROJECT}/locations/here/queues/exports"
TARGET = 50.0  # ms, p99 of a probe in the last slot
PROBE_TIMEOUT = 40.0  # s: longer than DUMP_WAIT_SECONDS (25), so a probe queued behind misses is seen through


def planned_sizing() -> tuple[int, int]:
    """(max_instance_request_concurrency, THREADS) of the dump function, from a real terraform plan."""
    with tempfile.TemporaryDirectory(prefix="bench-terraform-") as workspace:
        deployment = plan_example(Terraform(Path(workspace)))
        if deployment.plan.retcode != 0:
            raise SystemExit(f"terraform plan failed:\n{deployment.plan.output}")
        config = deployment.functions()["dump"]["service_config"][0]
        return config["max_instance_request_concurrency"], int(config["environment_variables"]["THREADS"])


def timed_get(port: int, path: str, expect: int, timeout: float = 120, headers: dict | None = None) -> float:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    if response.status != expect:
        raise RuntimeError(f"{path} answered {response.status}, expected {expect}")
    return (time.perf_counter() - start) * 1000


def rss_mib(pid: int) -> float:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / (1 << 20)


class Load:
    """`count` requests always in flight: each thread sends `request()` again as soon as one ends."""

    def __init__(self, count: int, request):
        self.stop = threading.Event()
        self.request = request
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(count)]

    def _loop(self, i: int) -> None:
        while not self.stop.is_set():
            try:
                self.request(i, self.stop)
            except (OSError, http.client.HTTPException):
                if not self.stop.is_set():
                    raise

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        time.sleep(2)  # every request accepted and in flight
        return self

    def __exit__(self, *exc):
        self.stop.set()


def miss(port: int):
    """A cache miss: waits DUMP_WAIT_SECONDS (`Prefer: respond-async, wait=N`) for an export that never comes, then
    answers 202."""
    return lambda i, stop: timed_get(port, f"/datastore/dump/miss_{i:02d}?format=csv", 202,
                                     headers={"Prefer": "respond-async, wait=3600"})


def slow_download(port: int, path: str):
    """A long download: reads 64 KiB a second, so the server's thread waits on a full socket."""

    def request(i, stop):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            while not stop.is_set() and response.read(65536):
                stop.wait(1)
        finally:
            conn.close()

    return request


def measure(target: str, env: dict, port: int, load, in_flight: int, probes: dict, idle_requests: int,
            busy_seconds: float, home: Path, label: str) -> dict:
    """Probe latencies (alternating, one at a time) idle and with `in_flight` requests of `load`; RSS."""
    process = FunctionProcess(target, env, home / f"{target}-{label}.log", port)
    try:
        process.wait_ready()
        for path, expect, headers in probes.values():
            for _ in range(10):
                timed_get(port, path, expect, headers=headers)
        idle = {name: [] for name in probes}
        for _ in range(idle_requests):
            for name, (path, expect, headers) in probes.items():
                idle[name].append(timed_get(port, path, expect, headers=headers))
        rss_idle = rss_mib(process.process.pid)
        busy, timeouts = {name: [] for name in probes}, {name: 0 for name in probes}
        with Load(in_flight, load(port)):
            rss_busy = rss_mib(process.process.pid)
            end = time.monotonic() + busy_seconds
            while time.monotonic() < end or not busy[next(iter(probes))]:
                for name, (path, expect, headers) in probes.items():
                    try:
                        busy[name].append(timed_get(port, path, expect, headers=headers, timeout=PROBE_TIMEOUT))
                    except TimeoutError:  # no thread freed up in time: counted, and as long as the timeout
                        busy[name].append(PROBE_TIMEOUT * 1000)
                        timeouts[name] += 1
            rss_busy = max(rss_busy, rss_mib(process.process.pid))
        figures = {"rss_idle_MiB": rss_idle, "rss_busy_MiB": rss_busy,
                   "KiB_per_request": (rss_busy - rss_idle) * 1024 / in_flight}
        for name in probes:
            figures.update({f"{name}_idle_p50": percentile(idle[name], 50), f"{name}_idle_p99": percentile(idle[name], 99),
                            f"{name}_busy_p50": percentile(busy[name], 50), f"{name}_busy_p99": percentile(busy[name], 99),
                            f"{name}_busy_max": max(busy[name]), f"{name}_busy_n": len(busy[name]),
                            f"{name}_timeouts": timeouts[name]})
        return figures
    finally:
        process.stop()


def publish(base: dict, threads: int, home: Path) -> str:
    """Exports `hit` (one object) and `long` (several files, DUMP_COMPOSE=false) with the real worker; answers
    the path and query of the `long` download on the streaming function."""
    location = ""
    for compose, table_name in (("true", "hit"), ("false", "long")):
        worker_port = free_port()
        env = {**base, "WORKER_URL": f"http://127.0.0.1:{worker_port}", "DUMP_COMPOSE": compose,
               "STREAM_URL": "http://stream.invalid"}
        worker = FunctionProcess("export_worker", env, home / f"worker-{compose}.log", worker_port)
        setup = FunctionProcess("dump", env, home / f"setup-{compose}.log", free_port())
        try:
            worker.wait_ready()
            setup.wait_ready()
            conn = http.client.HTTPConnection("127.0.0.1", setup.port, timeout=300)
            conn.request("GET", f"/datastore/dump/{table_name}?format=csv")
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 302:
                raise SystemExit(f"publishing {table_name} answered {response.status}: see {setup.log}")
            location = response.getheader("Location")
        finally:
            setup.stop()
            worker.stop()
    if not location.startswith("http://stream.invalid/stream/"):
        raise SystemExit(f"`long` was not sent to the streaming function: {location}")
    return location.removeprefix("http://stream.invalid")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=int, default=200, help="idle probes")
    parser.add_argument("--busy-seconds", type=float, default=20, help="how long probes run while busy (after)")
    parser.add_argument("--before-seconds", type=float, default=60, help="the same with default threads (before)")
    args = parser.parse_args()

    concurrency, threads = planned_sizing()
    in_flight = concurrency - 1
    print(f"terraform plan: max_instance_request_concurrency={concurrency}, THREADS={threads}; {in_flight} requests "
          f"in flight; functions-framework default here: {(os.cpu_count() or 1) * 4} threads", flush=True)
    with start_gcs_emulator() as gcs, start_bigquery_emulator(shard_threshold_bytes=4 << 20) as bq, \
            start_tasks_emulator() as tasks_emu, tempfile.TemporaryDirectory(prefix="bench-concurrency-") as tmp:
        home = Path(tmp)
        client = bq.client(PROJECT)
        client.create_dataset(DATASET)
        tables = [("hit", 1000, "''"), ("long", 200_000, "'-abcdefghijklmnopqrstuvwxyz-abcdefghijklmnopqrstuvwxyz-"
                                                        "abcdefghijklmnopqrstuvwxyz'")]
        for name, rows, pad in tables + [(f"miss_{i:02d}", 10, "''") for i in range(in_flight)]:
            client.query(f"CREATE TABLE `{PROJECT}.{DATASET}.{name}` AS SELECT x AS _id, x * 2 AS doubled, "
                         f"CONCAT('row-', CAST(x AS STRING), {pad}) AS label "
                         f"FROM UNNEST(GENERATE_ARRAY(1, {rows})) AS x", job_retry=None).result()
        bucket = gcs.client(PROJECT).bucket(BUCKET)
        bucket.create()
        queue_client = tasks_emu.client()
        queue_client.create_queue(parent=QUEUE.rsplit("/queues/", 1)[0], queue={"name": QUEUE})
        queue_client.transport.close()
        bridge = ExportBridge(bq.endpoint, bq.export_root, bucket)
        from tests.contract import keys

        oauth = token_endpoint()  # a throwaway service-account key signs URLs; its access tokens come from here
        signing = {**keys.service_account_info(keys.new_key()), "token_uri": f"{oauth.url}/token"}
        base = {"PATH": os.environ["PATH"], "HOME": str(home), "DUMP_BACKEND": "google", "DUMP_TOKEN_SECRET": "bench",
                "BIGQUERY_PROJECT": PROJECT, "BIGQUERY_DATASET": DATASET, "BIGQUERY_EXPORT_BUCKET": BUCKET,
                "BIGQUERY_API_ENDPOINT": bridge.url, "STORAGE_API_ENDPOINT": gcs.endpoint,
                "TASKS_API_ENDPOINT": f"http://{tasks_emu.endpoint}", "TASKS_QUEUE": QUEUE,
                "BIGQUERY_CREDENTIALS": json.dumps(signing), "SIGNING_SERVICE_ACCOUNT": signing["client_email"],
                "DUMP_STREAM_TOKEN_SECONDS": "3600"}  # the stream token minted once outlives the run
        stream_path = publish(base, threads, home)
        print(f"published hit (one object) and long ({len(list(bucket.list_blobs(prefix='dumps/long/')))} objects)",
              flush=True)
        # Measured instances: tasks go where nobody answers (misses keep waiting); BigQuery without the bridge.
        env = {**base, "WORKER_URL": f"http://127.0.0.1:{free_port()}", "BIGQUERY_API_ENDPOINT": bq.endpoint}
        scenarios = {
            "dump": ("dump", lambda port: miss(port),
                     {"hit": ("/datastore/dump/hit?format=csv", 302, None), "healthz": ("/healthz", 200, None)}),
            "stream": ("stream", lambda port: slow_download(port, stream_path),
                       {"range": (stream_path, 206, {"Range": "bytes=0-1023"})}),
        }
        results = {}
        for scenario, (target, load, probes) in scenarios.items():
            for label, extra, seconds in (("before", {}, args.before_seconds),
                                          ("after", {"THREADS": str(threads)}, args.busy_seconds)):
                print(f"== {scenario}, {label}: THREADS={extra.get('THREADS', 'unset')}", flush=True)
                results[f"{scenario}_{label}"] = figures = measure(
                    target, {**env, **extra}, free_port(), load, in_flight, probes, args.idle, seconds, home, label)
                print(f"   {figures}", flush=True)
        bridge.close()
        oauth.close()

    rows = []
    for scenario, probe, what in (("dump", "hit", f"dump: cache hit, {in_flight} misses waiting"),
                                  ("dump", "healthz", f"dump: /healthz, {in_flight} misses waiting"),
                                  ("stream", "range", f"stream: 1 KiB range, {in_flight} slow downloads")):
        a, b = results[f"{scenario}_after"], results[f"{scenario}_before"]
        rows.append([f"{what}, p50", f"{a[f'{probe}_busy_p50']:.1f} ms", f"{b[f'{probe}_busy_p50']:.0f} ms",
                     f"idle {a[f'{probe}_idle_p50']:.1f} ms", "", ""])
        rows.append([f"{what}, p99", f"{a[f'{probe}_busy_p99']:.1f} ms", f"{b[f'{probe}_busy_p99']:.0f} ms",
                     f"idle {a[f'{probe}_idle_p99']:.1f} ms; before: n={b[f'{probe}_busy_n']}, "
                     f"{b[f'{probe}_timeouts']} timed out", f"< {TARGET:.0f} ms",
                     "ok" if a[f"{probe}_busy_p99"] < TARGET else "MISSED"])
    for scenario in ("dump", "stream"):
        a, b = results[f"{scenario}_after"], results[f"{scenario}_before"]
        rows.append([f"{scenario}: RSS per in-flight request", f"{a['KiB_per_request']:.0f} KiB",
                     f"{b['KiB_per_request']:.0f} KiB", f"instance {a['rss_idle_MiB']:.0f} -> {a['rss_busy_MiB']:.0f} MiB",
                     "", ""])
    print(table(rows, ["measure", f"THREADS={threads} (after)", "default threads (before)", "detail", "target", ""]))
    emit_result("concurrency", concurrency=concurrency, threads=threads, in_flight=in_flight,
                **{f"{label}_{k}": v for label, r in results.items() for k, v in r.items()})


if __name__ == "__main__":
    main()
