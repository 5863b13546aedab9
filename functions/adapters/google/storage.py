"""Cloud Storage as the object store (signed URLs are `functions.adapters.google.signer`'s)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Sequence
from urllib.parse import quote

import requests
from google.api_core import exceptions as api_errors
from google.auth.exceptions import GoogleAuthError
from google.cloud.storage import Client as StorageClient

from functions.core.errors import NotFound, Unavailable
from functions.core.model import ObjectInfo

READ_TIMEOUT = (10, 120)
READER_CHUNK = 8 << 20
WRITER_CHUNK = 16 << 20  # a multiple of 256 KiB, as resumable uploads require  # (connect, read) seconds for one streamed segment


def _gone(name: str) -> NotFound:
    return NotFound(f"Object {name!r} is gone.", "Request the dump URL again.")


def _unavailable(action: str, exc: Exception) -> Unavailable:
    return Unavailable(f"Cloud Storage could not {action}: {type(exc).__name__}.",
                       "Try again in a minute; if it persists, tell the portal's administrators.")


class GcsObjectStore:
    """One identity's view of the export bucket; `client` builds (once) the storage client of that identity."""

    def __init__(self, client: Callable[[], StorageClient], bucket: str, session: Callable[[], requests.Session]):
        """`session`: a requests session authorised as the same identity, for ranged streaming reads."""
        self._client = client
        self._session = session
        self.bucket_name = bucket

    def _bucket(self):
        return self._client().bucket(self.bucket_name)

    def list(self, prefix: str) -> list[ObjectInfo]:
        try:
            blobs = self._client().list_blobs(self.bucket_name, prefix=prefix)
            return sorted((ObjectInfo(b.name, int(b.size or 0), b.updated) for b in blobs), key=lambda o: o.name)
        except (api_errors.GoogleAPIError, GoogleAuthError, OSError) as exc:
            raise _unavailable("list the exports", exc) from exc

    def read_bytes(self, name: str) -> bytes:
        try:
            return self._bucket().blob(name).download_as_bytes()
        except api_errors.NotFound:
            raise _gone(name) from None
        except (api_errors.GoogleAPIError, GoogleAuthError, OSError) as exc:
            raise _unavailable(f"read {name}", exc) from exc

    def media_url(self, name: str) -> str:
        client = self._client()
        return f"{client.api_endpoint}/storage/v1/b/{quote(self.bucket_name, safe='')}/o/{quote(name, safe='')}?alt=media"

    def read_range(self, name: str, start: int, length: int, chunk_size: int = 65536) -> Iterator[bytes]:
        """One ranged GET through the identity's authorized session; the generator owns the response."""
        if length <= 0:
            return iter(())
        session = self._session()
        headers = {"Range": f"bytes={start}-{start + length - 1}", "Accept-Encoding": "identity"}
        try:
            response = session.get(self.media_url(name), headers=headers, stream=True, timeout=READ_TIMEOUT)
        except (GoogleAuthError, OSError) as exc:
            raise _unavailable(f"read {name}", exc) from exc
        if response.status_code == 404:
            response.close()
            raise _gone(name)
        if response.status_code not in (200, 206):
            response.close()
            raise Unavailable(f"Cloud Storage answered {response.status_code} reading {name}.",
                              "Try again in a minute; if it persists, tell the portal's administrators.")
        skip = start if response.status_code == 200 else 0  # a server that ignored Range sends it all
        return _stream(response, skip, length, chunk_size, name)

    def write_bytes(self, name: str, data: bytes, content_type: str = "application/octet-stream", *,
                    if_absent: bool = False) -> bool:
        blob = self._bucket().blob(name)
        try:
            blob.upload_from_string(data, content_type=content_type, if_generation_match=0 if if_absent else None)
        except api_errors.PreconditionFailed:
            return False
        except (api_errors.GoogleAPIError, GoogleAuthError, OSError) as exc:
            raise _unavailable(f"write {name}", exc) from exc
        return True

    def set_download_headers(self, name: str, *, content_type: str, filename: str) -> None:
        """Stored on the object: GCS serves its own Content-Type over a signed URL's response-content-type."""
        blob = self._bucket().blob(name)
        blob.content_type = content_type
        blob.content_disposition = f'attachment; filename="{filename}"'
        try:
            blob.patch()
        except api_errors.NotFound:
            raise _gone(name) from None
        except (api_errors.GoogleAPIError, GoogleAuthError, OSError) as exc:
            raise _unavailable(f"set the headers of {name}", exc) from exc

    def compose(self, sources: Sequence[str], destination: str, content_type: str = "application/octet-stream", *,
                if_absent: bool = False) -> bool:
        """1 to 32 sources of this bucket; with `if_absent`, False when `destination` exists already."""
        bucket = self._bucket()
        target = bucket.blob(destination)
        target.content_type = content_type
        try:
            target.compose([bucket.blob(name) for name in sources], if_generation_match=0 if if_absent else None)
        except api_errors.PreconditionFailed:
            return False
        except api_errors.NotFound:
            raise _gone(", ".join(sources)) from None
        except (api_errors.GoogleAPIError, GoogleAuthError, OSError) as exc:
            raise _unavailable(f"compose {destination}", exc) from exc
        return True

    def open_reader(self, name: str):
        """Seekable, reading ahead `READER_CHUNK` bytes per request (Parquet footers, row groups)."""
        try:
            return self._bucket().blob(name).open("rb", chunk_size=READER_CHUNK)
        except api_errors.NotFound:
            raise _gone(name) from None

    @contextmanager
    def open_writer(self, name: str, content_type: str = "application/octet-stream"):
        """A resumable upload, finished only when the block exits cleanly: on error it is cancelled, no object appears."""
        blob = self._bucket().blob(name)
        with blob.open("wb", content_type=content_type, chunk_size=WRITER_CHUNK, ignore_flush=True) as writer:
            yield writer

    def delete(self, name: str) -> None:
        try:
            self._bucket().blob(name).delete()
        except api_errors.NotFound:
            pass
        except (api_errors.GoogleAPIError, GoogleAuthError, OSError) as exc:
            raise _unavailable(f"delete {name}", exc) from exc


def _stream(response, skip: int, length: int, chunk_size: int, name: str) -> Iterator[bytes]:
    """Closing this generator (the client went away) closes the upstream connection at once."""
    raw = response.raw
    try:
        while skip > 0:
            dropped = raw.read(min(chunk_size, skip), decode_content=False)
            if not dropped:
                raise IOError(f"{name} ended before the requested range")
            skip -= len(dropped)
        remaining = length
        while remaining > 0:
            chunk = raw.read(min(chunk_size, remaining), decode_content=False)
            if not chunk:
                raise IOError(f"{name} ended {remaining} bytes early")
            remaining -= len(chunk)
            yield chunk
    finally:
        response.close()
