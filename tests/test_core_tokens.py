import pytest

from functions.core import tokens
from functions.core.errors import Forbidden

SECRET = b"s3cret"


def test_a_stream_token_opens_exactly_its_export_until_it_expires():
    token = tokens.stream_token(SECRET, "flights", "csv", "abc", expires=1000)
    tokens.check_stream_token(SECRET, token, "flights", "csv", "abc", now=999)
    for rid, fmt, rev in [("other", "csv", "abc"), ("flights", "tsv", "abc"), ("flights", "csv", "abd")]:
        with pytest.raises(Forbidden, match="does not match"):
            tokens.check_stream_token(SECRET, token, rid, fmt, rev, now=999)
    with pytest.raises(Forbidden, match="expired"):
        tokens.check_stream_token(SECRET, token, "flights", "csv", "abc", now=1001)


@pytest.mark.parametrize("token", ["", "abc", "1000.", ".sig", "x.y"])
def test_malformed_tokens_are_refused(token):
    with pytest.raises(Forbidden):
        tokens.check_stream_token(SECRET, token, "flights", "csv", "abc", now=0)


def test_tokens_from_another_secret_or_with_a_moved_expiry_are_refused():
    token = tokens.stream_token(b"other", "flights", "csv", "abc", expires=1000)
    with pytest.raises(Forbidden):
        tokens.check_stream_token(SECRET, token, "flights", "csv", "abc", now=0)
    good = tokens.stream_token(SECRET, "flights", "csv", "abc", expires=1000)
    with pytest.raises(Forbidden):
        tokens.check_stream_token(SECRET, "9999" + good[4:], "flights", "csv", "abc", now=0)


def test_a_follow_token_opens_exactly_its_attempt_and_is_no_stream_token():
    token = tokens.follow_token(SECRET, "flights", "csv.qabc", "abc", 2, expires=1000)
    tokens.check_follow_token(SECRET, token, "flights", "csv.qabc", "abc", 2, now=999)
    for rid, key, rev, attempt in [("other", "csv.qabc", "abc", 2), ("flights", "csv", "abc", 2),
                                   ("flights", "csv.qabc", "abd", 2), ("flights", "csv.qabc", "abc", 3)]:
        with pytest.raises(Forbidden, match="does not match"):
            tokens.check_follow_token(SECRET, token, rid, key, rev, attempt, now=999)
    with pytest.raises(Forbidden, match="expired"):
        tokens.check_follow_token(SECRET, token, "flights", "csv.qabc", "abc", 2, now=1001)
    with pytest.raises(Forbidden, match="does not match"):
        tokens.check_stream_token(SECRET, token, "flights", "csv.qabc", "abc", now=999)
