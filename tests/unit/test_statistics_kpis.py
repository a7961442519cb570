"""The KPI dictionary (KPIS.md) as tables of hand-computed cases."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from config.settings import OpeningHours, OpeningSpan, Settings
from screenpop.statistics import definitions
from screenpop.statistics.kpis import (
    CALLBACK_FIGURE_NAMES,
    FIGURE_CALLS,
    FIGURE_NAMES,
    CallbackFacts,
    CallbackStatus,
    CallbackTotals,
    CallFacts,
    CallSet,
    Figure,
    PresenceInterval,
    StateChangeFact,
    Thresholds,
    callback_figures,
    callback_totals,
    compute,
    in_set,
    intervals,
    is_overdue,
    longest_wait,
    meets,
    overdue_count,
    presence_totals,
    within_from_groups,
    within_working_day,
)
from telephony.advisors import AdvisorState
from telephony.records import CallStatus, Outcome

PARIS = ZoneInfo("Europe/Paris")
T = Thresholds()
DAY = datetime(2026, 3, 10, 10, 0, tzinfo=PARIS)  # a Tuesday
_n = 0


def call(status: CallStatus = CallStatus.ANSWERED, *, at: datetime = DAY, **kw: Any) -> CallFacts:
    global _n
    _n += 1
    kw.setdefault("line_open", status is not CallStatus.CLOSED)
    if status is CallStatus.ANSWERED:
        kw.setdefault("wait", 10.0)
        kw.setdefault("talk", 100.0)
        kw.setdefault("answered_at", at + timedelta(seconds=kw["wait"]))
    return CallFacts(linkedid=f"c{_n}", arrived_at=at, status=status, **kw)


def test_a_day_with_no_call_shows_no_rate_and_no_mean() -> None:
    f = compute([], T)
    assert f.offered.value == 0
    for name in FIGURE_NAMES:
        figure = getattr(f, name)
        if figure.kind != "count":
            assert figure.value is None, name
            assert definitions.show(name, figure) == "—"
    assert meets(f.answer_rate, T.answer_rate_target) is None


def test_only_closed_calls_give_no_rate() -> None:
    f = compute([call(CallStatus.CLOSED), call(CallStatus.CLOSED)], T)
    assert (f.calls.value, f.offered.value, f.closed.value) == (2, 0, 2)
    assert f.answer_rate.value is None and f.service_level.value is None


@pytest.mark.parametrize(
    ("waits", "short", "abandoned", "rate_num", "rate_den"),
    [
        # 4 answered + abandons waiting 2 s, 4.99 s (short), 5 s (not short: "< 5 s"), 30 s
        ((2.0, 4.99, 5.0, 30.0), 2, 2, 4, 6),
        ((), 0, 0, 4, 4),
        ((0.0,), 1, 0, 4, 4),  # a caller who hangs up at once changes nothing
    ],
)
def test_short_abandons_are_set_apart_from_the_rates(
    waits: tuple[float, ...], short: int, abandoned: int, rate_num: int, rate_den: int
) -> None:
    calls = [call() for _ in range(4)] + [call(CallStatus.ABANDONED, wait=w) for w in waits]
    f = compute(calls, T)
    assert f.short_abandoned.value == short
    assert f.abandoned.value == abandoned
    assert (f.answer_rate.numerator, f.answer_rate.denominator) == (rate_num, rate_den)
    assert f.abandon_rate == Figure.ratio(abandoned, rate_den)


def test_abandoned_while_ringing_is_an_abandon() -> None:
    f = compute([call(CallStatus.ABANDONED_RINGING, wait=12.0), call()], T)
    assert f.abandoned.value == 1
    assert f.average_abandon_time.value == 12.0


def test_asa_reads_answered_calls_only_and_abandon_time_abandoned_only() -> None:
    calls = [
        call(wait=10.0),
        call(wait=30.0),
        call(CallStatus.ABANDONED, wait=100.0),
        call(CallStatus.ABANDONED, wait=60.0),
        call(CallStatus.ABANDONED, wait=1.0),  # short: in neither mean
        call(CallStatus.FAILED, wait=300.0),  # queue timeout: in neither mean
    ]
    f = compute(calls, T)
    assert f.asa.value == 20.0
    assert f.average_abandon_time.value == 80.0
    assert f.failed.value == 1
    # taux de décroché: 2 answered / (6 offered − 1 short); service level: waits ≤ 20 s
    assert f.answer_rate == Figure.ratio(2, 5)
    assert f.service_level == Figure.ratio(1, 5)


@pytest.mark.parametrize(("wait", "in_time"), [(0.0, True), (19.9, True), (20.0, True), (20.01, False)])
def test_service_level_counts_answers_within_t_seconds(wait: float, in_time: bool) -> None:
    f = compute([call(wait=wait)], T)
    assert f.service_level.numerator == int(in_time)
    assert compute([call(wait=wait)], Thresholds(service_level=30.0)).service_level.value == 1.0


def test_the_threshold_is_configurable() -> None:
    settings = Settings(statistics={"short_abandon_seconds": 10, "service_level_seconds": 40})
    t = Thresholds.from_settings(settings)
    assert (t.short_abandon, t.service_level, t.wrap_up_cap) == (10.0, 40.0, settings.routing.wrapup_max)
    f = compute([call(CallStatus.ABANDONED, wait=8.0), call(wait=35.0)], t)
    assert f.short_abandoned.value == 1 and f.service_level.value == 1.0


def test_out_of_hours_calls_are_counted_apart_as_closed() -> None:
    f = compute([call(), call(CallStatus.CLOSED), call(CallStatus.ABANDONED, wait=40.0)], T)
    assert (f.calls.value, f.offered.value, f.closed.value, f.answered.value) == (3, 2, 1, 1)
    assert f.answer_rate == Figure.ratio(1, 2)


def test_a_call_is_attributed_to_its_arrival_whatever_time_it_ended() -> None:
    """Arrived at 20:59:58 on an open line, answered after closing at 21:00 then talking past midnight: an offered,
    answered call of that day. One arriving at 21:00:00 is closed (the boundary is exact to the second)."""
    before_close = datetime(2026, 3, 10, 20, 59, 58, tzinfo=PARIS)
    straddling = call(wait=40.0, talk=3 * 3600.0, at=before_close)
    assert straddling.talk_ended_at() is not None
    assert straddling.talk_ended_at().astimezone(PARIS).date() > before_close.date()  # type: ignore[union-attr]
    after_close = call(CallStatus.CLOSED, at=datetime(2026, 3, 10, 21, 0, 0, tzinfo=PARIS))
    f = compute([straddling, after_close], T)
    assert (f.offered.value, f.answered.value, f.closed.value) == (1, 1, 1)
    assert f.service_level == Figure.ratio(0, 1)
    assert f.average_talk.value == 3 * 3600.0


def test_transfers_and_immediate_answers_over_answered_calls() -> None:
    calls = [
        call(outcome=Outcome.TRANSFER, transfer_service="Service des routes"),
        call(outcome=Outcome.TRANSFER),
        call(outcome=Outcome.IMMEDIATE_ANSWER),
        call(outcome=None),  # not qualified yet
        call(CallStatus.ABANDONED, wait=30.0, outcome=Outcome.TRANSFER),  # never answered: not a transfer
    ]
    f = compute(calls, T)
    assert f.transfers.value == 2
    assert f.transfer_rate == Figure.ratio(2, 4)
    assert f.immediate_answer_rate == Figure.ratio(1, 4)


def test_callbacks_requested_over_answered_calls() -> None:
    f = compute([call(callback_requested=True), call(), call(callback_requested=True), call()], T)
    assert f.callbacks_requested.value == 2
    assert f.callback_request_rate.value == 0.5


def test_wrap_up_runs_from_the_end_of_talk_to_the_saved_qualification() -> None:
    at = DAY
    answered = at + timedelta(seconds=10)
    end = answered + timedelta(seconds=100)
    calls = [
        call(wait=10.0, talk=100.0, qualified_at=end + timedelta(seconds=30)),  # 30 s
        call(wait=10.0, talk=100.0, qualified_at=end - timedelta(seconds=50)),  # qualified during the call: 0
        call(wait=10.0, talk=100.0, qualified_at=end + timedelta(hours=2)),  # capped at wrapup_max (120 s)
        call(wait=10.0, talk=100.0, hold=20.0),  # not qualified: unknown, counts 0 in the AHT
    ]
    f = compute(calls, T)
    assert f.average_wrap_up == Figure.mean(150.0, 3)
    # talk_seconds includes the hold: talk 380 (net) + hold 20 + wrap-up 150
    assert f.aht == Figure.mean(4 * 100.0 + 150.0, 4)
    assert f.average_talk == Figure.mean(380.0, 4)
    assert f.average_hold.value == 5.0


def test_repeat_callers_called_within_seven_days_before() -> None:
    number = "+33321000001"
    calls = [
        call(caller_number=number, previous_call_at=DAY - timedelta(days=7)),  # exactly 7 days: repeat
        call(caller_number=number, previous_call_at=DAY - timedelta(days=7, seconds=1)),
        call(caller_number=None, previous_call_at=DAY - timedelta(hours=1)),  # anonymous: never
        call(caller_number=number),
    ]
    assert compute(calls, T).repeat_callers == Figure.ratio(1, 4)


def test_unanswered_questions_are_counted() -> None:
    f = compute([call(unanswered_question=True), call(), call(CallStatus.CLOSED, unanswered_question=True)], T)
    assert f.unanswered_questions.value == 1  # closed calls are counted apart


def test_sums_add_up_across_groups() -> None:
    calls = [call(), call(CallStatus.ABANDONED, wait=8.0), call(CallStatus.CLOSED), call(wait=40.0)]
    whole = compute(calls, T).totals
    assert compute(calls[:2], T).totals + compute(calls[2:], T).totals == whole


def _changes(advisor: str, *steps: tuple[int, AdvisorState]) -> list[StateChangeFact]:
    return [StateChangeFact(advisor, state, DAY + timedelta(minutes=m)) for m, state in steps]


def test_occupancy_from_the_presence_log() -> None:
    """Agnès logs in at 9:50 (before the period, 10:00–11:00), 20 min available, 20 min on call, 10 min wrap-up,
    10 min pause. Bruno logs in at 10:30, on call 10 min, then logs out at 10:50: busy 30+10 / (60+20 − 10)."""
    s = DAY
    e = DAY + timedelta(hours=1)
    changes = _changes(
        "agnes",
        (-10, AdvisorState.AVAILABLE),
        (10, AdvisorState.ON_CALL),
        (30, AdvisorState.WRAP_UP),
        (40, AdvisorState.PAUSED),
        (50, AdvisorState.AVAILABLE),
    ) + _changes("bruno", (30, AdvisorState.AVAILABLE), (40, AdvisorState.ON_CALL), (50, AdvisorState.LOGGED_OUT))
    spans = intervals(changes, s, e)
    assert sum(i.seconds for i in spans if i.advisor == "agnes") == 3600
    p = presence_totals(spans)
    assert (p.busy, p.logged_in, p.paused) == (40 * 60, 80 * 60, 10 * 60)
    f = compute([], T, spans)
    assert f.occupancy == Figure.ratio(40 * 60, 70 * 60)


def test_occupancy_without_anyone_logged_in_is_a_dash() -> None:
    s = DAY
    spans = [PresenceInterval("agnes", AdvisorState.LOGGED_OUT, s, s + timedelta(hours=1))]
    assert compute([], T, spans).occupancy.value is None
    assert compute([], T).occupancy.value is None


def test_longest_current_wait() -> None:
    now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    assert longest_wait([], now) is None
    assert longest_wait([now - timedelta(seconds=109), now - timedelta(seconds=5)], now) == 109.0


@pytest.mark.parametrize(
    ("name", "figure", "shown", "plain"),
    [
        ("answer_rate", Figure.ratio(853, 1000), "85,3\u00a0%", "85,30"),
        ("answer_rate", Figure.ratio(1, 3), "33,3\u00a0%", "33,33"),
        ("answer_rate", Figure.ratio(0, 0), "—", ""),
        ("asa", Figure.mean(109, 1), "1 min 49 s", "109,0"),
        ("aht", Figure.mean(7500, 1), "2 h 05 min", "7500,0"),
        ("offered", Figure.count(12345), "12\u202f345", "12345"),
    ],
)
def test_figures_in_french(name: str, figure: Figure, shown: str, plain: str) -> None:
    assert definitions.show(name, figure) == shown
    assert definitions.plain(name, figure) == plain


def test_every_figure_has_a_french_definition_with_its_thresholds() -> None:
    assert set(definitions.DEFINITIONS) == {*FIGURE_NAMES, *CALLBACK_FIGURE_NAMES, *definitions.LIVE_NAMES}
    sentence = definitions.DEFINITIONS["service_level"].sentence(T)
    assert "20 s" in sentence and "80 %" in sentence
    assert "5 s" in definitions.DEFINITIONS["short_abandoned"].sentence(T)
    anchors = [d.anchor for d in definitions.DEFINITIONS.values()]
    assert len(set(anchors)) == len(anchors)


def test_each_count_figure_counts_the_calls_its_drill_down_lists() -> None:
    calls = [
        call(wait=30.0, outcome=Outcome.TRANSFER, callback_requested=True),
        call(wait=3.0, outcome=Outcome.IMMEDIATE_ANSWER, unanswered_question=True),
        call(CallStatus.ABANDONED, wait=2.0),
        call(CallStatus.ABANDONED_RINGING, wait=25.0),
        call(CallStatus.FAILED, wait=400.0),
        call(CallStatus.CLOSED),
        call(caller_number="+33321000001", previous_call_at=DAY - timedelta(days=1)),
    ]
    f = compute(calls, T)
    for name, which in FIGURE_CALLS.items():
        listed = sum(in_set(c, which, T) for c in calls)
        figure = getattr(f, name)
        if figure.kind == "count":
            assert figure.value == listed, name
        elif figure.kind == "rate" and name != "occupancy":
            assert figure.numerator == listed, name
    assert sum(in_set(c, CallSet.ANSWERED_IN_TIME, T) for c in calls) == 2


# ---- callbacks: done / (created − cancelled), within one working day, median delay, attempts ----

WEEKDAY = (OpeningSpan(start=time(8), end=time(18)),)
# a line open Monday to Friday, closed on French public holidays
HOURS = OpeningHours(week={day: WEEKDAY for day in ("mon", "tue", "wed", "thu", "fri")})
FRIDAY_16 = datetime(2026, 3, 13, 16, 0, tzinfo=PARIS)
MONDAY = datetime(2026, 3, 16, tzinfo=PARIS)


def callback(
    status: CallbackStatus, created: datetime = DAY, done: datetime | None = None, attempts: int = 0
) -> CallbackFacts:
    return CallbackFacts(created_at=created, status=status, done_at=done, attempts=attempts)


@pytest.mark.parametrize(
    ("created", "done", "within"),
    [
        (DAY, DAY + timedelta(hours=2), True),  # Tuesday 10:00, done 12:00
        (DAY, DAY + timedelta(days=1, seconds=-1), True),  # Wednesday 09:59:59
        (DAY, DAY + timedelta(days=1), False),  # Wednesday 10:00: the same time on the next open day
        (FRIDAY_16, MONDAY.replace(hour=9), True),  # after a weekend: Monday morning, before 16:00
        (FRIDAY_16, MONDAY.replace(hour=16), False),
        (FRIDAY_16, FRIDAY_16 + timedelta(days=1), True),  # Saturday: before Monday 16:00
        # Easter Monday 2026 (6 April) is a holiday: asked Friday 3 April 16:00, the next open day is Tuesday
        (datetime(2026, 4, 3, 16, tzinfo=PARIS), datetime(2026, 4, 7, 15, 59, tzinfo=PARIS), True),
        (datetime(2026, 4, 3, 16, tzinfo=PARIS), datetime(2026, 4, 7, 16, 0, tzinfo=PARIS), False),
        # asked on a Saturday (the line closed): the next open day is Monday
        (datetime(2026, 3, 14, 11, tzinfo=PARIS), datetime(2026, 3, 16, 10, 59, tzinfo=PARIS), True),
    ],
)
def test_a_callback_is_done_within_one_working_day_before_the_same_time_on_the_next_open_day(
    created: datetime, done: datetime, within: bool
) -> None:
    assert within_working_day(created, done, HOURS) is within
    assert is_overdue(created, done, HOURS) is not within
    assert overdue_count([created, created], done, HOURS) == (0 if within else 2)
    # the SQL's grouped form decides the same
    local_c, local_d = created.astimezone(PARIS), done.astimezone(PARIS)
    groups = [(local_c.date(), local_c.time().replace(tzinfo=None), local_d.date(), local_d.time(), 3)]
    assert within_from_groups(groups, HOURS) == (3 if within else 0)


def test_callback_figures_hand_computed() -> None:
    facts = [
        callback(CallbackStatus.DONE, DAY, DAY + timedelta(hours=2), attempts=1),  # 2 h, one attempt
        callback(CallbackStatus.DONE, FRIDAY_16, MONDAY.replace(hour=9), attempts=3),  # 65 h, after a weekend: within
        callback(CallbackStatus.DONE, DAY, DAY + timedelta(days=2), attempts=2),  # 48 h: late
        callback(CallbackStatus.CANCELLED, DAY, attempts=1),  # left out of every rate
        callback(CallbackStatus.OPEN, DAY, attempts=2),  # still owed: counts against completion only
    ]
    t = callback_totals(facts, HOURS)
    assert t == CallbackTotals(created=5, cancelled=1, done=3, within_day=2, attempts_done=6, median_delay=48 * 3600.0)
    f = callback_figures(t)
    assert f.callbacks_created.value == 5 and f.callbacks_done.value == 3 and f.callbacks_cancelled.value == 1
    assert f.callback_completion.value == pytest.approx(3 / 4)  # 3 done / (5 created − 1 cancelled)
    assert f.callback_within_day.value == pytest.approx(2 / 3)
    assert f.callback_median_delay.value == 48 * 3600.0  # of 2 h, 48 h, 65 h
    assert f.callback_attempts.value == 2.0  # (1 + 3 + 2) / 3
    assert definitions.show("callback_completion", f.callback_completion) == "75\u00a0%"
    assert definitions.show("callback_median_delay", f.callback_median_delay) == definitions.duration(48 * 3600)
    assert definitions.show("callback_attempts", f.callback_attempts) == "2"


def test_the_median_of_an_even_number_of_delays_is_the_mean_of_the_middle_two() -> None:
    facts = [callback(CallbackStatus.DONE, DAY, DAY + timedelta(hours=h), attempts=1) for h in (1, 2, 4, 100)]
    assert callback_figures(callback_totals(facts, HOURS)).callback_median_delay.value == 3 * 3600.0


def test_no_callbacks_or_only_cancelled_ones_show_a_dash() -> None:
    for facts in ([], [callback(CallbackStatus.CANCELLED)]):
        f = callback_figures(callback_totals(facts, HOURS))
        for name in ("callback_completion", "callback_within_day", "callback_median_delay", "callback_attempts"):
            figure = getattr(f, name)
            assert figure.value is None, name
            assert definitions.show(name, figure) == "—", name
    # open callbacks only: completion 0 %, the others « — » (nothing done yet)
    f = callback_figures(callback_totals([callback(CallbackStatus.OPEN)], HOURS))
    assert f.callback_completion.value == 0.0 and f.callback_within_day.value is None


def test_every_callback_figure_has_a_french_definition_with_its_anchor() -> None:
    for name in CALLBACK_FIGURE_NAMES:
        d = definitions.DEFINITIONS[name]
        assert d.label and d.sentence(T) and d.anchor == "def-" + name.replace("_", "-")
