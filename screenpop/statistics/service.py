"""The statistics slice's rules: a report's period (validated, bounded, in the line's time zone), its figures and
breakdowns from the SQL sums (`storage.statistics`) through the one dictionary (`kpis.figures`), the labels of the
groups, the comparison with the same period a month or a year before, the calls behind a figure (drill-down).
No aiohttp here."""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, get_args
from zoneinfo import ZoneInfo

import asyncpg

from config.settings import Settings
from screenpop.statistics import definitions, kpis
from screenpop.statistics.errors import BadPeriod, BadReportOption, PeriodTooLong, ReversedPeriod, UnknownFigure
from screenpop.statistics.models import (
    BREAKDOWNS,
    CallRow,
    Compare,
    Dimension,
    DrillOut,
    FigureOut,
    GroupOut,
    PeriodOut,
    ReportOut,
    ReportQuery,
)
from storage.statistics import GroupRow, StatisticsRepository, params
from telephony.identity import french_display
from telephony.records import OUTCOME_LABELS, CallStatus, Outcome

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
TIME_DIMENSIONS = ("day", "week", "month", "hour", "weekday")


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
        self._settings = settings
        self._stats = settings.statistics
        self._t = kpis.Thresholds.from_settings(settings)
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

    async def _period(self, p: Period, grouping: str) -> PeriodOut:
        dims: tuple[str, ...] = (grouping, *BREAKDOWNS)
        rows = await self._repo.groups(self._common(p), dims)
        start, end = self._instants(p)
        presence = await self._repo.presence(start, min(end, max(start, self._now())))
        whole = next(r for r in rows if r.dimension == "")
        total = kpis.figures(_totals(whole), kpis.PresenceTotals(**presence))
        breakdowns: dict[str, list[GroupOut]] = {}
        for dim in dims:
            groups = [r for r in rows if r.dimension == dim]
            out = [self._group(dim, r, total.calls.numerator) for r in groups]
            breakdowns[dim] = _ordered(dim, out)
        return PeriodOut(
            start=p.start, end=p.end, label=p.label, figures=self.figure_outs(total), breakdowns=breakdowns
        )

    def _group(self, dim: str, row: GroupRow, calls: float) -> GroupOut:
        f = kpis.figures(_totals(row))
        return GroupOut(
            key=row.key,
            label=self.group_label(dim, row.key, row.label),
            share=f.calls.numerator / calls if calls else None,
            figures=self.figure_outs(f),
        )

    def figure_outs(self, f: kpis.Figures) -> dict[str, FigureOut]:
        out: dict[str, FigureOut] = {}
        targets = {"answer_rate": self._t.answer_rate_target, "service_level": self._t.service_level_target}
        for name in kpis.FIGURE_NAMES:
            figure: kpis.Figure = getattr(f, name)
            target = targets.get(name)
            out[name] = FigureOut(
                name=name,
                label=definitions.DEFINITIONS[name].label,
                value=figure.value,
                numerator=figure.numerator,
                denominator=figure.denominator,
                shown=definitions.show(name, figure),
                target=target,
                meets_target=None if target is None else kpis.meets(figure, target),
            )
        return out

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
        self, q: ReportQuery, figure: str, dimension: Dimension | None, key: str | None, page: int
    ) -> DrillOut:
        """The calls behind a figure, in one group of a breakdown (or the whole period), a page at a time."""
        call_set = kpis.FIGURE_CALLS.get(figure)
        if call_set is None:
            raise UnknownFigure()
        p = self.period(q.start, q.end)
        size = self._stats.drill_page_size
        page = max(1, min(page, 100_000))
        total, rows = await self._repo.calls(self._common(p), call_set.value, dimension, key, size, (page - 1) * size)
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
            calls=[self._call_row(r) for r in rows],
        )

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

    async def facts(self, start: date, end: date) -> list[kpis.CallFacts]:
        """Every call of a period as the pure module reads it (for checks and small periods)."""
        return [fact(r) for r in await self._repo.facts(self._common(self.period(start, end)))]


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
