from functions.auth import caller_from_headers


def test_raw_authorization_is_the_token():
    assert caller_from_headers({"Authorization": "tok-123"}).credential == "tok-123"


def test_bearer_prefix_is_stripped_whatever_its_case():
    assert caller_from_headers({"authorization": "bearer tok-123"}).credential == "tok-123"
    assert caller_from_headers({"AUTHORIZATION": "Bearer  tok-123 "}).credential == "tok-123"


def test_ckan_api_key_header_is_read_case_insensitively():
    assert caller_from_headers({"x-ckan-api-key": "key-9"}).credential == "key-9"


def test_authorization_wins_over_api_key():
    headers = {"X-CKAN-API-Key": "key-9", "Authorization": "Bearer tok-1"}
    assert caller_from_headers(headers).credential == "tok-1"


def test_no_or_blank_headers_mean_anonymous():
    assert caller_from_headers({}).credential is None
    assert caller_from_headers({"Authorization": "  ", "X-CKAN-API-Key": ""}).credential is None


def test_other_schemes_are_not_ckan_tokens():
    assert caller_from_headers({"Authorization": "Basic dXNlcjpwYXNz"}).credential is None
    headers = {"Authorization": "Basic dXNlcjpwYXNz", "X-CKAN-API-Key": "key-9"}
    assert caller_from_headers(headers).credential == "key-9"
