"""Who may call the internal doors (the worker, pre-warming) when no OIDC token is there to say."""

from __future__ import annotations

import hmac
from typing import Callable, Mapping

from functions.core.errors import Forbidden


def secret_header_checker(header: str, secret: str, setting: str, fallback: str) -> Callable[[Mapping], None]:
    """The local stand-in for an OIDC check: the caller must send `secret` in `header`; no secret, no door."""

    def check(headers: Mapping[str, str]) -> None:
        if not secret:
            raise Forbidden("This endpoint is off over HTTP.", f"Set {setting} and send it in {header}, or {fallback}.")
        if not hmac.compare_digest(headers.get(header, "").encode(), secret.encode()):
            raise Forbidden(f"The {header} header is missing or wrong.", f"Send the value of {setting} in {header}.")

    return check
