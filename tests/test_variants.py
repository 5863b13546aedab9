"""gzip and BOM variants, compose on and off, over a real socket on the embedded default."""

from __future__ import annotations

import gzip
import io
import subprocess

import pandas
import pytest
import requests

from tests.support.tables import EXPECTED_CSV, SMALL_CSV, get_dump, load_csv, load_numbers


def download(live, rid, **params):
    answer = get_dump(live, rid, **params)
    assert answer.status_code == 302, answer.text
    return answer, requests.get(answer.headers["Location"], timeout=60)


@pytest.mark.parametrize("compose", ["true", "false"])
def test_gzip_csv_of_many_shards_is_one_valid_multi_member_gzip(make_app, serve, tmp_path, compose):
    plain_app = make_app()
    app = make_app(DUMP_SHARD_BYTES=20_000, DUMP_COMPOSE=compose)
    for s in (plain_app, app):
        load_numbers(s, "numbers", 5000, tmp_path)
    _, plain = download(serve(plain_app), "numbers")
    redirect, packed = download(serve(app), "numbers", compression="gzip")
    assert packed.headers["Content-Type"] == "application/gzip"
    assert "Content-Encoding" not in packed.headers  # stored as gzip, so Range keeps working
    assert packed.headers["Content-Disposition"] == 'attachment; filename="numbers.csv.gz"'
    assert redirect.headers["ETag"].endswith('-csv.gz"')
    assert gzip.decompress(packed.content) == plain.content  # every member, one header
    path = tmp_path / "numbers.csv.gz"
    path.write_bytes(packed.content)
    assert subprocess.run(["gzip", "-t", str(path)]).returncode == 0
    frame = pandas.read_csv(path)
    assert len(frame) == 5000 and list(frame.columns) == ["id", "label", "at"] and frame["id"].is_monotonic_increasing
    part = requests.get(redirect.headers["Location"], headers={"Range": "bytes=0-9"}, timeout=30)
    assert part.status_code == 206 and part.content == packed.content[:10]


def test_gzip_ndjson_and_tsv(make_app, serve, tmp_path):
    app = make_app(DUMP_SHARD_BYTES=20_000)
    load_numbers(app, "numbers", 3000, tmp_path)
    live = serve(app)
    _, ndjson = download(live, "numbers", format="ndjson", compression="gzip")
    assert len(gzip.decompress(ndjson.content).splitlines()) == 3000
    _, tsv = download(live, "numbers", format="tsv", compression="gzip")
    lines = gzip.decompress(tsv.content).decode().splitlines()
    assert lines[0] == "id\tlabel\tat" and len(lines) == 3001 and lines.count(lines[0]) == 1


@pytest.mark.parametrize("compose", ["true", "false"])
def test_bom_variant_starts_with_one_bom_and_is_cached_on_its_own(make_app, serve, tmp_path, compose):
    app = make_app(DUMP_COMPOSE=compose)
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
    plain_redirect, plain = download(live, "small")
    bom_redirect, with_bom = download(live, "small", bom="true")
    assert with_bom.content == b"\xef\xbb\xbf" + EXPECTED_CSV.encode()
    assert plain.content == EXPECTED_CSV.encode()
    assert bom_redirect.headers["ETag"] != plain_redirect.headers["ETag"]
    assert app.backend.read_write.store.list("dumps/small/csv-bom/") and app.backend.read_write.store.list("dumps/small/csv/")
    frame = pandas.read_csv(io.BytesIO(with_bom.content), encoding="utf-8-sig")
    assert list(frame.columns)[0] == "id"


@pytest.mark.parametrize("params,fragment", [
    ({"format": "parquet", "compression": "gzip"}, "compressed inside"),
    ({"format": "ndjson", "bom": "true"}, "only applies to csv, tsv, json and xml"),
    ({"compression": "zip"}, "Unknown compression"),
])
def test_impossible_variants_get_400(make_app, serve, tmp_path, params, fragment):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    answer = get_dump(serve(app), "small", **params)
    assert answer.status_code == 400 and fragment in answer.json()["message"] + answer.json()["hint"]


def test_compose_off_streams_a_header_object_for_gzip(make_app, serve, tmp_path):
    app = make_app(DUMP_SHARD_BYTES=20_000, DUMP_COMPOSE="false")
    load_numbers(app, "numbers", 5000, tmp_path)
    redirect, packed = download(serve(app), "numbers", compression="gzip")
    assert "/stream/numbers?" in redirect.headers["Location"] and "compression=gzip" in redirect.headers["Location"]
    text = gzip.decompress(packed.content).decode()
    assert text.startswith("id,label,at\r\n0,") and text.count("id,label,at") == 1
