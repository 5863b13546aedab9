"""Pieces of an export that are final before it is published, so a follower can send them at once.

The protocol: while an attempt runs, the worker writes numbered records under the attempt's prefix,

    dumps/<rid>/<variant>/<rev>/<attempt>/streamed-000001.json   {"files": [{"name", "size", "skip"}, ...]}
    dumps/<rid>/<variant>/<rev>/<attempt>/streamed-000002.json   ...

each listing pieces that will never change again (a file the export finished, the header object), in order,
after those of the records before it. Joined, the pieces of records 1..n are always the first bytes of the file
the attempt publishes (a header once, gzip members one after the other, Parquet files before their joined
footer): so a follower sends them as they come, and once the manifest exists, the rest of the published file
from where it stopped. A record is written whole (atomic create) or not at all; records are only ever added.
The pieces are the export's files, or for json and xml the pieces of CKAN's file as the worker writes them from
the exported Parquet (jobs.ckan_step.write_ckan_pieces; the local backend). Where no piece is final before the
export job ends (BigQuery may rewrite an export's files until the job is done), no record is written and
followers wait for the manifest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Sequence

from functions.core.model import ObjectInfo
from functions.core.shards import Piece

RECORD = re.compile(r"streamed-(\d{6})\.json")


def record_name(prefix: str, number: int) -> str:
    return f"{prefix}streamed-{number:06d}.json"


def record_bytes(pieces: Sequence[Piece]) -> bytes:
    return json.dumps({"files": [{"name": p.name, "size": p.size, "skip": p.skip} for p in pieces]}).encode()


def parse_record(data: bytes, prefix: str) -> tuple[Piece, ...]:
    """Strict, like a manifest: a record that does not add up is an error, never served (ValueError)."""
    try:
        pieces = tuple(Piece(str(f["name"]), int(f["size"]), int(f["skip"])) for f in json.loads(data)["files"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"streamed record is malformed: {exc}") from None
    if any(not p.name.startswith(prefix) or p.skip < 0 or p.skip > p.size for p in pieces):
        raise ValueError("streamed record names a piece outside its attempt or impossible sizes")
    return pieces


def records_after(listed: Sequence[ObjectInfo], prefix: str, seen: int) -> list[str]:
    """The attempt's records numbered after `seen`, in order, up to the first gap (a record written out of order
    waits for the one before it)."""
    numbers = sorted(int(m.group(1)) for o in listed if o.name.startswith(prefix)
                     and (m := RECORD.fullmatch(o.name[len(prefix):])))
    found, expected = [], seen + 1
    for number in numbers:
        if number < expected:
            continue
        if number != expected:
            break
        found.append(record_name(prefix, number))
        expected += 1
    return found


@dataclass(frozen=True)
class Recorded:
    """What the worker recorded so far: how many records, and how many of the export's files they hold."""

    records: int = 0
    files: int = 0


def pieces_to_record(final: Sequence[ObjectInfo], recorded: Recorded, header: Piece | None) -> list[Piece]:
    """The pieces of the next record, from the export's final files in order (the first `recorded.files` were
    recorded already): the header object first, before any file; then each file whole (files carry no header)."""
    pieces = [header] if header is not None and recorded.records == 0 else []
    return pieces + [Piece(shard.name, shard.size) for shard in final[recorded.files:]]


def continues(sent: int, published_total: int) -> bool:
    """The published file goes on from the bytes a follower sent (they are its first bytes by the protocol)."""
    return 0 <= sent <= published_total
