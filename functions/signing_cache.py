"""Reuse of signed URLs: every caller of one object in a window gets the same URL, signed once per instance.

On Google a signature is an IAM signBlob call (tens of milliseconds and a quota); a cache hit costs none.
Keyed by everything that goes into the URL; bounded (least recently used goes first); safe across threads,
and callers that miss together on one key wait for one signature. URLs are never logged: they carry one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Callable

from functions.core.signing_window import EPOCH, shared_expiry
from functions.ports import UrlSigner

MAX_URLS = 4096  # URLs one process keeps (the wiring's choice)


class CachingUrlSigner:
    def __init__(self, inner: UrlSigner, clock: Callable[[], datetime], window: timedelta, max_urls: int):
        self._inner, self._clock, self._window, self._max = inner, clock, window, max_urls
        self._urls: OrderedDict[tuple, str] = OrderedDict()
        self._signing: dict[tuple, threading.Event] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CachingUrlSigner({self._inner.__class__.__name__}, window={self._window}, size={len(self._urls)})"

    def sign(self, name: str, *, filename: str, content_type: str, expires_at: datetime, base_url: str) -> str:
        expiry = shared_expiry(expires_at, self._clock(), self._window)
        if not self._window or (expiry - EPOCH) % self._window:  # no window, or too short a lifetime to share
            return self._inner.sign(name, filename=filename, content_type=content_type, expires_at=expiry,
                                    base_url=base_url)
        key = (name, filename, content_type, expiry, base_url)
        while True:
            with self._lock:
                url = self._urls.get(key)
                if url is not None:
                    self._urls.move_to_end(key)
                    return url
                signed = self._signing.get(key)
                if signed is None:
                    signed = self._signing[key] = threading.Event()
                    break
            signed.wait()  # another caller is signing this key; take its URL (or sign if it failed)
        try:
            url = self._inner.sign(name, filename=filename, content_type=content_type, expires_at=expiry,
                                   base_url=base_url)
            with self._lock:
                self._urls[key] = url
                while len(self._urls) > self._max:
                    self._urls.popitem(last=False)
            return url
        finally:
            with self._lock:
                del self._signing[key]
            signed.set()
