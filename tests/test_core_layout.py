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


def test_a_query_dump_has_its_own_prefix_etag_task_and_job_but_the_same_download_name():
    from dataclasses import replace

    whole = Variant(Format.JSON, gzip=True, bom=True)
    query = replace(whole, query_key="0123456789abcdef")
    assert layout.variant_prefix("r", whole) == "dumps/r/json-bom.gz/"
    assert layout.variant_prefix("r", query) == "dumps/r/q/0123456789abcdef/json-bom.gz/"
    assert layout.requested_marker("r", "0123456789abcdef") == "dumps/r/q/0123456789abcdef/requested"
    assert layout.etag(query, "ab") == '"ab-json-bom.gz.q0123456789abcdef"' != layout.etag(whole, "ab")
    assert layout.task_name("r", query, "ab", 1) != layout.task_name("r", whole, "ab", 1)
    assert layout.job_id("r", query, "ab", 1).startswith("bqdump_json-bom_gz_q0123456789abcdef_ab_1_")
    assert layout.download_filename("r", query) == layout.download_filename("r", whole) == "r.json.gz"
    assert identifiers.variant_key(query.key) == query and identifiers.variant_key(whole.key) == whole


@pytest.mark.parametrize("raw,expected", [("True", True), ("t", True), ("YES", True), ("1", True), ("y", True),
                                          ("false", False), ("maybe", False), (None, False), ("", False)])
def test_bom_is_read_as_ckan_reads_it(raw, expected):
    assert identifiers.dump_variant("xml", None, raw).bom is expected


def test_a_bom_on_a_format_without_text_is_refused_and_query_keys_are_checked():
    for fmt in ("ndjson", "parquet"):
        with pytest.raises(InvalidRequest):
            identifiers.dump_variant(fmt, None, "true")
    assert identifiers.query_key(None) == "" and identifiers.query_key("0123456789abcdef") == "0123456789abcdef"
    with pytest.raises(InvalidRequest):
        identifiers.query_key("../x")
