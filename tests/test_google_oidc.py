"""The worker's caller check: Google OIDC tokens, verified against a throwaway certificate set served locally."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from google.auth import crypt, jwt

from functions.adapters.google.oidc import OidcCallerCheck
from functions.http import status_of
from functions.core.errors import Unauthorized, Unavailable
from tests.contract import keys
from tests.support.servers import ServerThread

AUDIENCE = "https://bqdump-export-worker-123.europe-west1.run.app"
TASKS_EMAIL = "bqdump-tasks@test-project.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def key():
    return keys.new_key()


@pytest.fixture(scope="module")
def certs_url(key):
    certs = json.dumps({"kid-1": keys.certificate_pem(key)}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(certs)))
            self.end_headers()
            self.wfile.write(certs)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    running = ServerThread(server, "certs")
    yield f"{running.url}/oauth2/v1/certs"
    running.stop()


def token(key, **claims) -> str:
    now = int(time.time())
    payload = {"iss": "https://accounts.google.com", "aud": AUDIENCE, "email": TASKS_EMAIL, "email_verified": True,
               "sub": "1234", "iat": now, "exp": now + 3600}
    payload.update(claims)
    signer = crypt.RSASigner.from_string(keys.private_pem(key), key_id="kid-1")
    return jwt.encode(signer, payload).decode()


def bearer(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}


def test_a_good_token_passes_and_answers_its_claims(key, certs_url):
    check = OidcCallerCheck(AUDIENCE, TASKS_EMAIL, certs_url)
    assert check.check(bearer(token(key)))["email"] == TASKS_EMAIL
    check(bearer(token(key)))  # the Services hook form


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "},
                                     {"Authorization": "Bearer not.a.jwt"}])
def test_missing_or_malformed_tokens_are_refused(headers, certs_url):
    with pytest.raises(Unauthorized) as caught:
        OidcCallerCheck(AUDIENCE, TASKS_EMAIL, certs_url).check(headers)
    assert status_of(caught.value) == 401 and caught.value.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("claims,why", [
    ({"aud": "https://someone-else.run.app"}, "audience"),
    ({"email": "intruder@test-project.iam.gserviceaccount.com"}, "another identity"),
    ({"email_verified": False}, "another identity"),
    ({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, "expired"),
    ({"iss": "https://evil.example"}, "not issued by Google"),
])
def test_wrong_tokens_are_refused(key, certs_url, claims, why):
    with pytest.raises(Unauthorized, match=f"(?i){why}"):
        OidcCallerCheck(AUDIENCE, TASKS_EMAIL, certs_url).check(bearer(token(key, **claims)))


def test_a_token_signed_by_another_key_is_refused(certs_url):
    with pytest.raises(Unauthorized):
        OidcCallerCheck(AUDIENCE, TASKS_EMAIL, certs_url).check(bearer(token(keys.new_key())))


def test_any_google_identity_passes_when_no_service_account_is_configured(key, certs_url):
    claims = OidcCallerCheck(AUDIENCE, "", certs_url).check(bearer(token(key, email="other@x.iam.gserviceaccount.com")))
    assert claims["aud"] == AUDIENCE


def test_unreachable_certificates_are_unavailable_not_unauthorized(key):
    with pytest.raises(Unavailable):
        OidcCallerCheck(AUDIENCE, TASKS_EMAIL, "http://127.0.0.1:9/certs").check(bearer(token(key)))
