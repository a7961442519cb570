"""The drill-down's statement (`storage.statistics.drill_sql`) without a database: every parameter it numbers is used
(PostgreSQL refuses a statement with a parameter it cannot type), and a time key that is not a day, a week or a month
of the calendar selects nothing instead of failing."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from storage.statistics import CALL_SETS, DIMENSIONS, drill_sql

COMMON = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), "Europe/Paris", 5.0, 20.0, 300.0, 7)


@pytest.mark.parametrize("call_set", sorted(CALL_SETS))
@pytest.mark.parametrize("dimension", [None, *sorted(DIMENSIONS)])
def test_every_parameter_is_used(call_set: str, dimension: str | None) -> None:
    key = {"day": "2026-03-10", "week": "2026-03-09", "month": "2026-03", "hour": "09", "weekday": "2"}.get(
        dimension or "", "x/y"
    )
    for cursor in ({}, {"after": (COMMON[0], "1.1")}, {"before": (COMMON[0], "1.1")}, {"offset": 50}):
        sql, args = drill_sql(COMMON, call_set, dimension, key, 51, **cursor)
        used = {int(n) for n in re.findall(r"\$(\d+)", sql)}
        assert used == set(range(1, len(args) + 1)), (call_set, dimension, cursor)


@pytest.mark.parametrize(
    ("dimension", "key"),
    [
        ("day", "0001-01-01"),
        ("day", "9999-12-31"),
        ("day", "2026-02-30"),
        ("day", "demain"),
        ("week", "2026-03-10"),  # a Tuesday
        ("week", "9999-12-27"),
        ("month", "9999-12"),
        ("month", "2026-13"),
        ("hour", None),
        ("caller_kind", None),
        ("commune", "62193 "),  # char(5) would match it, the breakdown's text key does not
    ],
)
def test_a_key_outside_the_calendar_selects_nothing(dimension: str, key: str | None) -> None:
    sql, _ = drill_sql(COMMON, "all", dimension, key, 51)
    assert "AND (false)" in sql
