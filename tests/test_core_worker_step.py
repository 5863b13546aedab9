"""The export worker's decisions, from what it read (functions.core.worker_step), and its tasks read from a body
(functions.core.worker_tasks): no store, no warehouse, no clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from functions.core import pieces
from functions.core.delivery import Outcome, Status
from functions.core.dump_query import DumpQuery
from functions.core.errors import DumpError, InvalidRequest, NotFound
from functions.core.model import FailureKind, Format, JobState, JobStatus, ObjectInfo, Variant
from functions.core.publish import revision_state
from functions.core.target import Target
from functions.core.worker_step import (Export, FanOut, Finish, Join, Publish, RecordFailure, WritePiece,
                                        assembly_failed, export_step, given_up, interrupted, job_step, piece_step,
                                        publish_step, room_step)
from functions.core.worker_tasks import ExportTask, PieceTask, TouchTask, parse_task

AT = datetime(2030, 1, 1, tzinfo=timezone.utc)
CSV, JSON = Variant(Format.CSV), Variant(Format.JSON)
REPORT = {"job_id": "j", "attempt": 2}


def task(variant=CSV, attempt=2, query=DumpQuery()) -> ExportTask:
    return ExportTask("t", variant, "abc", attempt, query)


def state(*leaves: str, variant=CSV):
    prefix = f"dumps/t/{variant.key}/abc/"
    return revision_state([ObjectInfo(prefix + leaf, 10, AT) for leaf in leaves])


def test_an_export_task_ends_when_the_table_moved_on_the_revision_is_published_or_its_attempt_failed():
    assert export_step(task(), "abd", state()) == Finish(Outcome(Status.SUPERSEDED, {"current_revision": "abd"}))
    published = export_step(task(), "abc", state("1/part-0.csv", "1/manifest.json"))
    assert published == Finish(Outcome(Status.PUBLISHED, {"attempt": 1}), collect_garbage=True)  # repeats bound storage
    assert export_step(task(), "abc", state("2/failed.json")) == Finish(Outcome(Status.FAILED, {"attempt": 2}))
    assert export_step(task(), "abc", state("3/failed.json")) == Finish(Outcome(Status.FAILED, {"attempt": 3}))


def test_an_export_task_exports_over_an_older_failure_a_running_attempt_or_nothing():
    assert export_step(task(), "abc", state("1/failed.json")) == Export()  # the request that queued us saw it
    assert export_step(task(), "abc", state("2/part-0.csv")) == Export()  # attach to the job: its id is fixed
    assert export_step(task(), "abc", state()) == Export()


def test_a_query_dump_beyond_the_cap_is_busy_and_records_why():
    busy = room_step(task(), kept=3, cap=3)
    assert busy == RecordFailure("t holds 3 filtered downloads requested recently", FailureKind.BUSY,
                                 Outcome(Status.BUSY, {"query_cap": 3}))
    assert room_step(task(), kept=2, cap=3) == Export()


def test_the_job_status_decides_retry_failure_or_publish():
    running = job_step(JobStatus(JobState.RUNNING), REPORT)
    assert running == Finish(Outcome(Status.RUNNING, REPORT)) and not running.outcome.done
    failed = job_step(JobStatus(JobState.FAILED, "too big", FailureKind.TOO_LARGE), REPORT)
    assert failed == RecordFailure("too big", FailureKind.TOO_LARGE,
                                   Outcome(Status.FAILED, {**REPORT, "reason": "too big"}))
    assert job_step(JobStatus(JobState.DONE), REPORT) is None


def test_a_done_job_publishes_fans_out_json_and_xml_or_finds_a_duplicate_published_first():
    shards = ["p/part-0.parquet", "p/part-1.parquet"]
    whole = Target("t", JSON, "abc", DumpQuery())
    assert publish_step(whole, state(), shards, True, REPORT) == FanOut(tuple(shards))
    assert publish_step(whole, state(), shards, False, REPORT) == Publish()  # no queue: in one go
    assert publish_step(whole, state(), shards[:1], True, REPORT) == Publish()
    assert publish_step(Target("t", JSON, "abc", DumpQuery(limit=0)), state(), shards, True, REPORT) == Publish()
    assert publish_step(Target("t", CSV, "abc", DumpQuery()), state(), shards, True, REPORT) == Publish()
    duplicate = publish_step(whole, state("1/manifest.json", variant=JSON), shards, True, REPORT)
    assert duplicate == Finish(Outcome(Status.PUBLISHED, REPORT))


def piece(index=1, count=2) -> PieceTask:
    return PieceTask(task(JSON), index, count)


def test_a_piece_task_ends_as_an_export_task_does_naming_its_piece():
    report = {"attempt": 2, "piece": 1, "pieces": 2}
    moved = piece_step(piece(), "abd", state(variant=JSON), [], set())
    assert moved == Finish(Outcome(Status.SUPERSEDED, {**report, "current_revision": "abd"}))
    assert piece_step(piece(), "abc", state("1/manifest.json", variant=JSON), [], set()) == \
        Finish(Outcome(Status.PUBLISHED, report))
    assert piece_step(piece(), "abc", state("2/failed.json", variant=JSON), [], set()) == \
        Finish(Outcome(Status.FAILED, report))
    refused = piece_step(piece(), "abc", state(variant=JSON), ["a"], {"a"})
    assert refused == Finish(Outcome(Status.REJECTED, {**report, "reason": "the export has 1 files, not 2"}))
    csv_piece = PieceTask(task(CSV), 0, 1)
    assert piece_step(csv_piece, "abc", state(), ["a"], {"a"}) == \
        Finish(Outcome(Status.REJECTED, {"attempt": 2, "piece": 0, "pieces": 1, "reason": "the export has 1 files, not 1"}))


def test_a_piece_is_written_once_and_the_last_to_land_joins_them_all():
    prefix = task(JSON).attempt_prefix
    shards = [prefix + "part-0.parquet", prefix + "part-1.parquet"]
    names = set(shards) | set(pieces.frame(prefix, separated=True))
    assert piece_step(piece(), "abc", state(variant=JSON), shards, names) == WritePiece(shards[1])
    written = names | {pieces.rows_name(prefix, 1)}
    assert piece_step(piece(), "abc", state(variant=JSON), shards, written) == \
        Finish(Outcome(Status.PIECE_WRITTEN, {"attempt": 2, "piece": 1, "pieces": 2, "missing": 1}))
    both = written | {pieces.rows_name(prefix, 0)}
    joined = piece_step(piece(), "abc", state(variant=JSON), shards, both)
    assert isinstance(joined, Join) and joined.sources[0] == prefix + pieces.HEAD
    assert joined.sources[-1] == prefix + pieces.TAIL


def test_what_a_delivery_that_raised_comes_to():
    assert interrupted(InvalidRequest("bad query", "fix it")) == Outcome(Status.REJECTED, {"reason": "bad query"})
    assert interrupted(NotFound("no table")) == Outcome(Status.TABLE_GONE, {"reason": "no table"})
    assert interrupted(DumpError("slow down")) == Outcome(Status.RETRY, {"reason": "slow down"})
    cut = interrupted(ConnectionResetError())
    assert cut == Outcome(Status.RETRY, {"reason": "the export was interrupted (ConnectionResetError)"})
    assert not cut.done and interrupted(NotFound("x")).done


def test_an_assembly_failure_is_recorded_without_the_server_paths_an_os_error_names():
    full = assembly_failed(OSError(28, "No space left on device", "/srv/data/x"), REPORT)
    assert full.reason == "assembling the export failed (No space left on device)" and "/srv" not in full.reason
    assert full.kind is FailureKind.FAILED and full.outcome == Outcome(Status.FAILED, {**REPORT, "reason": full.reason})
    assert assembly_failed(DumpError("no files"), REPORT).reason == "no files"


def test_the_last_delivery_gives_up_with_a_transient_failure():
    step = given_up(Outcome(Status.RUNNING, REPORT), attempt=2)
    assert step.kind is FailureKind.TRANSIENT  # the next request starts a new attempt at once
    assert step.reason == "the export did not finish within the task queue's deliveries (running)"
    assert step.outcome == Outcome(Status.FAILED, {"reason": step.reason, "attempt": 2}) and step.outcome.done


def test_the_statuses_keep_the_words_the_logs_and_the_worker_door_use():
    words = {status.value: status.done for status in Status}
    assert words == {"published": True, "pieces queued": True, "piece written": True, "touched": True, "gone": True,
                     "superseded": True, "failed": True, "busy": True, "rejected": True, "table_gone": True,
                     "running": False, "retry": False, "raised": False}
    outcome = Outcome(Status.PUBLISHED, {"attempt": 1}).about(resource="t", attempt=9)
    assert outcome.body() == {"status": "published", "resource": "t", "attempt": 1}  # the outcome's own word wins


BODY = {"resource_id": "t", "format": "json", "revision": "abc", "attempt": 2}


def test_a_task_body_is_read_once_into_its_kind_of_task():
    assert parse_task(BODY) == task(JSON)
    assert parse_task({**BODY, "piece": 1, "pieces": 2}) == piece()
    assert parse_task({"touch": True, "resource_id": "t", "query_key": "0" * 16}) == TouchTask("t", "0" * 16)
    keyed = parse_task({**BODY, "query_key": "0" * 16, "query": DumpQuery(fields=("a",)).canonical()})
    assert keyed == ExportTask("t", replace(JSON, query_key="0" * 16), "abc", 2, DumpQuery(fields=("a",)))


@pytest.mark.parametrize("body", [
    {}, {**BODY, "attempt": 0}, {**BODY, "format": "xlsx"}, {**BODY, "piece": 2, "pieces": 2},
    {**BODY, "piece": True, "pieces": 2}, {**BODY, "query_key": "0" * 16}, {**BODY, "query_key": "0" * 16, "query": 7},
    {**BODY, "query_key": "0" * 16, "query": '{"filters": 7}'}, {"touch": True, "resource_id": "t"},
], ids=["empty", "attempt 0", "format", "piece past count", "bool piece", "key without query", "query not text",
        "malformed query", "touch without key"])
def test_a_body_no_queue_of_ours_sends_is_refused(body):
    with pytest.raises(InvalidRequest):
        parse_task(body)
