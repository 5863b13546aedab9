"""The conformance cases: one dump URL each, asked of real CKAN 2.12 and of bqdump, whose bodies must be identical
byte for byte, unless the case names one of DELIBERATE's differences, each asserted as exactly that difference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

FORMATS = ("csv", "tsv", "json", "xml")
TYPED_COLUMNS = ("t_text", "t_int4", "t_int8", "t_float8", "t_numeric", "t_bool", "t_date", "t_time", "t_timestamp",
                 "t_json", "t_text_arr", "t_int4_arr")

# Where bqdump differs from CKAN on purpose (docs/ckan-dump-compat.md has the reasons at length).
DELIBERATE = {
    "ckan_500": "CKAN answers 500 for a request it cannot run (unknown field, bad sort, negative limit); bqdump "
                "answers 400 with a JSON error naming what to fix.",
    "ckan_500_answered": "CKAN answers 500 for distinct with its default _id sort, and for a json dump with "
                         "distinct or with q (its SQL for those is invalid); bqdump answers with the dump.",
    "sort_ties": "CKAN sorts only by the asked keys, so rows with equal keys come in whatever order PostgreSQL "
                 "leaves them (it changes with the plan); bqdump breaks ties by _id, the same on every run.",
    "rank": "With q and no fields, CKAN adds a `rank` column (PostgreSQL's ts_rank); no warehouse here computes "
            "that number, so bqdump leaves the column out.",
    "microseconds": "CKAN truncates timestamps to milliseconds; bqdump keeps the microseconds it has "
                    "(never loses data), and writes .mmm when there are none.",
    "numeric_scale": "CKAN keeps the scale a numeric was stored with (1.50, 7.0); BigQuery's NUMERIC has a fixed "
                     "scale of 9, so bqdump writes the shortest exact form (1.5, 7) on both backends.",
    "content_type": "CKAN sends application/octet-stream (Flask's mimetype= overrides the text/csv its view sets); "
                    "bqdump sends the type CKAN means (tests/ckan/test_conformance.py, headers test).",
    "page_ties": "CKAN pages its dump 32,000 rows at a time with OFFSET; with ties in the sort key a row can appear "
                 "on two pages and another on none; bqdump writes each row once, ties broken by _id.",
}


@dataclass(frozen=True)
class Case:
    table: str
    params: dict = field(default_factory=dict)
    deliberate: str | None = None  # a key of DELIBERATE, or None: identical bytes

    @property
    def id(self) -> str:
        text = "&".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.table}?{text}" if text else self.table


def _cases() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    for fmt in FORMATS:  # every format: whole, bom, limits 0/1/many, an offset
        for extra in ({}, {"bom": "true"}, {"limit": "0"}, {"limit": "1"}, {"limit": "37"},
                      {"offset": "1990", "limit": "20"}):
            add(Case("types", {"format": fmt, **extra}))
    for column in TYPED_COLUMNS:  # every type (and its nulls) on its own, so a difference names its type
        for fmt in FORMATS:
            add(Case("types", {"format": fmt, "fields": f"_id,{column}"}))
    for fmt in ("csv", "json"):
        for sort in ("t_text", "t_text desc", "category, t_text desc", "t_int4 desc", "t_float8", "t_numeric desc",
                     "t_timestamp", "t_date desc", "t_bool"):
            add(Case("types", {"format": fmt, "sort": sort}, "sort_ties"))
        add(Case("types", {"format": fmt, "sort": "t_text, _id"}))
        add(Case("types", {"format": fmt, "sort": "t_text desc, t_int8, _id desc"}))
        for filters in ({"category": "river"}, {"category": ["lake", "Sea"]}, {"t_int4": 0}, {"t_bool": True},
                        {"t_text": "#hash"}, {"category": []}):
            add(Case("types", {"format": fmt, "filters": json.dumps(filters)}))
        for q in ("river", "Alpha", "RIVER bank", "riv", "deep", "tag", "hash", "#hash"):
            add(Case("types", {"format": fmt, "q": q}, "rank" if fmt == "csv" else "ckan_500_answered"))
            add(Case("types", {"format": fmt, "q": q, "fields": "_id,t_text,category"}))
        add(Case("types", {"format": fmt, "q": json.dumps({"t_text": "river"})},
                 "rank" if fmt == "csv" else "ckan_500_answered"))
        add(Case("types", {"format": fmt, "q": json.dumps({"category": "sea"}), "fields": "_id,category"}))
        distinct = None if fmt == "csv" else "ckan_500_answered"
        add(Case("types", {"format": fmt, "fields": "category", "distinct": "true", "sort": "category"}, distinct))
        add(Case("types", {"format": fmt, "fields": "t_bool,category", "distinct": "true", "sort": "t_bool, category"},
                 distinct))
        add(Case("types", {"format": fmt, "fields": "t_text,_id", "sort": "t_text desc, _id", "limit": "50"}))
    for fmt in FORMATS:  # 70,000 rows: two of CKAN's 32,000-row page edges
        add(Case("pages", {"format": fmt}))
    for params in ({"offset": "31990", "limit": "30"}, {"limit": "32001"}, {"offset": "63999"},
                   {"sort": "k, _id", "fields": "k,label", "offset": "31000", "limit": "2000"},
                   {"sort": "_id desc", "limit": "32005"}):
        add(Case("pages", {"format": "csv", **params}))
    add(Case("pages", {"format": "csv", "sort": "k"}, "page_ties"))
    for fmt in FORMATS:
        add(Case("edges", {"format": fmt, "fields": "_id,t_timestamp"}, "microseconds"))
        add(Case("edges", {"format": fmt, "fields": "_id,t_numeric"}, "numeric_scale"))
    for params in ({"fields": "nope"}, {"sort": "t_text sideways"}, {"limit": "-1"}):
        add(Case("types", {"format": "csv", **params}, "ckan_500"))
    add(Case("types", {"format": "csv", "fields": "category", "distinct": "true"}, "ckan_500_answered"))
    return cases


CASES = _cases()
