"""CKAN's dump parameters over a real socket on the real local backend (DuckDB, a folder bucket): each one
against CKAN's meaning (expected rows computed here from the same data), the cache per normalised query,
json and xml, every bad input, access control and CORS on every answer."""

from __future__ import annotations

import gzip
import json
import re
import xml.etree.ElementTree as ElementTree

import duckdb
import pytest
import requests

from tests.support.tables import get_dump, load_numbers

CARRIERS = ["AA", "UA", "DL", "B6"]
NOTES = ["Late Arrival", "weather delay", None, "on time", "Crew LATE"]
ROWS = [{"_id": i, "carrier": CARRIERS[i % 4], "month": i % 12 + 1,
         "delay": None if i % 7 == 0 else (i * 37) % 50 - 10, "note": NOTES[i % 5]} for i in range(1, 61)]
COLUMNS = ["_id", "carrier", "month", "delay", "note"]


def load_flights(app, tmp_path, rid="flights"):
    source = tmp_path / f"{rid}.ndjson"
    source.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    parquet = tmp_path / f"{rid}.parquet"
    duckdb.sql(f"COPY (SELECT _id::BIGINT AS _id, carrier::VARCHAR AS carrier, month::BIGINT AS month, "
               f"delay::BIGINT AS delay, note::VARCHAR AS note FROM read_json('{source}')) TO '{parquet}' "
               "(FORMAT parquet)")
    app.backend.read_write.warehouse.load(rid, parquet)


def published(live, rid="flights", headers=None, **params):
    answer = get_dump(live, rid, **params) if headers is None else requests.get(
        f"{live.url}/datastore/dump/{rid}", params=params, headers=headers, allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text
    return answer, requests.get(answer.headers["Location"], timeout=30)


def records(live, **params):
    _, download = published(live, format="json", **params)
    body = download.json()
    return [field["id"] for field in body["fields"]], body["records"]


def rows_of(selected, fields=COLUMNS):
    return [[row[name] for name in fields] for row in selected]


def contains(row, column, word):
    """CKAN's full-text match of one word: a whole word of the value, case folded."""
    return row[column] is not None and word in re.split(r"[^\w]+", str(row[column]).lower())


def delay_desc_nulls_first(row):  # PostgreSQL: nulls come first in a descending sort
    return (row["delay"] is not None, -(row["delay"] or 0), row["_id"])


CASES = {
    "one value": ({"filters": '{"carrier": "AA"}'}, lambda: rows_of(r for r in ROWS if r["carrier"] == "AA")),
    "lists of values": ({"filters": '{"carrier": ["AA", "DL"], "month": [1, 2, 3]}'},
                        lambda: rows_of(r for r in ROWS if r["carrier"] in ("AA", "DL") and r["month"] <= 3)),
    "a number given as text": ({"filters": '{"month": "4"}'}, lambda: rows_of(r for r in ROWS if r["month"] == 4)),
    "q over every field, whole words": ({"q": "LATE"}, lambda: rows_of(
        r for r in ROWS if any(contains(r, c, "late") for c in COLUMNS[1:]))),
    "q: every word": ({"q": "crew late"}, lambda: rows_of(
        r for r in ROWS if all(any(contains(r, c, w) for c in COLUMNS[1:]) for w in ("crew", "late")))),
    "q finds numbers as words": ({"q": "12"}, lambda: rows_of(
        r for r in ROWS if any(contains(r, c, "12") for c in COLUMNS[1:]))),
    "q per field": ({"q": '{"note": "weather"}'}, lambda: rows_of(r for r in ROWS if contains(r, "note", "weather"))),
    "fields in their order": ({"fields": "note,_id"}, lambda: rows_of(ROWS, ["note", "_id"])),
    "sort desc, nulls first, then _id": ({"sort": "delay desc"}, lambda: rows_of(
        sorted(ROWS, key=delay_desc_nulls_first))),
    "several sort keys": ({"sort": "month, delay asc nulls first"}, lambda: rows_of(
        sorted(ROWS, key=lambda r: (r["month"], r["delay"] is not None, r["delay"] or 0, r["_id"])))),
    "limit and offset after the sort": ({"sort": "_id desc", "limit": "5", "offset": "3"}, lambda: rows_of(
        sorted(ROWS, key=lambda r: -r["_id"])[3:8])),
    "distinct": ({"fields": "carrier", "distinct": "true", "sort": "carrier desc"}, lambda: [
        [c] for c in sorted(set(CARRIERS), reverse=True)]),
    "filters, q, fields, sort and limit together": (
        {"filters": '{"carrier": ["UA", "B6"]}', "q": "time", "fields": "delay,_id", "sort": "delay", "limit": "4"},
        lambda: rows_of(sorted((r for r in ROWS if r["carrier"] in ("UA", "B6")
                                and any(contains(r, c, "time") for c in COLUMNS[1:])),
                               key=lambda r: (r["delay"] is None, r["delay"] or 0, r["_id"]))[:4], ["delay", "_id"])),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_ckan_parameter_selects_the_rows_ckan_would(make_app, serve, tmp_path, name):
    params, expected = CASES[name]
    app = make_app()
    load_flights(app, tmp_path)
    fields, got = records(serve(app), **params)
    assert got == expected()
    assert fields == (params["fields"].split(",") if "fields" in params else COLUMNS)


@pytest.mark.parametrize("fmt,body", [("csv", b""), ("tsv", b""), ("json", b"\n]}\n"), ("xml", b"</data>\n")])
def test_limit_0_is_ckans_file_tail_only(make_app, serve, tmp_path, fmt, body):
    """CKAN's dump stops before writing any page at limit=0: only what its writer's end_file gives is sent."""
    app = make_app()
    load_flights(app, tmp_path)
    _, download = published(serve(app), format=fmt, limit="0", bom="true")
    assert download.content == body


def test_parameters_bqdump_does_not_know_are_ignored_as_ckan_does(make_app, serve, tmp_path):
    app = make_app()
    load_flights(app, tmp_path)
    live = serve(app)
    whole, _ = published(live)
    tagged, _ = published(live, utm_source="newsletter", plain="true", language="english")
    assert tagged.headers["ETag"] == whole.headers["ETag"] and not app.backend.read_write.store.list("dumps/flights/q/")


def test_a_query_dump_is_cached_under_its_normalised_query(make_app, serve, tmp_path):
    app = make_app()
    load_flights(app, tmp_path)
    live = serve(app)
    first, body = published(live, filters='{"carrier": "AA", "month": [3, 1]}', sort="delay desc")
    same, again = published(live, sort="  delay   DESC ", filters='{ "month":[1,3], "carrier":"AA" }')
    other, different = published(live, filters='{"carrier": "AA"}', sort="delay desc")
    assert same.headers["ETag"] == first.headers["ETag"] != other.headers["ETag"]
    assert same.headers["Location"].split("?")[0] == first.headers["Location"].split("?")[0]
    assert again.content == body.content != different.content
    assert len([o for o in app.backend.read_write.store.list("dumps/flights/q/") if o.name.endswith("manifest.json")]) == 2
    assert body.headers["Content-Disposition"] == 'attachment; filename="flights.csv"'
    lines = body.text.splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 1 + len([r for r in ROWS if r["carrier"] == "AA"
                                                                      and r["month"] in (1, 3)])
    revalidated = requests.get(f"{live.url}/datastore/dump/flights", params={
        "filters": '{"carrier":"AA","month":[1,3]}', "sort": "delay desc"},
        headers={"If-None-Match": first.headers["ETag"]}, allow_redirects=False, timeout=30)
    assert revalidated.status_code == 304
    part = requests.get(first.headers["Location"], headers={"Range": "bytes=4-20"}, timeout=30)
    assert part.status_code == 206 and part.content == body.content[4:21]
    _, packed = published(live, filters='{"carrier": "AA", "month": [1, 3]}', sort="delay desc", compression="gzip")
    assert gzip.decompress(packed.content) == body.content


def test_a_query_dump_in_parquet_is_one_merged_file(make_app, serve, tmp_path):
    import io

    import pyarrow.parquet as pq

    app = make_app()
    load_flights(app, tmp_path)
    _, download = published(serve(app), format="parquet", filters='{"carrier": "DL"}', fields="_id,delay")
    table = pq.read_table(io.BytesIO(download.content))
    assert table.column_names == ["_id", "delay"]
    assert table.to_pylist() == [{"_id": r["_id"], "delay": r["delay"]} for r in ROWS if r["carrier"] == "DL"]


def test_json_and_xml_are_written_as_ckan_writes_them(make_app, serve, tmp_path):
    app = make_app()
    load_flights(app, tmp_path)
    live = serve(app)
    redirect, as_json = published(live, format="json")
    assert redirect.headers["ETag"].endswith('-json"') and as_json.headers["Content-Type"].startswith("application/json")
    assert as_json.json() == {"fields": [{"id": "_id", "type": "int"}, {"id": "carrier", "type": "text"},
                                         {"id": "month", "type": "int8"}, {"id": "delay", "type": "int8"},
                                         {"id": "note", "type": "text"}], "records": rows_of(ROWS)}
    assert as_json.text.startswith('{\n  "fields": [{"id":"_id","type":"int"},')
    _, as_xml = published(live, format="xml")
    root = ElementTree.fromstring(as_xml.content)
    assert root.tag == "data" and len(root) == len(ROWS)
    third = root[6]  # _id 7: delay is null
    assert third.get("_id") == "7" and third.find("carrier").text == "B6"
    assert third.find("delay").get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
    _, with_bom = published(live, format="json", bom="True", compression="gzip")
    unpacked = gzip.decompress(with_bom.content)
    assert unpacked[:3] == b"\xef\xbb\xbf" and unpacked[3:] == as_json.content


BAD = [
    ({"fields": "carrier,nope"}, "'nope'", True),
    ({"filters": '{"wat": 1}'}, "'wat'", True),
    ({"sort": "nope desc"}, "'nope'", True),
    ({"q": '{"nope":"x"}'}, "'nope'", True),
    ({"sort": "delay sideways"}, "asc or desc", False),
    ({"filters": '{"carrier": "AA"'}, "line 1, column 17", False),
    ({"q": '{"note": }'}, "line 1, column 10", False),
    ({"filters": '["AA"]'}, "JSON object", False),
    ({"filters": '{"month": "July"}'}, "'month'", False),
    ({"filters": '{"month": [1, 2, 3, 4]}'}, "at most 3 values", False),
    ({"q": "x" * 13}, "under 12 characters", False),
    ({"limit": "-1"}, "limit", False),
    ({"offset": "many"}, "offset", False),
]


@pytest.mark.parametrize("params,needle,lists_fields", BAD)
def test_every_bad_input_is_a_400_that_says_what_and_where(make_app, serve, tmp_path, params, needle, lists_fields):
    app = make_app(DUMP_MAX_FILTER_VALUES=3, DUMP_MAX_Q_CHARS=12)
    load_flights(app, tmp_path)
    answer = get_dump(serve(app), "flights", **params)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == "invalid_request" and body["hint"]
    assert needle in body["message"] + body["hint"]
    if lists_fields:
        assert body["valid_fields"] == COLUMNS and "_id, carrier, month, delay, note" in body["hint"]
    assert not app.backend.read_write.store.list("dumps/")  # nothing was exported


def test_a_filtered_dump_is_authorised_like_the_whole_table(make_app, serve, tmp_path, ckan_stub):
    ckan_stub.behave("flights", "denied", token=None).behave("flights", "denied").behave(
        "flights", "allowed", token="good")
    app = make_app(AUTH_TYPE="ckan", CKAN_URL=ckan_stub.url)
    load_flights(app, tmp_path)
    live = serve(app)
    anonymous = get_dump(live, "flights", filters='{"carrier": "AA"}')
    assert anonymous.status_code == 401
    probing = get_dump(live, "flights", fields="nope")  # the table's fields are not told to a refused caller
    assert probing.status_code == 401 and "valid_fields" not in probing.json()
    refused = requests.get(f"{live.url}/datastore/dump/flights", params={"q": "late"},
                           headers={"Authorization": "bad"}, allow_redirects=False, timeout=30)
    assert refused.status_code == 403
    assert not app.backend.read_write.store.list("dumps/")
    allowed, _ = published(live, headers={"Authorization": "Bearer good"}, q="late")
    assert allowed.status_code == 302


ORIGIN = "https://portal.example.org"


def cors_get(live, path, origin=ORIGIN, method="GET", headers=None, **params):
    return requests.request(method, f"{live.url}{path}", params=params, allow_redirects=False, timeout=30,
                            headers={"Origin": origin, **(headers or {})})


def test_cors_headers_on_every_answer_of_the_dump_function(make_app, serve, tmp_path):
    app = make_app(CORS_ORIGINS=f"{ORIGIN}, https://other.example.org", DUMP_WAIT_SECONDS=0)
    load_flights(app, tmp_path)
    live = serve(app)
    pending = cors_get(live, "/datastore/dump/flights", q="late", headers={"Prefer": "respond-async"})
    app.backend.read_write.queue.drain(30)
    found = cors_get(live, "/datastore/dump/flights", q="late")
    unchanged = cors_get(live, "/datastore/dump/flights", q="late", headers={"If-None-Match": found.headers["ETag"]})
    bad = cors_get(live, "/datastore/dump/flights", fields="nope")
    missing = cors_get(live, "/datastore/dump/nope")
    nowhere = cors_get(live, "/nowhere")
    wrong_method = cors_get(live, "/datastore/dump/flights", method="DELETE")
    answers = [pending, found, unchanged, bad, missing, nowhere, wrong_method]
    assert [a.status_code for a in answers] == [202, 302, 304, 400, 404, 404, 405]
    for answer in answers:
        assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "ETag" in answer.headers["Access-Control-Expose-Headers"]
        assert "Origin" in answer.headers["Vary"]
    preflight = cors_get(live, "/datastore/dump/flights", method="OPTIONS", headers={
        "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization, x-ckan-api-key"})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert "X-CKAN-API-Key" in preflight.headers["Access-Control-Allow-Headers"]
    stranger = cors_get(live, "/datastore/dump/flights", origin="https://evil.example", q="late")
    assert stranger.status_code == 302 and "Access-Control-Allow-Origin" not in stranger.headers
    stranger_preflight = cors_get(live, "/datastore/dump/flights", origin="https://evil.example", method="OPTIONS",
                                  headers={"Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in stranger_preflight.headers


def test_without_cors_origins_no_cors_headers_are_sent(make_app, serve, tmp_path):
    app = make_app()
    load_flights(app, tmp_path)
    answer = cors_get(serve(app), "/datastore/dump/flights")
    assert answer.status_code == 302 and not [h for h in answer.headers if h.lower().startswith("access-control")]


def test_a_bad_cors_origins_setting_stops_start_up(make_app):
    from functions.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="CORS_ORIGINS"):
        make_app(CORS_ORIGINS="portal.example.org")


def test_without_compose_a_query_dump_streams_with_its_key_bound_in_the_token(make_app, serve, tmp_path):
    composed_app = make_app(DUMP_SHARD_BYTES=20_000)
    app = make_app(DUMP_SHARD_BYTES=20_000, DUMP_COMPOSE="false")
    for each in (composed_app, app):
        load_numbers(each, "flights", 5000, tmp_path)
    params = {"q": "ROW", "sort": "id desc", "fields": "label,id"}  # 5,000 rows in several export files
    _, composed = published(serve(composed_app), **params)
    live = serve(app)
    redirect, streamed = published(live, **params)
    location = redirect.headers["Location"]
    assert "/stream/flights?" in location and "query_key=" in location
    assert streamed.content == composed.content
    assert len([o for o in composed_app.backend.read_write.store.list("dumps/flights/q/") if "/part-" in o.name]) == 0  # joined
    lines = streamed.text.splitlines()
    assert lines[0] == "label,id" and len(lines) == 5001 and lines[1] == "row-00004999,4999"
    without_key = re.sub(r"query_key=[0-9a-f]+&?", "", location)  # the token was made for this query only
    assert requests.get(without_key, timeout=30).status_code == 403
    head = requests.head(f"{live.url}/datastore/dump/flights", params=params, allow_redirects=False, timeout=30)
    assert head.status_code == 302 and head.headers["ETag"] == redirect.headers["ETag"]
