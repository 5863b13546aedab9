"""The decision cache in front of a real (stub) CKAN: fewer calls, never a wrong or leaked answer."""

import logging

import pytest

from tests.support.auth import authorizer_from
from functions.auth.cache import CachedAuthorizer, DecisionCache, decision_key
from functions.auth.decisions import Decision, encode_record
from functions.core.errors import Forbidden, NotFound, Unauthorized, Unavailable
from functions.ports import Caller

NOW = 1_700_000_000.0
TOKEN_A = "tok-a-0123456789abcdef-SECRET"
TOKEN_B = "tok-b-fedcba9876543210-SECRET"


def cached_ckan(url, ttl="60", max_entries="100"):
    env = {
        "AUTH_TYPE": "ckan",
        "CKAN_URL": url,
        "CKAN_TIMEOUT_SECONDS": "0.2",
        "AUTH_CACHE_TTL_SECONDS": ttl,
        "AUTH_CACHE_MAX_ENTRIES": max_entries,
    }
    authorizer = authorizer_from(env)
    assert isinstance(authorizer, CachedAuthorizer)
    return authorizer


def test_second_identical_request_does_not_call_ckan(ckan_stub):
    ckan_stub.behave("r1", "allowed", token=TOKEN_A)
    authorizer = cached_ckan(ckan_stub.url)
    assert authorizer.authorize(Caller(TOKEN_A), "r1", NOW) is None  # CKAN itself decided: the name says so
    assert authorizer.authorize(Caller(TOKEN_A), "r1", NOW + 30) == "ckan (cached)"  # for the request log
    assert ckan_stub.calls == 1 and authorizer.name == "ckan"


def test_allow_expires_after_the_ttl(ckan_stub):
    ckan_stub.behave("r1", "allowed", token=TOKEN_A)
    authorizer = cached_ckan(ckan_stub.url, ttl="60")
    authorizer.authorize(Caller(TOKEN_A), "r1", NOW)
    authorizer.authorize(Caller(TOKEN_A), "r1", NOW + 59.9)
    assert ckan_stub.calls == 1
    authorizer.authorize(Caller(TOKEN_A), "r1", NOW + 60)
    assert ckan_stub.calls == 2


def test_revoked_access_shows_once_the_allow_expires(ckan_stub):
    ckan_stub.behave("r1", "allowed", token=TOKEN_A)
    authorizer = cached_ckan(ckan_stub.url, ttl="60")
    authorizer.authorize(Caller(TOKEN_A), "r1", NOW)
    ckan_stub.behave("r1", "denied", token=TOKEN_A)
    with pytest.raises(Forbidden):
        authorizer.authorize(Caller(TOKEN_A), "r1", NOW + 61)


def test_denials_expire_sooner_and_keep_their_status(ckan_stub):
    ckan_stub.behave("r1", "denied")
    authorizer = cached_ckan(ckan_stub.url, ttl="60")
    for at in (NOW, NOW + 9.9):
        with pytest.raises(Unauthorized) as caught:
            authorizer.authorize(Caller(None), "r1", at)
        assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")
    assert ckan_stub.calls == 1
    ckan_stub.behave("r1", "allowed")
    authorizer.authorize(Caller(None), "r1", NOW + 10)
    assert ckan_stub.calls == 2


def test_not_found_is_cached_like_a_denial(ckan_stub):
    authorizer = cached_ckan(ckan_stub.url)
    for at in (NOW, NOW + 5):
        with pytest.raises(NotFound):
            authorizer.authorize(Caller(TOKEN_A), "nope", at)
    assert ckan_stub.calls == 1


def test_two_tokens_for_one_resource_never_share_an_entry(ckan_stub):
    ckan_stub.behave("r1", "denied").behave("r1", "allowed", token=TOKEN_A)
    authorizer = cached_ckan(ckan_stub.url)
    authorizer.authorize(Caller(TOKEN_A), "r1", NOW)
    with pytest.raises(Forbidden):
        authorizer.authorize(Caller(TOKEN_B), "r1", NOW)
    with pytest.raises(Unauthorized):
        authorizer.authorize(Caller(None), "r1", NOW)
    assert ckan_stub.requests == [("r1", TOKEN_A), ("r1", TOKEN_B), ("r1", None)]


def test_unavailable_is_never_cached(ckan_stub):
    ckan_stub.behave("r1", "garbage")
    authorizer = cached_ckan(ckan_stub.url)
    for _ in range(2):
        with pytest.raises(Unavailable):
            authorizer.authorize(Caller(TOKEN_A), "r1", NOW)
    assert ckan_stub.calls == 2 and len(authorizer.cache) == 0


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[:-3] + b"}}}",
        lambda raw: raw.replace(b'"forbidden"', b'"allow"'),
        lambda raw: b"not a record",
        lambda raw: None,
    ],
    ids=["truncated", "flipped-to-allow", "junk", "wrong-type"],
)
def test_a_corrupt_entry_is_a_miss_and_ckan_is_asked_again(ckan_stub, damage):
    ckan_stub.behave("r1", "denied", token=TOKEN_A)
    authorizer = cached_ckan(ckan_stub.url)
    with pytest.raises(Forbidden):
        authorizer.authorize(Caller(TOKEN_A), "r1", NOW)
    key = decision_key("ckan", TOKEN_A, "r1")
    authorizer.cache._entries[key] = damage(authorizer.cache._entries[key])
    with pytest.raises(Forbidden):
        authorizer.authorize(Caller(TOKEN_A), "r1", NOW + 1)
    assert ckan_stub.calls == 2


def test_a_valid_record_filed_under_another_key_is_corrupt():
    cache = DecisionCache(10)
    cache._entries["mine"] = encode_record("someone-else", Decision("allow"), NOW + 60)
    assert cache.get("mine", NOW) is None and len(cache) == 0


def test_the_cache_holds_only_hashes_never_the_credential(ckan_stub):
    ckan_stub.behave("r1", "allowed", token=TOKEN_A).behave("r2", "denied", token=TOKEN_A)
    authorizer = cached_ckan(ckan_stub.url)
    authorizer.authorize(Caller(TOKEN_A), "r1", NOW)
    with pytest.raises(Forbidden):
        authorizer.authorize(Caller(TOKEN_A), "r2", NOW)
    stored = b"".join(key.encode() + raw for key, raw in authorizer.cache._entries.items())
    assert len(authorizer.cache) == 2
    assert b"SECRET" not in stored and b"tok-a" not in stored
    assert decision_key("ckan", TOKEN_A, "r1").encode() in stored


def test_credentials_never_reach_the_logs(ckan_stub, caplog):
    caplog.set_level(logging.DEBUG)
    ckan_stub.behave("r1", "allowed", token=TOKEN_A).behave("r2", "garbage")
    authorizer = cached_ckan(ckan_stub.url)
    authorizer.authorize(Caller(TOKEN_A), "r1", NOW)
    authorizer.authorize(Caller(TOKEN_A), "r1", NOW)
    with pytest.raises(Unavailable) as caught:
        authorizer.authorize(Caller(TOKEN_A), "r2", NOW)
    authorizer.cache._entries[decision_key("ckan", TOKEN_A, "r1")] = b"junk"
    authorizer.authorize(Caller(TOKEN_A), "r1", NOW)
    assert "cached allow" in caplog.text and "unreadable entry" in caplog.text
    everything = caplog.text + repr(caught.value) + str(caught.value.body())
    assert "SECRET" not in everything and "tok-a" not in everything


def test_lru_bound_drops_the_least_recently_used(ckan_stub):
    for rid in ("r1", "r2", "r3"):
        ckan_stub.behave(rid, "allowed")
    authorizer = cached_ckan(ckan_stub.url, max_entries="2")
    authorizer.authorize(Caller(TOKEN_A), "r1", NOW)
    authorizer.authorize(Caller(TOKEN_A), "r2", NOW)
    authorizer.authorize(Caller(TOKEN_A), "r1", NOW)  # r1 now most recent
    authorizer.authorize(Caller(TOKEN_A), "r3", NOW)  # evicts r2
    assert len(authorizer.cache) == 2 and ckan_stub.calls == 3
    authorizer.authorize(Caller(TOKEN_A), "r1", NOW)
    assert ckan_stub.calls == 3
    authorizer.authorize(Caller(TOKEN_A), "r2", NOW)
    assert ckan_stub.calls == 4


def test_ttl_zero_disables_the_cache(ckan_stub):
    ckan_stub.behave("r1", "allowed")
    authorizer = cached_ckan(ckan_stub.url, ttl="0")
    authorizer.authorize(Caller(TOKEN_A), "r1", NOW)
    authorizer.authorize(Caller(TOKEN_A), "r1", NOW)
    assert ckan_stub.calls == 2 and len(authorizer.cache) == 0


def test_anonymous_and_empty_credential_have_different_keys():
    assert decision_key("ckan", None, "r1") != decision_key("ckan", "", "r1")
    assert decision_key("ckan", "a", "r1") != decision_key("jwt", "a", "r1")
    assert decision_key("ckan", "a", "r1") != decision_key("ckan", "a", "r1", "write")
