"""gzip written on every core: the bytes are cut into pieces, each compressed as its own gzip member on a thread
(zlib releases the GIL), and the members are written in order. Concatenated members are one valid gzip file
(RFC 1952: every gzip reader, gunzip, Python's gzip, browsers and curl --compressed, reads them all), as a composed
object of gzip files already is. Memory: at most threads + 1 pieces in flight."""

from __future__ import annotations

import os
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

THREADS = os.cpu_count() or 1
MEMBER_BYTES = 8 << 20  # input bytes per member: the size cost of a member boundary is ~0.01% at this size
LEVEL = 6  # DuckDB's and gzip's default level: the same size as before, only sooner


def gzip_member(data: bytes) -> bytes:
    """One complete gzip member (mtime 0) of `data`."""
    packer = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
    return packer.compress(data) + packer.flush()


def gzip_members(chunks: Iterable[bytes], threads: int = THREADS, member_bytes: int = MEMBER_BYTES) -> Iterator[bytes]:
    """The chunks, gathered into pieces of about member_bytes, as gzip members in order."""
    with ThreadPoolExecutor(threads, thread_name_prefix="gzip") as pool:
        in_flight: deque = deque()
        for piece in _pieces(chunks, member_bytes):
            in_flight.append(pool.submit(gzip_member, piece))
            if len(in_flight) > threads:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()


def gzip_file(source: Path, target: BinaryIO, threads: int = THREADS, member_bytes: int = MEMBER_BYTES) -> None:
    """`source` compressed into `target` as gzip members."""
    with open(source, "rb") as plain:
        for member in gzip_members(iter(lambda: plain.read(member_bytes), b""), threads, member_bytes):
            target.write(member)


def _pieces(chunks: Iterable[bytes], member_bytes: int) -> Iterator[bytes]:
    pending: list[bytes] = []
    size, pieces = 0, 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= member_bytes:
            yield b"".join(pending)
            pending, size, pieces = [], 0, pieces + 1
    if pending or not pieces:
        yield b"".join(pending)  # an empty input is still one (empty) member: a valid gzip file
