from datetime import datetime, timedelta, timezone

import pytest

from functions.core.model import FailureKind, Format, ObjectInfo, Variant
from functions.core.publish import (Manifest, failure_bytes, manifest_bytes, may_retry, parse_failure, parse_manifest,
                                    revision_state)
from functions.core.shards import Piece

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
P = "dumps/t/csv/abc/"


def obj(name, size=10, at=T0):
    return ObjectInfo(P + name, size, at)


def test_nothing_listed_means_first_attempt():
    state = revision_state([])
    assert (state.published, state.failed, state.running, state.next_attempt) == (None, None, None, 1)


def test_files_without_a_manifest_are_never_published():
    state = revision_state([obj("1/part-0.csv"), obj("1/part-1.csv")])
    assert state.published is None and state.running.number == 1 and state.next_attempt == 1


def test_the_manifest_publishes_its_attempt():
    state = revision_state([obj("1/part-0.csv"), obj("1/manifest.json")])
    assert state.published.number == 1 and state.published.manifest.name == P + "1/manifest.json"


def test_a_failed_attempt_leads_to_the_next_one():
    state = revision_state([obj("1/part-0.csv"), obj("1/failed.json")])
    assert state.failed.number == 1 and state.next_attempt == 2 and state.published is None


def test_a_later_published_attempt_wins_over_an_earlier_failure():
    state = revision_state([obj("1/failed.json"), obj("2/part-0.csv"), obj("2/manifest.json")])
    assert state.published.number == 2 and state.failed is None


def test_unrelated_names_are_ignored():
    state = revision_state([ObjectInfo("dumps/t/csv/abc/notes.txt", 1, T0), obj("x/part-0.csv")])
    assert state.next_attempt == 1 and state.running is None


def test_manifest_round_trip_and_strictness():
    manifest = Manifest("t", Variant(Format.CSV), "abc", 1, (Piece("a", 100), Piece("b", 90, 10)), T0.isoformat())
    parsed = parse_manifest(manifest_bytes(manifest))
    assert parsed == manifest and parsed.total_size == 180 and not parsed.single_object
    for corrupt in [b"{", b'{"version": 2}', manifest_bytes(manifest).replace(b'"total_size": 180', b'"total_size": 1')]:
        with pytest.raises((ValueError, KeyError)):
            parse_manifest(corrupt)


def test_failure_records_and_cooldown():
    failure = parse_failure(failure_bytes("table too big", FailureKind.TOO_LARGE, T0))
    assert (failure.reason, failure.kind, failure.retryable) == ("table too big", FailureKind.TOO_LARGE, False)
    assert parse_failure(failure_bytes("slow down", FailureKind.TRANSIENT, T0)).retryable
    assert parse_failure(b"garbage").reason.startswith("the export failed")
    state = revision_state([obj("1/failed.json", at=T0)])
    assert not may_retry(state.failed, T0 + timedelta(seconds=59), timedelta(seconds=60))
    assert may_retry(state.failed, T0 + timedelta(seconds=60), timedelta(seconds=60))


@pytest.mark.parametrize("record,kind", [
    (b'{"reason": "r", "status": 404, "retryable": false}', FailureKind.TABLE_GONE),
    (b'{"reason": "r", "status": 413, "retryable": false}', FailureKind.TOO_LARGE),
    (b'{"reason": "r", "status": 502, "retryable": true}', FailureKind.TRANSIENT),
    (b'{"reason": "r", "status": 502, "retryable": false}', FailureKind.FAILED),
])
def test_failure_records_written_with_http_statuses_still_read(record, kind):
    assert parse_failure(record) == parse_failure(failure_bytes("r", kind, T0))
