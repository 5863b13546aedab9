"""Each answer of a real (stub) CKAN portal, over a real socket, mapped to the caller's status."""

import pytest

from tests.support.auth import authorizer_from
from functions.http import status_of
from functions.core.errors import Forbidden, NotFound, Unauthorized, Unavailable
from functions.ports import Caller
from tests.support.servers import free_port

NOW = 1_700_000_000.0


def authorizer_for(url, **env):
    env = {"AUTH_TYPE": "ckan", "CKAN_URL": url, "CKAN_TIMEOUT_SECONDS": "0.2", **env}
    return authorizer_from(env)


def test_allowed_resource_passes_and_the_token_reaches_ckan(ckan_stub):
    ckan_stub.behave("r1", "allowed", token="tok-a")
    authorizer_for(ckan_stub.url).authorize(Caller("tok-a"), "r1", NOW)
    assert ckan_stub.requests == [("r1", "tok-a")]


def test_public_resource_is_asked_without_a_token(ckan_stub):
    ckan_stub.behave("r1", "allowed", token=None)
    authorizer_for(ckan_stub.url).authorize(Caller(None), "r1", NOW)
    assert ckan_stub.requests == [("r1", None)]


def test_refused_without_token_is_401_with_a_challenge(ckan_stub):
    ckan_stub.behave("r1", "denied")
    with pytest.raises(Unauthorized) as caught:
        authorizer_for(ckan_stub.url).authorize(Caller(None), "r1", NOW)
    assert status_of(caught.value) == 401
    assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization header" in caught.value.hint


def test_refused_with_token_is_403(ckan_stub):
    ckan_stub.behave("r1", "denied", token="tok-a")
    with pytest.raises(Forbidden) as caught:
        authorizer_for(ckan_stub.url).authorize(Caller("tok-a"), "r1", NOW)
    assert status_of(caught.value) == 403 and "r1" in caught.value.message


def test_unknown_resource_is_404(ckan_stub):
    ckan_stub.behave("gone", "missing")
    with pytest.raises(NotFound) as caught:
        authorizer_for(ckan_stub.url).authorize(Caller("tok-a"), "gone", NOW)
    assert "gone" in caught.value.message


def test_slow_portal_is_503_naming_the_wait(ckan_stub):
    ckan_stub.behave("r1", "slow")
    with pytest.raises(Unavailable) as caught:
        authorizer_for(ckan_stub.url).authorize(Caller("tok-a"), "r1", NOW)
    assert caught.value.message == f"The CKAN portal at {ckan_stub.url} did not answer within 0.2 s; try again shortly."


@pytest.mark.parametrize("behaviour", ["garbage", "no_success"])
def test_garbage_answer_is_503_never_an_allow(ckan_stub, behaviour):
    ckan_stub.behave("r1", behaviour)
    with pytest.raises(Unavailable) as caught:
        authorizer_for(ckan_stub.url).authorize(Caller("tok-a"), "r1", NOW)
    assert "HTTP 200" in caught.value.message and status_of(caught.value) == 503


def test_wrong_ckan_url_path_is_503_not_a_404(ckan_stub):
    with pytest.raises(Unavailable):
        authorizer_for(ckan_stub.url + "/not-ckan").authorize(Caller("tok-a"), "r1", NOW)


def test_portal_down_is_503():
    with pytest.raises(Unavailable) as caught:
        authorizer_for(f"http://127.0.0.1:{free_port()}").authorize(Caller("tok-a"), "r1", NOW)
    assert "cannot be reached" in caught.value.message


def test_portal_stopped_after_start_is_503(ckan_stub):
    ckan_stub.behave("r1", "allowed")
    authorizer = authorizer_for(ckan_stub.url)
    ckan_stub.stop()
    with pytest.raises(Unavailable):
        authorizer.authorize(Caller("tok-a"), "r1", NOW)


def test_credentials_in_ckan_url_never_reach_messages():
    url = f"http://admin:s3cret@127.0.0.1:{free_port()}"
    with pytest.raises(Unavailable) as caught:
        authorizer_for(url).authorize(Caller("tok-a"), "r1", NOW)
    assert "s3cret" not in caught.value.message and "127.0.0.1" in caught.value.message


@pytest.mark.parametrize("token", ["tök€n", "a\r\nX-Evil: 1", "a\x00b", "two words"])
def test_a_token_that_cannot_be_a_header_is_refused_without_asking_ckan(ckan_stub, token):
    ckan_stub.behave("r1", "allowed")
    with pytest.raises(Forbidden) as caught:
        authorizer_for(ckan_stub.url).authorize(Caller(token), "r1", NOW)
    assert "well-formed" in caught.value.message and ckan_stub.calls == 0
