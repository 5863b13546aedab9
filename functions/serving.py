"""One byte-serving path for both the joined export stream and single objects: length, Range, 64 KiB chunks."""

from __future__ import annotations

from typing import Generator, Sequence

from werkzeug.wrappers import Request, Response

from functions.core.ranges import content_range, requested_range
from functions.core.shards import Piece, joined_length, segments_for_range
from functions.ports import ObjectStore

CHUNK_SIZE = 64 * 1024


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


def _joined(store: ObjectStore, segments, first=None) -> Generator[bytes, None, None]:
    """Reads one segment at a time; when the client goes away the server closes this generator, which closes the read."""
    for index, segment in enumerate(segments):
        if index == 0 and first is not None:
            chunks = first
        else:
            chunks = store.read_range(segment.name, segment.offset, segment.length, CHUNK_SIZE)
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
