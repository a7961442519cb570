"""Opening hours of the line: pure, exact to the second, French public holidays from `holidays`."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from config.settings import WEEKDAYS, OpeningHours


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


def is_open(at: datetime, hours: OpeningHours) -> bool:
    """Whether the line is open at the instant `at` (timezone-aware).

    Spans are half-open [start, end): with 08:00–21:00, 20:59:59.999 is open and 21:00:00 is closed.
    """
    if at.tzinfo is None:
        raise ValueError("is_open needs a timezone-aware datetime")
    local = at.astimezone(_zone(hours.timezone))
    day = local.date()
    if day in hours.closed_dates:
        return False
    if is_holiday(day, hours) and day not in hours.open_dates:
        return False
    clock = local.time().replace(tzinfo=None)
    return any(span.start <= clock < span.end for span in hours.week[WEEKDAYS[local.weekday()]])
