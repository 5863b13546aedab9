"""The export worker on the embedded default: idempotence, publish-last, failure records and GC."""

from __future__ import annotations

import threading
from datetime import timedelta

from functions.core import layout
from functions.core.gc import GRACE
from functions.core.model import Format, Variant
from functions.wiring import build_worker
from jobs.export_worker import ExportWorker
from tests.support.clock import ShiftedClock
from tests.support.tables import SMALL_CSV, load_csv
from tests.support.observed import Observed


def task(app, rid="small", fmt="csv", attempt=1):
    rev = layout.revision_of(app.backend.read_write.warehouse.table_modified(rid))
    return {"resource_id": rid, "format": fmt, "revision": rev, "attempt": attempt}


def started(warehouse: Observed) -> list[str]:
    """The job ids an observed warehouse was asked to start."""
    return [job.job_id for job, in warehouse.arguments("start_export")]


def worker(app, warehouse=None, clock=None) -> ExportWorker:
    """The app's export worker, over another warehouse view or clock when a test gives one."""
    ports = app.backend.read_write
    return build_worker(warehouse or ports.warehouse, ports.store, None, clock or app.clock, app.worker.settings)


def snapshot(app, prefix="dumps/"):
    return {o.name: (o.size, o.updated) for o in app.backend.read_write.store.list(prefix)}


def test_a_task_publishes_and_a_repeat_changes_nothing(make_app, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    counted = worker(app, counting := Observed(app.backend.read_write.warehouse))
    first = counted.deliver(task(app))
    assert (first.done, first.body()["status"]) == (True, "published")
    published = snapshot(app)
    assert any(name.endswith("/1/manifest.json") for name in published)
    again = counted.deliver(task(app))
    assert (again.done, again.body()["status"]) == (True, "published")
    assert snapshot(app) == published and len(started(counting)) == 1


def test_concurrent_duplicate_deliveries_export_once(make_app, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    counted = worker(app, counting := Observed(app.backend.read_write.warehouse))
    results = []
    threads = [threading.Thread(target=lambda: results.append(counted.deliver(task(app))))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.done for r in results] == [True] * 4
    assert len(set(started(counting))) == 1  # one deterministic job id, however many deliveries
    manifests = [n for n in snapshot(app) if n.endswith("manifest.json")]
    assert len(manifests) == 1


def test_a_task_for_an_old_revision_exports_nothing(make_app, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    stale = task(app)
    load_csv(app, "small", SMALL_CSV, tmp_path)
    result = app.worker.deliver(stale)
    assert result.body()["status"] == "superseded" and snapshot(app) == {}


def test_invalid_tasks_are_rejected_without_retry(make_app):
    app = make_app()
    for payload in [{}, {"resource_id": "../x", "format": "csv", "revision": "ab", "attempt": 1},
                    {"resource_id": "t", "format": "xlsx", "revision": "ab", "attempt": 1},
                    {"resource_id": "t", "format": "csv", "revision": "ab", "attempt": 0}]:
        result = app.worker.deliver(payload)
        assert (result.done, result.body()["status"]) == (True, "rejected")
    gone = app.worker.deliver({"resource_id": "t", "format": "csv", "revision": "ab", "attempt": 1})
    assert gone.body()["status"] == "table_gone"


def test_a_failed_job_leaves_a_failure_record_and_is_not_retried_by_the_same_task(make_app, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    app.backend.read_write.warehouse.table_file("small").write_bytes(b"broken")
    result = app.worker.deliver(task(app))
    assert (result.done, result.body()["status"]) == (True, "failed")
    names = snapshot(app)
    assert any(n.endswith("/1/failed.json") for n in names) and not any(n.endswith("manifest.json") for n in names)
    assert app.worker.deliver(task(app)).body()["status"] == "failed"


def test_gc_keeps_superseded_exports_for_the_url_lifetime_then_deletes_them(make_app, tmp_path):
    app = make_app(BIGQUERY_EXPORT_URL_EXPIRY_HOURS=1)
    load_csv(app, "small", SMALL_CSV, tmp_path)
    app.worker.deliver(task(app))
    old_prefix = layout.revision_prefix("small", Variant(Format.CSV), task(app)["revision"])
    load_csv(app, "small", SMALL_CSV + "4,delta,1,,\n", tmp_path)
    app.worker.deliver(task(app))
    new_prefix = layout.revision_prefix("small", Variant(Format.CSV), task(app)["revision"])
    assert snapshot(app, old_prefix) and snapshot(app, new_prefix)

    early = ShiftedClock(app.clock, timedelta(hours=1) + GRACE - timedelta(seconds=5))
    worker(app, clock=early).deliver(task(app))  # a repeat delivery collects garbage too
    assert snapshot(app, old_prefix)  # a URL handed out just before the new export may still be live
    late = ShiftedClock(app.clock, timedelta(hours=1) + GRACE + timedelta(seconds=5))
    worker(app, clock=late).deliver(task(app))
    assert snapshot(app, old_prefix) == {}
    assert len(snapshot(app, new_prefix)) == 2  # the current export is untouched


def test_multi_file_manifest_starts_with_the_header_object_and_skips_nothing(make_app, tmp_path):
    from functions.core.publish import parse_manifest
    from tests.support.tables import load_numbers

    app = make_app(DUMP_SHARD_BYTES=20_000, DUMP_COMPOSE="false")
    load_numbers(app, "numbers", 5000, tmp_path)
    app.worker.deliver(task(app, "numbers"))
    manifest_name = next(n for n in snapshot(app) if n.endswith("manifest.json"))
    manifest = parse_manifest(app.backend.read_write.store.read_bytes(manifest_name))
    assert manifest.pieces[0].name.endswith("/header.csv")  # CKAN's CRLF header: the files are exported without
    assert app.backend.read_write.store.read_bytes(manifest.pieces[0].name) == b"id,label,at\r\n"
    assert all(p.skip == 0 for p in manifest.pieces) and len(manifest.pieces) >= 4


def test_compose_publishes_one_object_and_deletes_the_shards(make_app, tmp_path):
    from functions.core.publish import parse_manifest
    from tests.support.tables import load_numbers

    app = make_app(DUMP_SHARD_BYTES=3_000)  # ~80 shards: more than one compose call of 32
    load_numbers(app, "numbers", 3000, tmp_path)
    result = app.worker.deliver(task(app, "numbers"))
    body = result.body()
    assert {key: body[key] for key in ("status", "attempt", "files")} == {"status": "published", "attempt": 1,
                                                                          "files": 1}
    names = sorted(snapshot(app))
    assert body["bytes"] == app.backend.read_write.store.list(names[0])[0].size  # the task reports what it published
    assert body["job_id"] == layout.job_id("numbers", Variant(Format.CSV), task(app, "numbers")["revision"], 1)
    assert set(body["seconds"]) == {"export", "assemble", "cleanup"}
    assert [n.rsplit("/", 1)[1] for n in names] == ["download.csv", "manifest.json"]
    manifest = parse_manifest(app.backend.read_write.store.read_bytes(next(n for n in names if n.endswith("manifest.json"))))
    body = app.backend.read_write.store.read_bytes(manifest.pieces[0].name)
    lines = body.decode().splitlines()
    assert lines[0] == "id,label,at" and len(lines) == 3001 and lines[1].startswith("0,") and lines[-1].startswith("2999,")


def test_a_reload_during_the_export_never_publishes_a_mismatched_header(make_app, tmp_path):
    app = make_app()  # compose on: the header object is written from the table's current columns
    load_csv(app, "small", "x,y\n1,2\n3,4\n", tmp_path)
    stale_task = task(app)

    class ReloadingWarehouse(Observed):
        def wait_export(self, job_id, timeout):
            status = self.inner.wait_export(job_id, timeout)
            load_csv(app, "small", "p,q,r\n5,6,7\n", tmp_path)  # lands between the export and the header
            return status

    result = worker(app, ReloadingWarehouse(app.backend.read_write.warehouse)).deliver(stale_task)
    assert result.body()["status"] == "superseded"
    assert not [n for n in snapshot(app) if n.endswith("manifest.json")]
