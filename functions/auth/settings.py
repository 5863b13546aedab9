"""Every auth setting, declared once with its default and help, so the README table can be checked."""

from __future__ import annotations

from functions.core.settings_schema import Setting, non_negative_float, one_of, positive_int


def positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError("must be a number above zero")
    return value


AUTH_TYPE = Setting(
    "AUTH_TYPE", "anonymous",
    "Who may read dumps: anonymous (everyone), ckan (ask the portal) or jwt (signed bearer tokens).",
    one_of("anonymous", "ckan", "jwt"),
)  # fmt: skip
CKAN_URL = Setting(
    "CKAN_URL", "", "Base URL of the CKAN portal deciding access when AUTH_TYPE=ckan, e.g. https://data.example.org."
)  # fmt: skip
CKAN_TIMEOUT_SECONDS = Setting(
    "CKAN_TIMEOUT_SECONDS", "5", "Seconds to wait for the CKAN portal before answering 503.", positive_float
)  # fmt: skip
JWT_SECRET = Setting(
    "JWT_SECRET", "", "HS256 secret (32+ bytes) that bearer JWTs are signed with; set this or JWT_PUBLIC_KEY.",
    secret=True,
)  # fmt: skip
JWT_PUBLIC_KEY = Setting(
    "JWT_PUBLIC_KEY", "", "RSA (RS256) or P-256 (ES256) public key, as PEM text or a file path; or set JWT_SECRET."
)  # fmt: skip
JWT_AUDIENCE = Setting(
    "JWT_AUDIENCE", "", "Required `aud` of bearer JWTs; empty accepts only tokens without an audience."
)  # fmt: skip
JWT_ISSUER = Setting("JWT_ISSUER", "", "Required `iss` of bearer JWTs; empty skips the issuer check.")
JWT_RESOURCES_CLAIM = Setting(
    "JWT_RESOURCES_CLAIM", "resources", 'JWT claim listing the readable resource ids; "*" in it allows all.'
)  # fmt: skip
AUTH_CACHE_TTL_SECONDS = Setting(
    "AUTH_CACHE_TTL_SECONDS", "60",
    "Seconds a CKAN decision is remembered (denials at most 10 s); 0 disables the cache.",
    non_negative_float,
)  # fmt: skip
AUTH_CACHE_MAX_ENTRIES = Setting(
    "AUTH_CACHE_MAX_ENTRIES", "10000",
    "Most access decisions remembered per process; the least recently used go first.",
    positive_int,
)  # fmt: skip

AUTH_SETTINGS: tuple[Setting, ...] = (
    AUTH_TYPE, CKAN_URL, CKAN_TIMEOUT_SECONDS, JWT_SECRET, JWT_PUBLIC_KEY, JWT_AUDIENCE,
    JWT_ISSUER, JWT_RESOURCES_CLAIM, AUTH_CACHE_TTL_SECONDS, AUTH_CACHE_MAX_ENTRIES,
)  # fmt: skip
