"""A report's period: read from forms and the API, checked (order, bounds, length), shifted for comparisons."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

import pytest

from config.settings import Settings
from screenpop.statistics.errors import BadPeriod, BadReportOption, PeriodTooLong, ReportTooSlow, ReversedPeriod
from screenpop.statistics.service import StatisticsService, query_from, shift


def service() -> StatisticsService:
    return StatisticsService(cast(Any, None), Settings(), lambda: datetime(2026, 3, 10, 23, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    ("d", "compare", "before"),
    [
        (date(2026, 3, 31), "month", date(2026, 2, 28)),
        (date(2026, 1, 15), "month", date(2025, 12, 15)),
        (date(2024, 2, 29), "year", date(2023, 2, 28)),
        (date(2026, 3, 10), "year", date(2025, 3, 10)),
    ],
)
def test_the_same_period_a_month_or_a_year_before(d: date, compare: str, before: date) -> None:
    assert shift(d, compare) == before  # type: ignore[arg-type]


def test_dates_are_read_in_both_formats() -> None:
    q = query_from({"start": "01/03/2026", "end": "2026-03-31", "grouping": "week", "compare": "year"})
    assert (q.start, q.end, q.grouping, q.compare) == (date(2026, 3, 1), date(2026, 3, 31), "week", "year")


@pytest.mark.parametrize(
    ("values", "error", "words"),
    [
        ({"end": "2026-03-01"}, BadPeriod, "date de début"),
        ({"start": "2026-13-01", "end": "2026-03-01"}, BadPeriod, "illisible"),
        ({"start": "x" * 10_000, "end": "2026-03-01"}, BadPeriod, "illisible"),
        ({"start": "2026-03-01", "end": "2026-03-01", "grouping": "year"}, BadReportOption, "Regroupement"),
        ({"start": "2026-03-01", "end": "2026-03-01", "compare": "decade"}, BadReportOption, "Comparaison"),
    ],
)
def test_unreadable_queries_are_refused_in_french(values: dict[str, str], error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        query_from(values)


def test_a_reversed_a_too_long_or_an_absurd_period_is_refused() -> None:
    s = service()
    with pytest.raises(ReversedPeriod, match="inversez"):
        s.period(date(2026, 3, 10), date(2026, 3, 1))
    with pytest.raises(PeriodTooLong, match="3652 jours"):
        s.period(date(2016, 3, 1), date(2026, 2, 28))
    with pytest.raises(BadPeriod, match="entre"):
        s.period(date(1, 1, 1), date(2026, 2, 28))
    assert s.period(date(2026, 3, 1), date(2026, 3, 1)).label == "le 01/03/2026"
    assert s.period(date(2023, 3, 1), date(2026, 2, 28)).label == "du 01/03/2023 au 28/02/2026"


def test_the_default_report_is_the_last_thirty_days_in_paris() -> None:
    q = service().default_query()
    assert (q.start, q.end) == (date(2026, 2, 10), date(2026, 3, 11))  # 23:30 UTC is already the 11th in Paris


async def test_a_query_that_runs_out_of_time_is_a_french_503() -> None:
    s = service()

    async def too_slow(*_: object) -> set[date]:
        raise TimeoutError

    s._rollups.summed = too_slow  # type: ignore[method-assign,assignment]
    with pytest.raises(ReportTooSlow, match="réduisez la période") as refused:
        await s.report(s.default_query())
    assert refused.value.status == 503
