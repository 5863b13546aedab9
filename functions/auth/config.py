"""Build the configured Authorizer at start-up, turning bad settings into errors that name them."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from functions.auth.cache import CachedAuthorizer, DecisionCache
from functions.auth.ckan import CkanAuthorizer
from functions.auth.jwt_bearer import JwtAuthorizer, JwtPolicy
from functions.auth.settings import AUTH_SETTINGS, AuthConfig
from functions.core.errors import ConfigurationError
from functions.ports import Authorizer, Caller

MIN_HMAC_SECRET_BYTES = 32
MIN_RSA_BITS = 2048


class AnonymousAuthorizer:
    """Everything is readable; the default, for portals whose DataStore is public anyway."""

    name = "anonymous"

    def authorize(self, caller: Caller, resource_id: str, now: float) -> None:
        return None


def build_authorizer(config: AuthConfig, http_session: requests.Session | None = None) -> Authorizer:
    if config.auth_type == "anonymous":
        return AnonymousAuthorizer()
    if config.auth_type == "jwt":
        return JwtAuthorizer(_jwt_policy(config))
    url = config.ckan_url.strip()
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        help_text = next(s.help for s in AUTH_SETTINGS if s.name == "CKAN_URL")
        raise ConfigurationError(f"CKAN_URL must be the portal's http(s) URL when AUTH_TYPE=ckan; {help_text}")
    provider = CkanAuthorizer(url, config.ckan_timeout_seconds, http_session or requests.Session())
    cache = DecisionCache(config.cache_max_entries)
    return CachedAuthorizer(provider, "ckan", config.cache_ttl_seconds, cache)


def _jwt_policy(config: AuthConfig) -> JwtPolicy:
    secret, public_key = config.jwt_secret, config.jwt_public_key.strip()
    if bool(secret) == bool(public_key):
        raise ConfigurationError(
            "AUTH_TYPE=jwt needs exactly one of JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256/ES256)."
        )
    if secret:
        if len(secret.encode()) < MIN_HMAC_SECRET_BYTES:
            raise ConfigurationError(
                f"JWT_SECRET is too short for HS256; use at least {MIN_HMAC_SECRET_BYTES} random bytes."
            )
        key, algorithms = secret.encode(), ("HS256",)
    else:
        key, algorithms = _public_key(public_key)
    return JwtPolicy(
        key=key,
        algorithms=algorithms,
        audience=config.jwt_audience.strip() or None,
        issuer=config.jwt_issuer.strip() or None,
        resources_claim=config.jwt_resources_claim.strip(),
    )


def _public_key(value: str) -> tuple[object, tuple[str, ...]]:
    """The algorithm follows from the key type, never from a token header."""
    if "-----BEGIN" not in value:
        try:
            value = Path(value).read_text()
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ConfigurationError(f"JWT_PUBLIC_KEY is neither PEM text nor a readable file ({reason}).") from None
    try:
        key = load_pem_public_key(value.replace("\\n", "\n").encode())
    except (ValueError, TypeError):
        message = "JWT_PUBLIC_KEY is not a valid PEM public key (-----BEGIN PUBLIC KEY-----)."
        raise ConfigurationError(message) from None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
        return key, ("RS256",)
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key, ("ES256",)
    wanted = f"an RSA key of {MIN_RSA_BITS}+ bits (RS256) or a P-256 EC key (ES256)"
    raise ConfigurationError(f"JWT_PUBLIC_KEY must be {wanted}.")
