"""A json dump of an export of about --files Parquet files on the three emulators (fake-gcs-server, bqemulator,
the Cloud Tasks emulator delivering over HTTP), written in pieces: one Cloud Tasks delivery per file, joined by
compose. Prints the file count, every delivery's duration beside the worker's deadline, the total time, and
checks every record of the download.

--delay-ms adds that much to every Cloud Storage call (fake-gcs-server behind tests/support/fault_proxy.py) and to
every task the worker queues (the Cloud Tasks emulator is gRPC, so the delay is a sleep before each create_task),
so that the deliveries cost what they would against the real services, where a call takes tens of milliseconds.

bqemulator writes ceil(result bytes / BQEMU_EXPORT_SHARD_THRESHOLD_BYTES) files: the threshold is set so that
--rows rows come out as about --files files. The deployment is assembled as tests/contract/test_google_end_to_end.py
does (BridgedWarehouse carries bqemulator's files into fake-gcs-server). ExportWorker.deliver is wrapped, from
here, to time each delivery; nothing in the app is edited.

    .venv/bin/python benchmarks/bench_pieces_google.py [--rows 20000] [--files 1000] [--delay-ms 30]
    (needs `make tools`)
"""

from __future__ import annotations

import argparse
import secrets
import threading
import time

import _common  # noqa: F401  (puts the repository on sys.path)
from _common import emit_result, table

import requests
from google.auth.credentials import AnonymousCredentials, Signing

from functions.adapters.google.clients import READ_ONLY, READ_WRITE
from functions.adapters.system_clock import SYSTEM_CLOCK
from functions.auth import build_authorizer
from functions.local_server import make_local_server
from functions.settings import load_settings
from functions.wiring import assemble, build_backend
from jobs.export_worker import ExportWorker
from tests.support.fault_proxy import FaultProxy
from tests.support.emulators import free_port, start_bigquery_emulator, start_gcs_emulator, start_tasks_emulator
from tests.support.app import with_ports
from tests.support.export_bridge import BridgedWarehouse

PROJECT = "bench-project"
RESULT_BYTES_PER_ROW = 29  # bqemulator's estimate for (_id, 'row-<n>', 2n) at 20,000 rows: 2,059 files at 14


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--delay-ms", type=float, default=30)
    args = parser.parse_args()
    delay = args.delay_ms / 1000
    threshold = max(1, args.rows * RESULT_BYTES_PER_ROW // args.files)
    deliveries: list[tuple[str, float]] = []
    lock = threading.Lock()
    original = ExportWorker.deliver

    def timed(self, payload, last=False):
        started = time.perf_counter()
        outcome = original(self, payload, last)
        with lock:
            deliveries.append((outcome.reason, time.perf_counter() - started))
        return outcome

    ExportWorker.deliver = timed
    fanned: list[int] = []
    with start_gcs_emulator() as gcs, start_bigquery_emulator(threshold) as bqemu, start_tasks_emulator() as tasks_emu, \
            FaultProxy(gcs.endpoint, delay=delay) as storage_proxy:
        bucket = f"bench-{secrets.token_hex(4)}"
        gcs.client(PROJECT).create_bucket(bucket)
        bq = bqemu.client(PROJECT)
        dataset = f"pieces_{secrets.token_hex(4)}"
        bq.create_dataset(dataset)
        bq.query(f"CREATE TABLE `{PROJECT}.{dataset}.numbers` AS SELECT x AS _id, CONCAT('row-', CAST(x AS STRING)) "
                 f"AS label, x * 2 AS doubled FROM UNNEST(GENERATE_ARRAY(1, {args.rows})) AS x", job_retry=None).result()
        tasks = tasks_emu.client()
        location = f"projects/{PROJECT}/locations/here"
        queue = f"{location}/queues/pieces-{secrets.token_hex(4)}"
        tasks.create_queue(parent=location, queue={"name": queue})
        port = free_port()
        env = {"DUMP_BACKEND": "google", "DUMP_TOKEN_SECRET": "bench-secret", "DUMP_WAIT_SECONDS": "0",
               "BIGQUERY_PROJECT": PROJECT, "BIGQUERY_DATASET": dataset, "BIGQUERY_EXPORT_BUCKET": bucket,
               "BIGQUERY_CREDENTIALS": "anonymous", "BIGQUERY_API_ENDPOINT": bqemu.endpoint,
               "STORAGE_API_ENDPOINT": storage_proxy.url, "TASKS_API_ENDPOINT": f"http://{tasks_emu.endpoint}",
               "TASKS_QUEUE": queue, "WORKER_URL": f"http://127.0.0.1:{port}/tasks/export",
               "STREAM_URL": f"http://127.0.0.1:{port}"}
        settings = load_settings(env)
        config = settings.core
        from tests.contract import keys

        identities = {READ_ONLY: AnonymousCredentials(), READ_WRITE: _Signing(keys)}
        backend = build_backend(settings, SYSTEM_CLOCK, credentials=identities)
        bridged = BridgedWarehouse(backend.read_write.warehouse, bqemu.export_root, gcs.client(PROJECT).bucket(bucket))
        app = assemble(config, with_ports(backend, tables=bridged, warehouse=bridged),
                       build_authorizer(settings.auth, requests.Session()), SYSTEM_CLOCK)
        task_queue = app.worker.queue
        enqueue = task_queue.enqueue
        task_queue.enqueue = lambda *a, **k: time.sleep(delay) or enqueue(*a, **k)  # a create_task's round trip
        fan_out = app.worker.fan_out
        app.worker.fan_out = lambda *a: fanned.append(len(a[3])) or fan_out(*a)
        server = make_local_server(app.doors, "127.0.0.1", port)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            started = time.perf_counter()
            while True:  # a follower that outwaits its request timeout answers 503 with Retry-After: ask again
                answer = requests.get(f"http://127.0.0.1:{port}/datastore/dump/numbers", params={"format": "json"},
                                      timeout=3600)
                if answer.status_code != 503 or time.perf_counter() - started > 3600:
                    break
            total = time.perf_counter() - started
            records = answer.json()["records"] if answer.status_code == 200 else None
            waited = time.monotonic() + 120  # the joining delivery answers after its clean-up: let it finish
            while not any(reason == "published" for reason, _ in deliveries) and time.monotonic() < waited:
                time.sleep(0.2)
        finally:
            server.shutdown()
            server.server_close()
            app.close()
            tasks.transport.close()
    ok = records == [[i, f"row-{i}", i * 2] for i in range(1, args.rows + 1)]
    deadline = settings.google.dispatch_deadline_seconds or 600  # unset: Cloud Tasks' default for HTTP tasks
    slowest = max((seconds for _, seconds in deliveries), default=0.0)
    by_reason: dict[str, list[float]] = {}
    for reason, seconds in deliveries:
        by_reason.setdefault(reason, []).append(seconds)
    print(f"{args.rows:,} rows exported as {fanned[0] if fanned else 1} Parquet files; json download "
          f"{'complete and correct' if ok else 'WRONG'} after {total:.1f} s (status {answer.status_code})")
    print(table([[reason, str(len(values)), f"{max(values):.2f}", f"{sum(values) / len(values):.2f}"]
                 for reason, values in sorted(by_reason.items())], ["delivery outcome", "count", "max s", "mean s"]))
    if "published" not in by_reason:
        print("the joining delivery had not ended 120 s after the download was served (still deleting the files and "
              "pieces): its duration is longer than that")
    print(f"slowest delivery {slowest:.2f} s beside the worker's deadline {deadline} s (the dispatch deadline the "
          f"settings give: DUMP_WORKER_WAIT_SECONDS {settings.core.worker_wait_seconds:g} + assembly); every Cloud "
          f"Storage call and task creation +{args.delay_ms:g} ms; {len(storage_proxy.calls)} storage calls, "
          f"{sum(1 for method, path in storage_proxy.calls if method == 'GET' and '/o?' in path)} of them listings")
    emit_result("pieces_google", rows=args.rows, files=fanned[0] if fanned else 1, correct=ok, delay_ms=args.delay_ms,
                total_s=round(total, 2), deliveries=len(deliveries), slowest_delivery_s=round(slowest, 2),
                deadline_s=deadline, storage_calls=len(storage_proxy.calls),
                **{f"{reason.replace(' ', '_')}_max_s": round(max(values), 2) for reason, values in by_reason.items()},
                **{f"{reason.replace(' ', '_')}_count": len(values) for reason, values in by_reason.items()})


class _Signing(AnonymousCredentials, Signing):
    """Anonymous for the emulators, with a throwaway key to sign URLs (as tests/contract does)."""

    def __init__(self, keys):
        from google.auth import crypt

        super().__init__()
        self._signer = crypt.RSASigner.from_string(keys.private_pem(keys.new_key()), "k")
        self._email = keys.SIGNER_EMAIL

    def sign_bytes(self, message):
        return self._signer.sign(message)

    @property
    def signer_email(self):
        return self._email

    @property
    def signer(self):
        return self._signer


if __name__ == "__main__":
    main()
