"""A cache hit on the Google backend (fake-gcs-server, bqemulator, a signBlob stand-in), every call counted
at a proxy: one metadata call and one listing asked at once, no signBlob inside the signed-URL window, a 304
for the metadata call alone, and a replaced table served at its new revision by the next request."""

from __future__ import annotations

import threading

import pytest
import requests

from functions.core import identifiers
from functions.core.next_step import Serve
from tests.contract import keys
from tests.support.app import HeldQueue, rebuilt
from tests.support.google_app import ProxiedGoogleApp
from tests.support.meeting import MeetsOthers

ROWS = 50
CSV = identifiers.dump_variant("csv", None, None)


def expected_csv(rows):
    return "_id,label\r\n" + "".join(f"{i},row-{i}\n" for i in range(1, rows + 1))


@pytest.fixture
def google(gcs_emulator, bigquery_emulator):
    deployment = ProxiedGoogleApp(gcs_emulator, bigquery_emulator, rows=ROWS, queue=HeldQueue())
    yield deployment
    deployment.close()


def dump(google, headers=None):
    return requests.get(f"{google.url}/datastore/dump/{google.rid}", params={"format": "csv"}, headers=headers,
                        allow_redirects=False, timeout=60)


def test_a_warm_hit_is_one_metadata_call_and_one_listing_and_no_signblob(google):
    google.publish()
    first = dump(google)
    assert first.status_code == 302, first.text
    keys.verify_v4_url(first.headers["Location"], google.iam.key.public_key())  # signed through signBlob
    google.reset_counts()
    hits = [dump(google) for _ in range(3)]
    assert all(h.status_code == 302 and h.headers["Location"] == first.headers["Location"] for h in hits)
    assert google.calls() == {"tables.get": 3, "objects list": 3, "manifest read": 0, "signBlob": 0, "other": 0}


def test_a_conditional_request_costs_the_metadata_call_alone(google):
    google.publish()
    first = dump(google)
    google.reset_counts()
    assert dump(google, {"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert dump(google, {"If-Modified-Since": first.headers["Last-Modified"]}).status_code == 304
    assert google.calls() == {"tables.get": 2, "objects list": 0, "manifest read": 0, "signBlob": 0, "other": 0}


def test_the_metadata_call_and_the_listing_are_both_under_way_before_either_answers(google):
    google.publish()
    app = google.app
    barrier = threading.Barrier(2, timeout=10)  # one call after the other: the first waits alone and it breaks
    tables = MeetsOthers(app.backend.read_only.tables, "table_modified", barrier)
    bucket = MeetsOthers(app.backend.read_only.bucket, "list", barrier)
    catalogue = rebuilt(app, tables=tables, bucket=bucket).catalogue
    google.reset_counts()
    step = catalogue.lookup(google.rid, CSV).step
    assert isinstance(step, Serve) and tables.threads[0] is not bucket.threads[0]
    assert google.calls()["tables.get"] == google.calls()["objects list"] == 1


def test_a_table_replaced_after_a_hit_is_served_at_its_new_revision_by_the_next_request(google):
    old = google.publish()
    first = dump(google)
    assert first.status_code == 302 and dump(google).headers["Location"] == first.headers["Location"]
    google.replace_table("SELECT 1 AS _id, 'only' AS label")  # moves the table's `modified`
    queued = dump(google, {"Prefer": "respond-async"})
    assert queued.status_code == 202 and queued.json()["revision"] != old.rev  # not the cached revision
    new = google.publish()
    assert new.rev == queued.json()["revision"]
    after = dump(google)
    assert after.status_code == 302 and after.headers["ETag"] != first.headers["ETag"]
    assert after.headers["Location"] != first.headers["Location"]
    assert requests.get(after.headers["Location"], timeout=60).content == b"_id,label\r\n1,only\n"
    assert requests.get(first.headers["Location"], timeout=60).text == expected_csv(ROWS)  # the old URL lives on
