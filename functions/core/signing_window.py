"""Expiry times shared by every caller in a window, so one signed URL per object and window can be reused.

Windows are aligned to the Unix epoch, so every instance agrees on them. The expiry is rounded down to the
window's boundary, never up: a URL then outlives neither what was asked (GC keeps a superseded export for
the URL lifetime plus a grace) nor V4's 7 days, and is handed out with more than its lifetime minus the
window left. When rounding down would cost more than half the lifetime, the exact expiry is kept (no reuse).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def shared_expiry(requested: datetime, now: datetime, window: timedelta) -> datetime:
    """The window boundary at or before `requested` (timezone-aware); `requested` itself when the window is
    zero or longer than half of what is left until `requested`."""
    if window <= timedelta(0):
        return requested
    since_epoch = requested - EPOCH
    boundary = requested - since_epoch % window
    if (boundary - now) * 2 < requested - now:
        return requested
    return boundary
