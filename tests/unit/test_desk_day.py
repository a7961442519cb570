"""« Ma journée » (the desk): the advisor's day from their calls and presence log, as tables of hand-computed cases.
Times are Paris times on Monday 30 November 2026 (UTC+1) unless said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from screenpop.desk.day import day_bounds, my_day
from screenpop.statistics.kpis import CallFacts, StateChangeFact, Thresholds
from telephony.advisors import AdvisorState
from telephony.records import CallStatus

PARIS = ZoneInfo("Europe/Paris")
ZONE = "Europe/Paris"
T = Thresholds(wrap_up_cap=120.0)


def at(hh: int, mm: int = 0, ss: int = 0, day: int = 30) -> datetime:
    return datetime(2026, 11, day, hh, mm, ss, tzinfo=PARIS)


def call(
    arrived: datetime,
    talk: float,
    hold: float = 0.0,
    wrap: float | None = None,
    status: CallStatus = CallStatus.ANSWERED,
) -> CallFacts:
    answered = arrived + timedelta(seconds=10)
    qualified = None if wrap is None else answered + timedelta(seconds=talk + wrap)
    return CallFacts(
        linkedid=f"{arrived.timestamp()}",
        arrived_at=arrived,
        line_open=True,
        status=status,
        answered_at=answered,
        wait=10.0,
        talk=talk,
        hold=hold,
        qualified_at=qualified,
    )


def change(state: AdvisorState, when: datetime) -> StateChangeFact:
    """In UTC, as PostgreSQL gives them (Python subtracts two times of one zone as wall times)."""
    return StateChangeFact("7", state, when.astimezone(UTC))


A, P, C, W, OUT = (
    AdvisorState.AVAILABLE,
    AdvisorState.PAUSED,
    AdvisorState.ON_CALL,
    AdvisorState.WRAP_UP,
    AdvisorState.LOGGED_OUT,
)

CASES: list[tuple[str, list[CallFacts], list[StateChangeFact], datetime, dict[str, Any]]] = [
    (
        "a day with no call: AHT « — », not 0",
        [],
        [change(A, at(8))],
        at(12),
        dict(calls_taken=0, qualified=0, aht_seconds=None, hold_seconds=0.0, pause_seconds=0.0),
    ),
    (
        "two calls qualified: (100 + 20 + 40 + 10) / 2",
        [call(at(9), talk=100, wrap=20), call(at(10), talk=40, wrap=10)],
        [],
        at(12),
        dict(calls_taken=2, qualified=2, aht_seconds=(100 + 20 + 40 + 10) / 2, hold_seconds=0.0),
    ),
    (
        # talk_seconds includes the hold: AHT = (talk − hold) + hold + wrap-up = talk_seconds + wrap-up
        "hold of the calls taken, summed, counted once in the AHT",
        [call(at(9), talk=100, hold=20, wrap=20), call(at(10), talk=40, hold=5.5, wrap=10)],
        [],
        at(12),
        dict(calls_taken=2, qualified=2, hold_seconds=25.5, aht_seconds=(100 + 20 + 40 + 10) / 2),
    ),
    (
        "a call not yet qualified counts, its wrap-up 0 until then",
        [call(at(9), talk=60, wrap=30), call(at(11), talk=90)],
        [],
        at(12),
        dict(calls_taken=2, qualified=1, aht_seconds=(60 + 30 + 90) / 2),
    ),
    (
        "qualified during the call: no wrap-up; a wrap-up past the cap counts the cap",
        [call(at(9), talk=60, wrap=-30), call(at(10), talk=60, wrap=600)],
        [],
        at(12),
        dict(calls_taken=2, aht_seconds=(60 + 0 + 60 + 120) / 2),
    ),
    (
        "yesterday's and tomorrow's calls, and an abandoned one, are not today's",
        [
            call(at(23, 59, 59, day=29), talk=60),
            call(at(0, 0, 0), talk=30),
            call(at(0) + timedelta(days=1), talk=60),
            call(at(9), talk=0, status=CallStatus.ABANDONED),
        ],
        [],
        at(23, 59, 59),
        dict(calls_taken=1, aht_seconds=30.0),
    ),
    (
        "pauses: one from before midnight counts from midnight, one running counts up to now",
        [],
        [
            change(P, at(23, 0, 0, day=29)),
            change(A, at(0, 10)),
            change(C, at(9)),
            change(W, at(9, 5)),
            change(P, at(9, 6)),
            change(A, at(9, 21)),
            change(P, at(11, 50)),
        ],
        at(12),
        dict(pause_seconds=(10 + 15 + 10) * 60.0),
    ),
    (
        "logged out is not pause; a pause logged out of ends there",
        [],
        [change(P, at(10)), change(OUT, at(10, 30)), change(A, at(11))],
        at(12),
        dict(pause_seconds=30 * 60.0),
    ),
]


@pytest.mark.parametrize(("calls", "changes", "now", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_my_day(
    calls: list[CallFacts], changes: list[StateChangeFact], now: datetime, expected: dict[str, Any]
) -> None:
    figures = my_day(calls, changes, now, ZONE, T)
    for key, value in expected.items():
        assert getattr(figures, key) == (value if value is None else pytest.approx(value)), key
    assert figures.day == now.astimezone(PARIS).date().isoformat()


@pytest.mark.parametrize(
    ("now", "start", "hours"),
    [
        (datetime(2026, 11, 30, 23, 30, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=PARIS), 24),  # 00:30 in Paris
        (datetime(2026, 3, 29, 12, tzinfo=UTC), datetime(2026, 3, 29, tzinfo=PARIS), 23),  # summer time starts
        (datetime(2026, 10, 25, 12, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=PARIS), 25),  # and ends
    ],
)
def test_the_day_is_pariss_calendar_day(now: datetime, start: datetime, hours: int) -> None:
    begin, end = day_bounds(now, ZONE)
    assert begin == start and begin.tzinfo is UTC
    assert (end - begin).total_seconds() == hours * 3600


def test_a_pause_across_the_autumn_change_of_time_lasts_its_real_duration() -> None:
    """25 October 2026: 02:00 summer time → 02:00 winter time. Paused from 00:30 to 03:30 (Paris) is 4 hours."""
    pause = [
        change(P, datetime(2026, 10, 25, 0, 30, tzinfo=PARIS)),
        change(A, datetime(2026, 10, 25, 3, 30, tzinfo=PARIS)),
    ]
    figures = my_day([], pause, datetime(2026, 10, 25, 12, tzinfo=PARIS), ZONE, T)
    assert figures.pause_seconds == 4 * 3600
    assert figures.day == "2026-10-25"


def test_now_before_any_change_of_the_day_counts_no_pause() -> None:
    figures = my_day([], [change(P, at(13))], at(12), ZONE, T)
    assert figures.pause_seconds == 0.0
