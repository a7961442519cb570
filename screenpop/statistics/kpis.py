"""The KPI dictionary (../shared/design/KPIS.md), implemented once: pure functions over per-call facts and presence
intervals. No I/O, no clock: whoever calls gives the facts (from `call_records` and `advisor_events`) and the
thresholds (`config.settings.StatisticsSettings`).

The SQL of the reports (`storage.statistics`) computes the same figures by aggregating in PostgreSQL; a test
(`tests/integration/test_statistics_sql.py`) keeps the two equal over the same facts. Read the rules here:

- A call belongs to the day (hour, week…) of its **arrival**, in the line's time zone, whatever time it ended.
- **Offered**: arrived while the line was open (`line_open`); the others are counted apart as **closed** and take
  part in no rate.
- **Short abandon**: an offered call the caller left while waiting (`abandoned` or `abandoned_ringing`) after a
  wait strictly shorter than `short_abandon` seconds. **Abandoned** counts the others (wait ≥ the threshold).
- **Needing an agent** = offered − short abandons: the denominator of the taux de décroché, of the abandonment
  rate and of the service level.
- **Service level**: answered with a wait ≤ T seconds / needing an agent.
- **ASA**: mean wait of answered calls only; **average abandon time**: mean wait of abandoned (not short) calls.
- **Wrap-up** of an answered call: from the end of the advisor's talk (transfer, hang-up) to the qualification being
  saved, never below 0 (qualified during the call) nor above `wrap_up_cap` (the router ends a wrap-up then);
  unknown (None) while the call is not qualified.
- **AHT**: (talk + hold + wrap-up) / answered; a wrap-up not known yet counts 0. The record's `talk_seconds` runs from
  the answer to the end of the advisor's part, hold included: talk here is `talk_seconds − hold_seconds`.
- **Occupancy**: time on call and in wrap-up / (logged-in time − pause time), from the presence log.
- Every ratio or mean with an empty denominator is None (shown « — »), never 0 % or 100 %.

Callbacks (the `callbacks` table, one per call whose qualification asked for one), by the day of their **creation**
(the qualification's save):
- **Completion**: callbacks done / (callbacks created − cancelled).
- **Within one working day**: of the callbacks done, the share done before the same local time on the line's next
  open day after the day of the request (`telephony.hours.next_open_day`: weekly spans that day, not a holiday nor
  an exceptional closure): asked Friday 16:00, done Monday 15:59 is within, Monday 16:00 is not.
- **Median delay**: the median of done − created over the callbacks done.
- **Attempts per callback**: the attempts recorded on the callbacks done (the reaching one included) / callbacks done.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal

from config.settings import OpeningHours, Settings, StatisticsSettings
from telephony.advisors import AdvisorState
from telephony.hours import local_clock, next_open_day
from telephony.records import CallStatus, Outcome

ABANDON_STATUSES = frozenset({CallStatus.ABANDONED, CallStatus.ABANDONED_RINGING})


class CallerKind(StrEnum):
    """Who called, as the directory recognised the number (`call_records.caller_kind`; none: a citizen)."""

    CITIZEN = "citizen"
    TOWN_HALL = "town_hall"
    PARTNER = "partner"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The configurable thresholds of the dictionary, in seconds and shares."""

    short_abandon: float = 5.0
    service_level: float = 20.0
    answer_rate_target: float = 0.85
    service_level_target: float = 0.80
    repeat_days: int = 7
    wrap_up_cap: float = 120.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls.of(settings.statistics, wrap_up_cap=settings.routing.wrapup_max)

    @classmethod
    def of(cls, stats: StatisticsSettings, *, wrap_up_cap: float) -> Thresholds:
        return cls(
            short_abandon=stats.short_abandon_seconds,
            service_level=stats.service_level_seconds,
            answer_rate_target=stats.answer_rate_target,
            service_level_target=stats.service_level_target,
            repeat_days=stats.repeat_days,
            wrap_up_cap=wrap_up_cap,
        )


@dataclass(frozen=True, slots=True)
class CallFacts:
    """The stored facts of one ended call that the figures read (one row of `call_records`, with the caller's
    previous call and whether the advisor noted a question left without an answer). Times are aware."""

    linkedid: str
    arrived_at: datetime
    line_open: bool
    status: CallStatus
    queue_entered_at: datetime | None = None
    answered_at: datetime | None = None
    wait: float | None = None  # seconds in the queue (`wait_seconds`); None: never queued
    talk: float | None = None  # answer → end of the advisor's part (`talk_seconds`), hold included; None: unanswered
    hold: float = 0.0  # seconds on hold within the talk (`hold_seconds`, Hold/Unhold); 0 until recorded
    qualified_at: datetime | None = None
    outcome: Outcome | None = None
    topic: str | None = None
    subtopic: str | None = None
    commune_insee: str | None = None
    epci: str | None = None
    caller_kind: CallerKind = CallerKind.CITIZEN
    caller_number: str | None = None
    advisor: str | None = None  # the advisor's interface (`advisor_interface`)
    transfer_service: str | None = None
    partner: str | None = None
    callback_requested: bool = False
    unanswered_question: bool = False  # a « pas de réponse trouvée » question was recorded for the call
    previous_call_at: datetime | None = None  # the same number's previous call, if any

    @property
    def offered(self) -> bool:
        return self.line_open

    @property
    def waited(self) -> float:
        """The wait in seconds, 0 for a call that never queued."""
        return self.wait or 0.0

    def is_abandon(self) -> bool:
        return self.line_open and self.status in ABANDON_STATUSES

    def is_short_abandon(self, t: Thresholds) -> bool:
        return self.is_abandon() and self.waited < t.short_abandon

    def is_answered(self) -> bool:
        return self.line_open and self.status is CallStatus.ANSWERED

    def talk_ended_at(self) -> datetime | None:
        if self.answered_at is None:
            return None
        return self.answered_at + timedelta(seconds=self.talk or 0.0)

    def wrap_up(self, t: Thresholds) -> float | None:
        """Seconds from the end of the talk to the qualification being saved, within [0, wrap_up_cap]."""
        if self.answered_at is None or self.qualified_at is None:
            return None
        after_talk = (self.qualified_at - self.answered_at).total_seconds() - (self.talk or 0.0)
        return min(max(after_talk, 0.0), t.wrap_up_cap)

    def is_repeat(self, t: Thresholds) -> bool:
        """The same number called within `repeat_days` before this call (anonymous calls never repeat)."""
        if self.caller_number is None or self.previous_call_at is None:
            return False
        return self.arrived_at - self.previous_call_at <= timedelta(days=t.repeat_days)


class CallSet(StrEnum):
    """The calls behind a figure (what its drill-down lists): the numerator's calls for a rate, the calls averaged
    for a mean, the calls counted for a count."""

    ALL = "all"
    OFFERED = "offered"
    CLOSED = "closed"
    ANSWERED = "answered"
    ANSWERED_IN_TIME = "answered_in_time"
    ABANDONED = "abandoned"
    SHORT_ABANDONED = "short_abandoned"
    FAILED = "failed"
    TRANSFERS = "transfers"
    IMMEDIATE_ANSWERS = "immediate_answers"
    CALLBACKS_REQUESTED = "callbacks_requested"
    REPEAT_CALLS = "repeat_calls"
    UNANSWERED_QUESTIONS = "unanswered_questions"


def in_set(f: CallFacts, which: CallSet, t: Thresholds) -> bool:
    """Whether a call is one of the calls behind a figure (the same predicates as `totals`)."""
    match which:
        case CallSet.ALL:
            return True
        case CallSet.OFFERED:
            return f.line_open
        case CallSet.CLOSED:
            return not f.line_open
        case CallSet.ANSWERED:
            return f.is_answered()
        case CallSet.ANSWERED_IN_TIME:
            return f.is_answered() and f.waited <= t.service_level
        case CallSet.ABANDONED:
            return f.is_abandon() and not f.is_short_abandon(t)
        case CallSet.SHORT_ABANDONED:
            return f.is_short_abandon(t)
        case CallSet.FAILED:
            return f.line_open and not f.is_answered() and not f.is_abandon()
        case CallSet.TRANSFERS:
            return f.is_answered() and f.outcome is Outcome.TRANSFER
        case CallSet.IMMEDIATE_ANSWERS:
            return f.is_answered() and f.outcome is Outcome.IMMEDIATE_ANSWER
        case CallSet.CALLBACKS_REQUESTED:
            return f.is_answered() and f.callback_requested
        case CallSet.REPEAT_CALLS:
            return f.line_open and f.is_repeat(t)
        case CallSet.UNANSWERED_QUESTIONS:
            return f.line_open and f.unanswered_question


# The calls behind each figure (the drill-down of a figure lists them).
FIGURE_CALLS: dict[str, CallSet] = {
    "calls": CallSet.ALL,
    "offered": CallSet.OFFERED,
    "closed": CallSet.CLOSED,
    "answered": CallSet.ANSWERED,
    "answer_rate": CallSet.ANSWERED,
    "abandoned": CallSet.ABANDONED,
    "short_abandoned": CallSet.SHORT_ABANDONED,
    "abandon_rate": CallSet.ABANDONED,
    "failed": CallSet.FAILED,
    "service_level": CallSet.ANSWERED_IN_TIME,
    "asa": CallSet.ANSWERED,
    "average_abandon_time": CallSet.ABANDONED,
    "aht": CallSet.ANSWERED,
    "average_talk": CallSet.ANSWERED,
    "average_hold": CallSet.ANSWERED,
    "average_wrap_up": CallSet.ANSWERED,
    "occupancy": CallSet.ANSWERED,
    "transfers": CallSet.TRANSFERS,
    "transfer_rate": CallSet.TRANSFERS,
    "immediate_answer_rate": CallSet.IMMEDIATE_ANSWERS,
    "callbacks_requested": CallSet.CALLBACKS_REQUESTED,
    "callback_request_rate": CallSet.CALLBACKS_REQUESTED,
    "repeat_callers": CallSet.REPEAT_CALLS,
    "unanswered_questions": CallSet.UNANSWERED_QUESTIONS,
}


@dataclass(frozen=True, slots=True)
class PresenceInterval:
    """One advisor in one presence state over [start, end) (consecutive `advisor_events`, clipped to a period)."""

    advisor: str
    state: AdvisorState
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return max((self.end - self.start).total_seconds(), 0.0)


FigureKind = Literal["count", "rate", "mean", "median"]


@dataclass(frozen=True, slots=True)
class Figure:
    """One KPI: `value` is numerator / denominator for a rate or a mean (None when the denominator is 0, shown « — »),
    the numerator itself for a count (denominator None), the median itself for a median (the denominator: how many
    values, None shown when 0). Seconds for durations, a share in [0, 1] for rates."""

    kind: FigureKind
    numerator: float
    denominator: float | None = None

    @property
    def value(self) -> float | None:
        if self.kind == "count":
            return self.numerator
        if not self.denominator:
            return None
        if self.kind == "median":
            return self.numerator
        return self.numerator / self.denominator

    @classmethod
    def count(cls, n: float) -> Figure:
        return cls("count", n)

    @classmethod
    def ratio(cls, numerator: float, denominator: float) -> Figure:
        return cls("rate", numerator, denominator)

    @classmethod
    def mean(cls, total: float, n: float) -> Figure:
        return cls("mean", total, n)

    @classmethod
    def median_of(cls, median: float | None, n: float) -> Figure:
        return cls("median", median or 0.0, n if median is not None else 0)


def meets(figure: Figure, target: float) -> bool | None:
    """Whether a rate reaches its target (None when the rate is « — »)."""
    value = figure.value
    return None if value is None else value >= target


@dataclass(frozen=True, slots=True)
class Totals:
    """The sums every figure is made of, over one set of calls: what the SQL aggregates return too."""

    calls: int = 0  # every call, offered or closed
    offered: int = 0
    closed: int = 0
    answered: int = 0
    abandoned: int = 0  # not short
    short_abandoned: int = 0
    failed: int = 0  # offered, neither answered nor abandoned (left the voice menu, queue timeout…)
    answered_in_time: int = 0  # answered with wait ≤ T
    answered_wait: float = 0.0  # sum of the waits of answered calls
    abandoned_wait: float = 0.0  # sum of the waits of abandoned (not short) calls
    talk: float = 0.0  # sums over answered calls: talk net of hold, hold, wrap-up (AHT is their sum)
    hold: float = 0.0
    wrap_up: float = 0.0
    wrapped_up: int = 0  # answered calls whose wrap-up is known (qualified)
    transfers: int = 0  # answered, outcome « transfert vers un service »
    immediate_answers: int = 0  # answered, outcome « réponse immédiate »
    callbacks_requested: int = 0  # answered, callback requested
    repeat_calls: int = 0  # offered, the number called within `repeat_days` before
    unanswered_questions: int = 0  # offered, a question left without an answer

    def __add__(self, other: Totals) -> Totals:
        return Totals.of({name: getattr(self, name) + getattr(other, name) for name in TOTALS_FIELDS})

    @classmethod
    def of(cls, sums: Mapping[str, float]) -> Totals:
        """From sums by name (SQL rows): counts as int, durations as float."""
        values: list[Any] = [int(sums[n]) if n in _COUNT_FIELDS else float(sums[n]) for n in TOTALS_FIELDS]
        return cls(*values)


TOTALS_FIELDS: tuple[str, ...] = Totals.__slots__
_COUNT_FIELDS = frozenset(name for name in TOTALS_FIELDS if isinstance(getattr(Totals(), name), int))


def totals(facts: Iterable[CallFacts], t: Thresholds) -> Totals:
    """Sum the facts of a set of calls (each call once, by its own facts: the order does not matter)."""
    calls = offered = closed = answered = abandoned = short = failed = in_time = wrapped = 0
    transfers = immediate = callbacks = repeats = unanswered = 0
    answered_wait = abandoned_wait = talk = hold = wrap = 0.0
    for f in facts:
        calls += 1
        if not f.line_open:
            closed += 1
            continue
        offered += 1
        repeats += f.is_repeat(t)
        unanswered += f.unanswered_question
        if f.is_answered():
            answered += 1
            answered_wait += f.waited
            in_time += f.waited <= t.service_level
            talk += max((f.talk or 0.0) - f.hold, 0.0)  # the conversation itself, hold apart
            hold += f.hold
            w = f.wrap_up(t)
            if w is not None:
                wrapped += 1
                wrap += w
            transfers += f.outcome is Outcome.TRANSFER
            immediate += f.outcome is Outcome.IMMEDIATE_ANSWER
            callbacks += f.callback_requested
        elif f.is_abandon():
            if f.is_short_abandon(t):
                short += 1
            else:
                abandoned += 1
                abandoned_wait += f.waited
        else:
            failed += 1
    return Totals(
        calls=calls,
        offered=offered,
        closed=closed,
        answered=answered,
        abandoned=abandoned,
        short_abandoned=short,
        failed=failed,
        answered_in_time=in_time,
        answered_wait=answered_wait,
        abandoned_wait=abandoned_wait,
        talk=talk,
        hold=hold,
        wrap_up=wrap,
        wrapped_up=wrapped,
        transfers=transfers,
        immediate_answers=immediate,
        callbacks_requested=callbacks,
        repeat_calls=repeats,
        unanswered_questions=unanswered,
    )


@dataclass(frozen=True, slots=True)
class PresenceTotals:
    """Seconds of the presence log over a period: busy (on call, wrap-up), logged in, paused."""

    busy: float = 0.0
    logged_in: float = 0.0
    paused: float = 0.0

    def __add__(self, other: PresenceTotals) -> PresenceTotals:
        return PresenceTotals(self.busy + other.busy, self.logged_in + other.logged_in, self.paused + other.paused)


BUSY_STATES = frozenset({AdvisorState.ON_CALL, AdvisorState.WRAP_UP})


def presence_totals(intervals: Iterable[PresenceInterval]) -> PresenceTotals:
    return presence_of((i.state, i.seconds) for i in intervals)


def presence_of(seconds: Iterable[tuple[str, float]]) -> PresenceTotals:
    """Busy, logged-in and pause seconds from seconds per presence state (as `advisor_events.state` names them)."""
    busy = logged_in = paused = 0.0
    for state, s in seconds:
        if state == AdvisorState.LOGGED_OUT:
            continue
        logged_in += s
        if state == AdvisorState.PAUSED:
            paused += s
        elif state in BUSY_STATES:
            busy += s
    return PresenceTotals(busy, logged_in, paused)


@dataclass(frozen=True, slots=True)
class StateChangeFact:
    """One row of `advisor_events`: the advisor entered `state` at `at`."""

    advisor: str
    state: AdvisorState
    at: datetime


def intervals(changes: Sequence[StateChangeFact], start: datetime, end: datetime) -> list[PresenceInterval]:
    """The presence intervals within [start, end) from the log: each state lasts until the advisor's next change
    (or `end`); give the last change before `start` of each advisor too, it opens the period. Changes are taken in
    time order per advisor (ties keep the given order)."""
    by_advisor: dict[str, list[StateChangeFact]] = {}
    for c in sorted(changes, key=lambda c: c.at):
        by_advisor.setdefault(c.advisor, []).append(c)
    out: list[PresenceInterval] = []
    for advisor, log in by_advisor.items():
        for current, following in zip(log, [*log[1:], None], strict=True):
            s = max(current.at, start)
            e = min(following.at if following is not None else end, end)
            if e > s:
                out.append(PresenceInterval(advisor, current.state, s, e))
    return out


@dataclass(frozen=True, slots=True)
class Figures:
    """Every KPI of the dictionary over one set of calls (and, for occupancy, the presence of the same period)."""

    calls: Figure
    offered: Figure
    closed: Figure
    answered: Figure
    answer_rate: Figure  # taux de décroché
    abandoned: Figure
    short_abandoned: Figure
    abandon_rate: Figure
    failed: Figure
    service_level: Figure
    asa: Figure
    average_abandon_time: Figure
    aht: Figure
    average_talk: Figure
    average_hold: Figure
    average_wrap_up: Figure
    occupancy: Figure
    transfers: Figure
    transfer_rate: Figure
    immediate_answer_rate: Figure
    callbacks_requested: Figure
    callback_request_rate: Figure
    repeat_callers: Figure
    unanswered_questions: Figure
    totals: Totals = field(repr=False, compare=False, default_factory=Totals)


FIGURE_NAMES: tuple[str, ...] = tuple(n for n in Figures.__slots__ if n != "totals")
assert set(FIGURE_NAMES) == set(FIGURE_CALLS), "every figure drills down to its calls"


# One figure as plain data, (kind, numerator, denominator), what `Figure` holds: cheap to make and to hash (a report
# makes ~1,400 groups × 24 of them).
Part = tuple[FigureKind, float, float | None]


def parts(t: Totals, presence: PresenceTotals | None = None) -> tuple[Part, ...]:
    """The figures from the sums, in the order of FIGURE_NAMES: the dictionary itself, written once (`figures` makes
    the `Figures` of it, the reports read it directly)."""
    needing = t.offered - t.short_abandoned
    answered = t.answered
    occupancy: Part = (
        ("rate", presence.busy, presence.logged_in - presence.paused) if presence is not None else ("rate", 0.0, 0.0)
    )
    return (
        ("count", t.calls, None),  # calls
        ("count", t.offered, None),  # offered
        ("count", t.closed, None),  # closed
        ("count", answered, None),  # answered
        ("rate", answered, needing),  # answer_rate
        ("count", t.abandoned, None),  # abandoned
        ("count", t.short_abandoned, None),  # short_abandoned
        ("rate", t.abandoned, needing),  # abandon_rate
        ("count", t.failed, None),  # failed
        ("rate", t.answered_in_time, needing),  # service_level
        ("mean", t.answered_wait, answered),  # asa
        ("mean", t.abandoned_wait, t.abandoned),  # average_abandon_time
        ("mean", t.talk + t.hold + t.wrap_up, answered),  # aht
        ("mean", t.talk, answered),  # average_talk
        ("mean", t.hold, answered),  # average_hold
        ("mean", t.wrap_up, t.wrapped_up),  # average_wrap_up
        occupancy,  # occupancy
        ("count", t.transfers, None),  # transfers
        ("rate", t.transfers, answered),  # transfer_rate
        ("rate", t.immediate_answers, answered),  # immediate_answer_rate
        ("count", t.callbacks_requested, None),  # callbacks_requested
        ("rate", t.callbacks_requested, answered),  # callback_request_rate
        ("rate", t.repeat_calls, t.offered),  # repeat_callers
        ("count", t.unanswered_questions, None),  # unanswered_questions
    )


def figures(t: Totals, presence: PresenceTotals | None = None) -> Figures:
    """The figures from the sums (the same function for the pure and the SQL paths)."""
    each: dict[str, Any] = {name: Figure(*p) for name, p in zip(FIGURE_NAMES, parts(t, presence), strict=True)}
    return Figures(**each, totals=t)


def compute(facts: Iterable[CallFacts], t: Thresholds, presence: Iterable[PresenceInterval] | None = None) -> Figures:
    """Every figure over a set of calls (and the presence intervals of the same period, for occupancy)."""
    return figures(totals(facts, t), None if presence is None else presence_totals(presence))


def longest_wait(waiting_since: Iterable[datetime], now: datetime) -> float | None:
    """Seconds the oldest caller now waiting has waited (None: nobody waits)."""
    oldest = min(waiting_since, default=None)
    return None if oldest is None else max((now - oldest).total_seconds(), 0.0)


# ---- callbacks ----


class CallbackStatus(StrEnum):
    """A callback's state (`callbacks.status`)."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class AttemptResult(StrEnum):
    """What one attempt to call back gave (`callback_attempts.result`): only « joint » closes the callback."""

    REACHED = "joint"
    NO_ANSWER = "sans_reponse"
    VOICEMAIL = "messagerie"
    WRONG_NUMBER = "faux_numero"


@dataclass(frozen=True, slots=True)
class CallbackFacts:
    """One row of `callbacks` with its number of attempts. Times are aware."""

    created_at: datetime
    status: CallbackStatus
    done_at: datetime | None = None
    attempts: int = 0


def working_day_deadline(created_at: datetime, hours: OpeningHours) -> tuple[date, time] | None:
    """The local (day, time) before which a callback asked at `created_at` is done within one working day: the same
    local time on the line's next open day; None when the line does not open within a year."""
    day, clock = local_clock(created_at, hours)
    following = next_open_day(day, hours)
    return None if following is None else (following, clock)


def within_working_day(created_at: datetime, done_at: datetime, hours: OpeningHours) -> bool:
    """Whether a callback was done before the same time on the next open day (always, when the line never opens)."""
    deadline = working_day_deadline(created_at, hours)
    return deadline is None or local_clock(done_at, hours) < deadline


def is_overdue(created_at: datetime, now: datetime, hours: OpeningHours) -> bool:
    """An open callback past its working day."""
    return not within_working_day(created_at, now, hours)


def overdue_count(asked: Iterable[datetime], now: datetime, hours: OpeningHours) -> int:
    """How many open callbacks asked at `asked` are past one working day at `now` (the calendar read once a day)."""
    following: dict[date, date | None] = {}
    now_clock = local_clock(now, hours)
    late = 0
    for at in asked:
        day, clock = local_clock(at, hours)
        if day not in following:
            following[day] = next_open_day(day, hours)
        deadline = following[day]
        late += deadline is not None and now_clock >= (deadline, clock)
    return late


def within_from_groups(groups: Iterable[tuple[date, time, date, time, int]], hours: OpeningHours) -> int:
    """The callbacks done within one working day, from (created local day, created local time, done local day,
    done local time, how many) groups: what `storage.callbacks` returns so the calendar stays here."""
    within = 0
    for created_day, created_time, done_day, done_time, n in groups:
        following = next_open_day(created_day, hours)
        if following is None or (done_day, done_time) < (following, created_time):
            within += n
    return within


@dataclass(frozen=True, slots=True)
class CallbackTotals:
    """The sums the callback figures are made of, over the callbacks created in a period (the SQL's too)."""

    created: int = 0
    cancelled: int = 0
    done: int = 0
    within_day: int = 0  # done within one working day
    attempts_done: int = 0  # attempts recorded on the done callbacks
    median_delay: float | None = None  # seconds, over the done callbacks


def callback_totals(facts: Iterable[CallbackFacts], hours: OpeningHours) -> CallbackTotals:
    created = cancelled = done = within = attempts = 0
    delays: list[float] = []
    for f in facts:
        created += 1
        if f.status is CallbackStatus.CANCELLED:
            cancelled += 1
        elif f.status is CallbackStatus.DONE and f.done_at is not None:
            done += 1
            attempts += f.attempts
            delays.append((f.done_at - f.created_at).total_seconds())
            within += within_working_day(f.created_at, f.done_at, hours)
    return CallbackTotals(
        created=created,
        cancelled=cancelled,
        done=done,
        within_day=within,
        attempts_done=attempts,
        median_delay=statistics.median(delays) if delays else None,
    )


@dataclass(frozen=True, slots=True)
class CallbackFigures:
    callbacks_created: Figure
    callbacks_done: Figure
    callbacks_cancelled: Figure
    callback_completion: Figure
    callback_within_day: Figure
    callback_median_delay: Figure
    callback_attempts: Figure


CALLBACK_FIGURE_NAMES: tuple[str, ...] = CallbackFigures.__slots__


def callback_figures(t: CallbackTotals) -> CallbackFigures:
    """The callback figures from their sums (the same function for the pure and the SQL paths)."""
    return CallbackFigures(
        callbacks_created=Figure.count(t.created),
        callbacks_done=Figure.count(t.done),
        callbacks_cancelled=Figure.count(t.cancelled),
        callback_completion=Figure.ratio(t.done, t.created - t.cancelled),
        callback_within_day=Figure.ratio(t.within_day, t.done),
        callback_median_delay=Figure.median_of(t.median_delay, t.done),
        callback_attempts=Figure.mean(t.attempts_done, t.done),
    )
