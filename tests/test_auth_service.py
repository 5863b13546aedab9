"""Access control at the doors, over a real socket: the dump URL asks CKAN, and neither the streaming
function nor the signed URLs become a way around it."""

from __future__ import annotations

import requests

from tests.support.tables import SMALL_CSV, get_dump, load_csv, load_numbers


def test_private_resources_need_a_token_ckan_accepts(make_app, serve, tmp_path, ckan_stub):
    ckan_stub.behave("small", "denied", token=None).behave("small", "denied").behave("small", "allowed", token="good")
    app = make_app(AUTH_TYPE="ckan", CKAN_URL=ckan_stub.url)
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
    anonymous = get_dump(live, "small")
    assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous.headers
    assert not app.backend.read_write.store.list("dumps/")  # refused before anything was exported
    wrong = requests.get(f"{live.url}/datastore/dump/small", headers={"Authorization": "bad"},
                         allow_redirects=False, timeout=30)
    assert wrong.status_code == 403 and wrong.json()["hint"]
    good = requests.get(f"{live.url}/datastore/dump/small", headers={"Authorization": "Bearer good"},
                        allow_redirects=False, timeout=30)
    assert good.status_code == 302
    calls = ckan_stub.calls
    again = requests.get(f"{live.url}/datastore/dump/small", headers={"X-CKAN-API-Key": "good"},
                         allow_redirects=False, timeout=30)
    assert again.status_code == 302 and ckan_stub.calls == calls  # the decision cache saved a call


def test_ckan_down_is_503_never_an_allow(make_app, serve, tmp_path, ckan_stub):
    ckan_stub.behave("small", "allowed")
    app = make_app(AUTH_TYPE="ckan", CKAN_URL=ckan_stub.url)
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
    ckan_stub.stop()
    answer = requests.get(f"{live.url}/datastore/dump/small", headers={"Authorization": "tok"},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 503 and answer.json()["error"] == "unavailable"


def test_stream_links_are_bound_to_what_was_authorised(make_app, serve, tmp_path, ckan_stub):
    ckan_stub.behave("public", "allowed").behave("private", "denied")
    app = make_app(AUTH_TYPE="ckan", CKAN_URL=ckan_stub.url, DUMP_SHARD_BYTES=20_000,
                             DUMP_COMPOSE="false")
    load_numbers(app, "public", 3000, tmp_path)
    load_numbers(app, "private", 3000, tmp_path)
    live = serve(app)
    link = get_dump(live, "public").headers["Location"]
    assert requests.get(link, timeout=30).status_code == 200
    forged = link.replace("/stream/public", "/stream/private")  # the same token for another resource
    assert requests.get(forged, timeout=30).status_code == 403


def test_the_access_log_never_shows_tokens_or_signatures(make_app, serve, tmp_path, caplog):
    app = make_app()
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
    location = get_dump(live, "small").headers["Location"]
    signature = location.split("signature=")[1]
    with caplog.at_level("INFO", logger="werkzeug"):
        assert requests.get(location, timeout=30).status_code == 200
        requests.get(f"{live.url}/stream/small?format=csv&rev=1&token=s3cr3t-token", timeout=30)
    assert "/_objects/dumps/small/csv/" in caplog.text and "/stream/small" in caplog.text
    assert signature not in caplog.text and "s3cr3t-token" not in caplog.text
