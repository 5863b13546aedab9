"""Ordering the files of one export and seeing them as one byte stream."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIGITS = re.compile(r"(\d+)")


def shard_order_key(name: str) -> tuple:
    """Natural order: part-2 before part-10 (DuckDB does not zero-pad; BigQuery does)."""
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(name))


def order_shards(names):
    return sorted(names, key=shard_order_key)


@dataclass(frozen=True)
class Piece:
    """Bytes [skip, size) of one object belong to the joined stream."""

    name: str
    size: int
    skip: int = 0

    @property
    def length(self) -> int:
        return self.size - self.skip


@dataclass(frozen=True)
class Segment:
    name: str
    offset: int
    length: int


def joined_length(pieces) -> int:
    return sum(piece.length for piece in pieces)


def segments_for_range(pieces, start: int, end: int) -> list[Segment]:
    """Which object bytes make up bytes start..end (inclusive) of the joined stream."""
    result: list[Segment] = []
    position = 0
    for piece in pieces:
        piece_start, piece_end = position, position + piece.length  # [piece_start, piece_end)
        position = piece_end
        lo, hi = max(start, piece_start), min(end + 1, piece_end)
        if lo < hi:
            result.append(Segment(piece.name, piece.skip + (lo - piece_start), hi - lo))
    return result
