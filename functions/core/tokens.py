"""HMAC tokens: the streaming function's access token and the locally signed object URLs."""

from __future__ import annotations

import base64
import hashlib
import hmac

from functions.core.errors import Forbidden


def signature(secret: bytes, *parts: str) -> str:
    mac = hmac.new(secret, "\n".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def stream_token(secret: bytes, resource_id: str, fmt: str, rev: str, expires: int) -> str:
    """Bound to (rid, format, rev) and an expiry, so it opens exactly one published export, briefly."""
    return f"{expires}.{signature(secret, 'stream', resource_id, fmt, rev, str(expires))}"


def check_stream_token(secret: bytes, token: str, resource_id: str, fmt: str, rev: str, now: float) -> None:
    expires_text, _, given = (token or "").partition(".")
    if not expires_text.isdigit() or not given:
        raise _refused("The download token is missing or malformed.")
    expected = signature(secret, "stream", resource_id, fmt, rev, expires_text)
    if not hmac.compare_digest(expected, given):
        raise _refused("The download token does not match this resource, format and revision.")
    if int(expires_text) < now:
        raise _refused("The download token has expired.")


def check_signature(secret: bytes, given: str, expires: int, now: float, *parts: str) -> None:
    if not hmac.compare_digest(signature(secret, *parts), given or ""):
        raise _refused("The URL signature is not valid.")
    if expires < now:
        raise _refused("The signed URL has expired.")


def _refused(message: str) -> Forbidden:
    return Forbidden(message, "Request the dump URL again (/datastore/dump/<resource_id>) to get a fresh link.")
