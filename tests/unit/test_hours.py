"""Opening hours: exact to the second, French public holidays, time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from config.settings import OpeningHours, OpeningSpan
from telephony.hours import is_open, next_opening, prepare, public_holidays, weekly

PARIS = ZoneInfo("Europe/Paris")
HOURS = OpeningHours()


def paris(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (paris(2026, 11, 30, 7, 59, 59), False),  # Monday, a second before opening
        (paris(2026, 11, 30, 8, 0, 0), True),  # opening second
        (paris(2026, 11, 30, 20, 59, 59, 999999), True),
        (paris(2026, 11, 30, 21, 0, 0), False),  # closing second
        (paris(2026, 12, 4, 12), True),  # Friday
        (paris(2026, 12, 5, 8), True),  # Saturday morning
        (paris(2026, 12, 5, 13, 59, 59), True),
        (paris(2026, 12, 5, 14), False),  # Saturday closes at 14:00
        (paris(2026, 12, 6, 10), False),  # Sunday
        (paris(2026, 12, 25, 10), False),  # Christmas (a Friday)
        (paris(2027, 1, 1, 10), False),  # New Year's Day
        (paris(2027, 3, 29, 10), False),  # Easter Monday 2027 (movable)
        (paris(2027, 5, 6, 10), False),  # Ascension 2027 (movable)
        (paris(2027, 5, 17, 10), False),  # Whit Monday 2027 (movable)
        (paris(2027, 5, 18, 10), True),  # the day after
        (paris(2027, 7, 14, 10), False),  # Bastille Day
        (paris(2027, 11, 11, 10), False),  # Armistice
        (paris(2027, 5, 8, 10), False),  # Victory in Europe day (a Saturday)
    ],
)
def test_line_open(at: datetime, expected: bool) -> None:
    assert is_open(at, HOURS) is expected


def test_instants_in_utc_are_judged_in_local_time_across_daylight_saving() -> None:
    # 30 March 2026 (summer time, UTC+2): 06:00 UTC is 08:00 in Paris.
    assert is_open(datetime(2026, 3, 30, 6, 0, tzinfo=UTC), HOURS)
    assert not is_open(datetime(2026, 3, 30, 5, 59, 59, tzinfo=UTC), HOURS)
    # 30 November 2026 (winter time, UTC+1): 07:00 UTC is 08:00 in Paris.
    assert is_open(datetime(2026, 11, 30, 7, 0, tzinfo=UTC), HOURS)
    assert not is_open(datetime(2026, 11, 30, 6, 59, tzinfo=UTC), HOURS)


def test_extra_closures_and_exceptional_openings() -> None:
    hours = OpeningHours(closed_dates=(date(2026, 12, 24),), open_dates=(date(2027, 5, 17),))
    assert not is_open(paris(2026, 12, 24, 10), hours)
    assert is_open(paris(2027, 5, 17, 10), hours)  # Whit Monday opened by decision


def test_moselle_has_its_own_holidays() -> None:
    moselle = OpeningHours(holidays_subdiv="57")
    assert not is_open(paris(2026, 12, 26, 10), moselle)  # Saint Stephen's day, a Saturday
    assert is_open(paris(2026, 12, 26, 10), HOURS)


def test_split_day_hours_are_honoured() -> None:
    lunch_break = (OpeningSpan(start=time(8), end=time(12)), OpeningSpan(start=time(13, 30), end=time(17)))
    hours = OpeningHours(week={"mon": lunch_break})
    assert is_open(paris(2026, 11, 30, 11, 59, 59), hours)
    assert not is_open(paris(2026, 11, 30, 12, 30), hours)
    assert is_open(paris(2026, 11, 30, 13, 30), hours)
    assert not is_open(paris(2026, 12, 1, 10), hours)  # Tuesday not listed: closed


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(datetime(2026, 11, 30, 10), HOURS)


def test_prepare_computes_this_year_and_the_next_ahead_of_the_first_call() -> None:
    hours = OpeningHours()
    public_holidays.cache_clear()
    prepare(hours, date(2031, 12, 31))
    assert public_holidays.cache_info().currsize == 2
    hits = public_holidays.cache_info().hits
    assert not is_open(datetime(2032, 1, 1, 10, tzinfo=UTC), hours)  # New Year's Day: from the cache
    assert public_holidays.cache_info().hits == hits + 1


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (paris(2026, 11, 30, 10), paris(2026, 11, 30, 10)),  # open: now
        (paris(2026, 11, 30, 7, 30), paris(2026, 11, 30, 8)),  # before opening: today at 8
        (paris(2026, 11, 30, 21), paris(2026, 12, 1, 8)),  # at closing: tomorrow at 8
        (paris(2026, 12, 5, 15), paris(2026, 12, 7, 8)),  # Saturday afternoon: Monday (Sunday closed)
        (paris(2026, 12, 24, 22), paris(2026, 12, 26, 8)),  # Christmas skipped: Saturday 26th
        (paris(2027, 7, 13, 21, 30), paris(2027, 7, 15, 8)),  # 14 July skipped
        (datetime(2026, 11, 30, 5, 0, tzinfo=UTC), paris(2026, 11, 30, 8)),  # 06:00 in Paris
    ],
)
def test_next_opening(at: datetime, expected: datetime) -> None:
    found = next_opening(at, HOURS)
    assert found == expected
    assert found is not None and is_open(found, HOURS)


def test_next_opening_never_and_naive() -> None:
    assert next_opening(paris(2026, 11, 30, 10), OpeningHours(week={})) is None
    with pytest.raises(ValueError, match="timezone-aware"):
        next_opening(datetime(2026, 11, 30, 10), HOURS)


def test_a_services_weekly_spans_follow_the_lines_calendar() -> None:
    """A service's hours: its own weekly spans, the line's time zone and public holidays, not the line's exceptional
    dates; "24:00" ends the day."""
    line = OpeningHours(holidays_subdiv="57", open_dates=(date(2026, 7, 14),), closed_dates=(date(2026, 12, 1),))
    service = weekly(line, {"mon": [("08:30", "17:00")], "tue": [("20:00", "24:00")], "sat": [("08:00", "12:00")]})
    assert service.timezone == line.timezone and service.holidays_subdiv == "57"
    assert (service.open_dates, service.closed_dates) == ((), ())
    assert is_open(paris(2026, 11, 30, 8, 30), service) and not is_open(paris(2026, 11, 30, 8, 29, 59), service)
    assert is_open(paris(2026, 12, 1, 23, 59, 59), service)  # until midnight, despite the line's closure that day
    assert not is_open(paris(2026, 12, 26, 10), service)  # Saint Stephen's day in Moselle, a Saturday
    assert is_open(paris(2026, 7, 21, 21), service)  # a Tuesday evening…
    assert not is_open(paris(2026, 7, 14, 21), service)  # …but not 14 July 2026, a Tuesday, opened for the line only
    assert is_open(paris(2026, 7, 14, 10), line)
    assert next_opening(paris(2026, 12, 25, 9), service) == paris(2026, 12, 28, 8, 30)  # after Christmas, 26th
