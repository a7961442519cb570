"""The statistics slice's rules: a report's period (validated, bounded, in the line's time zone), its figures and
breakdowns from the SQL sums (`storage.statistics`) through the one dictionary (`kpis.figures`), the labels of the
groups, the comparison with the same period a month or a year before, the calls behind a figure (drill-down).
No aiohttp here."""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import gc
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, get_args
from zoneinfo import ZoneInfo

import asyncpg

from config.settings import Settings
from screenpop.statistics import definitions, kpis
from screenpop.statistics.errors import (
    BadPeriod,
    BadReportOption,
    PageTooDeep,
    PeriodTooLong,
    ReportTooSlow,
    ReversedPeriod,
    UnknownFigure,
)
from screenpop.statistics.models import (
    BREAKDOWNS,
    AdvisorActionsOut,
    AdvisorPresenceOut,
    CallRow,
    Compare,
    Dimension,
    DrillOut,
    FigureOut,
    GroupOut,
    PeriodOut,
    ReportOut,
    ReportQuery,
    SupervisorActionOut,
    UnansweredOut,
    UnansweredTopicOut,
)
from storage.callbacks import CallbackRepository, PeriodSums
from storage.statistics import (
    SET_SUMS,
    SUM_NAMES,
    GroupRow,
    PresenceRow,
    StatisticsRepository,
    SupervisorActionRow,
    params,
)
from storage.statistics_rollups import DAY_DIMENSIONS, RollupRepository, common_for
from telephony.identity import french_display
from telephony.records import OUTCOME_LABELS, CallStatus, Outcome

log = logging.getLogger(__name__)

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
NOT_GIVEN = "Non renseigné"
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
STATUS_LABELS: dict[str, str] = {
    CallStatus.ANSWERED: "Décroché",
    CallStatus.ABANDONED: "Abandonné en attente",
    CallStatus.ABANDONED_RINGING: "Abandonné pendant la sonnerie",
    CallStatus.CLOSED: "Hors horaires",
    CallStatus.FAILED: "Non abouti",
}
CALLER_KINDS: dict[str, str] = {
    "citizen": "Particulier",
    "town_hall": "Mairie",
    "partner": "Partenaire",
    "internal": "Service interne",
}
_OUTCOMES = frozenset(o.value for o in Outcome)
PAUSE_LABELS = {"missed_call": "Appel manqué", "wrap_up": "Après-appel"}  # the system's own reasons
TIME_DIMENSIONS = ("day", "week", "month", "hour", "weekday")
# Numbered drill-down pages reach this many calls (OFFSET); deeper, the « Appels suivants » cursor (keyset).
DRILL_OFFSET_MAX = 10_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The report's questions without an answer: the latest weeks shown, the latest questions per topic and their length.
UNANSWERED_WEEKS = 12
UNANSWERED_QUESTIONS = 3
QUESTION_SHOWN = 120
Cursor = tuple[datetime, str]


def french_date(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def shift(d: date, compare: Compare) -> date:
    """The same date a month or a year before (the 31st of a shorter month: its last day)."""
    if compare == "year":
        year, month = d.year - 1, d.month
    else:
        year, month = (d.year, d.month - 1) if d.month > 1 else (d.year - 1, 12)
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def parse_date(value: str | None, what: str) -> date:
    """A date as forms and the API give it: 2026-03-10 or 10/03/2026."""
    text = (value or "").strip()[:20]
    if not text:
        raise BadPeriod(f"Indiquez la date de {what}.")
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise BadPeriod(f"Date de {what} illisible : écrivez-la jj/mm/aaaa.")


def query_from(values: dict[str, str]) -> ReportQuery:
    """A report's query from a form or the API's query string, refused in French when it cannot be read."""
    grouping = values.get("grouping") or "day"
    compare = values.get("compare") or "none"
    if grouping not in ("day", "week", "month"):
        raise BadReportOption("Regroupement inconnu : choisissez jour, semaine ou mois.")
    if compare not in get_args(Compare):
        raise BadReportOption("Comparaison inconnue : choisissez aucune, mois précédent ou année précédente.")
    return ReportQuery(
        start=parse_date(values.get("start"), "début"),
        end=parse_date(values.get("end"), "fin"),
        grouping=grouping,
        compare=compare,
    )


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date  # included

    @property
    def label(self) -> str:
        if self.start == self.end:
            return f"le {french_date(self.start)}"
        return f"du {french_date(self.start)} au {french_date(self.end)}"


class StatisticsService:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, now: Callable[[], datetime]) -> None:
        self._repo = StatisticsRepository(pool)
        self._rollups = RollupRepository(pool)
        self._callbacks = CallbackRepository(pool)
        self._settings = settings
        self._stats = settings.statistics
        self._t = kpis.Thresholds.from_settings(settings)
        self._targets = {"answer_rate": self._t.answer_rate_target, "service_level": self._t.service_level_target}
        self._tz = ZoneInfo(settings.hours.timezone)
        self._now = now

    @property
    def thresholds(self) -> kpis.Thresholds:
        return self._t

    @property
    def page_size(self) -> int:
        return self._stats.drill_page_size

    def period(self, start: date, end: date) -> Period:
        """Checked: ordered, within 2000–2100, at most `max_range_days` days."""
        if not (EARLIEST <= start <= LATEST and EARLIEST <= end <= LATEST):
            raise BadPeriod(f"Choisissez des dates entre {french_date(EARLIEST)} et {french_date(LATEST)}.")
        if end < start:
            raise ReversedPeriod()
        days = (end - start).days + 1
        if days > self._stats.max_range_days:
            raise PeriodTooLong(
                f"Période de {days} jours : un rapport couvre au plus {self._stats.max_range_days} jours "
                "(environ trois ans). Raccourcissez-la."
            )
        return Period(start, end)

    def default_query(self) -> ReportQuery:
        """The last 30 days, today included."""
        today = self._now().astimezone(self._tz).date()
        return ReportQuery(start=today - timedelta(days=29), end=today)

    def _instants(self, p: Period) -> tuple[datetime, datetime]:
        start = datetime.combine(p.start, time(0), self._tz)
        end = datetime.combine(p.end + timedelta(days=1), time(0), self._tz)
        return start, end

    def _common(self, p: Period) -> tuple[Any, ...]:
        start, end = self._instants(p)
        t = self._t
        return params(
            start, end, self._settings.hours.timezone, t.short_abandon, t.service_level, t.wrap_up_cap, t.repeat_days
        )

    async def report(self, q: ReportQuery) -> ReportOut:
        try:
            return await self._report(q)
        except (TimeoutError, asyncpg.QueryCanceledError) as exc:
            raise ReportTooSlow() from exc

    async def _report(self, q: ReportQuery) -> ReportOut:
        p = self.period(q.start, q.end)
        comparison = None
        if q.compare != "none":
            before = Period(shift(p.start, q.compare), shift(p.end, q.compare))
            comparison = await self._period(before, q.grouping)
        return ReportOut(
            grouping=q.grouping,
            compare=q.compare,
            timezone=self._settings.hours.timezone,
            report=await self._period(p, q.grouping),
            comparison=comparison,
        )

    @property
    def thresholds_key(self) -> str:
        """What the daily sums were made with: summed with other thresholds or another time zone, they are not read."""
        t = self._t
        return f"{self._settings.hours.timezone}|{t.short_abandon}|{t.service_level}|{t.wrap_up_cap}|{t.repeat_days}"

    async def refresh(self, limit: int = 31) -> int:
        """Sum the finished days not summed yet or changed since (at most `limit`, the latest first); how many."""
        today = self._now().astimezone(self._tz).date()
        tz = self._settings.hours.timezone
        t = self._t
        of = common_for(tz, t.short_abandon, t.service_level, t.wrap_up_cap, t.repeat_days)
        days = await self._rollups.pending(tz, today, self.thresholds_key, limit)
        for day in days:
            await self._rollups.build(day, tz, self.thresholds_key, of)
        return len(days)

    async def _sums(
        self, p: Period, dims: tuple[str, ...], *, presence: bool = True
    ) -> tuple[list[GroupRow], list[PresenceRow]]:
        """The sums of a period: the summed days' from their daily sums, the others' (today, a day changed since it
        was summed) from the records, added group by group; and the presence seconds likewise."""
        today = self._now().astimezone(self._tz).date()
        summed = sorted(d for d in await self._rollups.summed(p.start, p.end, self.thresholds_key) if d < today)
        rows: list[GroupRow] = []
        seconds: list[PresenceRow] = []
        if summed:
            rows += await self._rollups.groups(summed, dims)
            if presence:
                seconds += await self._rollups.presence(summed)
        for run in _runs(p.start, p.end, set(summed)):
            rows += await self._repo.groups(self._common(run), dims)
            start, end = self._instants(run)
            if presence and start < self._now():
                seconds += await self._repo.presence(start, min(end, self._now()))
        return _merged(rows), seconds

    async def figures(self, start: date, end: date) -> kpis.Figures:
        """Every figure of a period without its breakdowns (today's for the wallboard: `figures(today, today)`),
        occupancy included, up to now."""
        try:
            rows, presence = await self._sums(self.period(start, end), ())
        except (TimeoutError, asyncpg.QueryCanceledError) as exc:
            raise ReportTooSlow() from exc
        whole = next(r for r in rows if r.dimension == "")
        return kpis.figures(_totals(whole), kpis.presence_of((r.state, r.seconds) for r in presence))

    async def _period(self, p: Period, grouping: str) -> PeriodOut:
        dims: tuple[str, ...] = (grouping, *BREAKDOWNS)
        rows, presence = await self._sums(p, dims)
        start, end = self._instants(p)
        actions = await self._repo.supervisor_actions(start, min(end, self._now())) if start < self._now() else []
        advisors = await self._repo.advisors() if presence or actions else {}
        callbacks = await self.callback_figures(p.start, p.end)
        with _collector_paused():
            out = self._period_out(p, dims, rows, presence, advisors, actions)
        return out.model_copy(update={"callbacks": callbacks})

    async def callback_totals(self, start: date, end: date) -> kpis.CallbackTotals:
        """The sums of the callbacks created from `start` to `end` (both included, the line's days)."""
        since, until = self._instants(self.period(start, end))
        return callback_totals_of(
            await self._callbacks.period(since, until, self._settings.hours.timezone), self._settings
        )

    async def callback_figures(self, start: date, end: date) -> dict[str, FigureOut]:
        """The callback figures of the callbacks created in the period, as the API and the pages give them."""
        f = kpis.callback_figures(await self.callback_totals(start, end))
        return {name: _figure_out(name, getattr(f, name), None) for name in kpis.CALLBACK_FIGURE_NAMES}

    def _period_out(
        self,
        p: Period,
        dims: tuple[str, ...],
        rows: list[GroupRow],
        presence: list[PresenceRow],
        advisors: dict[int, tuple[str, str]],
        actions: list[SupervisorActionRow],
    ) -> PeriodOut:
        """A period's output from its sums: ~1,400 groups × 24 figures for a month, no I/O."""
        whole = next(r for r in rows if r.dimension == "")
        total = kpis.figures(_totals(whole), kpis.presence_of((r.state, r.seconds) for r in presence))
        people = self._presence(presence, advisors)
        log_out = [self._action(a, advisors) for a in actions]
        by_interface = {a.key: a for a in people}
        per_dim: dict[str, list[GroupRow]] = {dim: [] for dim in dims}
        for row in rows:
            if row.dimension in per_dim:
                per_dim[row.dimension].append(row)
        outs: dict[tuple[str, kpis.Part], FigureOut] = {}  # the groups repeat figures (1 call, 0 %, 100 %…)
        breakdowns: dict[str, list[GroupOut]] = {}
        for dim in dims:
            out = [self._group(dim, r, total.calls.numerator, by_interface, outs) for r in per_dim[dim]]
            breakdowns[dim] = _ordered(dim, out)
        pauses: dict[str, float] = {}
        for r in presence:
            if r.state == "paused":
                label = self._pause_label(r.reason)
                pauses[label] = pauses.get(label, 0.0) + r.seconds
        return PeriodOut(
            start=p.start,
            end=p.end,
            label=p.label,
            figures=self.figure_outs(total),
            breakdowns=breakdowns,
            presence=people,
            pauses=dict(sorted(pauses.items(), key=lambda kv: -kv[1])),
            supervisor_actions=imposed(log_out),
            supervisor_action_log=log_out[-ACTION_LOG_MAX:],
        )

    def _action(self, row: SupervisorActionRow, advisors: dict[int, tuple[str, str]]) -> SupervisorActionOut:
        interface, name = advisors.get(row.advisor_id, (f"#{row.advisor_id}", f"Conseiller n° {row.advisor_id}"))
        pause = row.state == "paused"
        return SupervisorActionOut(
            at=row.at,
            at_shown=row.at.astimezone(self._tz).strftime("%d/%m/%Y %H:%M:%S"),
            key=interface,
            advisor=name,
            action="pause" if pause else "logout",
            action_label="Mise en pause" if pause else "Déconnexion",
            reason=self._pause_label(row.reason) if pause else "",
            by=row.by,
            note=row.note,
            seconds=max(row.seconds, 0.0),
        )

    def _pause_label(self, reason: str) -> str:
        if not reason:
            return "Sans motif"
        return self._settings.routing.pause_reasons.get(reason) or PAUSE_LABELS.get(reason, reason)

    def _presence(self, rows: list[PresenceRow], advisors: dict[int, tuple[str, str]]) -> list[AdvisorPresenceOut]:
        """Each advisor's time over the period (logged in, in pause by reason, busy) and occupancy, by name."""
        per: dict[int, list[PresenceRow]] = {}
        for r in rows:
            per.setdefault(r.advisor_id, []).append(r)
        out = []
        for advisor_id, own in per.items():
            totals = kpis.presence_of((r.state, r.seconds) for r in own)
            if not totals.logged_in:
                continue
            interface, name = advisors.get(advisor_id, (f"#{advisor_id}", f"Conseiller n° {advisor_id}"))
            pauses: dict[str, float] = {}
            for r in own:
                if r.state == "paused":
                    label = self._pause_label(r.reason)
                    pauses[label] = pauses.get(label, 0.0) + r.seconds
            occupancy = kpis.Figure.ratio(totals.busy, totals.logged_in - totals.paused)
            out.append(
                AdvisorPresenceOut(
                    key=interface,
                    advisor=name,
                    logged_in=totals.logged_in,
                    paused=totals.paused,
                    busy=totals.busy,
                    occupancy=self._figure_out("occupancy", occupancy),
                    pauses=pauses,
                )
            )
        return sorted(out, key=lambda a: a.advisor)

    def _group(
        self,
        dim: str,
        row: GroupRow,
        calls: float,
        advisors: dict[str, AdvisorPresenceOut],
        outs: dict[tuple[str, kpis.Part], FigureOut],
    ) -> GroupOut:
        """One group of a breakdown: its figures straight from the dictionary's parts (`kpis.parts`, the same as
        `kpis.figures`), each figure's output made once per report (`outs`: by name and part)."""
        presence = None
        if dim == "advisor" and row.key in advisors:  # an advisor's occupancy, from their presence
            a = advisors[row.key]
            presence = kpis.PresenceTotals(a.busy, a.logged_in, a.paused)
        t = _totals(row)
        figures: dict[str, FigureOut] = {}
        for name, part in zip(kpis.FIGURE_NAMES, kpis.parts(t, presence), strict=True):
            key = (name, part)
            out = outs.get(key)
            if out is None:
                out = outs[key] = _part_out(name, part, self._targets.get(name))
            figures[name] = out
        return GroupOut(
            key=row.key,
            label=self.group_label(dim, row.key, row.label),
            share=t.calls / calls if calls else None,
            figures=figures,
        )

    def figure_outs(self, f: kpis.Figures) -> dict[str, FigureOut]:
        return {name: self._figure_out(name, getattr(f, name)) for name in kpis.FIGURE_NAMES}

    def _figure_out(self, name: str, figure: kpis.Figure) -> FigureOut:
        return _figure_out(name, figure, self._targets.get(name))

    def group_label(self, dim: str, key: str | None, label: str | None) -> str:
        """A group's French label (the key when nothing better is known; « Non renseigné » for none)."""
        if key is None:
            return NOT_GIVEN
        desk = self._settings.desk
        match dim:
            case "day":
                d = date.fromisoformat(key)
                return f"{WEEKDAYS[d.weekday()]} {french_date(d)}"
            case "week":
                return f"semaine du {french_date(date.fromisoformat(key))}"
            case "month":
                year, month = key.split("-")
                return f"{MONTHS[int(month) - 1]} {year}"
            case "hour":
                return f"{key} h – {int(key) + 1:02d} h"
            case "weekday":
                return WEEKDAYS[int(key) - 1]
            case "topic":
                topic = desk.topics.get(key)
                return topic.label if topic else key
            case "subtopic":
                topic_key, _, sub = key.partition("/")
                topic = desk.topics.get(topic_key)
                head = topic.label if topic else topic_key
                return f"{head} — {topic.subtopics.get(sub, sub) if topic and sub else sub or NOT_GIVEN}"
            case "outcome":
                return OUTCOME_LABELS.get(Outcome(key), key) if key in _OUTCOMES else key
            case "partner":
                return desk.partners.get(key, key)
            case "caller_kind":
                return CALLER_KINDS.get(key, key)
            case "commune" | "epci" | "advisor":
                return label or key
        return key

    async def drill(
        self,
        q: ReportQuery,
        figure: str,
        dimension: Dimension | None,
        key: str | None,
        page: int = 1,
        *,
        size: int | None = None,
        after: Cursor | None = None,
        before: Cursor | None = None,
    ) -> DrillOut:
        """The calls behind a figure, in one group of a breakdown (or the whole period), a page at a time: by page
        number within the first DRILL_OFFSET_MAX calls, or at any depth after (before) a call, the keyset of the
        « Appels suivants » links. How many: the figure's own sum (the daily sums), exactly the calls listed."""
        call_set = kpis.FIGURE_CALLS.get(figure)
        if call_set is None:
            raise UnknownFigure()
        p = self.period(q.start, q.end)
        size = size or self._stats.drill_page_size
        page = max(1, page)
        if after is not None or before is not None:
            page = 0  # unknown: reached by a cursor
        elif (page - 1) * size > DRILL_OFFSET_MAX:
            raise PageTooDeep(
                f"Les pages numérotées s'arrêtent aux {DRILL_OFFSET_MAX:,} premiers appels".replace(",", "\u202f")
                + " : continuez avec « Appels suivants », ou réduisez la période."
            )
        try:
            total = await self.count(p, call_set, dimension, key)
            rows = (
                []
                if total == 0
                else await self._repo.calls(
                    self._common(p),
                    call_set.value,
                    dimension,
                    key,
                    size + 1,
                    offset=(page - 1) * size if page else 0,
                    after=after,
                    before=before,
                )
            )
        except (TimeoutError, asyncpg.QueryCanceledError) as exc:
            raise ReportTooSlow() from exc
        more = len(rows) > size
        if before is not None:
            rows, earlier = rows[-size:], more
            later = True
        else:
            rows, later = rows[:size], more
            earlier = page != 1
        return DrillOut(
            figure=figure,
            figure_label=definitions.DEFINITIONS[figure].label,
            dimension=dimension,
            key=key,
            group_label=None if dimension is None else self.group_label(dimension, key, _first_label(rows)),
            start=p.start,
            end=p.end,
            total=total,
            page=page,
            pages=max(1, math.ceil(total / size)),
            page_size=size,
            numbered_pages=max(1, min(math.ceil(total / size), DRILL_OFFSET_MAX // size + 1)),
            next_after=_cursor(rows[-1]) if rows and later else None,
            previous_before=_cursor(rows[0]) if rows and earlier else None,
            calls=[self._call_row(r) for r in rows],
        )

    async def count(self, p: Period, call_set: kpis.CallSet, dimension: str | None, key: str | None) -> int:
        """How many calls a figure counts in one group of a breakdown (or the whole period): its sum, from the daily
        sums and the records of the days not summed, as the report computes it (for a per-day breakdown, the group's
        own daily rows only)."""
        name = SET_SUMS[call_set.value]
        if dimension not in DAY_DIMENSIONS:  # the whole period, or a time breakdown: made of the days' whole sums
            rows, _ = await self._sums(p, () if dimension is None else (dimension,), presence=False)
            return next((int(r.sums[name]) for r in rows if r.dimension == (dimension or "") and r.key == key), 0)
        today = self._now().astimezone(self._tz).date()
        summed = sorted(d for d in await self._rollups.summed(p.start, p.end, self.thresholds_key) if d < today)
        total = await self._rollups.group_sum(summed, dimension, key, name) if summed else 0.0
        for run in _runs(p.start, p.end, set(summed)):
            rows = await self._repo.groups(self._common(run), (dimension,))
            total += sum(r.sums[name] for r in rows if r.dimension == dimension and r.key == key)
        return int(total)

    def _call_row(self, r: asyncpg.Record) -> CallRow:
        wait: float = r["wait"]
        outcome = r["outcome"]
        return CallRow(
            linkedid=r["linkedid"],
            arrived_at=r["arrived_at"].astimezone(self._tz).strftime("%d/%m/%Y %H:%M:%S"),
            number=french_display(r["caller_number"]),
            status=STATUS_LABELS.get(r["status"], r["status"]),
            wait_seconds=wait,
            wait=definitions.duration(wait),
            talk_seconds=r["talk"],
            outcome=self.group_label("outcome", outcome, None) if outcome else "",
            topic=self.group_label("topic", r["topic"], None) if r["topic"] else "",
            commune=r["commune_name"] or (r["commune_insee"] or ""),
            advisor=r["advisor_label"] or "",
        )

    async def unanswered(self, q: ReportQuery) -> UnansweredOut:
        """The period's questions without an answer by call topic and week: the latest UNANSWERED_WEEKS weeks that
        have some, and each topic's latest UNANSWERED_QUESTIONS questions (cut to QUESTION_SHOWN characters)."""
        p = self.period(q.start, q.end)
        start, end = self._instants(p)
        try:
            counts, questions = await self._repo.unanswered(
                start, end, self._settings.hours.timezone, UNANSWERED_WEEKS + 1, UNANSWERED_QUESTIONS
            )
        except (TimeoutError, asyncpg.QueryCanceledError) as exc:
            raise ReportTooSlow() from exc
        weeks = sorted({r["week"] for r in counts})
        more = len(weeks) > UNANSWERED_WEEKS
        weeks = weeks[-UNANSWERED_WEEKS:]
        per: dict[str | None, dict[str, int]] = {}
        for r in counts:
            if r["week"] in weeks:
                per.setdefault(r["topic"], {})[r["week"]] = r["questions"]
        asked: dict[str | None, list[str]] = {}
        for r in questions:
            text = " ".join(r["question"].split())
            asked.setdefault(r["topic"], []).append(
                text if len(text) <= QUESTION_SHOWN else text[: QUESTION_SHOWN - 1] + "…"
            )
        topics = [
            UnansweredTopicOut(
                key=topic,
                label=self.group_label("topic", topic, None),
                weeks=[by_week.get(w, 0) for w in weeks],
                total=sum(by_week.values()),
                questions=asked.get(topic, []),
            )
            for topic, by_week in per.items()
        ]
        topics.sort(key=lambda t: (t.key is None, -t.total, t.label))
        return UnansweredOut(
            weeks=weeks,
            week_labels=[self.group_label("week", w, None) for w in weeks],
            more_weeks=more,
            topics=topics,
        )

    async def facts(self, start: date, end: date) -> list[kpis.CallFacts]:
        """Every call of a period as the pure module reads it (for checks and small periods)."""
        return [fact(r) for r in await self._repo.facts(self._common(self.period(start, end)))]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while a report's output is built (no await within): the ~40,000 objects
    of a month's groups and figures (acyclic, freed by reference counting) would otherwise trigger dozens of
    collections, full ones included, each walking every object of the process: half the build's time, measured."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


ACTION_LOG_MAX = 500  # the report lists the latest actions; the per-advisor sums count them all


def imposed(actions: list[SupervisorActionOut]) -> list[AdvisorActionsOut]:
    """Per advisor (by name), the pauses and log-outs supervisors imposed: how many, how long, by whom (the most
    active first), for which reasons (the most frequent first)."""
    per: dict[str, list[SupervisorActionOut]] = {}
    for a in actions:
        per.setdefault(a.key, []).append(a)
    out = []
    for key, own in per.items():
        pauses = [a for a in own if a.action == "pause"]
        logouts = [a for a in own if a.action == "logout"]
        by: dict[str, int] = {}
        reasons: dict[str, int] = {}
        for a in own:
            by[a.by] = by.get(a.by, 0) + 1
        for a in pauses:
            reasons[a.reason] = reasons.get(a.reason, 0) + 1
        out.append(
            AdvisorActionsOut(
                key=key,
                advisor=own[0].advisor,
                pauses=len(pauses),
                pause_seconds=sum(a.seconds for a in pauses),
                logouts=len(logouts),
                logout_seconds=sum(a.seconds for a in logouts),
                by=sorted(by, key=lambda login: (-by[login], login)),
                reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
            )
        )
    return sorted(out, key=lambda a: a.advisor)


def _runs(start: date, end: date, summed: set[date]) -> list[Period]:
    """The spans of consecutive days of [start, end] that are not summed."""
    runs: list[Period] = []
    day = start
    while day <= end:
        if day in summed:
            day += timedelta(days=1)
            continue
        first = day
        while day + timedelta(days=1) <= end and day + timedelta(days=1) not in summed:
            day += timedelta(days=1)
        runs.append(Period(first, day))
        day += timedelta(days=1)
    return runs


def _merged(rows: list[GroupRow]) -> list[GroupRow]:
    """Groups of the same breakdown and key added up (the sums are additive), the first label known kept."""
    merged: dict[tuple[str, str | None], GroupRow] = {}
    for r in rows:
        seen = merged.get((r.dimension, r.key))
        if seen is None:
            merged[(r.dimension, r.key)] = r
        else:
            sums = {n: seen.sums[n] + r.sums[n] for n in SUM_NAMES}
            merged[(r.dimension, r.key)] = GroupRow(r.dimension, r.key, seen.label or r.label, sums)
    if ("", None) not in merged:
        merged[("", None)] = GroupRow("", None, None, dict.fromkeys(SUM_NAMES, 0))
    return list(merged.values())


def _cursor(r: asyncpg.Record) -> str:
    """A call's place in a drill-down: its arrival (microseconds since the epoch, UTC) and linkedid."""
    at: datetime = r["arrived_at"]
    micros = (at - EPOCH) // timedelta(microseconds=1)
    return f"{micros}~{r['linkedid']}"


def parse_cursor(text: str | None) -> Cursor | None:
    """A cursor given back by a client (None when absent); refused in French when it is not one of ours."""
    if not text:
        return None
    micros, sep, linkedid = text.partition("~")
    if not sep or not linkedid or len(linkedid) > 64 or not micros.lstrip("-").isdigit() or len(micros) > 19:
        raise BadReportOption("Position dans la liste illisible : repartez de la première page.")
    try:
        return EPOCH + timedelta(microseconds=int(micros)), linkedid
    except OverflowError as exc:
        raise BadReportOption("Position dans la liste illisible : repartez de la première page.") from exc


def _first_label(rows: list[asyncpg.Record]) -> str | None:
    return None if not rows else rows[0]["commune_name"] or rows[0]["advisor_label"]


def _totals(row: GroupRow) -> kpis.Totals:
    return kpis.Totals.of(row.sums)


def _ordered(dim: str, groups: list[GroupOut]) -> list[GroupOut]:
    if dim in TIME_DIMENSIONS:
        return sorted(groups, key=lambda g: (g.key is None, g.key or ""))
    return sorted(groups, key=lambda g: (g.key is None, -(g.figures["calls"].numerator), g.label))


def fact(r: asyncpg.Record | dict[str, Any]) -> kpis.CallFacts:
    """One row of `storage.statistics.facts` as the pure module's facts."""
    outcome = r["outcome"]
    return kpis.CallFacts(
        linkedid=r["linkedid"],
        arrived_at=r["arrived_at"],
        line_open=r["line_open"],
        status=CallStatus(r["status"]),
        queue_entered_at=r["queue_entered_at"],
        answered_at=r["answered_at"],
        wait=r["wait_seconds"],
        talk=r["talk_seconds"],
        hold=r["hold"],
        qualified_at=r["qualified_at"],
        outcome=None if outcome is None else Outcome(outcome),
        topic=r["topic"],
        subtopic=r["subtopic"],
        commune_insee=r["commune_insee"],
        epci=r["epci_siren"],
        caller_kind=kpis.CallerKind(r["caller_kind"]),
        caller_number=r["caller_number"],
        advisor=r["advisor_interface"],
        transfer_service=r["transfer_service"],
        partner=r["partner"],
        callback_requested=r["callback"],
        unanswered_question=r["unanswered"],
        previous_call_at=r["previous_call_at"],
    )


async def refresh_forever(service: StatisticsService, every: float = 60.0, batch: int = 31) -> None:
    """Keep the daily sums up to date: a backlog (a first start over years of records) in batches, then every
    `every` seconds the days that changed or ended. A failure (PostgreSQL away) is logged and tried again later."""
    while True:
        try:
            built = await service.refresh(limit=batch)
        except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
            log.warning("statistics: daily sums not refreshed (%s); next try in %.0f s", exc, every)
            built = 0
        if built:
            log.info("statistics: %d day(s) summed", built)
        await asyncio.sleep(0.1 if built == batch else every)


def callback_totals_of(sums: PeriodSums, settings: Settings) -> kpis.CallbackTotals:
    """The callback sums from the SQL's: the count done within one working day from the line's calendar."""
    return kpis.CallbackTotals(
        created=sums.created,
        cancelled=sums.cancelled,
        done=sums.done,
        within_day=kpis.within_from_groups(sums.within_groups, settings.hours),
        attempts_done=sums.attempts_done,
        median_delay=sums.median_delay,
    )


def _figure_out(name: str, figure: kpis.Figure, target: float | None) -> FigureOut:
    """One figure as the API and the pages give it."""
    return _part_out(name, (figure.kind, figure.numerator, figure.denominator), target)


def _part_out(name: str, part: kpis.Part, target: float | None) -> FigureOut:
    """One figure from its part (`kpis.parts`) as the API and the pages give it: `Figure.value`, `definitions.show`
    and `kpis.meets` computed once each, validated by the model's own validator (`FigureOut(**…)` without the
    keyword call's overhead: ~15,000 of them for a month)."""
    kind, numerator, denominator = part
    if kind == "median":
        value = numerator if denominator else None
    else:
        value = numerator if kind == "count" else (numerator / denominator if denominator else None)
    out: FigureOut = _FIGURE_OUT.validate_python(
        {
            "name": name,
            "label": definitions.DEFINITIONS[name].label,
            "value": value,
            "numerator": numerator,
            "denominator": denominator,
            "shown": definitions.show_value(name, value),
            "target": target,
            "meets_target": None if target is None or value is None else value >= target,
        }
    )
    return out


_FIGURE_OUT = FigureOut.__pydantic_validator__
