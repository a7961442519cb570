"""Opening hours: exact to the second, French public holidays, time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from config.settings import WEEKDAYS, OpeningHours, OpeningSpan
from telephony.hours import is_open, next_opening, open_until, prepare, public_holidays, with_calendar

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


# -- spans past midnight, next opening, end of the opening under way ----------------------------------------


def span(start: str, end: str) -> OpeningSpan:
    return OpeningSpan(start=time.fromisoformat(start), end=time.fromisoformat(end))


# A night service: Friday 22:00 to Saturday 02:00, and Saturday 20:00 to midnight.
NIGHT = OpeningHours(week={"fri": (span("22:00", "02:00"),), "sat": (span("20:00", "00:00"),)})
# 2026-12-25 (Christmas) is a Friday, 2026-12-26 a Saturday; 2027-01-01 (New Year) a Friday.


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (paris(2026, 12, 4, 21, 59, 59), False),  # Friday, before
        (paris(2026, 12, 4, 22), True),
        (paris(2026, 12, 4, 23, 59, 59, 999999), True),
        (paris(2026, 12, 5, 0), True),  # Saturday, after midnight: Friday's span
        (paris(2026, 12, 5, 1, 59, 59), True),
        (paris(2026, 12, 5, 2), False),  # closes at 02:00 sharp
        (paris(2026, 12, 5, 19, 59), False),
        (paris(2026, 12, 5, 20), True),
        (paris(2026, 12, 5, 23, 59, 59), True),
        (paris(2026, 12, 6, 0), False),  # "20:00–00:00" closes at midnight
        (paris(2026, 12, 25, 23), False),  # Christmas, a Friday: the whole span is closed...
        (paris(2026, 12, 26, 1), False),  # ...its part after midnight too
        (paris(2026, 12, 26, 20), True),  # Saturday 26th (not a holiday in FR)
        (paris(2027, 1, 1, 23), False),  # New Year's Day, a Friday
        (paris(2027, 1, 2, 1), False),
    ],
)
def test_a_span_across_midnight_belongs_to_the_day_it_starts(at: datetime, expected: bool) -> None:
    assert is_open(at, NIGHT) is expected


def test_a_holiday_the_day_after_does_not_close_the_tail_of_the_night_before() -> None:
    # Thursday 2026-12-31 22:00 → Friday 2027-01-01 02:00: New Year's Day is a holiday, the span started before.
    hours = OpeningHours(week={"thu": (span("22:00", "02:00"),)})
    assert is_open(paris(2027, 1, 1, 1, 30), hours)
    assert not is_open(paris(2027, 1, 1, 2), hours)
    closed_eve = hours.model_copy(update={"closed_dates": (date(2026, 12, 31),)})
    assert not is_open(paris(2027, 1, 1, 1, 30), closed_eve)  # an exceptional closure of the start day


def test_an_exceptional_opening_on_a_holiday_applies_that_weekday_s_spans() -> None:
    hours = OpeningHours(open_dates=(date(2026, 12, 25),))
    assert is_open(paris(2026, 12, 25, 10), hours)
    assert not is_open(paris(2026, 12, 25, 21), hours)  # Friday hours: 08:00-21:00
    assert not is_open(paris(2026, 12, 27, 10), hours)  # an open date does not open a Sunday without spans


def test_an_empty_span_is_refused() -> None:
    with pytest.raises(ValueError, match="empty span"):
        span("08:00", "08:00")


LUNCH = OpeningHours(week={d: (span("08:30", "12:00"), span("13:30", "17:00")) for d in ("mon", "tue", "wed")})


@pytest.mark.parametrize(
    ("hours", "at", "expected"),
    [
        (HOURS, paris(2026, 11, 30, 10), paris(2026, 11, 30, 10)),  # open now: now
        (HOURS, paris(2026, 11, 30, 7, 0), paris(2026, 11, 30, 8)),  # before the morning
        (HOURS, paris(2026, 11, 30, 21, 0), paris(2026, 12, 1, 8)),  # after closing: tomorrow
        (HOURS, paris(2026, 12, 5, 14), paris(2026, 12, 7, 8)),  # Saturday afternoon: Monday
        (HOURS, paris(2026, 12, 24, 21, 30), paris(2026, 12, 26, 8)),  # Christmas Friday skipped: Saturday
        (HOURS, paris(2027, 5, 16, 12), paris(2027, 5, 18, 8)),  # Sunday before Whit Monday: Tuesday
        (LUNCH, paris(2026, 12, 2, 12), paris(2026, 12, 2, 13, 30)),  # lunch break
        (LUNCH, paris(2026, 12, 2, 17), paris(2026, 12, 7, 8, 30)),  # Wednesday evening: next Monday
        (NIGHT, paris(2026, 12, 5, 2), paris(2026, 12, 5, 20)),  # after the night span
        (NIGHT, paris(2026, 12, 24, 12), paris(2026, 12, 26, 20)),  # Christmas night skipped
        (OpeningHours(week={}), paris(2026, 12, 2, 12), None),  # never open
        (OpeningHours(closed_dates=tuple(date(2026, 12, 1) + timedelta(d) for d in range(400))),
         paris(2026, 12, 1, 12), None),  # closed beyond the horizon
    ],
)  # fmt: skip
def test_next_opening(hours: OpeningHours, at: datetime, expected: datetime | None) -> None:
    assert next_opening(at, hours) == expected


def test_next_opening_across_daylight_saving_and_in_utc() -> None:
    # Saturday 2026-03-28 20:00 UTC (21:00 in Paris, winter): next opening Monday 30th 08:00 summer time.
    found = next_opening(datetime(2026, 3, 28, 20, 0, tzinfo=UTC), HOURS)
    assert found == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
    assert found is not None and found.utcoffset() == timedelta(hours=2)  # given in the place's time zone


@pytest.mark.parametrize(
    ("hours", "at", "expected"),
    [
        (HOURS, paris(2026, 11, 30, 10), paris(2026, 11, 30, 21)),
        (HOURS, paris(2026, 11, 30, 22), None),  # closed
        (LUNCH, paris(2026, 12, 2, 9), paris(2026, 12, 2, 12)),
        (NIGHT, paris(2026, 12, 4, 23), paris(2026, 12, 5, 2)),  # past midnight
        (NIGHT, paris(2026, 12, 5, 1), paris(2026, 12, 5, 2)),
        (OpeningHours(week={"mon": (span("08:00", "12:00"), span("12:00", "17:00"))}),
         paris(2026, 11, 30, 9), paris(2026, 11, 30, 17)),  # back-to-back spans: one opening
        (OpeningHours(week={d: (span("00:00", "12:00"), span("12:00", "00:00")) for d in WEEKDAYS},
                      open_dates=tuple(date(2026, 11, 1) + timedelta(d) for d in range(60))),
         paris(2026, 11, 30, 9), None),  # open without a break (every day, holidays opened)
    ],
)  # fmt: skip
def test_open_until(hours: OpeningHours, at: datetime, expected: datetime | None) -> None:
    assert open_until(at, hours) == expected


def test_a_place_s_hours_take_the_line_s_calendar() -> None:
    line = OpeningHours(timezone="Europe/Paris", holidays_subdiv="57")
    week = {"sat": (span("09:00", "12:00"),)}
    hours = with_calendar(line, week, closed_dates=[date(2026, 12, 19)], open_dates=[])
    assert hours.holidays_subdiv == "57" and hours.week["mon"] == ()
    assert not is_open(paris(2026, 12, 26, 10), hours)  # Saint Stephen's day in Moselle (the line's calendar)
    assert not is_open(paris(2026, 12, 19, 10), hours)  # its own exceptional closure
    assert is_open(paris(2026, 12, 12, 10), hours)
