"""Signed URL reuse: one expiry per window (core), one signature per window and object (decorator), with an
injected clock; and against the real GcsUrlSigner, one IAM signBlob call per window."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.oauth2 import credentials as user_credentials
from hypothesis import given
from hypothesis import strategies as st

from functions.adapters.google.signer import GcsUrlSigner
from functions.core.signing_window import shared_expiry
from functions.signing_cache import MAX_URLS, CachingUrlSigner
from tests.contract import keys
from tests.support.fake_iam import FakeIam

WINDOW = timedelta(minutes=5)
LIFETIME = timedelta(hours=1)
START = datetime(2026, 1, 2, 3, 0, 0, tzinfo=timezone.utc)  # on a window boundary
OBJECT = "dumps/flights/csv/5f1e/1/flights.csv"


class Clock:
    def __init__(self, now: datetime = START):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class CountingSigner:
    """Stands in for a real signer where only the number of signatures and their expiries matter."""

    def __init__(self):
        self.signed: list[tuple] = []
        self.gate: threading.Event | None = None

    def sign(self, name, *, filename, content_type, expires_at, base_url):
        if self.gate:
            self.gate.wait(5)
        self.signed.append((name, filename, content_type, expires_at, base_url))
        return f"{base_url}{name}?expires={int(expires_at.timestamp())}&n={len(self.signed)}"


def ask(signer, clock, name=OBJECT, filename="flights.csv", content_type="text/csv", base_url="http://h/"):
    return signer.sign(name, filename=filename, content_type=content_type, expires_at=clock() + LIFETIME,
                       base_url=base_url)


@given(now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)),
       lifetime_s=st.integers(1, 7 * 24 * 3600), window_s=st.integers(0, 3600))
def test_a_shared_expiry_never_outlives_the_request_nor_leaves_less_than_lifetime_minus_window(now, lifetime_s,
                                                                                                window_s):
    lifetime, window = timedelta(seconds=lifetime_s), timedelta(seconds=window_s)
    expiry = shared_expiry(now + lifetime, now, window)
    assert expiry <= now + lifetime
    assert expiry - now > lifetime - window or expiry == now + lifetime
    assert expiry - now >= lifetime / 2


@given(offset_s=st.floats(0, 299.999), lifetime_s=st.integers(601, 7 * 24 * 3600))
def test_every_caller_in_one_window_gets_the_same_expiry(offset_s, lifetime_s):
    lifetime = timedelta(seconds=lifetime_s)
    first = START - lifetime % WINDOW  # the start of a window of requests: now + lifetime on a boundary
    later = first + timedelta(seconds=offset_s)
    assert shared_expiry(later + lifetime, later, WINDOW) == shared_expiry(first + lifetime, first, WINDOW)
    after = first + WINDOW
    assert shared_expiry(after + lifetime, after, WINDOW) == shared_expiry(first + lifetime, first, WINDOW) + WINDOW


def test_no_window_or_too_short_a_lifetime_keeps_the_exact_expiry():
    requested = START + timedelta(seconds=123.5)
    assert shared_expiry(requested, START, timedelta(0)) == requested
    assert shared_expiry(requested, START, WINDOW) == requested  # the boundary would leave 0 of 123.5 s


def test_the_same_url_within_a_window_and_a_new_one_after():
    clock, inner = Clock(), CountingSigner()
    signer = CachingUrlSigner(inner, clock, WINDOW, MAX_URLS)
    first = ask(signer, clock)
    clock.now += timedelta(minutes=4, seconds=59)
    assert ask(signer, clock) == first and len(inner.signed) == 1
    clock.now = START + WINDOW
    second = ask(signer, clock)
    assert second != first and len(inner.signed) == 2
    assert inner.signed[1][3] - inner.signed[0][3] == WINDOW


def test_at_every_instant_a_url_has_more_than_lifetime_minus_window_left():
    clock, inner = Clock(START - timedelta(seconds=1)), CountingSigner()
    signer = CachingUrlSigner(inner, clock, WINDOW, MAX_URLS)
    for _ in range(int(7200 / 20.5)):  # two hours, in steps off the windows' grid
        clock.now += timedelta(seconds=20.5)
        url = ask(signer, clock)
        expiry = datetime.fromtimestamp(int(parse_qs(urlsplit(url).query)["expires"][0]), timezone.utc)
        assert LIFETIME - WINDOW < expiry - clock.now <= LIFETIME
    assert len(inner.signed) == pytest.approx(7200 / WINDOW.total_seconds(), abs=1)


def test_everything_in_the_url_is_part_of_the_key():
    clock, inner = Clock(), CountingSigner()
    signer = CachingUrlSigner(inner, clock, WINDOW, MAX_URLS)
    urls = {ask(signer, clock), ask(signer, clock, name=OBJECT + "x"), ask(signer, clock, filename="f.csv"),
            ask(signer, clock, content_type="text/plain"), ask(signer, clock, base_url="http://other/")}
    assert len(urls) == len(inner.signed) == 5


def test_the_cache_is_bounded_and_keeps_the_recently_used():
    clock, inner = Clock(), CountingSigner()
    signer = CachingUrlSigner(inner, clock, WINDOW, max_urls=2)
    a, b = ask(signer, clock, name="a"), ask(signer, clock, name="b")
    assert ask(signer, clock, name="a") == a
    ask(signer, clock, name="c")  # evicts b, the least recently used
    assert ask(signer, clock, name="a") == a and len(inner.signed) == 3
    assert ask(signer, clock, name="b") != b and len(inner.signed) == 4


def test_callers_missing_together_wait_for_one_signature():
    clock, inner = Clock(), CountingSigner()
    inner.gate = threading.Event()
    signer = CachingUrlSigner(inner, clock, WINDOW, MAX_URLS)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(ask(signer, clock))) for _ in range(8)]
    for thread in threads:
        thread.start()
    inner.gate.set()
    for thread in threads:
        thread.join(5)
    assert len(results) == 8 and len(set(results)) == 1 and len(inner.signed) == 1


def test_a_failed_signature_is_not_cached():
    clock = Clock()

    class FailingOnce(CountingSigner):
        def sign(self, *args, **kwargs):
            if not self.signed:
                self.signed.append("failed")
                raise RuntimeError("IAM answered 503")
            return super().sign(*args, **kwargs)

    inner = FailingOnce()
    signer = CachingUrlSigner(inner, clock, WINDOW, MAX_URLS)
    with pytest.raises(RuntimeError):
        ask(signer, clock)
    assert ask(signer, clock).endswith("&n=2")


def test_the_url_is_not_in_the_signers_repr():
    clock = Clock()
    signer = CachingUrlSigner(CountingSigner(), clock, WINDOW, MAX_URLS)
    url = ask(signer, clock)
    assert url not in repr(signer) and OBJECT not in repr(signer)


def test_with_the_google_signer_iam_signblob_is_called_once_per_window():
    key = keys.new_key()
    clock = Clock(datetime.now(timezone.utc))  # the library dates the URL by the real clock: stay near it
    with FakeIam(key) as iam:
        gcs = GcsUrlSigner(lambda: storage.Client(project="p", credentials=AnonymousCredentials()), "exports",
                           lambda: user_credentials.Credentials(token="runtime-token"), clock,
                           signing_email=keys.SIGNER_EMAIL, iam_endpoint=iam.url)
        signer = CachingUrlSigner(gcs, clock, WINDOW, MAX_URLS)
        boundary = shared_expiry(clock() + LIFETIME, clock(), WINDOW)
        first = ask(signer, clock)
        for _ in range(5):
            assert ask(signer, clock) == first
        assert iam.sign_calls == 1
        params = keys.verify_v4_url(first, key.public_key())
        signed_at = datetime.strptime(params["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        assert abs(signed_at + timedelta(seconds=int(params["X-Goog-Expires"])) - boundary) <= timedelta(seconds=1)
        clock.now += WINDOW
        ask(signer, clock)  # (the library dates it by the real clock, so only the count tells it is new)
        assert iam.sign_calls == 2
