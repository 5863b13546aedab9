"""V4 signed download URLs of export objects, signed with a private key or through IAM signBlob."""

from __future__ import annotations

import base64
import json
import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable
from urllib.parse import quote

from google.api_core import exceptions as api_errors
from google.auth import credentials as auth_credentials
from google.auth.exceptions import GoogleAuthError

from functions.core.errors import Unavailable

if TYPE_CHECKING:
    from google.auth.transport.requests import AuthorizedSession
    from google.cloud.storage import Client as StorageClient

MAX_URL_SECONDS = 7 * 24 * 3600  # V4 signed URLs live at most 7 days
IAM_ENDPOINT = "https://iamcredentials.googleapis.com"


def _unavailable(action: str, exc: Exception) -> Unavailable:
    return Unavailable(f"Cloud Storage could not {action}: {type(exc).__name__}.",
                       "Try again in a minute; if it persists, tell the portal's administrators.")


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

    def __init__(self, source, email: str, endpoint: str):
        self._source = source
        self._email = email
        self._endpoint = endpoint.rstrip("/")
        self._session: AuthorizedSession | None = None

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
        session = self._session
        url = f"{self._endpoint}/v1/projects/-/serviceAccounts/{quote(self._email, safe='@')}:signBlob"
        response = session.post(url, json={"payload": base64.b64encode(message).decode()}, timeout=30)
        if response.status_code != 200:
            raise Unavailable(f"IAM signBlob as {self._email} answered {response.status_code}.",
                              "The signing identity needs roles/iam.serviceAccountTokenCreator on itself.")
        return base64.b64decode(json.loads(response.content)["signedBlob"])


class GcsUrlSigner:
    """V4 signed GET URLs of export objects. The port's `base_url` is ignored: GCS serves the object itself."""

    def __init__(self, client: Callable[[], StorageClient], bucket: str, credentials: Callable[[], object],
                 clock: Callable[[], datetime], signing_email: str, iam_endpoint: str):
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
