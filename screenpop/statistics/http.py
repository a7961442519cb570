"""The statistics over HTTP, for supervisors and administrators: the report form (`/statistiques`), the report with
its tables and charts (`/statistiques/rapport`), the definitions (`/statistiques/definitions`), the calls behind a
figure (`/statistiques/appels`), their CSV exports, and the same as JSON (`/api/statistics/…`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import get_args
from urllib.parse import urlencode

from aiohttp import hdrs, web

from screenpop.statistics import charts, definitions, export
from screenpop.statistics.errors import BadReportOption
from screenpop.statistics.kpis import FIGURE_CALLS, FIGURE_NAMES
from screenpop.statistics.models import (
    BREAKDOWNS,
    DIMENSION_LABELS,
    Dimension,
    DrillOut,
    GroupOut,
    ReportOut,
    ReportQuery,
)
from screenpop.statistics.service import StatisticsService, parse_cursor, query_from
from screenpop.web import nav
from screenpop.web.errors import Forbidden
from screenpop.web.keys import user_of
from screenpop.web.openapi import Operations, declare, operation
from screenpop.web.pages import render
from storage.users import Role

ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
KEY_MAX = 200
CSV_MAX = 10_000  # calls in a drill-down's CSV
# the figures of a breakdown's table, in its column order
TABLE_FIGURES = (
    "calls",
    "offered",
    "answered",
    "answer_rate",
    "abandoned",
    "short_abandoned",
    "service_level",
    "asa",
    "aht",
)
MAIN_FIGURES = tuple(n for n in FIGURE_NAMES)
# The breakdowns with many groups (~890 communes, hundreds of advisors…): the report page shows their TOP_ROWS groups
# that were offered the most calls and links to the full table (`/statistiques/repartition`); CSV and JSON give all.
LONG_BREAKDOWNS: frozenset[str] = frozenset({"subtopic", "service", "partner", "commune", "epci", "advisor"})
TOP_ROWS = 15
# The knowledge base's own table of the questions without an answer (screenpop.knowledge), and who may open it.
KNOWLEDGE_UNANSWERED = "/connaissances/sans-reponse"
KNOWLEDGE_ROLES = frozenset({Role.EDITOR, Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True)
class StatisticsDeps:
    service: StatisticsService


STATISTICS = web.AppKey("statistics", StatisticsDeps)


def _service(request: web.Request) -> StatisticsService:
    user = user_of(request)
    if user.role not in ROLES:
        raise Forbidden("Les statistiques sont réservées aux superviseurs et aux administrateurs.")
    return request.app[STATISTICS].service


def _values(request: web.Request) -> dict[str, str]:
    return {k: request.query.get(k, "")[:40] for k in ("start", "end", "grouping", "compare")}


def _query_string(q: ReportQuery, **more: str | int | None) -> str:
    values: dict[str, str] = {
        "start": q.start.isoformat(),
        "end": q.end.isoformat(),
        "grouping": q.grouping,
        "compare": q.compare,
    }
    values.update({k: str(v) for k, v in more.items() if v is not None})
    return urlencode(values)


def _drill_args(request: web.Request) -> tuple[str, Dimension | None, str | None, int]:
    figure = request.query.get("figure", "offered")
    if figure not in FIGURE_CALLS:
        raise BadReportOption("Indicateur inconnu.")
    dim_text = request.query.get("dimension") or None
    if dim_text is not None and dim_text not in get_args(Dimension):
        raise BadReportOption("Regroupement inconnu.")
    dimension: Dimension | None = dim_text  # type: ignore[assignment]
    key = request.query.get("key")
    if key is not None and len(key) > KEY_MAX:
        raise BadReportOption("Groupe inconnu.")
    page_text = request.query.get("page", "1")
    page = int(page_text) if page_text.isdigit() and len(page_text) < 7 else 1
    return figure, dimension, key, page


# -- pages -------------------------------------------------------------------------------------------------------


async def form_page(request: web.Request) -> web.Response:
    service = _service(request)
    return render(request, "statistics/form.html", {"query": service.default_query(), "error": None})


async def report_page(request: web.Request) -> web.Response:
    service = _service(request)
    q = query_from(_values(request))
    report = await service.report(q)
    context = {
        **_report_context(service, q, report),
        "unanswered": await service.unanswered(q),
        "knowledge_url": KNOWLEDGE_UNANSWERED if _may_read_knowledge(request) else None,
    }
    return render(request, "statistics/report.html", context)


def _may_read_knowledge(request: web.Request) -> bool:
    """The knowledge base's page of questions without an answer is there and this user may open it."""
    if user_of(request).role not in KNOWLEDGE_ROLES:
        return False
    return any(r.canonical == KNOWLEDGE_UNANSWERED for r in request.app.router.resources())


def top_groups(dim: str, groups: list[GroupOut]) -> list[GroupOut]:
    """The groups the report page shows: all of a short breakdown, the TOP_ROWS offered the most calls of a long one
    (in the report's order among equals)."""
    if dim not in LONG_BREAKDOWNS or len(groups) <= TOP_ROWS:
        return groups
    return sorted(groups, key=lambda g: -g.figures["offered"].numerator)[:TOP_ROWS]


def _report_context(
    service: StatisticsService, q: ReportQuery, report: ReportOut, full: str | None = None
) -> Mapping[str, object]:
    t = service.thresholds

    def drill_url(figure: str, dimension: str | None = None, key: str | None = None, *, compared: bool = False) -> str:
        query = q
        if compared and report.comparison is not None:
            query = ReportQuery(start=report.comparison.start, end=report.comparison.end, grouping=q.grouping)
        more: dict[str, str | int | None] = {"figure": figure, "dimension": dimension}
        if dimension is not None and key is not None:
            more["key"] = key
        return "/statistiques/appels?" + _query_string(query, **more)

    compared: dict[str, dict[str | None, object]] = {}
    if report.comparison is not None:
        compared = {dim: {g.key: g for g in groups} for dim, groups in report.comparison.breakdowns.items()}

    def full_url(dim: str) -> str:
        return "/statistiques/repartition?" + _query_string(q, dimension=dim)

    return {
        "q": q,
        "report": report,
        "definitions": definitions.DEFINITIONS,
        "duration": definitions.duration,
        "main_figures": MAIN_FIGURES,
        "table_figures": TABLE_FIGURES,
        "dimensions": (q.grouping, *BREAKDOWNS) if full is None else (full,),
        "top_groups": top_groups if full is None else (lambda dim, groups: groups),
        "full_url": full_url,
        "top_rows": TOP_ROWS,
        "dimension_labels": DIMENSION_LABELS,
        "drill_url": drill_url,
        "compared": compared,
        "csv_url": "/statistiques/rapport.csv?" + _query_string(q),
        "json_url": "/api/statistics/report?" + _query_string(q),
        "charts": [
            charts.calls_by_hour(report.report),
            charts.service_level_by_day(report.report, q.grouping, t.service_level_target),
            charts.top_topics(report.report),
        ],
    }


async def breakdown_page(request: web.Request) -> web.Response:
    """One breakdown of a report with every group (the report page shows the first TOP_ROWS of the long ones)."""
    service = _service(request)
    q = query_from(_values(request))
    dim = request.query.get("dimension", "")
    if dim not in BREAKDOWNS and dim != q.grouping:
        raise BadReportOption("Regroupement inconnu.")
    report = await service.report(q)
    context = {
        **_report_context(service, q, report, full=dim),
        "report_url": "/statistiques/rapport?" + _query_string(q),
    }
    return render(request, "statistics/breakdown.html", context)


async def definitions_page(request: web.Request) -> web.Response:
    service = _service(request)
    t = service.thresholds
    items = [(d, d.sentence(t)) for d in definitions.DEFINITIONS.values()]
    return render(request, "statistics/definitions.html", {"items": items, "t": t})


async def _drill(request: web.Request, size: int | None = None) -> tuple[ReportQuery, DrillOut]:
    service = _service(request)
    q = query_from(_values(request))
    figure, dimension, key, page = _drill_args(request)
    if dimension is None:
        key = None
    after = parse_cursor(request.query.get("after"))
    before = None if after is not None else parse_cursor(request.query.get("before"))
    return q, await service.drill(q, figure, dimension, key, page, size=size, after=after, before=before)


async def drill_page(request: web.Request) -> web.Response:
    q, drill = await _drill(request)
    more: dict[str, str | int | None] = {"figure": drill.figure, "dimension": drill.dimension}
    if drill.dimension is not None and drill.key is not None:
        more["key"] = drill.key

    def page_url(n: int | None = None, after: str | None = None, before: str | None = None) -> str:
        return "/statistiques/appels?" + _query_string(q, **more, page=n, after=after, before=before)

    return render(
        request,
        "statistics/calls.html",
        {
            "q": q,
            "drill": drill,
            "definition": definitions.DEFINITIONS[drill.figure],
            "dimension_label": None if drill.dimension is None else DIMENSION_LABELS[drill.dimension],
            "page_url": page_url,
            "report_url": "/statistiques/rapport?" + _query_string(q),
            "csv_url": "/statistiques/appels.csv?" + _query_string(q, **more),
        },
    )


def _csv(body: str, name: str) -> web.Response:
    return web.Response(
        body=body.encode("utf-8"),
        headers={
            hdrs.CONTENT_TYPE: "text/csv; charset=utf-8",
            hdrs.CONTENT_DISPOSITION: f'attachment; filename="{name}"',
            hdrs.CACHE_CONTROL: "no-store",
        },
    )


async def report_csv(request: web.Request) -> web.Response:
    service = _service(request)
    q = query_from(_values(request))
    report = await service.report(q)
    return _csv(export.report_csv(report), f"statistiques-{q.start.isoformat()}-{q.end.isoformat()}.csv")


async def drill_csv(request: web.Request) -> web.Response:
    q, drill = await _drill(request, size=CSV_MAX)
    return _csv(export.drill_csv(drill), f"appels-{drill.figure}-{q.start.isoformat()}-{q.end.isoformat()}.csv")


# -- JSON --------------------------------------------------------------------------------------------------------


async def api_report(request: web.Request) -> web.Response:
    service = _service(request)
    report = await service.report(query_from(_values(request)))
    return web.json_response(report.model_dump(mode="json"))


async def api_calls(request: web.Request) -> web.Response:
    _, drill = await _drill(request)
    return web.json_response(drill.model_dump(mode="json"))


def _param(name: str, description: str, schema: Mapping[str, object], required: bool = False) -> dict[str, object]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": dict(schema)}


DATE = {"type": "string", "description": "yyyy-mm-dd or dd/mm/yyyy", "maxLength": 40}
PERIOD = (
    _param("start", "first day (line's time zone)", DATE, required=True),
    _param("end", "last day, included", DATE, required=True),
    _param("grouping", "time grouping", {"type": "string", "enum": ["day", "week", "month"]}),
    _param("compare", "the same period before", {"type": "string", "enum": ["none", "month", "year"]}),
)
DRILL = (
    *PERIOD,
    _param("figure", "the figure whose calls to list", {"type": "string", "enum": list(FIGURE_NAMES)}),
    _param("dimension", "a breakdown", {"type": "string", "enum": list(get_args(Dimension))}),
    _param("key", "the group of that breakdown (absent: « non renseigné »)", {"type": "string", "maxLength": 200}),
    _param("page", "page number, from 1, within the first 10 000 calls", {"type": "string", "pattern": "^[0-9]{1,6}$"}),
    _param("after", "the page after this call: a `next_after` given back", {"type": "string", "maxLength": 90}),
    _param("before", "the page before this call: a `previous_before` given back", {"type": "string", "maxLength": 90}),
)


def _op(summary: str, parameters: tuple[dict[str, object], ...]) -> dict[str, object]:
    op = operation(summary, errors=(400, 403, 503))
    op["parameters"] = list(parameters)
    return op


OPERATIONS: Operations = {
    "/statistiques": {"get": operation("The statistics' form (HTML)", errors=(403,))},
    "/statistiques/rapport": {"get": _op("A report: figures, breakdowns, charts (HTML)", PERIOD)},
    "/statistiques/rapport.csv": {"get": _op("A report as CSV (UTF-8 with BOM, ';', decimal comma)", PERIOD)},
    "/statistiques/repartition": {
        "get": _op(
            "One breakdown of a report with every group (HTML)",
            (*PERIOD, _param("dimension", "the breakdown", {"type": "string", "enum": list(get_args(Dimension))})),
        )
    },
    "/statistiques/definitions": {"get": operation("The figures' definitions (HTML)", errors=(403,))},
    "/statistiques/appels": {"get": _op("The calls behind a figure (HTML, paginated)", DRILL)},
    "/statistiques/appels.csv": {"get": _op("The calls behind a figure as CSV (at most 10 000)", DRILL)},
    "/api/statistics/report": {"get": _op("A report: every figure and breakdown, and its comparison (JSON)", PERIOD)},
    "/api/statistics/calls": {"get": _op("The calls behind a figure, paginated (JSON)", DRILL)},
}


def setup(app: web.Application, deps: StatisticsDeps) -> None:
    app[STATISTICS] = deps
    app.router.add_get("/statistiques", form_page)
    app.router.add_get("/statistiques/rapport", report_page)
    app.router.add_get("/statistiques/rapport.csv", report_csv)
    app.router.add_get("/statistiques/repartition", breakdown_page)
    app.router.add_get("/statistiques/definitions", definitions_page)
    app.router.add_get("/statistiques/appels", drill_page)
    app.router.add_get("/statistiques/appels.csv", drill_csv)
    app.router.add_get("/api/statistics/report", api_report)
    app.router.add_get("/api/statistics/calls", api_calls)
    declare(app, OPERATIONS)
    nav.register(app, nav.item("Statistiques", "/statistiques", ROLES, order=30))
