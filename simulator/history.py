"""A synthetic call history, shaped like the demo's: the rows of `call_records` and `advisor_events` of past days.

Pure generation (no I/O), deterministic for a seed: each day draws from its own generator seeded by (seed, date), so
a day's rows are the same whatever range it is generated in. Used by `gps-admin demo` (six months before its first
start, loaded by `storage.history`) and by `bench.stats` (millions of records).

What a day looks like (`Shape`, defaults after the seed article: 300–500 calls a working day, eight advisors):
- the line's opening hours (`config.settings.OpeningHours`: Monday–Friday 8–21, Saturday 8–14, closed on Sundays and
  public holidays); a working day's calls follow an hourly profile, more on Monday mornings; a few calls arrive
  just before the opening or after the closing (`line_open` false, status `closed`); none on a closed day;
- a queue played out with the advisors on shift (a morning and an afternoon team, breaks and meals with their
  reasons, a few absences): each caller waits for the first advisor free, or hangs up when their patience runs
  out (abandoned, short abandons among them, some while an advisor's phone rang);
- answered calls are qualified like the demo crew does (a topic, mostly the voice-menu's; an outcome; transfers to a
  service handling the topic; a partner of the directory whose contact was given; callbacks asked; the caller's
  commune of the département weighted by population), a few left unqualified;
- callers: citizens (some calling again within days, some withholding their number), town halls and partners from
  the directory's numbers;
- the presence log: available at login, ringing, on call, wrap-up, available, pauses with their reason, logged out.

Every row is recognisable as an example: its linkedid starts with `PREFIX`.
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

from config.settings import WEEKDAYS, OpeningHours
from telephony.hours import day_is_open

PREFIX = "hist-"
WRAP_UP_REASON = "wrap_up"  # telephony.presence.WRAP_UP_REASON (the pure core's; the simulator keeps its own copy)

# The columns of the rows made, in order (asyncpg's copy_records_to_table takes them as they are).
CALL_COLUMNS: tuple[str, ...] = (
    "linkedid",
    "caller_number",
    "caller_number_raw",
    "caller_name",
    "called_number",
    "arrived_at",
    "line_open",
    "queue",
    "menu_topic",
    "queue_entered_at",
    "queue_left_at",
    "rings",
    "answered_at",
    "advisor_interface",
    "advisor_name",
    "transfer_kind",
    "transfer_target",
    "transferred_at",
    "talk_ended_at",
    "ended_at",
    "hangup_by",
    "hangup_cause",
    "hangup_cause_text",
    "wait_seconds",
    "talk_seconds",
    "status",
    "topic",
    "subtopic",
    "outcome",
    "transfer_service_id",
    "transfer_service",
    "partner",
    "partner_id",
    "callback_requested",
    "callback_slot",
    "commune_insee",
    "note",
    "qualified_at",
    "qualified_by",
    "caller_kind",
    "caller_organisation_id",
    "created_at",
    "updated_at",
)
EVENT_COLUMNS: tuple[str, ...] = ("advisor_id", "state", "reason", "linkedid", "at", "recorded_at")

NOTES = (
    "Explication du courrier reçu.",
    "Orientation vers le bon service.",
    "Démarche en ligne expliquée pas à pas.",
    "Pièces justificatives rappelées.",
    "L'usager rappellera après réception du dossier.",
    "Délais de traitement indiqués.",
    "Formulaire envoyé par courrier.",
)
SLOTS = ("le matin", "après 17 h", "mardi après-midi", "dès que possible", "samedi matin")
FIRST = ("Hélène", "Benoît", "Céline", "Élodie", "François", "Gaëlle", "Jérôme", "Léa", "Marie", "Paul", "Julie")
LAST = ("Lefèvre", "Dubois", "Leroy", "Lemaire", "Vasseur", "Caron", "Wattez", "Delannoy", "Duhamel", "Théry")

# Calls by hour of the day (local), relative; Monday mornings weigh `Shape.monday_morning` times more.
HOURLY = {
    6: 0.2, 7: 0.3, 8: 1.0, 9: 1.6, 10: 1.7, 11: 1.5, 12: 0.8, 13: 0.9, 14: 1.3, 15: 1.3, 16: 1.2, 17: 1.0,
    18: 0.7, 19: 0.5, 20: 0.35, 21: 0.25, 22: 0.15,
}  # fmt: skip
# A working day's volume, relative to the range of `Shape.calls_per_day` (Monday the busiest).
WEEKDAY_LEVEL = {"mon": (0.75, 1.0), "tue": (0.3, 0.9), "wed": (0.2, 0.8), "thu": (0.2, 0.8), "fri": (0.0, 0.6)}


@dataclass(frozen=True)
class Advisor:
    id: int
    login: str
    name: str
    interface: str


@dataclass(frozen=True)
class Service:
    """A service calls are transferred to (an organisation of kind `service` with an extension)."""

    id: int
    name: str
    extension: str
    topics: tuple[str, ...]


@dataclass(frozen=True)
class Organisation:
    """A partner or town hall of the directory: whose contact is given, and who calls the line from `number`."""

    id: int
    kind: str
    name: str
    commune_insee: str | None = None
    number: str | None = None  # E.164


@dataclass(frozen=True)
class Shape:
    """The mix of a day (shares in [0, 1], weights relative)."""

    calls_per_day: tuple[int, int] = (300, 500)  # a working day Monday–Friday; Saturday `saturday` of it
    saturday: tuple[float, float] = (0.3, 0.45)
    monday_morning: float = 1.4
    out_of_hours: float = 0.02  # calls before the opening or after the closing, on open days
    failed: float = 0.004  # hung up in the voice menu, before the queue
    menu_topic: float = 0.6  # chose a topic in the voice menu
    topics: dict[str, float] = field(
        default_factory=lambda: {
            "social_aid": 20, "elderly": 15, "disability": 14, "taxes": 12, "secondary_schools": 10,
            "health": 8, "childhood": 7, "roads": 6, "other": 8,
        }
    )  # fmt: skip
    outcomes: dict[str, float] = field(
        default_factory=lambda: {
            "immediate_answer": 40, "advice": 25, "transfer": 15, "partner_contact": 12, "callback_needed": 5,
            "other": 3,
        }
    )  # fmt: skip
    impatient: float = 0.07  # callers who hang up within 1–6 s unless answered at once (short abandons)
    patience: float = 150.0  # mean patience of the others, seconds (beyond a first 20 s)
    talk_median: float = 120.0  # seconds, log-normal
    wrap_up: tuple[float, float] = (10.0, 90.0)
    unqualified: float = 0.03  # the wrap-up ran out without a qualification
    subtopic: float = 0.7
    commune: float = 0.85
    anonymous: float = 0.03
    town_hall: float = 0.07
    partner: float = 0.03
    repeat: float = 0.25  # calls from the frequent callers (about one in twenty citizens)
    absent: float = 0.06  # an advisor's day off
    morning_team: float = 0.6  # of the advisors on the morning shift (8:00–14:30), the others 13:30–closing


@dataclass(frozen=True)
class Plan:
    """What to generate: days [start, end), with the demo's (or the bench's) advisors, services and directory."""

    start: date
    end: date
    advisors: tuple[Advisor, ...]
    communes: tuple[tuple[str, int], ...]  # (INSEE code, population) of the département
    topics: dict[str, tuple[str, ...]]  # desk topic → its subtopic keys
    services: tuple[Service, ...] = ()
    organisations: tuple[Organisation, ...] = ()
    pause_reasons: tuple[str, ...] = ("break", "meal", "training", "back_office")
    hours: OpeningHours = field(default_factory=OpeningHours)
    shape: Shape = field(default_factory=Shape)
    queue: str = "gps"
    called_number: str = "0800123456"
    wrapup_min: float = 5.0
    wrapup_max: float = 120.0
    seed: int = 2012


@dataclass
class Day:
    day: date
    calls: list[tuple[object, ...]]  # CALL_COLUMNS
    events: list[tuple[object, ...]]  # EVENT_COLUMNS


def days(plan: Plan) -> Iterator[Day]:
    """Every day of the plan, oldest first (closed days included, with no row)."""
    world = _World(plan)
    day = plan.start
    while day < plan.end:
        yield world.day(day)
        day += timedelta(days=1)


def expected_calls(plan: Plan) -> int:
    """About how many calls `days(plan)` makes (for progress), from the days' openings and the shape."""
    lo, hi = plan.shape.calls_per_day
    total = 0.0
    day = plan.start
    while day < plan.end:
        weekday = WEEKDAYS[day.weekday()]
        if plan.hours.week.get(weekday) and day_is_open(day, plan.hours):
            base = (lo + hi) / 2
            total += base * (sum(plan.shape.saturday) / 2 if weekday == "sat" else 1.0)
        day += timedelta(days=1)
    return round(total * (1 + plan.shape.out_of_hours))


# -- generation --------------------------------------------------------------------------------------------


@dataclass
class _Agent:
    advisor: Advisor
    login: float
    logout: float
    pauses: list[tuple[float, float, str]]  # (planned start, duration, reason), in order
    free: float = 0.0
    out: bool = False


class _World:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.zone = ZoneInfo(plan.hours.timezone)
        shape = plan.shape
        self.topic_keys = [t for t in shape.topics if t in plan.topics] or list(plan.topics)
        self.topic_cum = list(accumulate(shape.topics.get(t, 1.0) for t in self.topic_keys))
        self.outcome_keys = list(shape.outcomes)
        self.outcome_cum = list(accumulate(shape.outcomes.values()))
        self.commune_codes = [c for c, _ in plan.communes]
        self.commune_cum = list(accumulate(max(p, 1) for _, p in plan.communes))
        self.services_of = {t: [s for s in plan.services if t in s.topics] for t in plan.topics}
        callers = [o for o in plan.organisations if o.number]
        self.town_halls = [o for o in callers if o.kind == "town_hall"]
        self.partner_callers = [o for o in callers if o.kind != "town_hall"]
        self.partners = [o for o in plan.organisations if o.kind != "town_hall"]
        self.town_hall_of = {o.commune_insee: o for o in plan.organisations if o.kind == "town_hall"}
        # citizens: numbers derived from an index (no table kept), a home commune each
        self.population = max(1000, shape.calls_per_day[1] * 100)
        self.frequent = max(50, self.population // 20)

    # the caller's number and commune follow from its index, so a caller calling again is the same person
    def citizen(self, index: int) -> tuple[str, str | None]:
        mobile = index % 3 == 0
        digits = f"{(index * 7_919 + 1_234_567) % 10_000_000:07d}"
        national = ("06" if index % 6 == 0 else "07") + digits + "1" if mobile else "0321" + digits[1:] + "0"
        national = national[:10]
        commune = None
        if self.commune_codes:
            spot = (index * 2_654_435_761 % 4_294_967_296) / 4_294_967_296 * self.commune_cum[-1]
            commune = self.commune_codes[min(bisect.bisect_right(self.commune_cum, spot), len(self.commune_codes) - 1)]
        return national, commune

    def day(self, day: date) -> Day:
        plan, shape = self.plan, self.plan.shape
        out = Day(day, [], [])
        weekday = WEEKDAYS[day.weekday()]
        spans = plan.hours.week.get(weekday, ())
        if not spans or not day_is_open(day, plan.hours):
            return out
        r = random.Random(f"{plan.seed}:{day.isoformat()}")
        midnight = datetime.combine(day, time(0), tzinfo=self.zone)
        base = midnight.timestamp()

        def at(local_seconds: float) -> float:  # seconds after local midnight → epoch (DST-safe by the hour)
            hour = int(local_seconds // 3600)
            offset = (midnight + timedelta(hours=hour)).utcoffset()
            first = midnight.utcoffset()
            shift = 0.0 if offset is None or first is None else (first - offset).total_seconds()
            return base + local_seconds + shift

        bounds = [(_seconds(s.start), 86400.0 if s.overnight else _seconds(s.end)) for s in spans]
        opening, closing = min(b[0] for b in bounds), max(b[1] for b in bounds)
        lo, hi = shape.calls_per_day
        if weekday == "sat":
            count = round(r.uniform(lo, hi) * r.uniform(*shape.saturday))
        else:
            low, high = WEEKDAY_LEVEL.get(weekday, (0.0, 1.0))
            count = round(lo + (hi - lo) * r.uniform(low, high))
        # arrivals: hour bins within the spans, weighted by the profile
        bins: list[tuple[float, float]] = []
        weights: list[float] = []
        for start, end in bounds:
            t = start
            while t < end:
                stop = min(end, (math.floor(t / 3600) + 1) * 3600)
                hour = int(t // 3600)
                weight = HOURLY.get(hour, 0.1) * (stop - t) / 3600
                if weekday == "mon" and hour < 12:
                    weight *= shape.monday_morning
                bins.append((t, stop))
                weights.append(weight)
                t = stop
        arrivals = [(lambda b: r.uniform(*b))(b) for b in r.choices(bins, weights, k=count)]
        closed = [
            r.uniform(max(0.0, opening - 1800), opening) if r.random() < 0.4 else r.uniform(closing, closing + 5400)
            for _ in range(round(count * shape.out_of_hours))
        ]
        calls = sorted([(a, True) for a in arrivals] + [(c, False) for c in closed if c < 86400])
        agents = self.agents(r, out, opening, closing, at)
        queue = [(a.free, i) for i, a in enumerate(agents)]
        heapq.heapify(queue)
        for seq, (local, line_open) in enumerate(calls):
            linkedid = f"{PREFIX}{day:%Y%m%d}-{seq:05d}"
            self.call(r, out, linkedid, at(local), line_open, agents, queue)
        for a in agents:
            if not a.out:
                self.leave(out, a, max(a.free, a.logout))
        return out

    def agents(
        self, r: random.Random, out: Day, opening: float, closing: float, stamp: Callable[[float], float]
    ) -> list[_Agent]:
        plan, shape = self.plan, self.plan.shape
        day = out.day
        n = len(plan.advisors)
        if n == 0:
            return []
        turn = day.isocalendar()[1] % 2  # the teams swap every week
        ordered = plan.advisors[n // 2 :] + plan.advisors[: n // 2] if turn else plan.advisors
        morning = max(1, round(n * shape.morning_team))
        saturday = day.weekday() == 5
        agents: list[_Agent] = []
        for i, advisor in enumerate(ordered):
            if r.random() < shape.absent:
                continue
            if saturday and i >= max(1, n // 2):
                continue
            early = i < morning or saturday
            start = opening if early else max(opening, 13.5 * 3600)
            end = min(closing, 14.5 * 3600) if early and not saturday else closing
            if end <= start:
                continue
            login = start - r.uniform(0, 600)
            pauses: list[tuple[float, float, str]] = []
            length = end - start
            if length > 3 * 3600:
                pauses.append((start + length * r.uniform(0.3, 0.45), r.uniform(600, 900), "break"))
            if length > 5 * 3600 and r.random() < 0.5:
                pauses.append((start + length * r.uniform(0.55, 0.7), r.uniform(1800, 2700), "meal"))
            extra = r.random()
            if extra < 0.1 and "training" in plan.pause_reasons:
                pauses.append((start + length * r.uniform(0.1, 0.25), r.uniform(1800, 3600), "training"))
            elif extra < 0.3 and "back_office" in plan.pause_reasons:
                pauses.append((start + length * r.uniform(0.72, 0.85), r.uniform(600, 1800), "back_office"))
            pauses = sorted(p for p in pauses if p[2] in plan.pause_reasons)
            a = _Agent(advisor, stamp(login), stamp(end + r.uniform(0, 300)), [(stamp(s), d, w) for s, d, w in pauses])
            a.free = a.login
            self.event(a.advisor.id, "available", None, None, a.login, out.events)
            agents.append(a)
        return agents

    @staticmethod
    def event(
        advisor_id: int,
        state: str,
        reason: str | None,
        linkedid: str | None,
        when: float,
        into: list[tuple[object, ...]],
    ) -> None:
        stamp = datetime.fromtimestamp(when, UTC)
        into.append((advisor_id, state, reason, linkedid, stamp, stamp))

    def leave(self, out: Day, a: _Agent, when: float) -> None:
        a.out = True
        self.event(a.advisor.id, "logged_out", None, None, when, out.events)

    def first_free(self, out: Day, agents: list[_Agent], queue: list[tuple[float, int]], t: float) -> _Agent | None:
        """The advisor who picks up a call queued at `t` first (pauses and shift ends taken on the way)."""
        while queue:
            free, i = queue[0]
            a = agents[i]
            pick = max(free, t)
            if a.pauses and a.pauses[0][0] <= pick:
                planned, length, reason = a.pauses.pop(0)
                begin = max(free, planned)
                self.event(a.advisor.id, "paused", reason, None, begin, out.events)
                a.free = begin + length
                self.event(a.advisor.id, "available", None, None, a.free, out.events)
                heapq.heapreplace(queue, (a.free, i))
                continue
            if pick >= a.logout:
                heapq.heappop(queue)
                self.leave(out, a, max(free, a.logout))
                continue
            return a
        return None

    def call(
        self,
        r: random.Random,
        out: Day,
        linkedid: str,
        arrived: float,
        line_open: bool,
        agents: list[_Agent],
        queue: list[tuple[float, int]],
    ) -> None:
        plan, shape = self.plan, self.plan.shape
        # who calls
        kind, organisation, name = "citizen", None, None
        home: str | None = None
        roll = r.random()
        if roll < shape.town_hall and self.town_halls:
            kind, organisation = "town_hall", r.choice(self.town_halls)
        elif roll < shape.town_hall + shape.partner and self.partner_callers:
            kind, organisation = "partner", r.choice(self.partner_callers)
        if organisation is not None:
            number: str | None = organisation.number
            raw = "0" + number[3:] if number and number.startswith("+33") else (number or "")
            home = organisation.commune_insee
        elif r.random() < shape.anonymous:
            number, raw = None, "anonymous"
        else:
            index = r.randrange(self.frequent) if r.random() < shape.repeat else r.randrange(self.population)
            raw, home = self.citizen(index)
            number = "+33" + raw[1:]
            if r.random() < 0.4:
                name = f"{FIRST[index % len(FIRST)]} {LAST[index // 7 % len(LAST)]}"
        row: dict[str, object] = {
            "linkedid": linkedid,
            "caller_number": number,
            "caller_number_raw": raw,
            "caller_name": name,
            "called_number": plan.called_number,
            "arrived_at": arrived,
            "line_open": line_open,
            "caller_kind": kind,
            "caller_organisation_id": organisation.id if organisation else None,
        }
        if not line_open:  # the closed message, then Asterisk hangs up
            row |= {"ended_at": arrived + r.uniform(10, 16), "hangup_by": "system", "status": "closed"}
            return self.emit(out, row, hangup_cause=16)
        menu_topic = None
        if r.random() < shape.menu_topic:
            menu_topic = self.topic_keys[bisect.bisect_right(self.topic_cum, r.random() * self.topic_cum[-1])]
        row["menu_topic"] = menu_topic if menu_topic in _MENU else None
        menu = r.uniform(8, 20) if row["menu_topic"] else r.uniform(4, 7)
        if r.random() < shape.failed:  # hung up in the voice menu
            row |= {"ended_at": arrived + menu * r.random(), "hangup_by": "caller", "status": "failed"}
            return self.emit(out, row, hangup_cause=16)
        entered = arrived + menu
        patience = r.uniform(1, 6) if r.random() < shape.impatient else 20 + r.expovariate(1 / shape.patience)
        row |= {"queue": plan.queue, "queue_entered_at": entered}
        gone = entered + patience
        a = self.first_free(out, agents, queue, entered)
        pick = max(a.free, entered) if a is not None else math.inf
        if pick >= gone:  # nobody before the caller hung up
            row |= {"queue_left_at": gone, "ended_at": gone, "hangup_by": "caller", "status": "abandoned"}
            return self.emit(out, row, hangup_cause=16)
        assert a is not None  # pick is finite
        ring = r.uniform(1, 4)
        advisor = a.advisor
        self.event(advisor.id, "ringing", None, linkedid, pick, out.events)
        row |= {"advisor_interface": advisor.interface, "advisor_name": advisor.name}
        if pick + ring > gone:  # the caller hung up while the phone rang
            row |= {"queue_left_at": gone, "ended_at": gone, "hangup_by": "caller", "status": "abandoned_ringing"}
            row["rings"] = [(advisor, pick, gone, "caller_gone")]
            row["advisor_interface"] = row["advisor_name"] = None
            a.free = gone
            self.event(advisor.id, "available", None, None, gone, out.events)
            heapq.heapreplace(queue, (a.free, queue[0][1]))
            return self.emit(out, row, hangup_cause=16)
        answered = pick + ring
        talk = min(3600.0, r.lognormvariate(math.log(shape.talk_median), 0.6))
        talk_end = answered + talk
        row |= {"queue_left_at": answered, "answered_at": answered, "rings": [(advisor, pick, answered, "answered")]}
        # qualification
        topic = menu_topic if menu_topic is not None and r.random() < 0.85 else None
        if topic is None:
            topic = self.topic_keys[bisect.bisect_right(self.topic_cum, r.random() * self.topic_cum[-1])]
        outcome = self.outcome_keys[bisect.bisect_right(self.outcome_cum, r.random() * self.outcome_cum[-1])]
        services = self.services_of.get(topic, [])
        if outcome == "transfer" and not services:
            outcome = "advice"
        if outcome == "partner_contact" and not self.partners and not self.town_hall_of:
            outcome = "advice"
        if outcome == "transfer":
            service = r.choice(services)
            ended = talk_end + r.uniform(30, 400)
            row |= {
                "transfer_kind": "blind",
                "transfer_target": service.extension,
                "transferred_at": talk_end,
                "talk_ended_at": talk_end,
                "ended_at": ended,
                "hangup_by": "transfer_target",
                "transfer_service_id": service.id,
                "transfer_service": service.name,
            }
        else:
            row |= {
                "talk_ended_at": talk_end,
                "ended_at": talk_end,
                "hangup_by": "caller" if r.random() < 0.55 else "advisor",
            }
        row["status"] = "answered"
        self.event(advisor.id, "on_call", None, linkedid, answered, out.events)
        self.event(advisor.id, "wrap_up", WRAP_UP_REASON, linkedid, talk_end, out.events)
        if r.random() < shape.unqualified:
            free = talk_end + plan.wrapup_max
        else:
            saved = talk_end + r.uniform(*shape.wrap_up)
            free = max(saved, talk_end + plan.wrapup_min)
            subtopics = plan.topics.get(topic, ())
            commune = (home or self.citizen(r.randrange(self.population))[1]) if r.random() < shape.commune else None
            row |= {
                "topic": topic,
                "subtopic": r.choice(subtopics) if subtopics and r.random() < shape.subtopic else None,
                "outcome": outcome,
                "callback_requested": outcome == "callback_needed",
                "callback_slot": r.choice(SLOTS) if outcome == "callback_needed" else None,
                "commune_insee": commune,
                "note": r.choice(NOTES),
                "qualified_at": saved,
                "qualified_by": advisor.login,
            }
            if outcome == "partner_contact":
                partner = self.town_hall_of.get(commune) if commune and r.random() < 0.3 else None
                if partner is None and self.partners:
                    partner = r.choice(self.partners)
                if partner is None:
                    partner = next(iter(self.town_hall_of.values()))
                row |= {"partner": partner.name[:100], "partner_id": partner.id}
        a.free = free
        self.event(advisor.id, "available", None, None, free, out.events)
        heapq.heapreplace(queue, (a.free, queue[0][1]))
        return self.emit(out, row, hangup_cause=16)

    def emit(self, out: Day, row: dict[str, object], hangup_cause: int) -> None:
        def ts(name: str) -> datetime | None:
            value = row.get(name)
            return None if value is None else datetime.fromtimestamp(value, UTC)  # type: ignore[arg-type]

        arrived, entered, left, answered = (
            ts("arrived_at"),
            ts("queue_entered_at"),
            ts("queue_left_at"),
            ts("answered_at"),
        )
        transferred, talk_end, ended = ts("transferred_at"), ts("talk_ended_at"), ts("ended_at")
        assert ended is not None and arrived is not None  # every row has them
        rings = json.dumps(
            [
                {
                    "interface": adv.interface,
                    "member_name": adv.name,
                    "started_at": _iso(s),
                    "ended_at": _iso(e),
                    "result": result,
                }
                for adv, s, e, result in row.get("rings", ())  # type: ignore[attr-defined]
            ]
        )
        wait = None if entered is None else max(0.0, ((left or answered or ended) - entered).total_seconds())
        talk = None if answered is None else max(0.0, ((transferred or talk_end or ended) - answered).total_seconds())
        qualified = ts("qualified_at")
        stamp = qualified or ended
        out.calls.append(
            (
                row["linkedid"],
                row["caller_number"],
                row["caller_number_raw"],
                row["caller_name"],
                row["called_number"],
                arrived,
                row["line_open"],
                row.get("queue"),
                row.get("menu_topic"),
                entered,
                left,
                rings,
                answered,
                row.get("advisor_interface"),
                row.get("advisor_name"),
                row.get("transfer_kind"),
                row.get("transfer_target"),
                transferred,
                talk_end,
                ended,
                row["hangup_by"],
                hangup_cause,
                "Normal Clearing",
                wait,
                talk,
                row["status"],
                row.get("topic"),
                row.get("subtopic"),
                row.get("outcome"),
                row.get("transfer_service_id"),
                row.get("transfer_service"),
                row.get("partner"),
                row.get("partner_id"),
                row.get("callback_requested"),
                row.get("callback_slot"),
                row.get("commune_insee"),
                row.get("note"),
                qualified,
                row.get("qualified_by"),
                row["caller_kind"],
                row["caller_organisation_id"],
                ended,
                stamp,
            )
        )


# The voice menu's topics (simulator.traffic.TOPICS: the demo dialplan's choices).
_MENU = frozenset(("taxes", "secondary_schools", "health", "elderly", "disability", "social_aid", "roads"))


def _seconds(t: time) -> float:
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def sample_days(plan: Plan, count: int) -> Sequence[Day]:
    """The first `count` days (tests)."""
    out = []
    for d in days(plan):
        out.append(d)
        if len(out) >= count:
            break
    return out


def _iso(seconds: float) -> str:
    """As pydantic writes a UTC time in JSON (the rings of live records)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
