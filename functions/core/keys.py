"""One key per purpose, derived from the one configured secret (HKDF-Expand, RFC 5869, one block).

A key that leaks from one use (a worker header seen by a proxy, say) then opens nothing else:
the derivation is one-way, and each purpose has its own label.
"""

from __future__ import annotations

import hashlib
import hmac

DOWNLOAD_SIGNATURES = "bqdump download signatures v1"
STREAM_TOKENS = "bqdump stream tokens v1"
WORKER_DOOR = "bqdump worker door v1"
PURPOSES = (DOWNLOAD_SIGNATURES, STREAM_TOKENS, WORKER_DOOR)


def derive(secret: bytes, purpose: str) -> bytes:
    """32 bytes: HMAC-SHA256(PRK, label || 0x01), the PRK being HMAC-SHA256 with a fixed salt (HKDF-Extract)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}")
    if not secret:
        raise ValueError("an empty secret derives no key")
    prk = hmac.new(b"bqdump", secret, hashlib.sha256).digest()
    return hmac.new(prk, purpose.encode() + b"\x01", hashlib.sha256).digest()


def worker_door_secret(secret: bytes) -> str:
    """What a local caller sends in X-Worker-Secret: printable, and useless for signing anything."""
    return derive(secret, WORKER_DOOR).hex()
