"""Charts drawn on the server as SVG (no script, no CDN): the geometry of bar charts, computed here from a report
(pure), drawn by `templates/statistics/chart.html` with presentation attributes only (the CSP allows no inline
style). Each chart comes with its data table for screen readers (`rows`)."""

from __future__ import annotations

from dataclasses import dataclass

from screenpop.statistics.models import GroupOut, PeriodOut

WIDTH = 720
HEIGHT = 240
LEFT = 48  # room for the axis labels
BOTTOM = 36
TOP = 12
RIGHT = 8
COLOURS = ("#1d4f91", "#b3261e")  # 8.2:1 and 6.2:1 against white; text labels carry the meaning too


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str  # shown by the SVG <title> on hover, and read by the table below for screen readers


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True, slots=True)
class XLabel:
    x: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    id: str
    title: str
    description: str
    series: tuple[tuple[str, str], ...]  # (label, colour): the legend
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    labels: tuple[XLabel, ...]
    target: Tick | None  # a target line (service level)
    columns: tuple[str, ...]  # the data table's header
    rows: tuple[tuple[str, ...], ...]
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def empty(self) -> bool:
        return not self.rows


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000):
        if value <= step * 4:
            return float(step * 4)
    return float(value)


def _bars(
    chart_id: str,
    title: str,
    description: str,
    categories: list[str],
    series: list[tuple[str, list[float]]],
    *,
    percent: bool = False,
    target: float | None = None,
    shown: list[list[str]] | None = None,
) -> Chart:
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    top = 1.0 if percent else _nice_max(max((v for _, values in series for v in values), default=0.0))
    n = max(len(categories), 1)
    slot = plot_w / n
    bar_w = max(slot * 0.8 / max(len(series), 1), 1.0)
    bars = []
    for s, (name, values) in enumerate(series):
        for i, v in enumerate(values):
            h = plot_h * min(v, top) / top
            text = shown[s][i] if shown else _num(v)
            bars.append(
                Bar(
                    x=round(LEFT + i * slot + slot * 0.1 + s * bar_w, 2),
                    y=round(TOP + plot_h - h, 2),
                    width=round(bar_w, 2),
                    height=round(h, 2),
                    colour=COLOURS[s % len(COLOURS)],
                    title=f"{categories[i]} — {name} : {text}",
                )
            )
    ticks = tuple(
        Tick(round(TOP + plot_h - plot_h * k / 4, 2), f"{round(top * k / 4 * 100)} %" if percent else _num(top * k / 4))
        for k in range(5)
    )
    every = max(1, -(-n // 12))  # at most ~12 labels under the axis
    labels = tuple(XLabel(round(LEFT + i * slot + slot / 2, 2), c) for i, c in enumerate(categories) if i % every == 0)
    target_tick = None
    if target is not None:
        target_tick = Tick(round(TOP + plot_h - plot_h * target, 2), f"objectif {round(target * 100)} %")
    columns = ("", *(name for name, _ in series))
    rows = tuple(
        (c, *((shown[s][i] if shown else _num(values[i])) for s, (_, values) in enumerate(series)))
        for i, c in enumerate(categories)
    )
    return Chart(
        id=chart_id,
        title=title,
        description=description,
        series=tuple((name, COLOURS[s % len(COLOURS)]) for s, (name, _) in enumerate(series)),
        bars=tuple(bars),
        ticks=ticks,
        labels=labels,
        target=target_tick,
        columns=columns,
        rows=rows,
    )


def _num(value: float) -> str:
    return f"{round(value):,}".replace(",", "\u202f")


def calls_by_hour(p: PeriodOut) -> Chart:
    groups = [g for g in p.breakdowns.get("hour", []) if g.key is not None]
    return _bars(
        "chart-hours",
        "Appels présentés et abandons par heure d'arrivée",
        "Barres bleues : appels présentés ; barres rouges : abandons (hors abandons courts).",
        [f"{g.key} h" for g in groups],
        [
            ("Appels présentés", [g.figures["offered"].numerator for g in groups]),
            ("Abandons", [g.figures["abandoned"].numerator for g in groups]),
        ],
    )


def service_level_by_day(p: PeriodOut, grouping: str, target: float) -> Chart:
    groups = [g for g in p.breakdowns.get(grouping, []) if g.key is not None]
    values = [g.figures["service_level"].value for g in groups]
    return _bars(
        "chart-service-level",
        "Niveau de service par " + {"day": "jour", "week": "semaine", "month": "mois"}.get(grouping, "jour"),
        f"Part des appels décrochés dans le délai ; la ligne marque l'objectif de {round(target * 100)} %. "
        "Une période sans appel n'a pas de barre (« — »).",
        [_short(g) for g in groups],
        [("Niveau de service", [v or 0.0 for v in values])],
        percent=True,
        target=target,
        shown=[[g.figures["service_level"].shown for g in groups]],
    )


def top_topics(p: PeriodOut, n: int = 8) -> Chart:
    groups = [g for g in p.breakdowns.get("topic", []) if g.key is not None][:n]
    return _bars(
        "chart-topics",
        f"Les {n} thèmes les plus demandés",
        "Nombre d'appels qualifiés par thème, du plus au moins demandé.",
        [g.label for g in groups],
        [("Appels", [g.figures["calls"].numerator for g in groups])],
    )


def _short(g: GroupOut) -> str:
    key = g.key or ""
    if len(key) == 10:  # YYYY-MM-DD
        return f"{key[8:10]}/{key[5:7]}"
    if len(key) == 7:  # YYYY-MM
        return f"{key[5:7]}/{key[0:4]}"
    return g.label
