"""Locally signed object URLs, checked by the local server's /_objects route (see functions/objects.py)."""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path
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


def local_secret(configured: str, root: Path) -> bytes:
    """DUMP_TOKEN_SECRET, else a random key kept (mode 0600) in the local folder so links survive restarts."""
    if configured:
        return configured.encode()
    root.mkdir(parents=True, exist_ok=True)
    path = root / "token-secret.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_hex(32).encode())
    return path.read_bytes().strip()
