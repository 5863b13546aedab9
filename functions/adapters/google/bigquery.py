"""BigQuery as the warehouse: EXPORT DATA jobs with deterministic ids, built from the table's schema."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any, Callable

from google.api_core import exceptions as api_errors
from google.auth.exceptions import GoogleAuthError

from google.cloud import bigquery

from functions.adapters.google import sql as bigquery_sql
from functions.adapters.google.dump_query_sql import select_statement
from functions.adapters.google.kinds import table_columns
from functions.core import identifiers
from functions.core.errors import NotFound, Unavailable
from functions.core.model import ExportJob, FailureKind, JobState, JobStatus, TableShape
from functions.ports import Clock

RETRYABLE_REASONS = {"quotaExceeded", "rateLimitExceeded", "backendError", "internalError", "jobBackendError",
                     "jobInternalError", "jobRateLimitExceeded"}
TOO_LARGE_REASONS = {"responseTooLarge", "resourcesExceeded"}
POLL_FIRST, POLL_MAX = 0.25, 5.0
log = logging.getLogger("bqdump.google")
API_ERRORS = (api_errors.GoogleAPIError, GoogleAuthError, OSError)


def columns_of(schema) -> list[bigquery_sql.Column]:
    """The SchemaField list of google-cloud-bigquery as the core's plain columns."""
    return [bigquery_sql.Column(f.name, f.field_type, f.mode or "NULLABLE", tuple(columns_of(f.fields)))
            for f in schema]


def job_status(error_result: dict | None) -> JobStatus:
    """A finished job's errorResult as a failure kind: table gone, too large, transient, or failed."""
    if not error_result:
        return JobStatus(JobState.DONE)
    reason = error_result.get("reason", "")
    message = f"BigQuery: {error_result.get('message') or reason or 'the export job failed'}"
    if reason == "notFound":
        return JobStatus(JobState.FAILED, message, FailureKind.TABLE_GONE)
    if reason in TOO_LARGE_REASONS or "too large" in message.lower():
        return JobStatus(JobState.FAILED, message, FailureKind.TOO_LARGE)
    if reason in RETRYABLE_REASONS:
        return JobStatus(JobState.FAILED, message, FailureKind.TRANSIENT)
    return JobStatus(JobState.FAILED, message)


def _unavailable(exc: Exception) -> Unavailable:
    """An API error's message is the service's; an OSError's names local files (a key file, a socket): kind only."""
    log.warning("BigQuery call failed: %r", exc)
    message = getattr(exc, "message", "") if isinstance(exc, api_errors.GoogleAPIError) else ""
    detail = f": {message}" if message else ""
    return Unavailable(f"BigQuery could not answer: {type(exc).__name__}{detail}",
                       "Try again in a minute; if it persists, tell the portal's administrators.")


class GoogleWarehouse:
    """`reader` answers table metadata (read-only identity); `writer` runs and watches exports (read-write)."""

    def __init__(self, reader: Callable[[], bigquery.Client], writer: Callable[[], bigquery.Client], project: str, dataset: str,
                 bucket: str, order_column: str, clock: Clock):
        self._reader, self._writer = reader, writer
        self.project, self.dataset, self.bucket = project, dataset, bucket
        self.order_column = order_column
        self._clock = clock
        self._locations: dict[str, str | None] = {}
        self._refused: dict[str, JobStatus] = {}
        self._lock = threading.Lock()

    def table_path(self, resource_id: str) -> str:
        return f"{self.project}.{self.dataset}.{bigquery_sql.table_id(identifiers.resource_id(resource_id))}"

    def _table(self, client, resource_id: str):
        try:
            return client.get_table(self.table_path(resource_id))
        except api_errors.NotFound:
            raise NotFound(f"There is no table {resource_id!r}.", "Check the resource id in the URL.") from None
        except API_ERRORS as exc:
            raise _unavailable(exc) from exc

    def table_modified(self, resource_id: str) -> datetime:
        return self._table(self._reader(), resource_id).modified

    def shape(self, resource_id: str) -> TableShape:
        """`modified` and the schema from one tables.get (the read-only identity, as `table_modified`)."""
        table = self._table(self._reader(), resource_id)
        return TableShape(table.modified, tuple(table_columns(table.schema)))

    def column_names(self, resource_id: str) -> list[str]:
        """The export's header, read by the worker: the read-write identity, like the export itself."""
        return [field.name for field in self._table(self._writer(), resource_id).schema]

    def list_tables(self) -> list[str]:
        try:
            tables = self._reader().list_tables(f"{self.project}.{self.dataset}")
            return sorted(t.table_id for t in tables if identifiers.RESOURCE_ID_PATTERN.fullmatch(t.table_id))
        except API_ERRORS as exc:
            raise _unavailable(exc) from exc

    def start_export(self, job: ExportJob) -> None:
        """Inserts the job under its fixed id; one that exists already (looked up first, or 409) is attached to."""
        client = self._writer()
        try:
            existing = client.get_job(job.job_id, location=self._locations.get(job.job_id))
            self._remember(job.job_id, existing.location)
            return
        except api_errors.NotFound:
            pass
        except API_ERRORS as exc:
            raise _unavailable(exc) from exc
        table = self._table(client, job.resource_id)
        self._remember(job.job_id, table.location)
        parameters: list = []
        try:
            if job.selection.whole_table:
                sql = bigquery_sql.export_statement(self.project, self.dataset, job.resource_id,
                                                    columns_of(table.schema), job.format, self.bucket,
                                                    job.destination_prefix, self.order_column,
                                                    header=job.header, gzip=job.gzip)
            else:
                sql, parameters = self.query_export(job, table.schema)
        except ValueError as exc:
            with self._lock:
                self._refused[job.job_id] = JobStatus(JobState.FAILED, f"The table cannot be exported: {exc}.")
            return
        try:
            config: dict[str, Any] = {"job_config": bigquery.QueryJobConfig(query_parameters=parameters)} if parameters else {}
            client.query(sql, job_id=job.job_id, location=table.location, job_retry=None, **config)
        except api_errors.Conflict:
            pass  # inserted meanwhile by a duplicate delivery: the same export
        except API_ERRORS as exc:
            raise _unavailable(exc) from exc

    def query_export(self, job: ExportJob, schema) -> tuple[str, list]:
        """EXPORT DATA of a query dump's SELECT: values travel as query parameters, never in the SQL text."""
        formatted = {c.name: c for c in columns_of(schema)}
        select = select_statement(
            bigquery_sql.table_reference(self.project, self.dataset, job.resource_id), job.selection,
            table_columns(schema), lambda column: bigquery_sql.column_expression(formatted[column.name], job.format))
        uri = bigquery_sql.export_uri(self.bucket, job.destination_prefix, job.format, job.gzip)
        options = bigquery_sql.export_options(job.format, uri, job.header, job.gzip)
        return f"EXPORT DATA OPTIONS({options}) AS {select.sql}", select.parameters

    def _remember(self, job_id: str, location: str | None) -> None:
        with self._lock:
            self._locations[job_id] = location

    def wait_export(self, job_id: str, timeout: float) -> JobStatus:
        with self._lock:
            refused = self._refused.get(job_id)
            location = self._locations.get(job_id)
        if refused:
            return refused
        client = self._writer()
        deadline, pause = self._clock.monotonic() + timeout, POLL_FIRST
        while True:
            try:
                job = client.get_job(job_id, location=location)
            except api_errors.NotFound:
                return JobStatus(JobState.FAILED, f"BigQuery does not know the export job {job_id}.", FailureKind.TRANSIENT)
            except API_ERRORS as exc:
                raise _unavailable(exc) from exc
            if job.state == "DONE":
                return job_status(job.error_result)
            left = deadline - self._clock.monotonic()
            if left <= 0:
                return JobStatus(JobState.RUNNING)
            self._clock.sleep(min(pause, left))
            pause = min(pause * 2, POLL_MAX)
