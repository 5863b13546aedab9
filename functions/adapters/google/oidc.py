"""Who may call the worker (and pre-warm): Google-signed OIDC tokens for one audience and one service account."""

from __future__ import annotations

from typing import Mapping

from google.auth import exceptions as auth_errors

from functions.core.errors import Unauthorized, Unavailable

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
CLOCK_SKEW_SECONDS = 10  # a token's times are checked this leniently


class OidcCallerCheck:
    """`check(headers)` returns for a valid token and raises Unauthorized (401) otherwise; `service_account`:
    the one identity whose tokens are accepted ("": any Google-issued token for the audience)."""

    def __init__(self, audience: str, service_account: str, certs_url: str):
        self.audience = audience
        self.service_account = service_account
        self.certs_url = certs_url

    def __call__(self, headers: Mapping[str, str]) -> None:
        self.check(headers)

    def check(self, headers: Mapping[str, str]) -> dict:
        from google.auth import jwt
        from google.auth.transport.requests import Request
        from google.oauth2 import id_token

        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _refused("The call carries no bearer token.")
        try:
            jwt.decode(token.strip(), verify=False)  # a malformed token is refused without fetching certificates
        except (ValueError, auth_errors.GoogleAuthError) as exc:
            raise _refused(f"The token is not a JWT: {exc}") from None
        try:
            claims = id_token.verify_token(token.strip(), Request(), audience=self.audience, certs_url=self.certs_url,
                                           clock_skew_in_seconds=CLOCK_SKEW_SECONDS)
        except auth_errors.TransportError as exc:
            raise Unavailable("Google's token certificates could not be fetched.", "Cloud Tasks will retry.") from exc
        except (ValueError, auth_errors.GoogleAuthError) as exc:
            raise _refused(f"The token is not valid here: {exc}") from None
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise _refused("The token was not issued by Google.")
        if self.service_account and (claims.get("email") != self.service_account or not claims.get("email_verified")):
            raise _refused("The token belongs to another identity.")
        return dict(claims)


def _refused(message: str) -> Unauthorized:
    return Unauthorized(message, "Only Cloud Tasks (with the configured service account's OIDC token) may call this.",
                        headers={"WWW-Authenticate": 'Bearer realm="bqdump-worker"'})
