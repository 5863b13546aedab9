"""CKAN query dumps and the json/xml formats end to end on the emulators, through the Google warehouse adapter:
the dump request checks fields against BigQuery's schema, the Cloud Tasks delivery carries the query, the worker
checks it again and runs EXPORT DATA with query parameters, and the published file is what CKAN would give.
Same deployment (and the same emulator bridges) as test_google_end_to_end."""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ElementTree

import requests

from functions.adapters.google.clients import READ_ONLY
from tests.contract.test_google_end_to_end import ROWS, deployment  # noqa: F401  (fixture)


def dump(deployment, **params):  # noqa: F811
    return requests.get(f"{deployment['url']}/datastore/dump/numbers", params=params, allow_redirects=False,
                        timeout=60)


def download(deployment, **params):  # noqa: F811
    answer = dump(deployment, **params)
    assert answer.status_code == 302, answer.text
    return answer, requests.get(answer.headers["Location"], timeout=60)


def test_a_filtered_sorted_dump_runs_as_a_parameterised_export(deployment):  # noqa: F811
    params = {"filters": '{"doubled": [4, 10, 2000]}', "q": '{"label": "ROW-"}', "sort": "_id desc",
              "fields": "label,_id"}
    first, body = download(deployment, **params)
    assert body.content == b"label,_id\r\nrow-1000,1000\nrow-5,5\nrow-2,2\n"  # CKAN's CRLF header line
    assert body.headers["Content-Disposition"] == 'attachment; filename="numbers.csv"'
    warehouse = deployment["app"].backend.read_write.warehouse
    reordered, again = download(deployment, fields="label,_id", sort="_id  DESC", q='{"label":"row-"}',
                                filters='{"doubled":[2000,10,4]}')
    assert reordered.headers["ETag"] == first.headers["ETag"] and again.content == body.content
    assert len(warehouse.started) == 1  # the same normalised query: the cached export
    ro = deployment["identities"][READ_ONLY]
    assert any("/tables/numbers" in url for _, url in ro.calls)  # the schema check: the read-only identity
    assert not any("/jobs" in url for _, url in ro.calls)
    before = len(ro.calls)
    cached, _ = download(deployment, **params)
    hit = [url for _, url in ro.calls[before:]]
    assert cached.headers["ETag"] == first.headers["ETag"]
    assert len([url for url in hit if "/tables/numbers" in url]) == 1  # revision and schema from one call
    assert len([url for url in hit if "/o?" in url]) == 1  # the export and its `requested` marker: one listing


def test_limit_offset_and_distinct_on_bigquery(deployment):  # noqa: F811
    _, page = download(deployment, sort="doubled desc", limit="3", offset="2", fields="_id")
    assert page.text.splitlines() == ["_id", str(ROWS - 2), str(ROWS - 3), str(ROWS - 4)]
    _, none = download(deployment, limit="0", fields="label")
    assert none.content == b""  # CKAN writes nothing at limit=0, not even the header


def test_json_and_xml_of_a_query_are_written_from_the_exported_parquet(deployment):  # noqa: F811
    redirect, as_json = download(deployment, format="json", filters='{"_id": [1, 2]}')
    assert redirect.headers["ETag"].split("-", 1)[1].startswith("json.q")
    body = as_json.json()
    assert [field["id"] for field in body["fields"]] == ["_id", "label", "doubled"]
    assert body["records"] == [[1, "row-1", 2], [2, "row-2", 4]]
    _, as_xml = download(deployment, format="xml", filters='{"_id": 3}', compression="gzip", bom="true")
    unpacked = gzip.decompress(as_xml.content)
    assert unpacked.startswith(b"\xef\xbb\xbf")
    row = ElementTree.fromstring(unpacked[3:])[0]
    assert row.get("_id") == "3" and row.find("label").text == "row-3" and row.find("doubled").text == "6"


def test_bad_input_is_refused_against_bigquerys_schema(deployment):  # noqa: F811
    unknown = dump(deployment, sort="nope desc")
    assert unknown.status_code == 400 and unknown.json()["valid_fields"] == ["_id", "label", "doubled"]
    wrong_type = dump(deployment, filters='{"doubled": "many"}')
    assert wrong_type.status_code == 400 and "doubled" in wrong_type.json()["message"]
    assert not deployment["app"].backend.read_write.warehouse.started


def test_q_as_text_and_distinct_on_bigquery(deployment):  # noqa: F811
    bq, dataset = deployment["bq"], deployment["dataset"]
    rows = [(1, "AA", "Late Arrival"), (2, "UA", "weather delay"), (3, "AA", None), (4, "DL", "crew LATE"),
            (5, "UA", "on time")]
    values = " UNION ALL ".join(f"SELECT {i} AS _id, '{c}' AS carrier, "
                                f"{'NULL' if n is None else repr(n)} AS note" for i, c, n in rows)
    bq.query(f"CREATE TABLE `{dataset}.trips` AS SELECT _id, carrier, CAST(note AS STRING) AS note "
             f"FROM ({values})", job_retry=None, project=bq.project).result()
    base = deployment["url"]

    def get(**params):
        answer = requests.get(f"{base}/datastore/dump/trips", params=params, allow_redirects=False, timeout=60)
        assert answer.status_code == 302, answer.text
        return requests.get(answer.headers["Location"], timeout=60).content.decode()

    assert get(q="LATE", fields="_id") == "_id\r\n1\n4\n"  # case-insensitive whole words, in any field
    assert get(q="crew late", fields="_id") == "_id\r\n4\n"  # every word
    assert get(q="lat", fields="_id") == "_id\r\n"  # whole words only, as CKAN's full-text search
    assert get(q="aa", fields="_id") == "_id\r\n1\n3\n"  # every column is searched
    assert get(q="{\"carrier\": \"ua\"}", fields="_id") == "_id\r\n2\n5\n"
    assert get(fields="carrier", distinct="true", sort="carrier desc") == "carrier\r\nUA\nDL\nAA\n"
