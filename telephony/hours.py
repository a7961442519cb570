"""Opening hours, for the line and for every service or partner: pure, exact to the second, French public holidays
from `holidays`. One model (`config.settings.OpeningHours`), one `is_open`, one `next_opening`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from config.settings import WEEKDAYS, OpeningHours, OpeningSpan

LOOK_AHEAD_DAYS = 366  # next_opening looks this far ahead at most


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


def _closed_all_day(day: date, hours: OpeningHours) -> bool:
    return day in hours.closed_dates or (is_holiday(day, hours) and day not in hours.open_dates)


def is_open(at: datetime, hours: OpeningHours) -> bool:
    """Whether `hours` are open at the instant `at` (timezone-aware).

    Spans are half-open [start, end): with 08:00–21:00, 20:59:59.999 is open and 21:00:00 is closed.
    """
    if at.tzinfo is None:
        raise ValueError("is_open needs a timezone-aware datetime")
    local = at.astimezone(_zone(hours.timezone))
    day = local.date()
    if _closed_all_day(day, hours):
        return False
    clock = local.time().replace(tzinfo=None)
    return any(span.start <= clock < span.end for span in hours.week[WEEKDAYS[local.weekday()]])


def next_opening(at: datetime, hours: OpeningHours, within_days: int = LOOK_AHEAD_DAYS) -> datetime | None:
    """The first instant at or after `at` (timezone-aware) when `hours` are open, in `hours`' time zone; None if
    they do not open within `within_days`."""
    if at.tzinfo is None:
        raise ValueError("next_opening needs a timezone-aware datetime")
    zone = _zone(hours.timezone)
    local = at.astimezone(zone)
    for offset in range(within_days + 1):
        day = local.date() + timedelta(days=offset)
        if _closed_all_day(day, hours):
            continue
        for span in sorted(hours.week[WEEKDAYS[day.weekday()]], key=lambda s: s.start):
            start = datetime.combine(day, span.start, zone)
            end = datetime.combine(day, span.end, zone)
            candidate = max(start, local)
            if candidate < end:
                return candidate
    return None


def weekly(calendar: OpeningHours, week: Mapping[str, Iterable[tuple[time | str, time | str]]]) -> OpeningHours:
    """A service's or a partner's hours: its weekly spans (`{"mon": [("08:30", "17:00")], …}`, missing days
    closed; "24:00" ends a day) with `calendar`'s time zone and public holidays (the line's). The line's exceptional
    closures and openings are its own: they do not apply."""
    return OpeningHours(
        timezone=calendar.timezone,
        week={day: tuple(OpeningSpan(start=s, end=e) for s, e in week.get(day, ())) for day in WEEKDAYS},
        holidays_country=calendar.holidays_country,
        holidays_subdiv=calendar.holidays_subdiv,
    )
