import re
from datetime import datetime, timedelta, timezone

import pytest

from functions.core import identifiers, layout
from functions.core.errors import InvalidRequest
from functions.core.model import Format, Variant


def test_revision_is_lowercase_hex_of_the_exact_microsecond_epoch():
    modified = datetime(2024, 3, 1, 12, 30, 45, 123456, tzinfo=timezone.utc)
    assert layout.revision_of(modified) == format(1709296245123456, "x") == "612988b81a980"
    assert layout.revision_time(layout.revision_of(modified)) == modified


def test_revision_moves_by_one_microsecond_and_respects_time_zones():
    base = datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert int(layout.revision_of(base + timedelta(microseconds=1)), 16) - int(layout.revision_of(base), 16) == 1
    plus_two = datetime(2030, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    assert layout.revision_of(plus_two) == layout.revision_of(base)


def test_layout_names_are_content_addressed():
    assert layout.attempt_prefix("flights", Variant(Format.CSV), "abc", 2) == "dumps/flights/csv/abc/2/"
    assert layout.download_filename("flights", Variant(Format.NDJSON)) == "flights.ndjson"
    assert layout.etag(Variant(Format.TSV), "abc") == '"abc-tsv"'


def test_job_ids_and_task_names_are_deterministic_distinct_and_valid():
    rid = "r" * 1024
    job = layout.job_id(rid, Variant(Format.CSV), "abc", 1)
    assert job == layout.job_id(rid, Variant(Format.CSV), "abc", 1)
    assert job != layout.job_id(rid, Variant(Format.CSV), "abc", 2) != layout.job_id(rid, Variant(Format.TSV), "abc", 1)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,1024}", job)  # BigQuery job id rules
    task = layout.task_name(rid, Variant(Format.CSV), "abc", 1)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,500}", task)  # Cloud Tasks task id rules
    assert task != layout.task_name(rid, Variant(Format.CSV), "abd", 1)


@pytest.mark.parametrize("bad", ["", "a.b", "a/b", "../x", "a b", "é", "x" * 1025, "a\nb", "%2e"])
def test_invalid_resource_ids_are_refused(bad):
    with pytest.raises(InvalidRequest) as info:
        identifiers.resource_id(bad)
    assert "letters, digits" in info.value.hint


def test_valid_resource_ids_pass():
    for good in ["flights", "A-b_9", "x" * 1024, "5f2c1a0e-1b2c-4d5e-8f90-123456789abc"]:
        assert identifiers.resource_id(good) == good


def test_formats_default_to_csv_and_unknown_formats_name_the_allowed_ones():
    assert identifiers.dump_format(None) is Format.CSV
    assert identifiers.dump_format("NDJSON") is Format.NDJSON
    with pytest.raises(InvalidRequest) as info:
        identifiers.dump_format("xlsx")
    assert info.value.body()["allowed_formats"] == ["csv", "tsv", "ndjson", "parquet", "json", "xml"]
