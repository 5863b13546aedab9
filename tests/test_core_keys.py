"""One key per purpose: HKDF-SHA256 of the configured secret, a distinct label per use."""

from datetime import datetime, timezone

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from functions.adapters.local.signer import LocalUrlSigner
from functions.core import keys, tokens


def test_each_key_is_rfc_5869_hkdf_sha256_of_the_secret_with_its_label():
    for purpose in keys.PURPOSES:
        expected = HKDF(hashes.SHA256(), 32, salt=b"bqdump", info=purpose.encode()).derive(b"the secret")
        assert keys.derive(b"the secret", purpose) == expected


def test_purposes_and_secrets_give_distinct_keys_and_none_is_the_secret():
    derived = {keys.derive(secret, purpose) for secret in (b"a", b"b") for purpose in keys.PURPOSES}
    assert len(derived) == 6 and b"a" not in derived and b"b" not in derived
    assert keys.worker_door_secret(b"a") == keys.derive(b"a", keys.WORKER_DOOR).hex()


@pytest.mark.parametrize("secret,purpose", [(b"", keys.STREAM_TOKENS), (b"s", "anything else")])
def test_an_empty_secret_or_an_unknown_purpose_derives_nothing(secret, purpose):
    with pytest.raises(ValueError):
        keys.derive(secret, purpose)


def test_the_local_app_uses_a_different_key_for_each_door(make_app, serve):
    app = make_app()
    live = serve(app)
    raw = b"test-secret"  # DUMP_TOKEN_SECRET in tests/conftest.py
    assert app.backend.stream_key == keys.derive(raw, keys.STREAM_TOKENS)
    link = {"filename": "f.csv", "content_type": "text/csv", "base_url": "http://h/",
            "expires_at": datetime(2030, 1, 1, tzinfo=timezone.utc)}
    signed_by_download_key = LocalUrlSigner(keys.derive(raw, keys.DOWNLOAD_SIGNATURES)).sign("o", **link)
    assert app.backend.read_write.signer.sign("o", **link) == signed_by_download_key
    token = tokens.stream_token(raw, "small", "csv", "abc", 2**40)  # signed with the configured secret itself
    answer = requests.get(f"{live.url}/stream/small", params={"rev": "abc", "token": token}, timeout=30)
    assert answer.status_code == 403
    for sent in ("test-secret", keys.derive(raw, keys.STREAM_TOKENS).hex()):
        refused = requests.post(f"{live.url}/tasks/export", json={}, headers={"X-Worker-Secret": sent}, timeout=30)
        assert refused.status_code == 403
    accepted = requests.post(f"{live.url}/tasks/export", json={}, timeout=30,
                             headers={"X-Worker-Secret": keys.worker_door_secret(raw)})
    assert accepted.status_code == 200 and accepted.json()["status"] == "rejected"  # past the door: an empty task
    expires = int(datetime(2100, 1, 1, tzinfo=timezone.utc).timestamp())
    query = {"expires": expires, "filename": "x.csv", "type": "text/csv"}
    forged = tokens.signature(raw, "object", "dumps/x", "x.csv", "text/csv", str(expires))
    genuine = tokens.signature(keys.derive(raw, keys.DOWNLOAD_SIGNATURES), "object", "dumps/x", "x.csv", "text/csv",
                               str(expires))
    answers = {sig: requests.get(f"{live.url}/_objects/dumps/x", params={**query, "signature": sig}, timeout=30)
               for sig in (forged, genuine)}
    assert answers[forged].status_code == 403
    assert answers[genuine].status_code == 404  # past the signature check: no such object
