"""« Ma journée »: an advisor's own day on the desk. Pure: no I/O, no clock (`now` is given).

The figures are the KPI dictionary's, computed by its one module (`screenpop.statistics.kpis`) over the advisor's
own facts, so the desk and the reports never disagree:

- **Calls taken**: the advisor's answered calls that arrived today (a call belongs to the day of its arrival; a call
  in progress counts once it ended and its record is written), the line open or not (the caller gives facts whose
  `line_open` is true: a call answered after closing time is the advisor's work, though the reports count it
  « closed »).
- **Average handling time**: the dictionary's AHT (talk + hold + wrap-up per answered call; a wrap-up not known
  yet, the call not qualified, counts 0) over those calls; None (« — ») when there is none.
- **Time in pause**: the time the presence log (`advisor_events`) has the advisor `paused` between the day's start
  and `now` (a pause begun before midnight counts from midnight, one still running up to `now`).

The day is the calendar day of `now` in the line's time zone (Europe/Paris), its bounds exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from screenpop.statistics.kpis import (
    CallFacts,
    StateChangeFact,
    Thresholds,
    figures,
    intervals,
    presence_totals,
    totals,
)


@dataclass(frozen=True)
class DayFigures:
    day: str  # ISO date of the day, in the line's time zone
    calls_taken: int
    qualified: int  # calls taken whose wrap-up is known (qualified)
    aht_seconds: float | None  # None: no call taken (« — », never 0)
    hold_seconds: float  # total hold of the calls taken
    pause_seconds: float


def day_bounds(now: datetime, zone: str) -> tuple[datetime, datetime]:
    """[start, end) of `now`'s calendar day in `zone`, in UTC (a DST day lasts 23 or 25 hours: in UTC, differences of
    these bounds and of other times are real durations, which Python's same-zone arithmetic on wall times is not)."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz).date()
    start = datetime.combine(local, time(0), tz).astimezone(UTC)
    return start, datetime.combine(local + timedelta(days=1), time(0), tz).astimezone(UTC)


def my_day(
    calls: Sequence[CallFacts],
    changes: Sequence[StateChangeFact],
    now: datetime,
    zone: str,
    thresholds: Thresholds,
) -> DayFigures:
    """The figures of `now`'s day. `calls`: the advisor's calls (others of other days are left out here);
    `changes`: the advisor's presence changes of the day, with the latest one before it (it opens the day)."""
    start, end = day_bounds(now, zone)
    today = [c for c in calls if start <= c.arrived_at < end]
    sums = totals(today, thresholds)
    presence = presence_totals(intervals(changes, start, max(start, min(now, end))))
    return DayFigures(
        day=now.astimezone(ZoneInfo(zone)).date().isoformat(),
        calls_taken=sums.answered,
        qualified=sums.wrapped_up,
        aht_seconds=figures(sums).aht.value,
        hold_seconds=sums.hold,
        pause_seconds=presence.paused,
    )
