"""Every auth setting, declared once on the field it fills, with its default and help (the README table's source)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from functions.core.settings_schema import Setting, non_negative_float, one_of, positive_int, read_settings, setting, settings_of


def positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError("must be a number above zero")
    return value


@dataclass(frozen=True)
class AuthConfig:
    auth_type: str = setting(
        "AUTH_TYPE", "anonymous",
        "Who may read dumps: anonymous (everyone), ckan (ask the portal) or jwt (signed bearer tokens).",
        one_of("anonymous", "ckan", "jwt"))
    ckan_url: str = setting(
        "CKAN_URL", "", "Base URL of the CKAN portal deciding access when AUTH_TYPE=ckan, e.g. https://data.example.org.")
    ckan_timeout_seconds: float = setting(
        "CKAN_TIMEOUT_SECONDS", "5", "Seconds to wait for the CKAN portal before answering 503.", positive_float)
    jwt_secret: str = setting(
        "JWT_SECRET", "", "HS256 secret (32+ bytes) that bearer JWTs are signed with; set this or JWT_PUBLIC_KEY.",
        secret=True)
    jwt_public_key: str = setting(
        "JWT_PUBLIC_KEY", "", "RSA (RS256) or P-256 (ES256) public key, as PEM text or a file path; or set JWT_SECRET.")
    jwt_audience: str = setting(
        "JWT_AUDIENCE", "", "Required `aud` of bearer JWTs; empty accepts only tokens without an audience.")
    jwt_issuer: str = setting("JWT_ISSUER", "", "Required `iss` of bearer JWTs; empty skips the issuer check.")
    jwt_resources_claim: str = setting(
        "JWT_RESOURCES_CLAIM", "resources", 'JWT claim listing the readable resource ids; "*" in it allows all.')
    cache_ttl_seconds: float = setting(
        "AUTH_CACHE_TTL_SECONDS", "60",
        "Seconds a CKAN decision is remembered (denials at most 10 s); 0 disables the cache.", non_negative_float)
    cache_max_entries: int = setting(
        "AUTH_CACHE_MAX_ENTRIES", "10000",
        "Most access decisions remembered per process; the least recently used go first.", positive_int)


AUTH_SETTINGS: tuple[Setting, ...] = settings_of(AuthConfig)


def load_auth_config(env: Mapping[str, str]) -> AuthConfig:
    return read_settings(AuthConfig, env)
