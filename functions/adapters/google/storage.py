"""Cloud Storage as the object store, and V4 signed download URLs."""

from __future__ import annotations

import base64
import json
import math
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Callable, Iterator
from urllib.parse import quote

from google.api_core import exceptions as api_errors
from google.auth import credentials as auth_credentials
from google.auth.exceptions import GoogleAuthError

from functions.core.errors import NotFound, Unavailable
from functions.core.model import ObjectInfo

MAX_URL_SECONDS = 7 * 24 * 3600  # V4 signed URLs live at most 7 days
IAM_ENDPOINT = "https://iamcredentials.googleapis.com"
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

    def __init__(self, client: Callable[[], object], bucket: str):
        self._client = client
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
        session = self._client()._http
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

    def compose(self, sources: list[str], destination: str, content_type: str = "application/octet-stream", *,
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


def url_lifetime_seconds(expires_at: datetime, now: datetime) -> int:
    """Seconds from `now` until `expires_at`, rounded up, within V4's limit of 7 days."""
    seconds = math.ceil((expires_at - now).total_seconds())
    if seconds <= 0:
        raise ValueError(f"the URL would expire {-seconds} s ago")
    return min(seconds, MAX_URL_SECONDS)


class IamSigningCredentials(auth_credentials.Signing):
    """Signs through IAM signBlob as `email`, for credentials without a private key (Cloud Functions, Cloud Run).

    This is the `sign_bytes` seam google-cloud-storage's V4 signing calls; the library's own
    `service_account_email=`/`access_token=` path calls the same signBlob API, but at a fixed https host.
    """

    def __init__(self, source, email: str, endpoint: str = IAM_ENDPOINT):
        self._source = source
        self._email = email
        self._endpoint = endpoint.rstrip("/")
        self._session = None

    @property
    def signer_email(self) -> str:
        return self._email

    @property
    def signer(self):
        return None

    def sign_bytes(self, message: bytes) -> bytes:
        from google.auth.transport.requests import AuthorizedSession

        if self._session is None:
            self._session = AuthorizedSession(self._source)
        url = f"{self._endpoint}/v1/projects/-/serviceAccounts/{quote(self._email, safe='@')}:signBlob"
        response = self._session.post(url, json={"payload": base64.b64encode(message).decode()}, timeout=30)
        if response.status_code != 200:
            raise Unavailable(f"IAM signBlob as {self._email} answered {response.status_code}.",
                              "The signing identity needs roles/iam.serviceAccountTokenCreator on itself.")
        return base64.b64decode(json.loads(response.content)["signedBlob"])


class GcsUrlSigner:
    """V4 signed GET URLs of export objects. The port's `base_url` is ignored: GCS serves the object itself."""

    def __init__(self, client: Callable[[], object], bucket: str, credentials: Callable[[], object],
                 clock: Callable[[], datetime], signing_email: str = "", iam_endpoint: str = IAM_ENDPOINT):
        self._client = client
        self._bucket = bucket
        self._credentials = credentials
        self._clock = clock
        self._signing_email = signing_email
        self._iam_endpoint = iam_endpoint
        self._iam = None

    def signing_credentials(self):
        """The credentials themselves when they hold a private key for the signing email, else IAM signBlob."""
        credentials = self._credentials()
        if isinstance(credentials, auth_credentials.Signing) and getattr(credentials, "signer", None) is not None:
            if not self._signing_email or self._signing_email == credentials.signer_email:
                return credentials
        if self._iam is None:
            email = self._signing_email or getattr(credentials, "service_account_email", "")
            if email == "default" and hasattr(credentials, "refresh"):  # metadata-server credentials learn it first
                from google.auth.transport.requests import Request

                credentials.refresh(Request())
                email = credentials.service_account_email
            if not email or email == "default":
                raise Unavailable("No service account email to sign download URLs with.",
                                  "Set SIGNING_SERVICE_ACCOUNT to the read-write service account's email.")
            self._iam = IamSigningCredentials(credentials, email, self._iam_endpoint)
        return self._iam

    def sign(self, name: str, *, filename: str, content_type: str, expires_at: datetime, base_url: str = "") -> str:
        lifetime = url_lifetime_seconds(expires_at, self._clock())
        blob = self._client().bucket(self._bucket).blob(name)
        try:
            return blob.generate_signed_url(
                version="v4", method="GET", expiration=timedelta(seconds=lifetime),
                response_disposition=f'attachment; filename="{filename}"', response_type=content_type,
                credentials=self.signing_credentials(),
            )
        except (api_errors.GoogleAPIError, GoogleAuthError, OSError) as exc:
            raise _unavailable(f"sign a URL for {name}", exc) from exc
