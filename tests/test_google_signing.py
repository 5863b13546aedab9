"""V4 signed URLs: a throwaway key signs them locally; without a key, IAM signBlob (a fake one here) does."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import unquote, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from functions.adapters.google.signer import IAM_ENDPOINT, MAX_URL_SECONDS, GcsUrlSigner, url_lifetime_seconds
from functions.core.errors import Unavailable
from tests.contract import keys
from tests.support.fake_iam import FakeIam

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
OBJECT = "dumps/flights/csv/5f1e/1/part-000000000000.csv"


def test_lifetime_is_rounded_up_and_capped_at_seven_days():
    assert url_lifetime_seconds(NOW + timedelta(hours=1), NOW) == 3600
    assert url_lifetime_seconds(NOW + timedelta(seconds=10.2), NOW) == 11
    assert url_lifetime_seconds(NOW + timedelta(hours=168), NOW) == MAX_URL_SECONDS == 604_800
    assert url_lifetime_seconds(NOW + timedelta(days=30), NOW) == MAX_URL_SECONDS
    with pytest.raises(ValueError):
        url_lifetime_seconds(NOW - timedelta(seconds=1), NOW)


@pytest.fixture(scope="module")
def key():
    return keys.new_key()


def offline_client():
    return storage.Client(project="test-project", credentials=AnonymousCredentials())


def sign(signer, hours=1):
    now = datetime.now(timezone.utc)
    return signer.sign(OBJECT, filename="flights.csv", content_type="text/csv; charset=utf-8",
                       expires_at=now + timedelta(hours=hours), base_url="http://ignored.example/")


def test_a_private_key_signs_locally_and_the_signature_verifies(key):
    credentials = service_account.Credentials.from_service_account_info(keys.service_account_info(key))
    signer = GcsUrlSigner(offline_client, "exports-bucket", lambda: credentials, lambda: datetime.now(timezone.utc),
                          "", IAM_ENDPOINT)
    url = sign(signer, hours=2)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, unquote(parts.path)) == ("https", "storage.googleapis.com",
                                                                 f"/exports-bucket/{OBJECT}")
    params = keys.verify_v4_url(url, key.public_key())
    assert params["X-Goog-Expires"] in ("7199", "7200")  # our clock and the library's read a moment apart
    assert params["response-content-disposition"] == 'attachment; filename="flights.csv"'
    assert params["response-content-type"] == "text/csv; charset=utf-8"
    assert params["X-Goog-Credential"].startswith(keys.SIGNER_EMAIL + "/")
    assert params["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256" and params["X-Goog-SignedHeaders"] == "host"
    tampered = url.replace("flights.csv", "other.csv")
    with pytest.raises(InvalidSignature):
        keys.verify_v4_url(tampered, key.public_key())


def test_the_longest_lifetime_is_seven_days(key):
    credentials = service_account.Credentials.from_service_account_info(keys.service_account_info(key))
    signer = GcsUrlSigner(offline_client, "exports-bucket", lambda: credentials, lambda: datetime.now(timezone.utc),
                          "", IAM_ENDPOINT)
    params = keys.verify_v4_url(sign(signer, hours=168), key.public_key())
    assert int(params["X-Goog-Expires"]) in (604_799, 604_800)


@pytest.fixture
def fake_iam(key):
    iam = FakeIam(key)
    yield iam
    iam.close()


def test_without_a_private_key_iam_signblob_signs_as_the_signing_account(key, fake_iam):
    token_only = user_credentials.Credentials(token="runtime-access-token")  # like Cloud Run's: no key
    signer = GcsUrlSigner(offline_client, "exports-bucket", lambda: token_only, lambda: datetime.now(timezone.utc),
                          signing_email=keys.SIGNER_EMAIL, iam_endpoint=fake_iam.url)
    url = sign(signer)
    params = keys.verify_v4_url(url, key.public_key())
    assert params["X-Goog-Credential"].startswith(keys.SIGNER_EMAIL + "/")
    [(path, authorization, body)] = fake_iam.calls
    assert path == f"/v1/projects/-/serviceAccounts/{keys.SIGNER_EMAIL}:signBlob"
    assert authorization == "Bearer runtime-access-token"
    string_to_sign, _signature, _params = keys.v4_string_to_sign(url)
    assert keys.b64(string_to_sign.encode()) == body["payload"]


def test_a_key_for_another_account_than_the_signing_one_goes_through_iam(key, fake_iam):
    other = service_account.Credentials.from_service_account_info(
        keys.service_account_info(keys.new_key(), "someone-else@test-project.iam.gserviceaccount.com"))
    other.token = "someone-else-token"
    other.expiry = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(hours=1)
    signer = GcsUrlSigner(offline_client, "exports-bucket", lambda: other, lambda: datetime.now(timezone.utc),
                          signing_email=keys.SIGNER_EMAIL, iam_endpoint=fake_iam.url)
    keys.verify_v4_url(sign(signer), key.public_key())
    assert len(fake_iam.calls) == 1


def test_no_key_and_no_signing_account_is_explained():
    signer = GcsUrlSigner(offline_client, "exports-bucket", lambda: user_credentials.Credentials(token="t"),
                          lambda: datetime.now(timezone.utc), "", IAM_ENDPOINT)
    with pytest.raises(Unavailable, match="No service account email") as caught:
        sign(signer)
    assert "SIGNING_SERVICE_ACCOUNT" in caught.value.hint
