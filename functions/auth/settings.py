"""Every auth setting, declared once on the field it fills (the README table's source), and the checked,
parsed form the authorizer is built from: a bad combination fails in `functions.settings.load_settings`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from functions.auth.jwt_bearer import JwtPolicy, VerifyingKey
from functions.core.errors import ConfigurationError
from functions.core.settings_schema import Setting, non_negative_float, one_of, positive_int, read_settings, setting, settings_of

MIN_HMAC_SECRET_BYTES = 32
MIN_RSA_BITS = 2048


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


@dataclass(frozen=True)
class CkanAccess:
    """AUTH_TYPE=ckan: the portal to ask, and how long its answers are remembered."""

    url: str
    timeout_seconds: float
    cache_ttl_seconds: float
    cache_max_entries: int


@dataclass(frozen=True)
class AuthSettings:
    """The checked auth configuration: `jwt` is set exactly when kind is jwt, `ckan` exactly when it is ckan."""

    kind: str
    jwt: JwtPolicy | None
    ckan: CkanAccess | None


def load_auth_settings(env: Mapping[str, str]) -> AuthSettings:
    """Every auth setting read and checked now, including the ones AUTH_TYPE makes required."""
    config = read_settings(AuthConfig, env)
    if config.auth_type == "jwt":
        return AuthSettings("jwt", _jwt_policy(config), None)
    if config.auth_type == "ckan":
        url = config.ckan_url.strip()
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            help_text = next(s.help for s in AUTH_SETTINGS if s.name == "CKAN_URL")
            raise ConfigurationError(f"CKAN_URL must be the portal's http(s) URL when AUTH_TYPE=ckan; {help_text}")
        return AuthSettings("ckan", None, CkanAccess(url, config.ckan_timeout_seconds, config.cache_ttl_seconds,
                                                     config.cache_max_entries))
    return AuthSettings("anonymous", None, None)


def _jwt_policy(config: AuthConfig) -> JwtPolicy:
    secret, public_key = config.jwt_secret, config.jwt_public_key.strip()
    if bool(secret) == bool(public_key):
        raise ConfigurationError(
            "AUTH_TYPE=jwt needs exactly one of JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256/ES256)."
        )
    key: VerifyingKey
    algorithms: tuple[str, ...]
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


def _public_key(value: str) -> tuple[VerifyingKey, tuple[str, ...]]:
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
