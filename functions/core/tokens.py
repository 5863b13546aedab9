"""HMAC tokens: the streaming function's access token and the locally signed object URLs."""

from __future__ import annotations

import base64
import hashlib
import hmac

from functions.core.errors import Forbidden


def signature(secret: bytes, *parts: str) -> str:
    mac = hmac.new(secret, "\n".join(parts).encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def stream_token(secret: bytes, resource_id: str, fmt: str, rev: str, expires: int) -> str:
    """Bound to (rid, format, rev) and an expiry, so it opens exactly one published export, briefly."""
    return f"{expires}.{signature(secret, 'stream', resource_id, fmt, rev, str(expires))}"


MAX_EXPIRY_DIGITS = 12  # seconds since 1970: enough until the year 33658


def expiry(text: str | None) -> int | None:
    """An expiry as written by this code: 1 to 12 ASCII digits. Anything else (Unicode digits, 5,000 digits) is None."""
    if not text or len(text) > MAX_EXPIRY_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def same(expected: str, given: str | None) -> bool:
    """Constant-time comparison of any text: compare_digest refuses non-ASCII str, so compare UTF-8 bytes."""
    return hmac.compare_digest(expected.encode(), (given or "").encode("utf-8", "surrogatepass"))


def check_stream_token(secret: bytes, token: str, resource_id: str, fmt: str, rev: str, now: float) -> None:
    _check(secret, token, now, "format and revision", "stream", resource_id, fmt, rev)


def follow_token(secret: bytes, resource_id: str, variant_key: str, rev: str, attempt: int, expires: int) -> str:
    """Bound to one attempt of one export (the variant's key names its query): a follower waits for exactly that
    attempt, and the token cannot open another export or attempt. Its own purpose, so it is no stream token."""
    return f"{expires}.{signature(secret, 'follow', resource_id, variant_key, rev, str(attempt), str(expires))}"


def check_follow_token(secret: bytes, token: str, resource_id: str, variant_key: str, rev: str, attempt: int,
                       now: float) -> None:
    _check(secret, token, now, "format, revision and attempt", "follow", resource_id, variant_key, rev, str(attempt))


def _check(secret: bytes, token: str, now: float, bound_to: str, *parts: str) -> None:
    expires_text, _, given = (token or "").partition(".")
    expires = expiry(expires_text)
    if expires is None or not given:
        raise _refused("The download token is missing or malformed.")
    if not same(signature(secret, *parts, expires_text), given):
        raise _refused(f"The download token does not match this resource, {bound_to}.")
    if expires < now:
        raise _refused("The download token has expired.")


def check_signature(secret: bytes, given: str | None, expires_text: str | None, now: float, *parts: str) -> None:
    """`parts` are what was signed; the expiry text is checked here, so a caller passes it on as received."""
    expires = expiry(expires_text)
    if expires is None:
        raise _refused("The signed URL has no valid expiry.")
    if not same(signature(secret, *parts), given):
        raise _refused("The URL signature is not valid.")
    if expires < now:
        raise _refused("The signed URL has expired.")


def _refused(message: str) -> Forbidden:
    return Forbidden(message, "Request the dump URL again (/datastore/dump/<resource_id>) to get a fresh link.")
