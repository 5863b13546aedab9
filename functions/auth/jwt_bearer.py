"""Verify bearer JWTs locally, so no call leaves the process; the token itself lists what it may read."""

from __future__ import annotations

from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from functions.auth.refusals import invalid_token, not_public, token_refused
from functions.ports import Caller

ALL_RESOURCES = "*"
_SEND = "Send a JWT from your identity provider as `Authorization: Bearer <token>`."
_FRESH = "Get a new token from your identity provider and retry."


VerifyingKey = bytes | RSAPublicKey | EllipticCurvePublicKey  # HS256's secret, or an RS256/ES256 public key


@dataclass(frozen=True)
class JwtPolicy:
    key: VerifyingKey
    algorithms: tuple[str, ...]
    audience: str | None
    issuer: str | None
    resources_claim: str


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class JwtAuthorizer:
    name = "jwt"

    def __init__(self, policy: JwtPolicy):
        self.policy = policy

    def authorize(self, caller: Caller, resource_id: str, now: float) -> None:
        if caller.credential is None:
            raise not_public(_SEND)
        claims = self._verified_claims(caller.credential, now)
        granted = claims.get(self.policy.resources_claim)
        if isinstance(granted, str):
            granted = [granted]
        if not isinstance(granted, list) or not all(isinstance(item, str) for item in granted):
            raise token_refused(
                resource_id,
                f"the token has no list claim `{self.policy.resources_claim}`",
                "Ask your identity provider for a token that lists this resource.",
            )
        if ALL_RESOURCES not in granted and resource_id not in granted:
            raise token_refused(
                resource_id,
                f"its `{self.policy.resources_claim}` claim does not list this resource",
                "Ask your identity provider for a token that lists this resource.",
            )

    def _verified_claims(self, token: str, now: float) -> dict:
        """Signature, aud and iss by pyjwt; exp and nbf here, against the `now` we were given."""
        policy = self.policy
        required = ["exp"] + (["aud"] if policy.audience else []) + (["iss"] if policy.issuer else [])
        try:
            claims = jwt.decode(
                token,
                key=policy.key,
                algorithms=list(policy.algorithms),
                audience=policy.audience,
                issuer=policy.issuer,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "require": required},
            )
        except jwt.InvalidAlgorithmError:
            hint = f"Sign tokens with {', '.join(policy.algorithms)}."
            raise invalid_token("signing algorithm not accepted", hint) from None
        except jwt.InvalidSignatureError:
            raise invalid_token("bad signature", "Use a token signed by the configured issuer key.") from None
        except jwt.InvalidAudienceError:
            wanted = f"audience {policy.audience}" if policy.audience else "no audience (JWT_AUDIENCE is not set)"
            raise invalid_token("wrong audience", f"Use a token issued for {wanted}.") from None
        except jwt.InvalidIssuerError:
            raise invalid_token("wrong issuer", f"Use a token issued by {policy.issuer}.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise invalid_token(f"missing claim {exc.claim}", _FRESH) from None
        except jwt.InvalidTokenError:
            raise invalid_token("not a valid JWT", _SEND) from None
        exp, nbf = claims["exp"], claims.get("nbf")
        if not _number(exp) or (nbf is not None and not _number(nbf)):
            raise invalid_token("exp or nbf is not a number", _FRESH)
        if now >= exp:
            raise invalid_token("expired", _FRESH)
        if nbf is not None and now < nbf:
            raise invalid_token("not yet valid", "Check the clock of the token issuer, or retry later.")
        return claims
