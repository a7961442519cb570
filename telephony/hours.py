"""Opening hours, pure and exact to the second: the line's, and every service's or partner's of the directory.

One model, `config.settings.OpeningHours` (weekly spans in local time, time zone, public holidays, exceptional
closures and openings); a service's or a partner's hours are its own weekly spans and exceptional dates with
the line's calendar (time zone, holidays), built by `with_calendar`.

Rules, the same for everyone:
- spans are half-open [start, end): with 08:00–21:00, 20:59:59.999 is open and 21:00:00 is closed;
- a span whose end is before its start runs past midnight and belongs to the day it starts;
- a day is closed when it is an exceptional closure, or a public holiday that is not an exceptional opening;
  an exceptional opening applies that weekday's spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from config.settings import WEEKDAYS, OpeningHours, OpeningSpan

# How far `next_opening` looks ahead: a place closed for longer has no next opening worth announcing.
HORIZON_DAYS = 366
# `open_until` follows back-to-back spans this far; beyond, the place is open without a break in sight.
CONTINUOUS_DAYS = 7


@lru_cache(maxsize=64)
def public_holidays(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    """Public holidays of one year (pure computation, memoised)."""
    return frozenset(holidays.country_holidays(country, subdiv=subdiv, years=year).keys())


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def prepare(hours: OpeningHours, today: date) -> None:
    """Compute this year's and next year's holidays now (at start): the first computation takes ~0.5 s, which
    the first call of the day would otherwise wait for in the service loop."""
    for year in (today.year, today.year + 1):
        public_holidays(hours.holidays_country, hours.holidays_subdiv, year)


def is_holiday(day: date, hours: OpeningHours) -> bool:
    return day in public_holidays(hours.holidays_country, hours.holidays_subdiv, day.year)


def day_is_open(day: date, hours: OpeningHours) -> bool:
    """Whether the spans of `day` apply: not an exceptional closure, not a holiday unless opened by exception."""
    if day in hours.closed_dates:
        return False
    return day in hours.open_dates or not is_holiday(day, hours)


def with_calendar(
    calendar: OpeningHours,
    week: Mapping[str, Iterable[OpeningSpan]],
    closed_dates: Iterable[date] = (),
    open_dates: Iterable[date] = (),
) -> OpeningHours:
    """Weekly spans and exceptional dates of a service or partner, with `calendar`'s time zone and holidays."""
    return OpeningHours(
        timezone=calendar.timezone,
        holidays_country=calendar.holidays_country,
        holidays_subdiv=calendar.holidays_subdiv,
        week={day: tuple(week.get(day, ())) for day in WEEKDAYS},
        closed_dates=tuple(sorted(set(closed_dates))),
        open_dates=tuple(sorted(set(open_dates))),
    )


def _local(at: datetime, hours: OpeningHours) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("opening hours need a timezone-aware datetime")
    return at.astimezone(_zone(hours.timezone))


def is_open(at: datetime, hours: OpeningHours) -> bool:
    """Whether the place is open at the instant `at` (timezone-aware)."""
    local = _local(at, hours)
    day = local.date()
    clock = local.time().replace(tzinfo=None)
    spans = hours.week[WEEKDAYS[day.weekday()]]
    if spans and day_is_open(day, hours):
        for span in spans:
            if span.start <= clock and (span.overnight or clock < span.end):
                return True
    # the tail, after midnight, of yesterday's spans that run past midnight
    yesterday = day - timedelta(days=1)
    tails = [span for span in hours.week[WEEKDAYS[yesterday.weekday()]] if span.overnight and clock < span.end]
    return bool(tails) and day_is_open(yesterday, hours)


def _intervals(day: date, hours: OpeningHours) -> list[tuple[datetime, datetime]]:
    """The openings that start on `day`, as UTC instants [start, end), in order."""
    if not day_is_open(day, hours):
        return []
    zone = _zone(hours.timezone)
    found = []
    for span in hours.week[WEEKDAYS[day.weekday()]]:
        start = datetime.combine(day, span.start, tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1) if span.overnight else day, span.end, tzinfo=zone)
        found.append((start.astimezone(UTC), end.astimezone(UTC)))
    return sorted(found)


def next_open_day(day: date, hours: OpeningHours, *, horizon_days: int = HORIZON_DAYS) -> date | None:
    """The first day after `day` on which the place opens (weekly spans that day, not closed); None when it does not
    open within `horizon_days`."""
    for offset in range(1, horizon_days + 1):
        candidate = day + timedelta(days=offset)
        if hours.week[WEEKDAYS[candidate.weekday()]] and day_is_open(candidate, hours):
            return candidate
    return None


def local_clock(at: datetime, hours: OpeningHours) -> tuple[date, time]:
    """The local date and time of day of the instant `at` (timezone-aware) in `hours.timezone`."""
    local = _local(at, hours)
    return local.date(), local.time().replace(tzinfo=None)


def next_opening(at: datetime, hours: OpeningHours, *, horizon_days: int = HORIZON_DAYS) -> datetime | None:
    """The first instant at or after `at` when the place is open: `at` itself when open now; None when it
    does not open within `horizon_days`. The result is in `hours.timezone`."""
    if is_open(at, hours):
        return _local(at, hours)
    if not any(hours.week.values()):
        return None
    instant = at.astimezone(UTC)
    first_day = _local(at, hours).date()
    for offset in range(horizon_days + 1):
        starts = [start for start, _ in _intervals(first_day + timedelta(days=offset), hours) if start > instant]
        if starts:  # an opening starting on a later day starts later than any opening starting on this one
            return min(starts).astimezone(_zone(hours.timezone))
    return None


def open_until(at: datetime, hours: OpeningHours) -> datetime | None:
    """When the opening under way at `at` ends (back-to-back spans followed: 08:00–12:00 then 12:00–17:00 end at
    17:00), in `hours.timezone`. None when closed at `at`, or when open without a break for `CONTINUOUS_DAYS`."""
    if not is_open(at, hours):
        return None
    instant = at.astimezone(UTC)
    day = _local(at, hours).date()
    end = instant
    for offset in range(-1, CONTINUOUS_DAYS + 1):
        for start, stop in _intervals(day + timedelta(days=offset), hours):
            if start <= end < stop:  # the span under way, or one starting when (or before) it ends
                end = stop
    # the loop runs in day order and each day's spans in time order, so one pass follows the whole chain
    if end - instant >= timedelta(days=CONTINUOUS_DAYS):
        return None
    return end.astimezone(_zone(hours.timezone))
