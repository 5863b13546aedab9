"""One byte-serving path for both the joined export stream and single objects: length, Range, 64 KiB chunks;
and a followed export's bytes as its pieces become final (`followed_response`)."""

from __future__ import annotations

import logging
from typing import Generator, Iterator, Sequence

from werkzeug.wrappers import Request, Response

from functions.core.errors import NotFound
from functions.core.next_step import Serve
from functions.core.progress import continues
from functions.core.ranges import content_range, requested_range
from functions.core.shards import Piece, joined_length, segments_for_range
from functions.http import client_gone, cut_connection
from functions.ports import ObjectStore

CHUNK_SIZE = 64 * 1024
FOLLOW_CHUNK_SIZE = 256 * 1024  # a follower keeps up with an export writing ~200 MB/s: a quarter of the calls
log = logging.getLogger("bqdump")


def byte_response(request: Request, store: ObjectStore, pieces: Sequence[Piece], *, filename: str,
                  content_type: str, etag: str | None = None, last_modified=None) -> Response:
    total = joined_length(pieces)
    byte_range = requested_range(request.headers.get("Range"), total)
    start, end = byte_range if byte_range else (0, total - 1)
    length = end - start + 1 if total else 0
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Accept-Ranges": "bytes",
        "Content-Length": str(length),
        "Cache-Control": "private, max-age=0",
    }
    if etag:
        headers["ETag"] = etag
    if byte_range:
        headers["Content-Range"] = content_range(start, end, total)
    segments = list(segments_for_range(pieces, start, end))
    first = None
    if request.method != "HEAD" and segments:  # a HEAD answer reads nothing
        # Opened now: a first read that fails (a stalled or refused upstream) is still a JSON error answer;
        # once the first bytes are sent, a failure can only cut the body short of its Content-Length.
        first = store.read_range(segments[0].name, segments[0].offset, segments[0].length, CHUNK_SIZE)
    body = _Body(_joined(store, segments, first), first)
    response = Response(body, status=206 if byte_range else 200, headers=headers, content_type=content_type,
                        direct_passthrough=True)
    if last_modified is not None:
        response.last_modified = last_modified
    return response


def _joined(store: ObjectStore, segments, first=None, chunk_size: int = CHUNK_SIZE) -> Generator[bytes, None, None]:
    """Reads one segment at a time; when the client goes away the server closes this generator, which closes the read."""
    for index, segment in enumerate(segments):
        if index == 0 and first is not None:
            chunks = first
        else:
            chunks = store.read_range(segment.name, segment.offset, segment.length, chunk_size)
        try:
            yield from chunks
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()


class _Body:
    """The joined stream, closing the first read too when the stream is closed before it ever started."""

    def __init__(self, stream: Generator[bytes, None, None], first):
        self.stream, self.first = stream, first

    def __iter__(self):
        return self.stream

    def close(self) -> None:
        self.stream.close()
        close = getattr(self.first, "close", None)
        if close:
            close()


class Cut(Exception):
    """A followed download that cannot go on after its first bytes: the connection is cut (never a short file)."""


def followed_response(request: Request, catalogue, target, attempt: int, records: list, deadline: float, *,
                      filename: str, etag: str) -> Response:
    """200 with the pieces of an export as they become final (functions.core.progress), then the rest of the
    published file. The length is not known yet: the body is chunked, and its end (the terminating chunk) says
    the file is complete. Headers go out with the first byte (a failure before it is still an error status)."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, max-age=0",
               "ETag": etag}
    body = _followed(request.environ, catalogue, target, attempt, records, deadline)
    first = next(body)  # the first piece's first bytes, or its error, before any header is sent
    return Response(_prepended(first, body), status=200, headers=headers, content_type=target.variant.content_type,
                    direct_passthrough=True)


def _prepended(first: bytes, rest):
    yield first
    try:
        yield from rest
    finally:
        rest.close()


def _followed(environ, catalogue, target, attempt: int, records: list, deadline: float) -> Iterator[bytes]:
    """The recorded pieces in order, then whatever the published file holds past them. Before the first byte an
    error propagates (an error answer); after it, the connection is cut."""
    store, clock = catalogue.bucket, catalogue.clock
    sent, seen, started = 0, 0, False
    try:
        while True:
            for piece in [p for record in records for p in record]:
                try:
                    chunks = store.read_range(piece.name, piece.skip, piece.length, FOLLOW_CHUNK_SIZE)
                    try:
                        for chunk in chunks:
                            sent += len(chunk)
                            started = True
                            yield chunk
                    finally:
                        close = getattr(chunks, "close", None)
                        if close:
                            close()
                except NotFound:  # joined into the published file and deleted meanwhile (before or while it was
                    break  # read, as a store may find out either way): the published file goes on from `sent`
            seen += len(records)
            if not started:
                yield b""  # nothing to send yet (empty pieces): the caller still gets its first item
                started = True
            found = catalogue.follow(target, attempt, max(0.0, deadline - clock.monotonic()), seen=seen,
                                     gone=lambda: client_gone(environ))
            if isinstance(found.step, Serve):
                manifest = catalogue.manifest(found.step)
                total = joined_length(manifest.pieces)
                if not continues(sent, total):
                    raise Cut(f"the published file ({total} bytes) is shorter than the {sent} bytes sent")
                yield from _joined(store, list(segments_for_range(manifest.pieces, sent, total - 1)), None,
                                   FOLLOW_CHUNK_SIZE)
                return
            if not found.records:
                raise Cut(f"the export did not go on ({type(found.step).__name__})")
            records = found.records
    except GeneratorExit:
        raise
    except Exception as error:
        if not started:
            raise  # before the first byte: an error answer
        log.warning("cutting a followed download of %s after %d bytes: %s", target.resource_id, sent, error)
        cut_connection(environ)
        raise Cut(str(error)) from None
