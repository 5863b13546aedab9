"""The dump lookup on the local backend (real DuckDB, real files): the table's `modified` and the variant's
listing asked at once, no listing on a conditional request, and a changed table served at its new revision
by the very next request, even while its old URL is reused."""

from __future__ import annotations

import threading

import pytest
import requests

from functions.catalogue import ExportCatalogue
from functions.core import identifiers
from functions.core.errors import Unavailable
from functions.core.next_step import Serve
from functions.lookup_pool import LookupPool, NoPool
from functions.signing_cache import CachingUrlSigner
from tests.support.app import doors_with_catalogue, rebuilt
from tests.support.meeting import MeetsOthers
from tests.support.tables import EXPECTED_CSV, SMALL_CSV, get_dump, load_csv
from tests.support.observed import Observed

CSV = identifiers.dump_variant("csv", None, None)
MEETING_TIMEOUT = 10  # seconds the first call waits for the other before the barrier breaks


def published_app(make_app, serve, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    assert get_dump(serve(app), "small").status_code == 302  # exported and published
    return app


def meeting_catalogue(app, lookups, parties=2):
    """The app's catalogue over its real tables and bucket, each call waiting for `parties` calls in all."""
    barrier = threading.Barrier(parties, timeout=MEETING_TIMEOUT)
    tables = MeetsOthers(app.backend.read_only.tables, "table_modified", barrier)
    bucket = MeetsOthers(app.backend.read_only.bucket, "list", barrier)
    catalogue = ExportCatalogue(tables, bucket, app.backend.read_write.queue, app.clock, app.catalogue.cooldown,
                                app.catalogue.poll_seconds, lookups, app.catalogue.touch_interval, app.catalogue.changes)
    return catalogue, tables, bucket


def test_the_metadata_call_and_the_listing_are_both_under_way_before_either_answers(make_app, serve, tmp_path):
    app = published_app(make_app, serve, tmp_path)
    catalogue, tables, bucket = meeting_catalogue(app, app.catalogue.lookups)  # the pool the wiring built
    found = catalogue.lookup("small", CSV)
    target, step = found.target, found.step
    assert isinstance(step, Serve) and f"/{target.rev}/1/" in step.manifest
    assert len(tables.threads) == len(bucket.threads) == 1
    assert tables.threads[0] is threading.current_thread() and bucket.threads[0] is not tables.threads[0]


def test_without_a_pool_the_same_lookup_runs_one_call_after_the_other(make_app, serve, tmp_path):
    """The meeting above can fail: one call after the other, the first waits alone and the barrier breaks."""
    app = published_app(make_app, serve, tmp_path)
    catalogue, _, _ = meeting_catalogue(app, NoPool())
    catalogue.tables.barrier = threading.Barrier(2, timeout=0.2)
    with pytest.raises(threading.BrokenBarrierError):
        catalogue.lookup("small", CSV)


def test_a_listing_no_pool_thread_takes_up_is_made_by_its_request(make_app, serve, tmp_path):
    app = published_app(make_app, serve, tmp_path)
    pool, release = LookupPool(1), threading.Event()
    try:
        busy = pool.start(lambda: release.wait(MEETING_TIMEOUT))  # the pool's one thread is taken
        catalogue, tables, bucket = meeting_catalogue(app, pool, parties=1)
        step = catalogue.lookup("small", CSV).step
        assert isinstance(step, Serve)
        assert bucket.threads == [threading.current_thread()]  # taken back from the queue, listed here
        release.set()
        assert busy.result() is True
    finally:
        release.set()
        pool.close()


def test_as_many_requests_as_threads_with_a_smaller_pool_neither_deadlock_nor_starve(make_app, serve, tmp_path):
    """16 requests at once (the deployed request concurrency), a pool of 2: every listing must be under way
    at the same time to pass the barrier, so listings queued behind the pool would break it."""
    app = published_app(make_app, serve, tmp_path)
    requests_at_once, pool = 16, LookupPool(2)
    try:
        barrier = threading.Barrier(requests_at_once, timeout=MEETING_TIMEOUT)
        bucket = MeetsOthers(app.backend.read_only.bucket, "list", barrier)
        catalogue = ExportCatalogue(app.backend.read_only.tables, bucket, app.backend.read_write.queue, app.clock,
                                    app.catalogue.cooldown, app.catalogue.poll_seconds, pool,
                                    app.catalogue.touch_interval, app.catalogue.changes)
        steps, errors = [], []

        def one_request():
            try:
                steps.append(catalogue.lookup("small", CSV).step)
            except Exception as exc:  # noqa: BLE001 (reported below)
                errors.append(exc)

        threads = [threading.Thread(target=one_request) for _ in range(requests_at_once)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(2 * MEETING_TIMEOUT)
        assert not errors and len(steps) == requests_at_once and all(isinstance(s, Serve) for s in steps)
        by_pool = sum(1 for t in bucket.threads if t.name.startswith("lookup"))
        assert by_pool <= 2 and len(bucket.threads) == requests_at_once
    finally:
        pool.close()


def test_a_conditional_request_starts_no_listing(make_app, serve, tmp_path):
    app = published_app(make_app, serve, tmp_path)
    tables, bucket = Observed(app.backend.read_only.tables), Observed(app.backend.read_only.bucket)
    live = serve(doors_with_catalogue(app, tables=tables, bucket=bucket))
    first = get_dump(live, "small")
    assert first.status_code == 302 and (tables.count("table_modified"), bucket.count("list")) == (1, 1)
    url = f"{live.url}/datastore/dump/small"
    for headers in ({"If-None-Match": first.headers["ETag"]}, {"If-Modified-Since": first.headers["Last-Modified"]}):
        tables.reset(), bucket.reset()
        answer = requests.get(url, headers=headers, allow_redirects=False, timeout=30)
        assert answer.status_code == 304 and (tables.count("table_modified"), bucket.count("list")) == (1, 0), headers
    tables.reset(), bucket.reset()
    stale = requests.get(url, headers={"If-None-Match": '"0-csv"'}, allow_redirects=False, timeout=30)
    # listed after the metadata call:
    assert stale.status_code == 302 and (tables.count("table_modified"), bucket.count("list")) == (1, 1)


def test_a_table_modified_after_a_hit_is_served_at_its_new_revision_by_the_next_request(make_app, serve, tmp_path):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
    first = get_dump(live, "small")
    again = get_dump(live, "small")
    assert first.status_code == again.status_code == 302
    assert again.headers["Location"] == first.headers["Location"]  # the signed URL is reused within the window
    changed = SMALL_CSV + "4,delta,7,,\n"
    load_csv(app, "small", changed, tmp_path)  # DuckDB reloads the table: a new `modified`
    after = get_dump(live, "small")
    assert after.status_code == 302 and after.headers["ETag"] != first.headers["ETag"]
    assert after.headers["Location"] != first.headers["Location"]
    assert requests.get(after.headers["Location"], timeout=30).text == EXPECTED_CSV + "4,delta,7,,\n"
    assert requests.get(first.headers["Location"], timeout=30).text == EXPECTED_CSV  # the old URL still works


@pytest.mark.parametrize("window, signatures", [("300", 1), ("0", 3)])
def test_the_wiring_signs_once_per_window_or_every_redirect_when_the_window_is_0(make_app, serve, tmp_path, window,
                                                                                 signatures):
    built = make_app(DUMP_SIGNED_URL_WINDOW_SECONDS=window)
    load_csv(built, "small", SMALL_CSV, tmp_path)
    signer = Observed(built.backend.read_write.signer)
    app = rebuilt(built, signer=signer)
    try:
        live = serve(app)
        assert isinstance(app.doors.dump.signer, CachingUrlSigner) is (window != "0")
        assert all(get_dump(live, "small").status_code == 302 for _ in range(3))
        assert signer.count("sign") == signatures
    finally:
        app.catalogue.lookups.close()


def test_an_unknown_table_is_404_and_a_failed_listing_503_both_in_json(make_app, serve, tmp_path):
    app = published_app(make_app, serve, tmp_path)

    class FailingBucket:
        def list(self, prefix):
            raise Unavailable("Cloud Storage could not list the exports: ConnectionError.", "Try again in a minute.")

        def __getattr__(self, attr):
            return getattr(app.backend.read_only.bucket, attr)

    live = serve(doors_with_catalogue(app, bucket=FailingBucket()))
    missing = get_dump(live, "nope")
    assert missing.status_code == 404 and missing.json()["error"] and missing.json()["hint"]
    failed = get_dump(live, "small")
    assert failed.status_code == 503 and "could not list" in failed.json()["message"] and failed.json()["hint"]


def test_the_pool_is_closed_with_the_app(make_app):
    app = make_app()
    app.close()
    ran = app.catalogue.lookups.start(lambda: threading.current_thread())
    assert ran.result() is threading.current_thread()  # a closed pool leaves each call to its caller
