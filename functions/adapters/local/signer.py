"""Locally signed object URLs, checked by the local server's /_objects route (see functions/objects.py)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote, urlencode

from functions.core.tokens import check_signature, signature

OBJECTS_PATH = "_objects/"


class LocalUrlSigner:
    def __init__(self, secret: bytes):
        self._secret = secret

    def sign(self, name: str, *, filename: str, content_type: str, expires_at: datetime, base_url: str) -> str:
        expires = int(expires_at.timestamp())
        query = urlencode({
            "expires": expires,
            "filename": filename,
            "type": content_type,
            "signature": signature(self._secret, "object", name, filename, content_type, str(expires)),
        })
        return f"{base_url.rstrip('/')}/{OBJECTS_PATH}{quote(name)}?{query}"

    def check(self, name: str, *, filename: str, content_type: str, expires: str, signature: str, now: float) -> None:
        """Raises Forbidden unless this signer signed exactly these values and the link has not expired."""
        check_signature(self._secret, signature, expires, now, "object", name, filename, content_type, expires)
