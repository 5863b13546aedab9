"""The EXPORT DATA statement, built purely from a schema: no BigQuery needed."""

import pytest

from functions.adapters.google.bigquery import job_status
from functions.adapters.google.sql import Column, UnsupportedSchema, export_statement, quote_identifier, table_reference
from functions.core.model import FailureKind, Format, JobState, Variant
from functions.core.next_step import failure_error
from functions.core.publish import Failure

COLUMNS = [Column("_id", "INTEGER"), Column("name", "STRING"), Column("seen_at", "TIMESTAMP"),
           Column("local_at", "DATETIME"), Column("tags", "STRING", "REPEATED"),
           Column("place", "RECORD", fields=(Column("lat", "FLOAT"), Column("extra", "JSON"))), Column("doc", "JSON")]
PREFIX = "dumps/my-table/csv/18c2a/1/"


def statement(fmt, columns=COLUMNS, order="_id", **kwargs):
    return export_statement("my-project", "ckan_ds", "my-table", columns, fmt, "exports-bucket", PREFIX, order, **kwargs)


def test_csv_statement():
    assert statement(Format.CSV) == (
        "EXPORT DATA OPTIONS(uri='gs://exports-bucket/dumps/my-table/csv/18c2a/1/part-*.csv', format='CSV', "
        "overwrite=false, header=true) AS SELECT t.`_id`, t.`name`, "
        "CONCAT(REGEXP_REPLACE(FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6S', t.`seen_at`, 'UTC'), r'(\\.\\d{3})000$', "
        "r'\\1'), 'Z') AS `seen_at`, "
        "REGEXP_REPLACE(FORMAT_DATETIME('%Y-%m-%dT%H:%M:%E6S', t.`local_at`), r'(\\.\\d{3})000$', r'\\1') AS `local_at`, "
        "COALESCE(TO_JSON_STRING(t.`tags`), 'null') AS `tags`, "
        "COALESCE(TO_JSON_STRING(t.`place`), 'null') AS `place`, COALESCE(TO_JSON_STRING(t.`doc`), 'null') AS `doc` "
        "FROM `my-project.ckan_ds.my-table` AS t ORDER BY t.`_id`")


def test_tsv_is_csv_with_a_tab_and_no_header_when_the_worker_writes_it():
    sql = statement(Format.TSV, header=False)
    assert "part-*.tsv', format='CSV', overwrite=false, header=false, field_delimiter='\\t')" in sql


def test_ndjson_keeps_nesting_and_formats_times():
    sql = statement(Format.NDJSON, gzip=True)
    assert "part-*.ndjson.gz', format='JSON', overwrite=false, compression='GZIP') AS SELECT" in sql
    assert "header" not in sql
    assert ("CONCAT(REGEXP_REPLACE(FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6S', t.`seen_at`, 'UTC'), "
            "r'(\\.\\d{3})000$', r'\\1'), 'Z') AS `seen_at`") in sql
    assert "t.`tags`, t.`place`, t.`doc` FROM" in sql


def test_parquet_keeps_native_types_but_casts_json():
    sql = statement(Format.PARQUET, columns=COLUMNS + [Column("docs", "JSON", "REPEATED")])
    assert "format='PARQUET'" in sql and "header" not in sql
    assert "t.`seen_at`, t.`local_at`, t.`tags`, TO_JSON_STRING(t.`place`) AS `place`, " \
           "TO_JSON_STRING(t.`doc`) AS `doc`, ARRAY(SELECT TO_JSON_STRING(v) FROM UNNEST(t.`docs`) AS v) AS `docs`" in sql
    with pytest.raises(ValueError):
        statement(Format.PARQUET, gzip=True)


def test_natural_order_without_the_order_column():
    assert "ORDER BY" not in statement(Format.CSV, order="")
    assert "ORDER BY" not in statement(Format.CSV, columns=COLUMNS[1:])
    assert "ORDER BY" not in statement(Format.CSV, columns=[Column("_id", "INTEGER", "REPEATED")])


@pytest.mark.parametrize("name", ["a`b", "a\\b", "new\nline", ""])
def test_column_names_that_could_escape_are_refused(name):
    with pytest.raises(UnsupportedSchema):
        quote_identifier(name)
    with pytest.raises(UnsupportedSchema):
        statement(Format.CSV, columns=[Column(name, "STRING")])


@pytest.mark.parametrize("project,dataset,table", [
    ("my-project", "ckan_ds", "a.b"), ("my-project", "ckan-ds", "t"), ("My-Project", "ds", "t"),
    ("my-project", "ds", "t`; DROP"), ("my-project", "ds", "x" * 1025)])
def test_table_references_are_validated(project, dataset, table):
    with pytest.raises(ValueError):
        table_reference(project, dataset, table)


def test_domain_scoped_projects_and_unicode_free_names():
    assert table_reference("example.com:my-project", "ds", "a-b_C9") == "`example.com:my-project.ds.a-b_C9`"


def test_export_prefixes_and_buckets_are_validated():
    with pytest.raises(ValueError):
        export_statement("my-project", "ds", "t", COLUMNS, Format.CSV, "Bad_Bucket", PREFIX)
    with pytest.raises(ValueError):
        export_statement("my-project", "ds", "t", COLUMNS, Format.CSV, "bucket", "dumps/x'/")
    with pytest.raises(ValueError):
        export_statement("my-project", "ds", "t", COLUMNS, Format.CSV, "bucket", "dumps/../x/")


@pytest.mark.parametrize("error,state,kind,retryable", [
    (None, JobState.DONE, FailureKind.FAILED, False),
    ({"reason": "notFound", "message": "Not found: Table p:d.t"}, JobState.FAILED, FailureKind.TABLE_GONE, False),
    ({"reason": "responseTooLarge", "message": "Response too large"}, JobState.FAILED, FailureKind.TOO_LARGE, False),
    ({"reason": "rateLimitExceeded", "message": "slow down"}, JobState.FAILED, FailureKind.TRANSIENT, True),
    ({"reason": "backendError", "message": "try again"}, JobState.FAILED, FailureKind.TRANSIENT, True),
    ({"reason": "quotaExceeded", "message": "quota"}, JobState.FAILED, FailureKind.TRANSIENT, True),
    ({"reason": "invalidQuery", "message": "Syntax error"}, JobState.FAILED, FailureKind.FAILED, False),
])
def test_job_errors_are_classified(error, state, kind, retryable):
    result = job_status(error)
    assert (result.state, result.kind, result.retryable) == (state, kind, retryable)
    if error:
        assert error["message"] in result.error
    if kind is FailureKind.TOO_LARGE:  # the advice is the core's, given with the kind, not the adapter's
        advice = failure_error(Failure(result.error, kind), Variant(Format.PARQUET), 5).hint
        assert "format=csv" in advice
