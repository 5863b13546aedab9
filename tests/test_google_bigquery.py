"""GoogleWarehouse behaviour the emulator cannot show (its jobs finish at once, it never answers 409 or 503)."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from google.api_core import exceptions
from google.cloud.bigquery import SchemaField

from functions.adapters.google.bigquery import GoogleWarehouse
from functions.core.errors import NotFound, Unavailable
from tests.support.clock import FakeClock
from functions.core.model import ExportJob, Format, JobState

MODIFIED = datetime(2026, 1, 2, tzinfo=timezone.utc)
JOB = ExportJob("bqdump_csv_1_1_abc", "flights", Format.CSV, "dumps/flights/csv/1/1/", 1 << 30)


class FakeClient:
    """A BigQuery client at the process boundary: answers from fixed states, records calls."""

    def __init__(self, states=("DONE",), insert_error=None, table_error=None, existing=False):
        self.states, self.insert_error, self.table_error, self.existing = list(states), insert_error, table_error, existing
        self.queries, self.polls = [], 0

    def get_table(self, path):
        if self.table_error:
            raise self.table_error
        return SimpleNamespace(modified=MODIFIED, location="europe-west1",
                               schema=[SchemaField("_id", "INT64"), SchemaField("name", "STRING")])

    def get_job(self, job_id, location=None):
        if not self.existing and not self.queries:
            raise exceptions.NotFound("no job")
        self.polls += 1
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return SimpleNamespace(state=state, error_result=None, location=location)

    def query(self, sql, job_id, location, job_retry):
        self.queries.append((sql, job_id, location))
        if self.insert_error:
            raise self.insert_error


def warehouse(client, clock=None):
    return GoogleWarehouse(lambda: client, lambda: client, "my-project", "ckan_ds", "exports", "_id",
                           clock=clock or FakeClock())


def test_a_running_job_answers_running_once_the_wait_is_over():
    client, clock = FakeClient(states=["RUNNING"]), FakeClock()
    w = warehouse(client, clock)
    w.start_export(JOB)
    assert w.wait_export(JOB.job_id, 20).state is JobState.RUNNING
    assert 19.9 <= clock.monotonic() <= 20.0 and client.polls > 3


def test_the_job_is_inserted_under_its_id_in_the_tables_location_and_ordered():
    client = FakeClient(states=["RUNNING", "DONE"])
    w = warehouse(client)
    w.start_export(JOB)
    [(sql, job_id, location)] = client.queries
    assert (job_id, location) == (JOB.job_id, "europe-west1")
    assert sql.startswith("EXPORT DATA OPTIONS(uri='gs://exports/dumps/flights/csv/1/1/part-*.csv'")
    assert sql.endswith("FROM `my-project.ckan_ds.flights` AS t ORDER BY t.`_id`")
    assert w.wait_export(JOB.job_id, 20).state is JobState.DONE


def test_a_conflict_attaches_to_the_existing_job():
    client = FakeClient(insert_error=exceptions.Conflict("Already Exists: Job my-project:EU.bqdump_csv_1_1_abc"))
    w = warehouse(client)
    w.start_export(JOB)
    assert w.wait_export(JOB.job_id, 5).state is JobState.DONE


def test_an_existing_job_is_not_inserted_again():
    client = FakeClient(existing=True)
    warehouse(client).start_export(JOB)
    assert client.queries == []


def test_errors_reach_the_worker_as_not_found_or_unavailable():
    with pytest.raises(NotFound):
        warehouse(FakeClient(table_error=exceptions.NotFound("Not found: Table"))).table_modified("flights")
    with pytest.raises(NotFound):
        warehouse(FakeClient(table_error=exceptions.NotFound("Not found: Table"))).start_export(JOB)
    with pytest.raises(Unavailable):
        warehouse(FakeClient(table_error=exceptions.ServiceUnavailable("backend"))).table_modified("flights")
    with pytest.raises(Unavailable):
        warehouse(FakeClient(insert_error=exceptions.TooManyRequests("rate"))).start_export(JOB)
    assert warehouse(FakeClient()).table_modified("flights") == MODIFIED
