"""The export worker on the embedded default: idempotence, publish-last, failure records and GC."""

from __future__ import annotations

import threading
from datetime import timedelta

from functions.core import layout
from functions.core.gc import GRACE
from functions.core.model import Format, Variant
from jobs.export_worker import deliver_task
from tests.test_service_http import SMALL_CSV, load_csv


def task(services, rid="small", fmt="csv", attempt=1):
    rev = layout.revision_of(services.warehouse.table_modified(rid))
    return {"resource_id": rid, "format": fmt, "revision": rev, "attempt": attempt}


class CountingWarehouse:
    """The real local warehouse, observed: records every export job it is asked to start."""

    def __init__(self, inner):
        self.inner, self.started = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def start_export(self, job):
        self.started.append(job.job_id)
        return self.inner.start_export(job)


def snapshot(services, prefix="dumps/"):
    return {o.name: (o.size, o.updated) for o in services.store.list(prefix)}


def test_a_task_publishes_and_a_repeat_changes_nothing(make_services, tmp_path):
    services = make_services()
    load_csv(services, "small", SMALL_CSV, tmp_path)
    services.warehouse = counting = CountingWarehouse(services.warehouse)
    first = deliver_task(services, task(services))
    assert (first.status, first.body["status"]) == (200, "published")
    published = snapshot(services)
    assert any(name.endswith("/1/manifest.json") for name in published)
    again = deliver_task(services, task(services))
    assert (again.status, again.body["status"]) == (200, "published")
    assert snapshot(services) == published and len(counting.started) == 1


def test_concurrent_duplicate_deliveries_export_once(make_services, tmp_path):
    services = make_services()
    load_csv(services, "small", SMALL_CSV, tmp_path)
    services.warehouse = counting = CountingWarehouse(services.warehouse)
    results = []
    threads = [threading.Thread(target=lambda: results.append(deliver_task(services, task(services))))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status for r in results] == [200] * 4
    assert len(set(counting.started)) == 1  # one deterministic job id, however many deliveries
    manifests = [n for n in snapshot(services) if n.endswith("manifest.json")]
    assert len(manifests) == 1


def test_a_task_for_an_old_revision_exports_nothing(make_services, tmp_path):
    services = make_services()
    load_csv(services, "small", SMALL_CSV, tmp_path)
    stale = task(services)
    load_csv(services, "small", SMALL_CSV, tmp_path)
    result = deliver_task(services, stale)
    assert result.body["status"] == "superseded" and snapshot(services) == {}


def test_invalid_tasks_are_rejected_without_retry(make_services):
    services = make_services()
    for payload in [{}, {"resource_id": "../x", "format": "csv", "revision": "ab", "attempt": 1},
                    {"resource_id": "t", "format": "xml", "revision": "ab", "attempt": 1},
                    {"resource_id": "t", "format": "csv", "revision": "ab", "attempt": 0}]:
        result = deliver_task(services, payload)
        assert (result.status, result.body["status"]) == (200, "rejected")
    gone = deliver_task(services, {"resource_id": "t", "format": "csv", "revision": "ab", "attempt": 1})
    assert gone.body["status"] == "table_gone"


def test_a_failed_job_leaves_a_failure_record_and_is_not_retried_by_the_same_task(make_services, tmp_path):
    services = make_services()
    load_csv(services, "small", SMALL_CSV, tmp_path)
    services.warehouse.table_file("small").write_bytes(b"broken")
    result = deliver_task(services, task(services))
    assert (result.status, result.body["status"]) == (200, "failed")
    names = snapshot(services)
    assert any(n.endswith("/1/failed.json") for n in names) and not any(n.endswith("manifest.json") for n in names)
    assert deliver_task(services, task(services)).body["status"] == "failed"


def test_gc_keeps_superseded_exports_for_the_url_lifetime_then_deletes_them(make_services, tmp_path):
    services = make_services(BIGQUERY_EXPORT_URL_EXPIRY_HOURS=1)
    load_csv(services, "small", SMALL_CSV, tmp_path)
    deliver_task(services, task(services))
    old_prefix = layout.revision_prefix("small", Variant(Format.CSV), task(services)["revision"])
    load_csv(services, "small", SMALL_CSV + "4,delta,1,,\n", tmp_path)
    deliver_task(services, task(services))
    new_prefix = layout.revision_prefix("small", Variant(Format.CSV), task(services)["revision"])
    assert snapshot(services, old_prefix) and snapshot(services, new_prefix)

    real_clock = services.clock
    services.clock = lambda: real_clock() + timedelta(hours=1) + GRACE - timedelta(seconds=5)
    deliver_task(services, task(services))  # a repeat delivery collects garbage too
    assert snapshot(services, old_prefix)  # a URL handed out just before the new export may still be live
    services.clock = lambda: real_clock() + timedelta(hours=1) + GRACE + timedelta(seconds=5)
    deliver_task(services, task(services))
    assert snapshot(services, old_prefix) == {}
    assert len(snapshot(services, new_prefix)) == 2  # the current export is untouched


def test_multi_file_manifest_records_each_header_to_skip(make_services, tmp_path):
    from functions.core.publish import parse_manifest
    from tests.test_service_http import load_numbers

    services = make_services(DUMP_SHARD_BYTES=20_000, DUMP_COMPOSE="false")
    load_numbers(services, "numbers", 5000, tmp_path)
    deliver_task(services, task(services, "numbers"))
    manifest_name = next(n for n in snapshot(services) if n.endswith("manifest.json"))
    manifest = parse_manifest(services.store.read_bytes(manifest_name))
    header = len(b"id,label,at\n")
    assert manifest.pieces[0].skip == 0 and all(p.skip == header for p in manifest.pieces[1:])
    assert len(manifest.pieces) >= 3


def test_compose_publishes_one_object_and_deletes_the_shards(make_services, tmp_path):
    from functions.core.publish import parse_manifest
    from tests.test_service_http import load_numbers

    services = make_services(DUMP_SHARD_BYTES=3_000)  # ~80 shards: more than one compose call of 32
    load_numbers(services, "numbers", 3000, tmp_path)
    result = deliver_task(services, task(services, "numbers"))
    assert result.body == {"status": "published", "attempt": 1, "files": 1}
    names = sorted(snapshot(services))
    assert [n.rsplit("/", 1)[1] for n in names] == ["download.csv", "manifest.json"]
    manifest = parse_manifest(services.store.read_bytes(next(n for n in names if n.endswith("manifest.json"))))
    body = services.store.read_bytes(manifest.pieces[0].name)
    lines = body.decode().splitlines()
    assert lines[0] == "id,label,at" and len(lines) == 3001 and lines[1].startswith("0,") and lines[-1].startswith("2999,")


def test_a_reload_during_the_export_never_publishes_a_mismatched_header(make_services, tmp_path):
    services = make_services()  # compose on: the header object is written from the table's current columns
    load_csv(services, "small", "x,y\n1,2\n3,4\n", tmp_path)
    stale_task = task(services)
    real_wait = services.warehouse.wait_export

    def wait_then_reload(job_id, timeout):
        status = real_wait(job_id, timeout)
        load_csv(services, "small", "p,q,r\n5,6,7\n", tmp_path)  # lands between the export and the header
        return status

    services.warehouse.wait_export = wait_then_reload
    result = deliver_task(services, stale_task)
    assert result.body["status"] == "superseded"
    assert not [n for n in snapshot(services) if n.endswith("manifest.json")]
