import itertools

import pytest

from functions.core.errors import RangeNotSatisfiable
from functions.core.ranges import requested_range
from functions.core.shards import Piece, joined_length, order_shards, segments_for_range


def test_natural_shard_order():
    assert order_shards(["p/part-10.csv", "p/part-2.csv", "p/part-1.csv"]) == ["p/part-1.csv", "p/part-2.csv",
                                                                            "p/part-10.csv"]
    assert order_shards(["000000000001.csv", "000000000000.csv"]) == ["000000000000.csv", "000000000001.csv"]


def test_segments_match_a_naive_join_for_every_range():
    objects = {"a": b"H\n1\n2\n", "b": b"H\n3\n", "c": b"H\n", "d": b"H\n4\n5\n6\n"}
    pieces = [Piece("a", 6), Piece("b", 4, 2), Piece("c", 2, 2), Piece("d", 8, 2)]
    joined = b"".join(objects[p.name][p.skip:] for p in pieces)
    assert joined == b"H\n1\n2\n3\n4\n5\n6\n" and joined_length(pieces) == len(joined)
    for start, end in itertools.combinations_with_replacement(range(len(joined)), 2):
        got = b"".join(objects[s.name][s.offset:s.offset + s.length] for s in segments_for_range(pieces, start, end))
        assert got == joined[start:end + 1], (start, end)


@pytest.mark.parametrize("header,expected", [
    (None, None), ("bytes=0-9", (0, 9)), ("bytes=5-", (5, 99)), ("bytes=-10", (90, 99)), ("bytes=90-200", (90, 99)),
    ("bytes=0-1,5-6", None), ("items=0-1", None), ("bytes=9-3", None), ("bytes=-", None), ("bytes=-500", (0, 99)),
])
def test_range_header_parsing(header, expected):
    assert requested_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0"])
def test_unsatisfiable_ranges(header):
    with pytest.raises(RangeNotSatisfiable) as info:
        requested_range(header, 100)
    assert info.value.headers["Content-Range"] == "bytes */100"
