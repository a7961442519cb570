"""The demo's opening hours: five closed minutes in every hour, the first 55 minutes after the demo starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gps_admin.demo import demo_hours, first_closure
from telephony.hours import is_open


@pytest.mark.parametrize(
    ("start", "closes"),
    [
        (datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC), datetime(2026, 12, 1, 9, 55, tzinfo=UTC)),
        (datetime(2026, 12, 1, 9, 0, 59, tzinfo=UTC), datetime(2026, 12, 1, 9, 55, tzinfo=UTC)),
        (datetime(2026, 12, 1, 9, 56, 30, tzinfo=UTC), datetime(2026, 12, 1, 10, 51, tzinfo=UTC)),
        (datetime(2026, 12, 1, 9, 7, 0, tzinfo=UTC), datetime(2026, 12, 1, 10, 2, tzinfo=UTC)),  # across the hour
        (datetime(2026, 12, 1, 22, 30, 0, tzinfo=UTC), datetime(2026, 12, 1, 23, 25, tzinfo=UTC)),  # across midnight
        (datetime(2026, 12, 1, 22, 7, 0, tzinfo=UTC), datetime(2026, 12, 1, 23, 2, tzinfo=UTC)),  # 00:02 in Paris
        (datetime(2026, 12, 1, 22, 4, 0, tzinfo=UTC), datetime(2026, 12, 1, 22, 59, tzinfo=UTC)),  # 23:59-00:04
    ],
)
def test_the_first_closure_comes_55_minutes_after_the_start(start: datetime, closes: datetime) -> None:
    hours = demo_hours(start)
    assert first_closure(hours, start) == closes
    assert all(is_open(start + timedelta(seconds=s), hours) for s in range(0, int((closes - start).total_seconds()), 7))
    # then closed five minutes, open 55, and so on, every hour of the day (the day's edge included)
    for hour in range(25):
        closure = closes + timedelta(hours=hour)
        assert is_open(closure - timedelta(seconds=1), hours)
        assert not any(is_open(closure + timedelta(seconds=s), hours) for s in range(0, 300, 10))
        assert not is_open(closure + timedelta(seconds=299.999), hours)
        assert is_open(closure + timedelta(minutes=5), hours)


def test_a_demo_started_during_the_old_closed_minutes_is_open() -> None:
    """The fixed window (minutes 55-59 of every hour) met a demo started then, and its first test, with no call
    routed for up to five minutes."""
    start = datetime(2026, 12, 1, 9, 56, tzinfo=UTC)
    assert is_open(start, demo_hours(start))
    assert (first_closure(demo_hours(start), start) or start) - start >= timedelta(minutes=54)


def test_public_holidays_of_the_next_month_are_open() -> None:
    start = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)
    christmas_noon = datetime(2026, 12, 25, 12, 0, tzinfo=UTC)
    assert is_open(christmas_noon, demo_hours(start))
