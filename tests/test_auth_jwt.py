"""Bearer JWTs verified locally: each way a token can be wrong is refused, and `now` is the only clock."""

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.auth import authorizer_from
from functions.http import status_of
from functions.core.errors import Forbidden, Unauthorized
from functions.ports import Caller

NOW = 1_000_000_000.0  # 2001: pyjwt's own clock would call every token here expired
SECRET = "s" * 40
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def pem(private_key) -> str:
    public = private_key.public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def claims(**overrides):
    base = {"exp": NOW + 300, "aud": "bqdump", "iss": "https://idp.example", "resources": ["r1", "r2"]}
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def hs_token(secret=SECRET, **overrides):
    return jwt.encode(claims(**overrides), secret, algorithm="HS256")


def authorizer(**env):
    base = {"AUTH_TYPE": "jwt", "JWT_AUDIENCE": "bqdump", "JWT_ISSUER": "https://idp.example"}
    return authorizer_from({**base, **env} if env else {**base, "JWT_SECRET": SECRET})


def refusal(kind, token, resource_id="r1", now=NOW, **env):
    with pytest.raises(kind) as caught:
        authorizer(**env).authorize(Caller(token), resource_id, now)
    return caught.value


def test_listed_resource_is_readable():
    authorizer().authorize(Caller(hs_token()), "r2", NOW)


def test_star_allows_every_resource():
    authorizer().authorize(Caller(hs_token(resources=["*"])), "anything", NOW)


def test_unlisted_resource_is_403():
    error = refusal(Forbidden, hs_token(), resource_id="r9")
    assert status_of(error) == 403 and "r9" in error.message and "resources" in error.message


def test_missing_or_malformed_resources_claim_is_403():
    refusal(Forbidden, hs_token(resources=None))
    refusal(Forbidden, hs_token(resources={"r1": True}))


def test_claim_name_is_configurable():
    token = jwt.encode(claims(resources=None, datasets=["r1"]), SECRET, algorithm="HS256")
    authorizer(JWT_SECRET=SECRET, JWT_RESOURCES_CLAIM="datasets", JWT_AUDIENCE="bqdump",
               JWT_ISSUER="https://idp.example").authorize(Caller(token), "r1", NOW)  # fmt: skip


def test_missing_token_is_401_with_a_challenge():
    error = refusal(Unauthorized, None)
    assert error.headers["WWW-Authenticate"] == 'Bearer realm="bqdump"'


@pytest.mark.parametrize(
    "token, why",
    [
        (hs_token(secret="x" * 40), "bad signature"),
        (hs_token(exp=NOW), "expired"),
        (hs_token(exp=None), "missing claim exp"),
        (hs_token(nbf=NOW + 1), "not yet valid"),
        (hs_token(aud="someone-else"), "wrong audience"),
        (hs_token(aud=None), "missing claim aud"),
        (hs_token(iss="https://evil.example"), "wrong issuer"),
        (hs_token(exp="tomorrow"), "exp or nbf is not a number"),
        (jwt.encode(claims(), None, algorithm="none"), "signing algorithm not accepted"),
        ("not-a-jwt", "not a valid JWT"),
    ],
    ids=["signature", "expired", "no-exp", "nbf", "aud", "no-aud", "iss", "exp-type", "alg-none", "garbage"],
)
def test_each_invalid_token_is_401_invalid_token(token, why):
    error = refusal(Unauthorized, token)
    assert error.message == f"The bearer token was refused: {why}."
    assert 'error="invalid_token"' in error.headers["WWW-Authenticate"]


def test_time_comes_from_now_not_the_wall_clock():
    token = hs_token(exp=NOW + 60, nbf=NOW - 60)
    authorizer().authorize(Caller(token), "r1", NOW + 59)
    refusal(Unauthorized, token, now=NOW + 60)
    refusal(Unauthorized, token, now=NOW - 61)


def test_rs256_with_public_key_pem_text_or_file(tmp_path):
    token = jwt.encode(claims(), RSA_KEY, algorithm="RS256")
    authorizer(JWT_PUBLIC_KEY=pem(RSA_KEY)).authorize(Caller(token), "r1", NOW)
    (tmp_path / "key.pem").write_text(pem(RSA_KEY))
    authorizer(JWT_PUBLIC_KEY=str(tmp_path / "key.pem")).authorize(Caller(token), "r1", NOW)
    escaped = pem(RSA_KEY).replace("\n", "\\n")
    authorizer(JWT_PUBLIC_KEY=escaped).authorize(Caller(token), "r1", NOW)


def test_es256_with_a_p256_key():
    token = jwt.encode(claims(), EC_KEY, algorithm="ES256")
    authorizer(JWT_PUBLIC_KEY=pem(EC_KEY)).authorize(Caller(token), "r1", NOW)
    refusal(Unauthorized, jwt.encode(claims(), RSA_KEY, algorithm="RS256"), JWT_PUBLIC_KEY=pem(EC_KEY))


def test_hs256_signed_with_the_public_key_is_refused():
    """Algorithm confusion: the public key is public, so anyone could forge this HMAC."""
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    signature = hmac.new(pem(RSA_KEY).encode(), header + b"." + body, hashlib.sha256).digest()
    forged = (header + b"." + body + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()
    error = refusal(Unauthorized, forged, JWT_PUBLIC_KEY=pem(RSA_KEY))
    assert error.message == "The bearer token was refused: signing algorithm not accepted."


def test_rs256_token_is_refused_when_only_a_secret_is_configured():
    token = jwt.encode(claims(), RSA_KEY, algorithm="RS256")
    assert "not accepted" in refusal(Unauthorized, token).message


def test_audience_and_issuer_checks_are_off_when_unset():
    token = hs_token(aud=None, iss=None)
    hs256 = authorizer_from({"AUTH_TYPE": "jwt", "JWT_SECRET": SECRET})
    hs256.authorize(Caller(token), "r1", NOW)
    with pytest.raises(Unauthorized, match="wrong audience"):
        hs256.authorize(Caller(hs_token()), "r1", NOW)


def test_refusals_never_echo_the_token():
    token = hs_token(secret="x" * 40)
    error = refusal(Unauthorized, token)
    assert token not in repr(error) + str(error.body()) + str(error.headers)
