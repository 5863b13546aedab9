"""CKAN's json and xml of a multi-file export written in pieces (one task per Parquet file) and joined by compose:
the same bytes as the file written in one go, whatever order, duplicates or losses the deliveries come in."""

from __future__ import annotations

import gzip
import random

import duckdb
import pytest
import requests

from functions.core import layout, pieces
from functions.wiring import build_app
from functions.wiring import build_worker
from tests.support.app import HeldQueue, LiveServer, doors_with_catalogue, local_env
from tests.support.held_tasks import HeldTasks
from tests.support.tables import get_dump

ROWS = 300_000  # DuckDB's Parquet row groups hold 122,880 rows: three files when each may hold one group


def load(app, tmp_path, rid="wide"):
    parquet = tmp_path / f"{rid}.parquet"
    duckdb.sql(f"""COPY (SELECT i AS _id, CASE WHEN i % 9 = 0 THEN NULL ELSE 'text, "q" ' || i END AS name,
                       i / 7.0 AS amount, TIMESTAMP '2020-01-01' + to_microseconds(i * 1234567) AS at,
                       i % 3 = 0 AS ok FROM range(1, {ROWS} + 1) t(i)) TO '{parquet}' (FORMAT parquet)""")
    app.backend.read_write.warehouse.load(rid, parquet)


def download(live, rid="wide", **params) -> bytes:
    answer = get_dump(live, rid, **params)
    assert answer.status_code == 302, answer.text
    return requests.get(answer.headers["Location"], timeout=60).content


def part_files(app, rid="wide") -> list[str]:
    return [o.name for o in app.backend.read_write.store.list(f"dumps/{rid}/") if o.name.rsplit("/", 1)[-1].startswith("part-")]


@pytest.fixture(scope="module")
def one_go(tmp_path_factory):
    """The reference bytes: each format written in one delivery from one Parquet file."""
    folder = tmp_path_factory.mktemp("one-go")
    app = build_app(local_env(folder / "bqdump"))
    try:
        load(app, folder)
        with LiveServer(app.doors) as live:
            return {fmt: download(live, format=fmt) for fmt in ("json", "xml")}
    finally:
        app.close()


def test_the_join_waits_for_every_piece_and_the_frame_and_orders_separators_by_what_landed():
    prefix = "dumps/r/json/1a/1/"
    frame = pieces.frame(prefix, separated=True)
    landed = frame + [pieces.rows_name(prefix, 0), pieces.rows_name(prefix, 2), pieces.first_row_name(prefix, 2)]
    assert pieces.join_plan(landed, prefix, 3, separated=True) == pieces.Missing((1,))
    assert pieces.join_plan(landed[1:] + [pieces.rows_name(prefix, 1)], prefix, 3, True) == pieces.Missing(())
    ready = pieces.join_plan(landed + [pieces.rows_name(prefix, 1), pieces.first_row_name(prefix, 1)], prefix, 3, True)
    p = prefix
    assert ready == pieces.Ready((p + pieces.HEAD, p + "piece-000000.rows",  # piece 0 has no rows: no separator
                                  p + pieces.FIRST_SEPARATOR, p + "piece-000001.first", p + "piece-000001.rows",
                                  p + pieces.SEPARATOR, p + "piece-000002.first", p + "piece-000002.rows",
                                  p + pieces.TAIL))
    xml = pieces.join_plan(pieces.frame(p, False) + [pieces.rows_name(p, 0)], p, 1, separated=False)
    assert xml == pieces.Ready((p + pieces.HEAD, p + "piece-000000.rows", p + pieces.TAIL))


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_multi_file_export_written_in_pieces_is_the_one_go_file(make_app, serve, tmp_path, one_go, fmt):
    app = make_app(DUMP_SHARD_BYTES=1)
    load(app, tmp_path)
    live = serve(app)
    assert download(live, format=fmt) == one_go[fmt]
    app.backend.read_write.queue.drain(60)
    assert len(part_files(app)) == 0  # joined, then the files and pieces were deleted
    if fmt == "json":
        packed = download(live, format=fmt, compression="gzip")
        assert gzip.decompress(packed) == one_go[fmt]


def test_duplicated_reordered_and_lost_piece_deliveries_publish_the_one_go_file_once(make_app, serve, tmp_path,
                                                                                      one_go):
    app = make_app(DUMP_SHARD_BYTES=1, DUMP_WAIT_SECONDS=0)
    load(app, tmp_path)
    held = HeldTasks()
    worker = build_worker(app.backend.read_write.warehouse, app.backend.read_write.store, held, app.clock,
                          app.worker.settings)
    rev = app.backend.read_only.tables.table_modified("wide")  # the revision the dump door would name
    task = {"resource_id": "wide", "format": "json", "revision": layout.revision_of(rev), "attempt": 1}
    first = worker.deliver(task)
    assert first.done and first.reason == "pieces queued", first
    assert worker.deliver(task).reason == "pieces queued" and len(held.tasks) == len(part_files(app)) >= 3
    deliveries = list(held.tasks.values()) * 2  # every piece twice
    random.Random(7).shuffle(deliveries)
    lost = [d for d in deliveries if d["piece"] == 1]
    for delivery in [d for d in deliveries if d["piece"] != 1]:
        assert worker.deliver(delivery).reason == "piece written"
    manifests = [o for o in app.backend.read_write.store.list("dumps/wide/json/") if o.name.endswith("manifest.json")]
    assert manifests == []  # a piece is missing: nothing is published
    outcomes = [worker.deliver(delivery).reason for delivery in lost]  # the lost piece's retry, and a duplicate
    assert outcomes == ["published", "published"]
    live = serve(doors_with_catalogue(app, queue=HeldQueue()))  # requests queue nothing that would deliver
    assert download(live, format="json") == one_go["json"]
    downloads = [o for o in app.backend.read_write.store.list("dumps/wide/json/") if o.name.endswith("download.json")]
    assert len(downloads) == 1
