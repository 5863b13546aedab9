"""CORS headers from CORS_ORIGINS: normal answers and preflights."""

import pytest

from functions.core.cors import CorsPolicy
from functions.core.errors import ConfigurationError

SITE = "https://data.example.org"


def test_an_empty_setting_sends_no_cors_headers():
    policy = CorsPolicy.from_setting("")
    assert not policy.enabled
    assert policy.response_headers(SITE) == {} and policy.preflight_headers(SITE, "GET", "") == {}


@pytest.mark.parametrize("raw", [f"{SITE} http://localhost:5000", f"{SITE},http://localhost:5000",
                                 f" {SITE}/ ,\n http://LOCALHOST:5000 "])
def test_listed_origins_separated_by_spaces_or_commas(raw):
    policy = CorsPolicy.from_setting(raw)
    headers = policy.response_headers(SITE)
    assert headers["Access-Control-Allow-Origin"] == SITE and headers["Vary"] == "Origin"
    assert "Location" in headers["Access-Control-Expose-Headers"]
    assert "ETag" in headers["Access-Control-Expose-Headers"]
    assert policy.response_headers("http://localhost:5000")["Access-Control-Allow-Origin"] == "http://localhost:5000"


def test_an_unlisted_origin_gets_only_vary():
    policy = CorsPolicy.from_setting(SITE)
    assert policy.response_headers("https://evil.example") == {"Vary": "Origin"}
    assert policy.response_headers(None) == {"Vary": "Origin"}
    assert policy.response_headers(SITE + ".evil.example") == {"Vary": "Origin"}


def test_star_allows_any_origin_with_star_and_no_vary():
    policy = CorsPolicy.from_setting("*")
    assert policy.response_headers("https://anyone.example")["Access-Control-Allow-Origin"] == "*"
    assert "Vary" not in policy.response_headers("https://anyone.example")
    assert policy.response_headers(None) == {}


def test_preflight_allows_get_head_with_range_and_auth_headers():
    policy = CorsPolicy.from_setting(SITE, auth_headers=("X-CKAN-API-Key",))
    headers = policy.preflight_headers(SITE, "GET", "range, x-ckan-api-key")
    assert headers["Access-Control-Allow-Origin"] == SITE
    assert headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert "Range" in headers["Access-Control-Allow-Headers"]
    assert "X-CKAN-API-Key" in headers["Access-Control-Allow-Headers"]
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in headers


@pytest.mark.parametrize("origin,method,asked", [
    ("https://evil.example", "GET", ""), (SITE, "DELETE", ""), (SITE, "POST", ""), (SITE, "GET", "x-secret"),
])
def test_preflight_refusals_carry_no_allow_headers(origin, method, asked):
    assert CorsPolicy.from_setting(SITE).preflight_headers(origin, method, asked) == {"Vary": "Origin"}


@pytest.mark.parametrize("raw", ["data.example.org", "https://a.example/path", "* https://a.example", "ftp://a.b",
                                 "https://a.example:99999x"])
def test_a_malformed_setting_is_refused_at_start(raw):
    with pytest.raises(ConfigurationError):
        CorsPolicy.from_setting(raw)
