"""Reports and drill-downs as CSV that French spreadsheet software opens right: UTF-8 with a BOM, `;` between
fields, decimal comma, dates dd/mm/yyyy, CRLF line ends; a cell starting with = + - @ gets a leading ' (a spreadsheet
would run it as a formula). Percentages are written as percent (85,30), durations in seconds (109,0). Pure."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date
from typing import Any

from screenpop.statistics import definitions
from screenpop.statistics.kpis import CALLBACK_FIGURE_NAMES, FIGURE_NAMES, Figure, FigureKind
from screenpop.statistics.models import DIMENSION_LABELS, DrillOut, FigureOut, PeriodOut, ReportOut

BOM = "\ufeff"
UNITS = {"count": "", "percent": " (%)", "duration": " (s)"}


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _writer(stream: io.StringIO) -> Any:
    return csv.writer(stream, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)


def _date(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def _plain(f: FigureOut) -> str:
    kind: FigureKind = (
        "count" if f.denominator is None else ("rate" if definitions.DEFINITIONS[f.name].unit == "percent" else "mean")
    )
    if f.name in MEDIANS:
        kind = "median"
    figure = Figure(kind, f.numerator, f.denominator)
    return definitions.plain(f.name, figure)


def _header() -> list[str]:
    return [
        "Période",
        "Début",
        "Fin",
        "Regroupement",
        "Clé",
        "Groupe",
        "Part des appels (%)",
        *(definitions.DEFINITIONS[n].label + UNITS[definitions.DEFINITIONS[n].unit] for n in FIGURE_NAMES),
        *PRESENCE_COLUMNS,
        *ACTION_COLUMNS,
        *(definitions.DEFINITIONS[n].label + UNITS[definitions.DEFINITIONS[n].unit] for n in CALLBACK_FIGURE_NAMES),
    ]


MEDIANS = frozenset({"callback_median_delay"})


PRESENCE_COLUMNS = ("Temps connecté (s)", "Temps en pause (s)", "Temps en communication et après-appel (s)")
PRESENCE_GROUP = "Temps des conseillers"
ACTION_COLUMNS = (
    "Pauses imposées par un superviseur",
    "Temps en pause imposée (s)",
    "Déconnexions imposées par un superviseur",
    "Temps déconnecté après une déconnexion imposée (s)",
    "Imposées par",
    "Motifs des pauses imposées",
)
ACTION_GROUP = "Actions des superviseurs"


def _seconds(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def _lines(which: str, p: PeriodOut) -> Iterable[list[str]]:
    callbacks = [_plain(p.callbacks[n]) if n in p.callbacks else "" for n in CALLBACK_FIGURE_NAMES]
    blank = [""] * (len(PRESENCE_COLUMNS) + len(ACTION_COLUMNS))
    whole = [which, _date(p.start), _date(p.end), "Ensemble", "", p.label, "100,00", *_values(p.figures)]
    yield [*whole, *blank, *callbacks]
    for dim, groups in p.breakdowns.items():
        for g in groups:
            share = "" if g.share is None else f"{g.share * 100:.2f}".replace(".", ",")
            key = _key(dim, g.key)
            yield [
                which,
                _date(p.start),
                _date(p.end),
                DIMENSION_LABELS[dim],
                key,
                g.label,
                share,
                *_values(g.figures),
                "",
                "",
                "",
            ]
    occupancy = FIGURE_NAMES.index("occupancy")
    for a in p.presence:
        figures = [""] * len(FIGURE_NAMES)
        figures[occupancy] = _plain(a.occupancy)
        times = [_seconds(a.logged_in), _seconds(a.paused), _seconds(a.busy)]
        yield [which, _date(p.start), _date(p.end), PRESENCE_GROUP, a.key, a.advisor, "", *figures, *times]
    for s in p.supervisor_actions:
        blank = [""] * (len(FIGURE_NAMES) + len(PRESENCE_COLUMNS))
        reasons = " ; ".join(f"{reason} : {count}" for reason, count in s.reasons.items())
        actions = [
            str(s.pauses),
            _seconds(s.pause_seconds),
            str(s.logouts),
            _seconds(s.logout_seconds),
            ", ".join(s.by),
            reasons,
        ]
        yield [which, _date(p.start), _date(p.end), ACTION_GROUP, s.key, s.advisor, "", *blank, *actions]


def _rows(which: str, p: PeriodOut) -> Iterable[list[str]]:
    """Every line of a period, padded to the header's width (the presence and action columns are blank elsewhere)."""
    width = len(_header())
    for line in _lines(which, p):
        yield line + [""] * (width - len(line))


def _values(figures: dict[str, FigureOut]) -> list[str]:
    return [_plain(figures[n]) for n in FIGURE_NAMES]


def _key(dim: str, key: str | None) -> str:
    if key is None:
        return ""
    if dim in ("day", "week"):
        return _date(date.fromisoformat(key))
    if dim == "month":
        return f"{key[5:7]}/{key[0:4]}"
    return key


def report_csv(report: ReportOut) -> str:
    """Every figure of the period and of each group of each breakdown, one line each (and the comparison's)."""
    stream = io.StringIO(newline="")
    w = _writer(stream)
    w.writerow(_header())
    periods = [("Période", report.report)]
    if report.comparison is not None:
        periods.append(("Comparaison", report.comparison))
    for which, p in periods:
        for row in _rows(which, p):
            w.writerow([_cell(v) for v in row])
    return BOM + stream.getvalue()


def drill_csv(drill: DrillOut) -> str:
    stream = io.StringIO(newline="")
    w = _writer(stream)
    w.writerow(
        ["Arrivée", "Numéro", "Statut", "Attente (s)", "Conversation (s)", "Issue", "Thème", "Commune", "Conseiller"]
    )
    for c in drill.calls:
        talk = "" if c.talk_seconds is None else f"{c.talk_seconds:.1f}".replace(".", ",")
        row = [
            c.arrived_at,
            c.number,
            c.status,
            f"{c.wait_seconds:.1f}".replace(".", ","),
            talk,
            c.outcome,
            c.topic,
            c.commune,
            c.advisor,
        ]
        w.writerow([_cell(v) for v in row])
    return BOM + stream.getvalue()
