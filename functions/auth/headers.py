"""Read the caller's credential from request headers, without ever logging or echoing it."""

from __future__ import annotations

from typing import Mapping

from functions.ports import Caller


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted and value and value.strip():
            return value.strip()
    return ""


def caller_from_headers(headers: Mapping[str, str]) -> Caller:
    """`Authorization: Bearer <t>` or a raw `Authorization: <t>` win over `X-CKAN-API-Key: <t>`.

    Another scheme (Basic, Digest) is not a CKAN token, so it counts as no credential.
    """
    authorization = _header(headers, "Authorization")
    if authorization:
        scheme, _, rest = authorization.partition(" ")
        if not rest:
            return Caller(scheme)
        if scheme.lower() == "bearer" and rest.strip():
            return Caller(rest.strip())
    api_key = _header(headers, "X-CKAN-API-Key")
    return Caller(api_key or None)
