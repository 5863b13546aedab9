"""A conditional GET's validators as the dump function reads them, and when a target is unchanged for the caller."""

from __future__ import annotations

from datetime import timedelta

import pytest
from werkzeug.http import http_date
from werkzeug.wrappers import Request

from functions.core import layout
from functions.core.conditional import UNCONDITIONAL
from functions.core.dump_query import DumpQuery
from functions.core.model import Format, Variant
from functions.core.target import Target
from functions.dump import conditional_of

TARGET = Target("t", Variant(Format.CSV), layout.revision_of(layout.revision_time("5f1e0000000a1")), DumpQuery())
ETAG = layout.etag(TARGET.variant, TARGET.rev)
MODIFIED = layout.revision_time(TARGET.rev)


def conditional(**headers):
    return conditional_of(Request.from_values(headers={k.replace("_", "-"): v for k, v in headers.items()}))


@pytest.mark.parametrize("headers, unchanged", [
    ({"If_None_Match": ETAG}, True),
    ({"If_None_Match": f"W/{ETAG}"}, True),  # compared weakly, as RFC 9110 asks of If-None-Match
    ({"If_None_Match": f'"other", {ETAG}'}, True),
    ({"If_None_Match": "*"}, True),
    ({"If_None_Match": '"other"'}, False),
    ({"If_None_Match": '"other"', "If_Modified_Since": http_date(MODIFIED)}, False),  # the tags win
    ({"If_Modified_Since": http_date(MODIFIED)}, True),  # to the second: an HTTP date has no fraction
    ({"If_Modified_Since": http_date(MODIFIED - timedelta(seconds=1))}, False),
    ({"If_Modified_Since": "not a date"}, False),
])
def test_the_revision_decides_if_none_match_first(headers, unchanged):
    asked = conditional(**headers)
    assert asked.unchanged(TARGET) is unchanged
    assert asked.asked is (headers != {"If_Modified_Since": "not a date"})


def test_no_validators_ask_nothing():
    assert conditional() == UNCONDITIONAL and not UNCONDITIONAL.asked and not UNCONDITIONAL.unchanged(TARGET)
