"""bqdump's dump against real CKAN 2.12's, URL for URL (tests/ckan/cases.py): identical bytes, or exactly one of
the written deliberate differences. The counts of identical / equal after parsing / different cases are printed
at the end of the run (and kept in .bqdump/ckan-conformance.json)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import requests

from tests.ckan.cases import CASES, Case
from tests.ckan.compare import classify, first_difference, parsed

RESULTS: dict[str, str] = {}


def fetch(base: str, rid: str, params: dict) -> requests.Response:
    return requests.get(f"{base}/datastore/dump/{rid}", params=params, timeout=600)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_dump_is_ckans(case: Case, real_ckan, bqdump_local):
    rid = real_ckan.resources[case.table]
    ckan, ours = fetch(real_ckan.url, rid, case.params), fetch(bqdump_local.url, rid, case.params)
    fmt = case.params.get("format", "csv")
    RESULTS[case.id] = ("different" if ckan.status_code != 200 or ours.status_code != 200
                        else classify(ckan.content, ours.content, fmt))
    if case.deliberate == "ckan_500":
        assert ckan.status_code == 500, ckan.text[:300]
        assert ours.status_code == 400 and ours.json()["error"], ours.text[:300]
        return
    if case.deliberate == "ckan_500_answered":
        assert ckan.status_code == 500, ckan.text[:300]
        assert ours.status_code == 200, ours.text[:300]
        assert isinstance(rows_of(ours.content, fmt), list), "bqdump's answer is a well-formed dump"
        return
    assert ckan.status_code == 200, ckan.text[:500]
    assert ours.status_code == 200, ours.text[:500]
    if case.deliberate is None:
        assert ours.content == ckan.content, first_difference(ckan.content, ours.content)
    else:
        assert ours.content != ckan.content, "no longer a difference: take the case off the deliberate list"
        DIFFERENCES[case.deliberate](ckan.content, ours.content, fmt, case)


def rows_of(body: bytes, fmt: str) -> list[dict]:
    """The records of a csv/tsv or json dump, as dicts by field name."""
    data = parsed(body, fmt)
    if fmt == "json":
        names = [f["id"] for f in data["fields"]]
        return [dict(zip(names, r)) for r in data["records"]]
    return [dict(zip(data[0], r)) for r in data[1:]]


def _microseconds(ckan: bytes, ours: bytes, fmt: str, case: Case) -> None:
    """bqdump's timestamps cut to milliseconds are CKAN's bytes."""
    assert re.sub(rb"(T\d\d:\d\d:\d\d\.\d{3})\d{3}", rb"\1", ours) == ckan


def _numeric_scale(ckan: bytes, ours: bytes, fmt: str, case: Case) -> None:
    """The same numbers, written with CKAN's stored scale on one side and the shortest exact form on the other."""
    def numbers(body):
        rows = parsed(body, fmt)
        if fmt in ("csv", "tsv"):
            return [Decimal(r[1]) for r in rows[1:]]
        if fmt == "json":
            return [Decimal(str(r[1])) for r in rows["records"]]
        return [Decimal(children[0][2]) for _, children in rows]
    assert numbers(ours) == numbers(ckan)
    assert all(not re.search(rb"\.\d*0\b", line) for line in ours.splitlines()[1:])


def _page_ties(ckan: bytes, ours: bytes, fmt: str, case: Case) -> None:
    """Same number of rows in the same sort-key order; bqdump has each row exactly once, ties in _id order.
    (Whether CKAN repeats a row at this run's page edges depends on PostgreSQL's plan, so it is not asserted.)"""
    ckan_rows, our_rows = parsed(ckan, fmt)[1:], parsed(ours, fmt)[1:]
    assert len(our_rows) == len(ckan_rows)
    assert [r[1] for r in our_rows] == [r[1] for r in ckan_rows]
    assert len({r[0] for r in our_rows}) == len(our_rows)
    assert [(int(r[1]), int(r[0])) for r in our_rows] == sorted((int(r[1]), int(r[0])) for r in our_rows)


def _sort_ties(ckan: bytes, ours: bytes, fmt: str, case: Case) -> None:
    """CKAN's rows, each run of equal sort keys put in _id order, are bqdump's rows."""
    keys = [part.split()[0] for part in case.params["sort"].split(",")]
    ckan_rows, our_rows = rows_of(ckan, fmt), rows_of(ours, fmt)
    runs: list[list[dict]] = []
    for row in ckan_rows:
        if runs and all(runs[-1][0][k] == row[k] for k in keys):
            runs[-1].append(row)
        else:
            runs.append([row])
    assert [r for run in runs for r in sorted(run, key=lambda r: int(r["_id"]))] == our_rows
    assert ckan.split(b"\n", 1)[0] == ours.split(b"\n", 1)[0]


def _rank(ckan: bytes, ours: bytes, fmt: str, case: Case) -> None:
    """CKAN's rows without its last column (`rank`, or `rank <field>` for a q per field) are bqdump's rows."""
    ckan_rows = parsed(ckan, fmt)
    assert ckan_rows[0][-1].split()[0] == "rank"
    assert [r[:-1] for r in ckan_rows] == parsed(ours, fmt)


DIFFERENCES = {"microseconds": _microseconds, "numeric_scale": _numeric_scale, "page_ties": _page_ties,
               "sort_ties": _sort_ties, "rank": _rank}


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "xml"])
def test_download_headers_are_ckans_but_the_content_type(fmt, real_ckan, bqdump_local):
    """The file name is CKAN's. Content-Type is a deliberate difference: CKAN 2.12 means to send text/csv (its
    dump view sets it) but Flask's `mimetype=` argument overrides it with application/octet-stream; bqdump sends
    the type CKAN intended, stored on the object its signed URL serves."""
    rid = real_ckan.resources["types"]
    ckan, ours = (fetch(base, rid, {"format": fmt, "limit": "1"}) for base in (real_ckan.url, bqdump_local.url))
    assert ours.headers["Content-Disposition"] == ckan.headers["Content-disposition"] == (
        f'attachment; filename="{rid}.{fmt}"')
    assert ckan.headers["Content-Type"] == "application/octet-stream"
    assert ours.headers["Content-Type"] == {"csv": "text/csv", "tsv": "text/tab-separated-values",
                                            "json": "application/json", "xml": "text/xml"}[fmt] + "; charset=utf-8"
