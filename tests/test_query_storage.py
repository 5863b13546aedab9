"""Storage stays bounded with query dumps: the per-resource cap (least recently requested first, never one a
live signed URL may point to), the `requested` marker touched at most once per interval, GC of superseded
query revisions, and a worker that never trusts a task's query. Real local backend, a clock moved by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from functions.core import layout
from functions.core.dump_query import DumpQuery, check_against_columns
from functions.core.model import Format, Variant
from functions.wiring import build_app
from tests.support.app import doors_with_catalogue, local_env
from tests.support.clock import FakeClock
from tests.support.tables import get_dump
from tests.support.queries import checked_query, parsed
from functions.catalogue import Lookup
from functions.core.next_step import Serve
from functions.core.target import Target
from tests.test_ckan_dump_http import load_flights

HOUR = 3600


@pytest.fixture
def clocked(tmp_path):
    apps = []

    def make(**env):
        clock = FakeClock(datetime.now(timezone.utc))  # the folder bucket stamps objects with the real time
        app = build_app(local_env(tmp_path / f"b{len(apps)}", **env), clock)
        apps.append(app)
        load_flights(app, tmp_path)
        return app, clock

    yield make
    for app in apps:
        app.close()


def by_carrier(carrier) -> DumpQuery:
    return parsed({"filters": f'{{"carrier": "{carrier}"}}'})


def target(app, carrier, fmt=Format.CSV) -> Target:
    """The target a request would have, without requesting it."""
    shape = app.backend.read_only.tables.shape("flights")
    return Target.of("flights", Variant(fmt), layout.revision_of(shape.modified),
                     check_against_columns(by_carrier(carrier), shape.columns))


def export(app, carrier, attempt=1):
    return app.worker.deliver(target(app, carrier).task_payload(attempt))


def query_keys(app) -> set[str]:
    root = layout.query_root("flights")
    return {o.name[len(root):].split("/")[0] for o in app.backend.read_write.store.list(root)}


def test_the_cap_evicts_the_least_recently_requested_once_no_signed_url_can_be_live(clocked):
    app, clock = clocked(DUMP_QUERY_MAX_PER_RESOURCE=2, BIGQUERY_EXPORT_URL_EXPIRY_HOURS=1,
                         DUMP_QUERY_TOUCH_SECONDS=300)
    aa, ua, dl = (target(app, c).variant.query_key for c in ("AA", "UA", "DL"))
    assert export(app, "AA").body()["status"] == "published"
    clock.advance(60)
    assert export(app, "UA").body()["status"] == "published"
    busy = export(app, "DL")  # both others may still have live URLs: no room, and nothing deleted
    assert busy.body()["status"] == "busy" and query_keys(app) == {aa, ua, dl}  # dl: its failure record only
    assert [o.name.rsplit("/", 1)[-1] for o in app.backend.read_write.store.list(layout.query_prefix("flights", dl))] == [
        layout.FAILURE]
    clock.advance(HOUR + 5 * 60 + 300)  # past URL lifetime + grace + touch interval for both
    hit = app.catalogue.lookup("flights", Variant(Format.CSV), by_carrier("AA"))
    app.catalogue.note_request(hit)  # a cache hit: AA is now the recent one
    app.backend.read_write.queue.drain(30)
    assert app.backend.read_write.store.list(layout.requested_marker("flights", aa))
    after_cooldown = export(app, "DL", attempt=2)
    assert after_cooldown.body()["status"] == "published"
    assert query_keys(app) == {aa, dl}  # UA, least recently requested, went whole
    assert app.backend.read_write.store.list(layout.query_prefix("flights", ua)) == []


def test_a_busy_resource_answers_503_with_retry_after(clocked, serve):
    app, clock = clocked(DUMP_QUERY_MAX_PER_RESOURCE=1)
    export(app, "AA")
    live = serve(app)
    get_dump(live, "flights", filters='{"carrier": "UA"}')  # queues the export, which finds no room
    app.backend.read_write.queue.drain(30)
    answer = get_dump(live, "flights", filters='{"carrier": "UA"}')
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) > 0 and "filtered download" in answer.json()["message"]
    assert answer.json()["hint"]


def test_the_marker_is_touched_at_most_once_per_interval(clocked):
    app, clock = clocked(DUMP_QUERY_TOUCH_SECONDS=300)
    export(app, "AA")
    queued = []
    original = app.backend.read_write.queue.enqueue
    app.backend.read_write.queue.enqueue = lambda name, payload: queued.append(name) or original(name, payload)
    hit = target(app, "AA")

    def request():
        found = app.catalogue.lookup("flights", Variant(Format.CSV), by_carrier("AA"))
        assert isinstance(found.step, Serve) and found.target == hit
        app.catalogue.note_request(found)
        app.backend.read_write.queue.drain(30)

    request()
    marker = layout.requested_marker("flights", hit.variant.query_key)
    first = app.backend.read_write.store.list(marker)[0].updated
    clock.advance(100)
    request()  # fresh marker: no task at all
    assert len(queued) == 1
    clock.advance(250)
    request()
    assert len(queued) == 2 and app.backend.read_write.store.list(marker)[0].updated > first
    whole = app.catalogue.current("flights", Variant(Format.CSV))
    app.catalogue.note_request(Lookup(whole, None, None))
    assert len(queued) == 2  # a whole-table dump has no marker


def test_superseded_query_revisions_are_collected_like_whole_table_ones(clocked, tmp_path):
    app, clock = clocked()
    old = target(app, "AA")
    export(app, "AA")
    clock.advance(10)
    load_flights(app, tmp_path)  # a new revision
    new = target(app, "AA")
    assert new.rev != old.rev and new.variant.query_key == old.variant.query_key
    export(app, "AA")
    assert app.backend.read_write.store.list(old.prefix)  # a signed URL to the old one may still be live
    clock.advance(HOUR + 5 * 60 + 1)
    app.worker.deliver(new.task_payload(1))  # a repeat runs GC too
    assert app.backend.read_write.store.list(old.prefix) == [] and app.backend.read_write.store.list(new.prefix)


def test_the_worker_checks_the_tasks_query_again(clocked):
    app, _ = clocked()
    payload = target(app, "AA").task_payload(1)
    tampered = {**payload, "query": target(app, "UA").selection.canonical()}  # another query under AA's key
    unknown = {**payload, "query": '{"fields":["nope"]}'}
    as_parameters = {**payload, "query": {"filters": '{"carrier": "AA"}'}}  # CKAN's syntax is not what a task carries
    malformed = {**payload, "query": '{"filters": 7}'}
    missing = {key: value for key, value in payload.items() if key != "query"}
    for bad in (tampered, unknown, as_parameters, malformed, missing):
        outcome = app.worker.deliver(bad)
        assert outcome.done and outcome.body()["status"] == "rejected"
    assert app.backend.read_write.store.list("dumps/") == []
    assert app.worker.deliver(payload).body()["status"] == "published"


def test_a_query_task_payload_round_trips_to_the_same_key(clocked):
    app, _ = clocked()
    params = {"filters": '{"month": [3, 1], "carrier": "AA"}', "q": '{"note": "Late  arrival"}',
              "fields": "note,_id,delay,month", "sort": "delay desc nulls last, month", "limit": "7", "offset": "1",
              "distinct": "yes"}
    columns = app.backend.read_only.tables.shape("flights").columns
    query = checked_query(params, columns)
    assert check_against_columns(DumpQuery.from_canonical(query.canonical()), columns).key == query.key != ""
    assert timedelta(0) < app.worker.settings.protected_for


def test_a_cache_hit_is_served_even_when_its_request_cannot_be_recorded(clocked, serve):

    from functions.core.errors import Unavailable

    class DownQueue:
        def enqueue(self, name, payload):
            raise Unavailable("Cloud Tasks could not queue the export.", "Try again.")

    app, _ = clocked()
    export(app, "AA")
    doors = doors_with_catalogue(app, queue=DownQueue())
    answer = get_dump(serve(doors), "flights", filters='{"carrier": "AA"}')
    assert answer.status_code == 302, answer.text

