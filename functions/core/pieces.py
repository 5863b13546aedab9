"""CKAN's json and xml written in pieces: one piece per exported Parquet file, each by its own task, joined in order
by compose once every piece has landed. Names and the join decision only, from a listing: no I/O.

A json piece is two objects, its first row (`.first`, absent when the file has no rows) and its other rows
(`.rows`, each after ",\\n    ", written last: it marks the piece complete). The join puts "\\n    " before the first
row of the whole file and ",\\n    " before the first row of every later piece, so no piece needs to know whether
an earlier one is empty. An xml piece is its rows alone. The frame (head, tail, separators) is written once, before
the pieces are queued. Every name lives directly under the attempt's prefix, so GC treats them as its files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

HEAD, TAIL = "ckan-head", "ckan-tail"
FIRST_SEPARATOR, SEPARATOR = "ckan-separator-first", "ckan-separator"
JSON_FIRST_SEPARATOR, JSON_SEPARATOR = b"\n    ", b",\n    "
MAX_PIECES = 100_000


def first_row_name(prefix: str, index: int) -> str:
    return f"{prefix}piece-{index:06d}.first"


def rows_name(prefix: str, index: int) -> str:
    return f"{prefix}piece-{index:06d}.rows"


def frame(prefix: str, separated: bool) -> list[str]:
    """The objects written once around the pieces (json: with its two separators)."""
    names = [prefix + HEAD, prefix + TAIL]
    return names + [prefix + FIRST_SEPARATOR, prefix + SEPARATOR] if separated else names


def is_piece_object(name: str, prefix: str) -> bool:
    leaf = name[len(prefix):] if name.startswith(prefix) else ""
    return leaf.startswith("piece-") or leaf.startswith("ckan-")


@dataclass(frozen=True)
class Missing:
    """Pieces (by index) not landed yet, or the frame is incomplete: nothing to join yet."""

    pieces: tuple[int, ...]


@dataclass(frozen=True)
class Ready:
    """Every piece has landed: compose these sources, in this order, into the download."""

    sources: tuple[str, ...]


def join_plan(names: Iterable[str], prefix: str, count: int, separated: bool) -> Missing | Ready:
    """What a listing of the attempt says about its `count` pieces. Duplicated deliveries list the same objects
    and decide the same sources, so any of them may compose (the download is created only if absent)."""
    present = set(names)
    missing = tuple(index for index in range(count) if rows_name(prefix, index) not in present)
    if missing or any(name not in present for name in frame(prefix, separated)):
        return Missing(missing)
    sources = [prefix + HEAD]
    first = True
    for index in range(count):
        if separated and first_row_name(prefix, index) in present:
            sources += [prefix + (FIRST_SEPARATOR if first else SEPARATOR), first_row_name(prefix, index)]
            first = False
        sources.append(rows_name(prefix, index))
    sources.append(prefix + TAIL)
    return Ready(tuple(sources))
