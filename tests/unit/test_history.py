"""The synthetic history (`simulator.history`): its days follow the line's calendar and hours, its rows are valid
call records and a consistent presence log, its mix is the one configured, and a seed gives the same rows."""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from config.settings import Settings
from simulator import history as gen
from storage.communes import read_csv
from telephony.hours import is_open
from telephony.records import CallRecord, Outcome

PARIS = ZoneInfo("Europe/Paris")
SETTINGS = Settings()
COLUMN = {name: i for i, name in enumerate(gen.CALL_COLUMNS)}
EVENT = {name: i for i, name in enumerate(gen.EVENT_COLUMNS)}


@cache
def communes() -> tuple[tuple[str, int], ...]:
    return tuple((str(r[0]), int(r[8] or 0)) for r in read_csv() if r[3] == "62")  # type: ignore[call-overload]


def plan(start: date, end: date, **changes: Any) -> gen.Plan:
    base = gen.Plan(
        start=start,
        end=end,
        advisors=tuple(
            gen.Advisor(i, f"conseiller{i}", f"Conseiller {i}", f"Local/c{i}@advisors") for i in range(1, 9)
        ),
        communes=communes(),
        topics={k: tuple(t.subtopics) for k, t in SETTINGS.desk.topics.items()},
        services=(
            gen.Service(1, "Service des routes", "2001", ("roads",)),
            gen.Service(3, "Autonomie — personnes âgées et handicapées", "2003", ("elderly", "disability")),
            gen.Service(4, "Action sociale — RSA", "2004", ("social_aid",)),
        ),
        organisations=(
            gen.Organisation(20, "town_hall", "Mairie d'Arras (exemple)", "62041", "+33321000041"),
            gen.Organisation(21, "town_hall", "Mairie de Calais (exemple)", "62193", "+33321000193"),
            gen.Organisation(22, "caf", "CAF du Pas-de-Calais (exemple)", None, "+33321000222"),
            gen.Organisation(23, "mdph", "MDPH du Pas-de-Calais (exemple)", None, None),
        ),
    )
    return dataclasses.replace(base, **changes)


@cache
def two_months() -> tuple[gen.Day, ...]:
    return tuple(gen.days(plan(date(2026, 3, 2), date(2026, 5, 4))))


def calls() -> list[tuple[object, ...]]:
    return [c for d in two_months() for c in d.calls]


def local(row: tuple[object, ...], column: str = "arrived_at") -> datetime:
    value = row[COLUMN[column]]
    assert isinstance(value, datetime)
    return value.astimezone(PARIS)


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2026, 3, 8), "Sunday"),
        (date(2026, 4, 6), "Easter Monday"),
        (date(2026, 5, 1), "1 May (a Friday)"),
        (date(2026, 5, 8), "8 May (a Friday)"),
        (date(2026, 5, 14), "Ascension Thursday"),
        (date(2026, 5, 25), "Whit Monday"),
        (date(2026, 7, 14), "14 July (a Tuesday)"),
        (date(2026, 8, 15), "15 August (a Saturday)"),
        (date(2026, 11, 11), "11 November (a Wednesday)"),
        (date(2026, 12, 25), "Christmas (a Friday)"),
    ],
)
def test_no_call_nor_presence_on_a_closed_day(day: date, why: str) -> None:
    (only,) = gen.days(plan(day, day + timedelta(days=1)))
    assert only.calls == [] and only.events == [], why


@pytest.mark.parametrize(
    ("day", "calls_from", "calls_until"),
    [
        (date(2026, 3, 2), (8, 0), (21, 0)),  # Monday
        (date(2026, 3, 6), (8, 0), (21, 0)),  # Friday
        (date(2026, 3, 7), (8, 0), (14, 0)),  # Saturday
        (date(2026, 3, 30), (8, 0), (21, 0)),  # the Monday after the change to summer time
        (date(2026, 10, 26), (8, 0), (21, 0)),  # the Monday after the change to winter time
    ],
)
def test_open_calls_within_the_opening_hours_exact_to_the_second(
    day: date, calls_from: tuple[int, int], calls_until: tuple[int, int]
) -> None:
    (only,) = gen.days(plan(day, day + timedelta(days=1)))
    hours = plan(day, day).hours
    opened = [c for c in only.calls if c[COLUMN["line_open"]]]
    closed = [c for c in only.calls if not c[COLUMN["line_open"]]]
    assert opened and closed  # a few out-of-hours calls on an open day
    for row in only.calls:
        arrived = row[COLUMN["arrived_at"]]
        assert isinstance(arrived, datetime)
        assert row[COLUMN["line_open"]] is is_open(arrived, hours)
        assert local(row).date() == day
    for row in opened:
        clock = local(row).time()
        assert calls_from <= (clock.hour, clock.minute) < calls_until
        assert row[COLUMN["status"]] != "closed"
    for row in closed:
        assert row[COLUMN["status"]] == "closed" and row[COLUMN["hangup_by"]] == "system"
        assert row[COLUMN["queue"]] is None and row[COLUMN["answered_at"]] is None


def _wait(row: tuple[object, ...]) -> float:
    value = row[COLUMN["wait_seconds"]]
    assert isinstance(value, float)
    return value


def test_every_row_is_a_valid_call_record_with_its_durations() -> None:
    facts = set(CallRecord.model_fields)
    outcomes = {o.value for o in Outcome}
    for row in calls():
        data = {name: row[i] for name, i in COLUMN.items()}
        record = CallRecord.model_validate({k: v for k, v in data.items() if k in facts and k != "rings"})
        assert record.wait_seconds == pytest.approx(data["wait_seconds"], abs=1e-6)
        assert record.talk_seconds == pytest.approx(data["talk_seconds"], abs=1e-6)
        assert str(data["linkedid"]).startswith(gen.PREFIX) and len(str(data["linkedid"])) <= 64
        assert data["outcome"] is None or data["outcome"] in outcomes
        assert data["commune_insee"] is None or re.fullmatch(r"[0-9][0-9AB][0-9]{3}", str(data["commune_insee"]))
        assert data["caller_kind"] in {"citizen", "town_hall", "partner"}
        assert data["callback_requested"] is None or data["callback_requested"] == (
            data["outcome"] == "callback_needed"
        )
        if data["outcome"] == "transfer":
            assert data["transfer_target"] in {"2001", "2003", "2004"} and data["transfer_service_id"] in {1, 3, 4}
            assert data["hangup_by"] == "transfer_target" and data["transferred_at"] == data["talk_ended_at"]
        if data["outcome"] == "partner_contact":
            assert data["partner_id"] in {20, 21, 22, 23} and data["partner"]
        if data["status"] == "answered":
            assert data["advisor_interface"] and data["answered_at"] is not None
            assert data["qualified_at"] is None or data["qualified_at"] > data["talk_ended_at"]  # type: ignore[operator]
        else:
            assert data["outcome"] is None and data["answered_at"] is None
        CallRecord.model_validate_json(
            '{"linkedid": "x", "arrived_at": "2026-01-01T00:00:00Z", "line_open": true, "ended_at": '
            '"2026-01-01T00:00:00Z", "hangup_by": "caller", "status": "failed", "rings": ' + str(data["rings"]) + "}"
        )


def test_the_days_volumes_and_mix_are_as_configured() -> None:
    days = [d for d in two_months() if d.calls]
    lo, hi = gen.Shape().calls_per_day
    by_weekday: dict[int, list[int]] = defaultdict(list)
    for d in days:
        opened = sum(1 for c in d.calls if c[COLUMN["line_open"]])
        by_weekday[d.day.weekday()].append(opened)
        if d.day.weekday() < 5:
            assert lo <= opened <= hi, d.day
        else:
            assert lo * 0.3 - 1 <= opened <= hi * 0.45 + 1, d.day
    assert min(by_weekday[0]) > sum(by_weekday[4]) / len(by_weekday[4])  # Mondays are the busiest
    rows = calls()
    monday_morning = [c for c in rows if local(c).weekday() == 0 and c[COLUMN["line_open"]]]
    tuesday = [c for c in rows if local(c).weekday() == 1 and c[COLUMN["line_open"]]]
    share = sum(1 for c in monday_morning if local(c).hour < 12) / len(monday_morning)
    assert share > sum(1 for c in tuesday if local(c).hour < 12) / len(tuesday) + 0.03

    status = Counter(c[COLUMN["status"]] for c in rows if c[COLUMN["line_open"]])
    offered = sum(status.values())
    short = sum(1 for c in rows if str(c[COLUMN["status"]]).startswith("abandoned") and _wait(c) < 5)
    assert short > 0
    rate = status["answered"] / (offered - short)  # taux de décroché
    assert 0.8 < rate < 0.97, status
    assert status["abandoned_ringing"] > 0 and status["failed"] > 0
    assert 0.005 < sum(1 for c in rows if not c[COLUMN["line_open"]]) / len(rows) < 0.04

    qualified = [c for c in rows if c[COLUMN["outcome"]] is not None]
    answered = status["answered"]
    assert 0.93 < len(qualified) / answered < 1.0  # a few wrap-ups ran out unqualified
    shape = gen.Shape()
    topics = Counter(c[COLUMN["topic"]] for c in qualified)
    total = sum(shape.topics.values())
    for topic, weight in shape.topics.items():  # the voice menu's choices mostly kept, so about the configured mix
        assert abs(topics[topic] / len(qualified) - weight / total) < 0.06, (topic, topics)
    outcomes = Counter(c[COLUMN["outcome"]] for c in qualified)
    for outcome in ("immediate_answer", "advice", "partner_contact", "callback_needed", "other"):
        assert outcomes[outcome] > 0
    transfers = outcomes["transfer"] / len(qualified)  # only topics a service handles are transferred
    assert 0.03 < transfers < 0.15
    kinds = Counter(c[COLUMN["caller_kind"]] for c in rows)
    assert 0.85 < kinds["citizen"] / len(rows) < 0.95 and kinds["town_hall"] > kinds["partner"] > 0
    assert sum(1 for c in qualified if c[COLUMN["commune_insee"]]) / len(qualified) > 0.8
    numbers = Counter(c[COLUMN["caller_number"]] for c in rows if c[COLUMN["caller_kind"]] == "citizen")
    assert None in numbers  # withheld numbers
    assert sum(n for number, n in numbers.items() if number and n > 1) > 0.1 * len(rows)  # people call again
    arras, boulogne = "62041", "62160"  # a big commune comes up more than a village
    communes_given = Counter(c[COLUMN["commune_insee"]] for c in qualified)
    assert communes_given[arras] + communes_given[boulogne] > 10 * max(1, communes_given["62001"])


def test_the_presence_log_is_consistent_with_the_calls() -> None:
    allowed = {
        "available": {"ringing", "paused", "logged_out"},
        "ringing": {"on_call", "available"},
        "on_call": {"wrap_up"},
        "wrap_up": {"available"},
        "paused": {"available"},
        "logged_out": {"available"},
    }
    for d in two_months()[:21]:
        by_advisor: dict[int, list[tuple[object, ...]]] = defaultdict(list)
        for e in d.events:
            by_advisor[int(e[EVENT["advisor_id"]])].append(e)  # type: ignore[call-overload]
        answered = {c[COLUMN["linkedid"]]: c for c in d.calls if c[COLUMN["status"]] == "answered"}
        taken: set[object] = set()
        for advisor, events in by_advisor.items():
            events.sort(key=lambda e: e[EVENT["at"]])  # type: ignore[arg-type, return-value]
            states = [e[EVENT["state"]] for e in events]
            assert states[0] == "available" and states[-1] == "logged_out", (d.day, advisor, states)
            for before, after in itertools.pairwise(events):
                assert after[EVENT["state"]] in allowed[str(before[EVENT["state"]])], (d.day, advisor, before, after)
            for e in events:
                if e[EVENT["state"]] == "paused":
                    assert e[EVENT["reason"]] in SETTINGS.routing.pause_reasons
                if e[EVENT["state"]] == "on_call":
                    call = answered[e[EVENT["linkedid"]]]
                    assert call[COLUMN["advisor_interface"]] == f"Local/c{advisor}@advisors"
                    assert call[COLUMN["answered_at"]] == e[EVENT["at"]]
                    taken.add(e[EVENT["linkedid"]])
                if e[EVENT["state"]] == "wrap_up":
                    assert e[EVENT["reason"]] == gen.WRAP_UP_REASON
                    assert answered[e[EVENT["linkedid"]]][COLUMN["talk_ended_at"]] == e[EVENT["at"]]
        assert taken == set(answered), d.day  # every answered call in one advisor's log


def test_a_seed_gives_the_same_rows_whatever_the_range() -> None:
    day = date(2026, 3, 11)
    alone = next(gen.days(plan(day, day + timedelta(days=1))))
    within = next(d for d in two_months() if d.day == day)
    assert alone.calls == within.calls and alone.events == within.events
    again = next(gen.days(plan(day, day + timedelta(days=1))))
    assert again.calls == alone.calls
    other = next(gen.days(plan(day, day + timedelta(days=1), seed=7)))
    assert other.calls != alone.calls


def test_expected_calls_is_close_to_what_is_made() -> None:
    made = sum(len(d.calls) for d in two_months())
    expected = gen.expected_calls(plan(date(2026, 3, 2), date(2026, 5, 4)))
    assert abs(made - expected) / expected < 0.1


def test_no_advisor_means_every_open_call_abandoned_or_failed() -> None:
    day = date(2026, 3, 3)
    (only,) = gen.days(plan(day, day + timedelta(days=1), advisors=()))
    assert only.events == []
    assert {c[COLUMN["status"]] for c in only.calls} <= {"abandoned", "failed", "closed"}


def test_timestamps_are_aware_utc() -> None:
    row = calls()[0]
    arrived = row[COLUMN["arrived_at"]]
    assert isinstance(arrived, datetime) and arrived.tzinfo is UTC
