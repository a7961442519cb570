"""The statistics' daily rollup (migration 0016, `storage.statistics_rollup`) gives the sums the raw scan gives
(`storage.statistics`), for every group of every breakdown, and stays so when records change after it was built:
a qualification corrected, a record written late, other thresholds, a period reaching today."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from config.settings import Settings
from gps_admin import history
from storage import history as store
from storage.advisors import AdvisorRepository
from storage.statistics import SUM_NAMES, GroupRow, StatisticsRepository, params
from storage.statistics_rollup import RollupRepository
from tests.fixtures_db import fresh_database, migrated_pool

__all__ = ["fresh_database", "migrated_pool"]

SETTINGS = Settings()
PARIS = ZoneInfo("Europe/Paris")
START, END = date(2026, 3, 2), date(2026, 3, 23)  # three weeks
DIMS = ("day", "week", "month", "hour", "weekday", "topic", "subtopic", "outcome", "service", "partner", "commune",
        "epci", "advisor", "caller_kind")  # fmt: skip


def common(first: date, last: date, short: float = 5.0, t: float = 20.0) -> tuple[Any, ...]:
    start = datetime.combine(first, time(0), PARIS)
    end = datetime.combine(last + timedelta(days=1), time(0), PARIS)
    return params(start, end, "Europe/Paris", short, t, 120.0, 7)


def by_group(rows: list[GroupRow]) -> dict[tuple[str, str | None], dict[str, float]]:
    return {(r.dimension, r.key): {n: float(r.sums[n] or 0) for n in SUM_NAMES} for r in rows}


def assert_same(rolled: list[GroupRow], raw: list[GroupRow]) -> None:
    a, b = by_group(rolled), by_group(raw)
    assert set(a) == set(b)
    for key, sums in b.items():
        for name, value in sums.items():
            assert math.isclose(a[key][name], value, rel_tol=1e-9, abs_tol=1e-6), (key, name, a[key][name], value)
    labels = {(r.dimension, r.key): r.label for r in raw}
    assert {(r.dimension, r.key): r.label for r in rolled} == labels


@pytest.fixture
async def pool(migrated_pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    pool = migrated_pool
    await pool.execute(
        "TRUNCATE communes, advisor_events, advisors, organisations, call_stats_daily, call_presence_daily,"
        " call_stats_days, call_stats_stale, call_stats_rollup CASCADE"
    )
    await pool.executemany(
        "INSERT INTO communes (code_insee, name, search_name, departement, departement_name, epci_siren, epci_name,"
        " population) VALUES ($1, $2, $3, '62', 'Pas-de-Calais', $4, $5, $6)",
        [
            ("62041", "Arras", "arras", "200033579", "CU d'Arras", 41000),
            ("62193", "Calais", "calais", "200040806", "CA Grand Calais", 67000),
            ("62001", "Ablain-Saint-Nazaire", "ablain saint nazaire", "200033579", "CU d'Arras", 900),
        ],
    )
    advisors = AdvisorRepository(pool, SETTINGS.routing.skills)
    for i in range(6):
        await advisors.add(f"roll{i}", f"Conseillère {i}", f"Local/roll{i}@advisors")
    await pool.execute(
        "INSERT INTO organisations (kind, name, owner, extension, topics) VALUES"
        " ('service', 'Service des routes', 'admin', '2001', '{roads}'),"
        " ('caf', 'CAF (exemple)', 'test', NULL, '{}')"
    )
    plan = history.plan_for(await store.inputs(pool, "62"), SETTINGS, START, END)
    await history.load(pool, plan)
    yield pool


async def test_the_rollup_gives_the_raw_sums_and_follows_later_changes(pool: asyncpg.Pool) -> None:
    raw, rolled = StatisticsRepository(pool), RollupRepository(pool)
    today = date(2026, 4, 1)
    month = common(START, END - timedelta(days=1))
    assert_same(await rolled.groups(month, DIMS, today), await raw.groups(month, DIMS))
    assert await pool.fetchval("SELECT count(*) FROM call_stats_days") == (END - START).days
    assert await pool.fetchval("SELECT count(*) FROM call_stats_stale") == 0
    built = await pool.fetchval("SELECT count(*) FROM call_stats_daily")

    # a qualification corrected on a built day: that day (and the repeat window after it) is built again
    linkedid = await pool.fetchval(
        "SELECT linkedid FROM call_records WHERE outcome = 'advice' AND arrived_at >= $1 ORDER BY linkedid LIMIT 1",
        datetime.combine(date(2026, 3, 10), time(0), PARIS),
    )
    await pool.execute(
        "UPDATE call_records SET outcome = 'transfer', transfer_service = 'Service des routes', topic = 'roads'"
        " WHERE linkedid = $1",
        linkedid,
    )
    assert await pool.fetchval("SELECT count(*) FROM call_stats_stale") == 8  # its day and the 7 after
    assert_same(await rolled.groups(month, DIMS, today), await raw.groups(month, DIMS))

    # a record written late (after an outage), on a built day
    await pool.execute(
        "INSERT INTO call_records (linkedid, arrived_at, line_open, ended_at, hangup_by, status, caller_kind,"
        " queue_entered_at, wait_seconds, caller_number)"
        " VALUES ('late-1', $1::timestamptz, true, $1::timestamptz + interval '40 seconds', 'caller', 'abandoned',"
        " 'citizen', $1::timestamptz, 40,"
        " '+33321999999')",
        datetime.combine(date(2026, 3, 4), time(10, 30), PARIS),
    )
    after = await rolled.groups(month, DIMS, today)
    assert_same(after, await raw.groups(month, DIMS))
    assert by_group(after)[("", None)]["abandoned"] == by_group(await raw.groups(month, DIMS))[("", None)]["abandoned"]

    # other thresholds: built again with them
    stricter = common(START, END - timedelta(days=1), short=10.0, t=10.0)
    assert_same(await rolled.groups(stricter, DIMS, today), await raw.groups(stricter, DIMS))
    assert await pool.fetchval("SELECT settings FROM call_stats_rollup") == "10.0|10.0|120.0|7"

    # a week within the built days, and a period reaching "today" (its last day from the records)
    week = common(date(2026, 3, 9), date(2026, 3, 15), short=10.0, t=10.0)
    assert_same(await rolled.groups(week, DIMS, today), await raw.groups(week, DIMS))
    assert_same(await rolled.groups(stricter, DIMS, date(2026, 3, 20)), await raw.groups(stricter, DIMS))
    assert built > 0


async def test_presence_seconds_from_the_rollup_equal_the_log(pool: asyncpg.Pool) -> None:
    raw, rolled = StatisticsRepository(pool), RollupRepository(pool)
    month = common(START, END - timedelta(days=1))
    await rolled.groups(month, DIMS, date(2026, 4, 1))  # builds the days
    start, end = month[0], month[1]
    expected = await raw.presence(start, end)
    got = await rolled.presence(start, end, "Europe/Paris", date(2026, 4, 1))
    assert expected["logged_in"] > 0 and expected["busy"] > 0 and expected["paused"] > 0
    for name in ("logged_in", "paused", "busy"):
        assert math.isclose(got[name], float(expected[name]), rel_tol=1e-9), name
    partly = await rolled.presence(start, end, "Europe/Paris", date(2026, 3, 15))  # the days after from the log
    for name in ("logged_in", "paused", "busy"):
        assert math.isclose(partly[name], float(expected[name]), rel_tol=1e-9), name


async def test_an_empty_period_has_its_whole_row(pool: asyncpg.Pool) -> None:
    empty = common(date(2025, 1, 6), date(2025, 1, 12))
    rows = await RollupRepository(pool).groups(empty, DIMS, date(2026, 4, 1))
    assert [(r.dimension, r.key) for r in rows] == [("", None)] and rows[0].sums["calls"] == 0
