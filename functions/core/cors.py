"""CORS headers for browser clients, from the `CORS_ORIGINS` setting, for every answer and for preflights.

`CORS_ORIGINS` lists origins separated by spaces and/or commas (CKAN's `ckan.cors.origin_whitelist` is
space-separated), or is `*` for any origin (CKAN's `ckan.cors.origin_allow_all`, answered with `*`).
Empty: no CORS headers at all. Like CKAN, no `Access-Control-Allow-Credentials`: the dump authenticates with
a header, not cookies, so a browser needs no credentialed request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from functions.core.errors import ConfigurationError

_ORIGIN = re.compile(r"(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?")
METHODS = ("GET", "HEAD", "OPTIONS")
# What a browser may send: the auth header(s), conditional/range requests, and Prefer (respond-async: a 202 at once
# instead of the follow redirect). Redirect-only answers need no more.
REQUEST_HEADERS = ("Authorization", "Range", "If-None-Match", "If-Modified-Since", "If-Range", "Prefer")
# What a script may read from an answer: where to go (302), when to retry (202/503), and download metadata.
EXPOSED_HEADERS = ("Location", "Retry-After", "ETag", "Content-Length", "Content-Range", "Content-Disposition",
                   "Accept-Ranges")
PREFLIGHT_MAX_AGE_S = 3600


@dataclass(frozen=True)
class CorsPolicy:
    origins: frozenset[str] = frozenset()
    allow_all: bool = False
    request_headers: tuple[str, ...] = REQUEST_HEADERS

    @classmethod
    def from_setting(cls, raw: str | None, auth_headers: tuple[str, ...] = ()) -> "CorsPolicy":
        """`auth_headers`: extra request header names the authorizer reads (e.g. CKAN's API token header)."""
        entries = [entry for entry in re.split(r"[\s,]+", raw or "") if entry]
        headers = tuple(dict.fromkeys(REQUEST_HEADERS + tuple(auth_headers)))
        if entries == ["*"]:
            return cls(frozenset(), True, headers)
        if "*" in entries:
            raise ConfigurationError("CORS_ORIGINS mixes '*' with origins: use '*' alone, or list the origins.")
        origins = set()
        for entry in entries:
            origin = entry.rstrip("/").lower()
            if not _ORIGIN.fullmatch(origin):
                raise ConfigurationError(f"CORS_ORIGINS holds {entry!r}, which is not an origin "
                                         "(scheme://host[:port], e.g. https://data.example.org).")
            origins.add(origin)
        return cls(frozenset(origins), False, headers)

    @property
    def enabled(self) -> bool:
        return self.allow_all or bool(self.origins)

    def allowed_origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for this Origin, or None when it is not allowed."""
        if not origin or not self.enabled:
            return None
        if self.allow_all:
            return "*"
        return origin if origin.lower() in self.origins else None

    def response_headers(self, origin: str | None) -> dict[str, str]:
        """For every answer (302, 202, 304, errors): a browser script may read it, and redirects are followed."""
        headers = {} if self.allow_all or not self.enabled else {"Vary": "Origin"}
        allowed = self.allowed_origin(origin)
        if allowed:
            headers["Access-Control-Allow-Origin"] = allowed
            headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
        return headers

    def preflight_headers(self, origin: str | None, method: str | None, request_headers: str | None) -> dict[str, str]:
        """For OPTIONS: the allowed methods and headers, or only `Vary` when the origin or the ask is not allowed
        (the browser then refuses the real request; the answer itself stays a plain 204)."""
        headers = {} if self.allow_all or not self.enabled else {"Vary": "Origin"}
        allowed = self.allowed_origin(origin)
        asked = [h.strip().lower() for h in (request_headers or "").split(",") if h.strip()]
        known = {h.lower() for h in self.request_headers}
        if not allowed or (method or "").upper() not in METHODS or any(h not in known for h in asked):
            return headers
        headers.update({
            "Access-Control-Allow-Origin": allowed,
            "Access-Control-Allow-Methods": ", ".join(METHODS),
            "Access-Control-Allow-Headers": ", ".join(self.request_headers),
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
        })
        return headers
