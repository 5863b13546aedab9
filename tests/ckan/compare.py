"""Comparing two dump bodies: identical bytes, equal once parsed (csv/tsv rows, JSON, XML trees), or different."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ElementTree

BOM = "\ufeff"


def parsed(body: bytes, fmt: str):
    text = body.decode("utf-8")
    if text.startswith(BOM):
        text = text[1:]
    if fmt in ("csv", "tsv"):
        return list(csv.reader(io.StringIO(text, newline=""), delimiter="\t" if fmt == "tsv" else ","))
    if fmt == "json":
        return json.loads(text)
    return [(row.attrib, [(child.tag, child.attrib, child.text, ElementTree.tostring(child)) for child in row])
            for row in ElementTree.fromstring(text)]


def classify(ckan: bytes, ours: bytes, fmt: str) -> str:
    if ckan == ours:
        return "identical"
    try:
        return "equal after parsing" if parsed(ckan, fmt) == parsed(ours, fmt) else "different"
    except (ValueError, ElementTree.ParseError):
        return "different"


def first_difference(ckan: bytes, ours: bytes, context: int = 160) -> str:
    at = next((i for i, (a, b) in enumerate(zip(ckan, ours)) if a != b), min(len(ckan), len(ours)))
    return (f"first difference at byte {at} (CKAN {len(ckan)} bytes, bqdump {len(ours)}):\n"
            f"  CKAN:   {ckan[max(0, at - 60):at + context]!r}\n  bqdump: {ours[max(0, at - 60):at + context]!r}")
