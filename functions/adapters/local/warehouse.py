"""DuckDB as the warehouse: each table is an immutable Parquet file plus a small pointer document.

A load writes a new Parquet file and swaps the pointer atomically, so nothing holds a lock between
requests: `python main.py load` works while the server runs, and an export that is reading the old
file keeps a consistent snapshot of it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError as FutureTimeout
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import duckdb

from functions.core import identifiers, layout
from functions.core.errors import InvalidRequest, NotFound
from functions.core.model import ExportJob, FailureKind, JobState, JobStatus, ObjectInfo, TableShape
from functions.core.shards import order_shards
from functions.source_files import source_format
from functions.adapters.local.export import InterruptedAttempt, described, export as _export
from functions.adapters.local.sql import quote_literal
from functions.ports import Clock

POINTER = "current.json"


log = logging.getLogger("bqdump.local")


class LocalWarehouse:
    def __init__(self, root: Path, bucket_root: Path, clock: Clock, max_jobs: int):
        self.clock = clock
        self.tables = Path(root) / "tables"
        self.bucket_root = Path(bucket_root)
        self._executor = ThreadPoolExecutor(max_workers=max_jobs, thread_name_prefix="local-export")
        self._jobs: dict[str, Future] = {}
        self._prefixes: dict[str, str] = {}  # job id -> its files' object prefix
        self._lock = threading.Lock()

    def _pointer(self, resource_id: str) -> dict:
        try:
            return json.loads((self._table_dir(resource_id) / POINTER).read_text())
        except FileNotFoundError:
            raise NotFound(
                f"There is no table {resource_id!r}.",
                f"Check the resource id, or load it: python main.py load {resource_id} <file>",
            ) from None

    def _table_dir(self, resource_id: str) -> Path:
        return self.tables / layout.resource_segment(resource_id)  # a 1,024-character id is no file name

    def table_modified(self, resource_id: str) -> datetime:
        micros = int(self._pointer(identifiers.resource_id(resource_id))["modified_us"])
        return layout.from_micros(micros)

    def table_file(self, resource_id: str) -> Path:
        return self._data_file(resource_id, self._pointer(resource_id))

    def _data_file(self, resource_id: str, pointer: dict) -> Path:
        """The Parquet file a pointer names: every path of a table is derived here or in `_table_dir`."""
        return self._table_dir(resource_id) / pointer["file"]

    def column_names(self, resource_id: str) -> list[str]:
        import pyarrow.parquet as pq

        return pq.read_schema(self.table_file(resource_id)).names  # the footer only: no DuckDB connection

    def shape(self, resource_id: str) -> TableShape:
        """The pointer's time and the DuckDB types of the file it names: one consistent snapshot."""
        pointer = self._pointer(identifiers.resource_id(resource_id))
        return TableShape(layout.from_micros(int(pointer["modified_us"])),
                          described(str(self._data_file(resource_id, pointer))))

    def list_tables(self) -> list[str]:
        if not self.tables.is_dir():
            return []
        pointers = ((folder.name, _read_json(folder / POINTER)) for folder in self.tables.iterdir())
        return sorted(pointer.get("resource_id", name) for name, pointer in pointers if pointer)  # older: no id

    def start_export(self, job: ExportJob) -> None:
        with self._lock:
            if job.job_id in self._jobs:
                return  # same deterministic id: the export is already running or done
            source = self.table_file(job.resource_id)
            destination = self.bucket_root / job.destination_prefix
            scratch = self.tables.parent / "scratch" / job.job_id
            self._jobs[job.job_id] = self._executor.submit(_export, source, destination, job, scratch)
            self._prefixes[job.job_id] = job.destination_prefix

    def final_files(self, job_id: str) -> list[ObjectInfo] | None:
        """The job's files that will not change again, in row order: every file it has written so far (each lands
        under its name only when complete, functions.adapters.local.export), none once it failed. None for a job
        this process does not run."""
        with self._lock:
            future, prefix = self._jobs.get(job_id), self._prefixes.get(job_id)
        if future is None or prefix is None:
            return None
        if future.done() and future.exception() is not None:
            return []
        folder = self.bucket_root / prefix
        try:
            names = order_shards(entry.name for entry in os.scandir(folder) if entry.name.startswith("part-"))
        except FileNotFoundError:
            return []
        files = []
        for name in names:
            try:
                stat = (folder / name).stat()
            except FileNotFoundError:  # joined and deleted meanwhile (another delivery published): stop there
                break
            files.append(ObjectInfo(prefix + name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, timezone.utc)))
        return files

    def wait_export(self, job_id: str, timeout: float) -> JobStatus:
        with self._lock:
            future = self._jobs.get(job_id)
        if future is None:
            return JobStatus(JobState.FAILED, "the export job is unknown (was the server restarted?)", FailureKind.TRANSIENT)
        try:
            future.result(timeout=timeout)
        except FutureTimeout:
            return JobStatus(JobState.RUNNING)
        except InterruptedAttempt as exc:
            return JobStatus(JobState.FAILED, str(exc), FailureKind.TRANSIENT)
        except duckdb.Error as exc:  # its text names server paths: the log keeps it, the caller gets the kind
            log.warning("local export %s failed: %s", job_id, exc)
            return JobStatus(JobState.FAILED, f"DuckDB could not export the table ({type(exc).__name__}); "
                                              "the server log has the details")
        return JobStatus(JobState.DONE)

    def table_rows(self, resource_id: str) -> int | None:
        """Rows of the table as last loaded, None when there is no such table."""
        pointer = _read_json(self._table_dir(identifiers.resource_id(resource_id)) / POINTER)
        return int(pointer["rows"]) if pointer and "rows" in pointer else None

    def load(self, resource_id: str, source: Path, progress: Callable[[float], None] | None = None,
             null_string: str | None = None, ragged: str = "refuse", expected_rows: int | None = None) -> datetime:
        """Create or replace a table from a CSV, TSV, NDJSON or Parquet file; moves its modified time.

        The file's dialect is given, not guessed (functions/source_files.py checks the file first); a load whose
        row count differs from `expected_rows` is refused before it replaces anything."""
        identifiers.resource_id(resource_id)
        reader = _reader(Path(source), null_string, ragged)
        table_dir = self._table_dir(resource_id)
        created = not table_dir.exists()
        table_dir.mkdir(parents=True, exist_ok=True)
        modified_us = _next_modified(table_dir, self.clock)
        data_name = f"{format(modified_us, 'x')}.parquet"
        partial = table_dir / f".{data_name}.partial"
        try:
            with duckdb.connect() as con:
                _run_with_progress(con, f"COPY (SELECT * FROM {reader}) TO {quote_literal(str(partial))} "
                                        "(FORMAT parquet, COMPRESSION zstd)", progress)
                [rows] = con.execute(f"SELECT count(*) FROM read_parquet({quote_literal(str(partial))})").fetchall()[0]
            if expected_rows is not None and rows != expected_rows:
                raise InvalidRequest(f"{Path(source).name}: DuckDB read {rows:,} rows where the file holds "
                                     f"{expected_rows:,}; the table was left as it was.",
                                     "Report this with the file: it is a loader bug.")
        except BaseException as error:
            partial.unlink(missing_ok=True)
            if created:
                table_dir.rmdir()
            if isinstance(error, duckdb.Error):  # its first line says what and where; no traceback for a user
                raise InvalidRequest(f"{Path(source).name}: DuckDB could not load it: "
                                     f"{str(error).splitlines()[0]}",
                                     "Fix the file where the message says, then load it again; the table was "
                                     "left as it was.") from None
            raise
        os.replace(partial, table_dir / data_name)
        pointer = table_dir / f".{POINTER}.partial"
        pointer.write_text(json.dumps({"resource_id": resource_id, "file": data_name, "modified_us": modified_us,
                                       "rows": rows}))
        previous = _read_json(table_dir / POINTER)
        os.replace(pointer, table_dir / POINTER)
        if previous and previous.get("file") != data_name:
            (table_dir / previous["file"]).unlink(missing_ok=True)  # open readers keep their snapshot
        return layout.from_micros(modified_us)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _reader(source: Path, null_string: str | None, ragged: str = "refuse") -> str:
    """DuckDB's reader for the file, with the dialect given rather than sniffed (a sniffer that finds no
    consistent one reads the whole line as one text column)."""
    kind = source_format(source)
    path = quote_literal(str(source))
    if kind.format == "parquet":
        return f"read_parquet({path})"
    if kind.format == "ndjson":
        return f"read_json({path}, format = 'newline_delimited')"
    assert kind.delimiter is not None  # csv and tsv: the formats left
    nulls = f", nullstr = {quote_literal(null_string)}" if null_string else ""
    padding = ", null_padding = true, parallel = false" if ragged == "pad" else ""  # parallel: quoted line breaks
    return (f"read_csv({path}, delim = {quote_literal(kind.delimiter)}, header = true, quote = '\"', "
            f"escape = '\"'{nulls}{padding})")


def _run_with_progress(con, sql: str, progress) -> None:
    if progress is None:
        con.execute(sql)
        return
    done = threading.Event()
    errors: list[BaseException] = []

    def run():
        try:
            con.execute(sql)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    while not done.wait(0.2):
        value = con.query_progress()
        if value >= 0:
            progress(value)
    worker.join()
    if errors:
        raise errors[0]
    progress(100.0)


def _next_modified(table_dir: Path, clock: Clock) -> int:
    """Now in microseconds, and strictly after the previous load, so every load moves the revision."""
    now = layout.to_micros(clock.now())
    previous = _read_json(table_dir / POINTER)
    return max(now, int(previous["modified_us"]) + 1) if previous else now


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
