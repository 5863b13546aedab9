"""The one adapter that reads the time, at its edge: freezegun stands in for the operating system's clock."""

from datetime import datetime, timedelta, timezone

from freezegun import freeze_time

from functions.adapters.system_clock import SYSTEM_CLOCK


def test_now_is_the_instant_in_timezone_aware_utc():
    with freeze_time("2026-03-29 01:30:00.123456"):
        now = SYSTEM_CLOCK.now()
    assert now == datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=timezone.utc)
    assert now.utcoffset() == timedelta(0)  # records and signatures compare it with aware times


def test_monotonic_time_and_wall_time_move_together():
    with freeze_time("2026-01-01", tick=False) as frozen:
        start = SYSTEM_CLOCK.monotonic()
        frozen.tick(90)
        assert SYSTEM_CLOCK.monotonic() - start == 90
        assert SYSTEM_CLOCK.now() == datetime(2026, 1, 1, 0, 1, 30, tzinfo=timezone.utc)
