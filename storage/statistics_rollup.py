"""The statistics' daily rollup (migration 0016): the sums of `storage.statistics` per ended day, per breakdown group.

`RollupRepository.groups` answers as `StatisticsRepository.groups` (the same `GroupRow`s, the same sums): the ended
days of the period from `call_stats_daily` (built or rebuilt first when missing or stale), the rest (today, a day
not ended yet) from the records by `StatisticsRepository.groups`, added together. The sums are built with the
statements' common parameters (time zone and thresholds, `storage.statistics.params`): other parameters build
everything again. `bench/stats` checks the two paths give the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from storage.statistics import _FACTS, DIMENSIONS, SUM_NAMES, GroupRow, StatisticsRepository

# Breakdowns kept per day; the time ones (day, week, month, weekday) come from each day's whole-day row.
ROLLED = ("hour", "topic", "subtopic", "outcome", "service", "partner", "commune", "epci", "advisor", "caller_kind")
FROM_DAY: dict[str, str] = {  # as storage.statistics.DIMENSIONS over the local time, here over the local day
    "day": "to_char(day::timestamp, 'YYYY-MM-DD')",
    "week": "to_char(date_trunc('week', day::timestamp), 'YYYY-MM-DD')",
    "month": "to_char(day::timestamp, 'YYYY-MM')",
    "weekday": "extract(isodow FROM day::timestamp)::int::text",
}
_COUNTS = frozenset(n for n in SUM_NAMES if n not in ("answered_wait", "abandoned_wait", "talk", "hold", "wrap_up"))


def _build_sql() -> str:
    keys = ",\n    ".join(
        f"{DIMENSIONS[d].key} AS k_{d}, max({DIMENSIONS[d].label}) AS l_{d}, GROUPING({DIMENSIONS[d].key}) AS g_{d}"
        for d in ROLLED
    )
    sets = ", ".join(["(local_at::date)", *(f"(local_at::date, {DIMENSIONS[d].key})" for d in ROLLED)])
    sums = _FACTS_SUMS
    which = "CASE " + " ".join(f"WHEN g_{d} = 0 THEN '{d}'" for d in ROLLED) + " ELSE '' END"
    key = "CASE " + " ".join(f"WHEN g_{d} = 0 THEN k_{d}" for d in ROLLED) + " END"
    label = "CASE " + " ".join(f"WHEN g_{d} = 0 THEN l_{d}" for d in ROLLED) + " END"
    names = ", ".join(SUM_NAMES)
    return f"""{_FACTS}, g AS (
SELECT local_at::date AS day,
    {keys},
    {sums}
FROM f GROUP BY GROUPING SETS ({sets})
)
INSERT INTO call_stats_daily (day, dimension, key, label, {names})
SELECT day, {which}, {key}, {label}, {names} FROM g"""  # noqa: S608 - fixed SQL snippets


def _sums_sql() -> str:
    from storage import statistics

    return statistics._SUMS


_FACTS_SUMS = _sums_sql()
_BUILD = _build_sql()

_SUMMED = ", ".join(f"sum({n})::{'bigint' if n in _COUNTS else 'float8'} AS {n}" for n in SUM_NAMES)
_READ_ROLLED = f"""
SELECT dimension, key, max(label) AS label, {_SUMMED}
FROM call_stats_daily WHERE day >= $1::date AND day < $2::date AND dimension = ANY($3::text[])
GROUP BY dimension, key
"""  # noqa: S608 - fixed SQL


def _read_time(dimension: str) -> str:
    return f"""
SELECT '{dimension}' AS dimension, {FROM_DAY[dimension]} AS key, NULL::text AS label, {_SUMMED}
FROM call_stats_daily WHERE day >= $1::date AND day < $2::date AND dimension = ''
GROUP BY 2"""  # noqa: S608 - fixed SQL


_READ_WHOLE = f"""
SELECT '' AS dimension, NULL::text AS key, NULL::text AS label, {_SUMMED}
FROM call_stats_daily WHERE day >= $1::date AND day < $2::date AND dimension = ''
"""  # noqa: S608 - fixed SQL


def signature(common: Sequence[Any]) -> str:
    """The thresholds a rollup is built with (the common parameters after the period and the time zone)."""
    return "|".join(repr(v) for v in common[3:])


class RollupRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._raw = StatisticsRepository(pool)

    async def groups(self, common: tuple[Any, ...], dimensions: tuple[str, ...], today: date) -> list[GroupRow]:
        """As `StatisticsRepository.groups`; the days before `today` (the line's date now) from the rollup."""
        start, end, tz = common[0], common[1], str(common[2])
        zone = ZoneInfo(tz)
        first, after = start.astimezone(zone).date(), end.astimezone(zone).date()
        if end.astimezone(zone).timetz().replace(tzinfo=None) != time(0):
            after += timedelta(days=1)
        rolled_end = min(after, today)
        out: dict[tuple[str, str | None], GroupRow] = {}
        if first < rolled_end and _whole_days(start, end, zone):
            await self.ensure(common, first, rolled_end)
            for row in await self._read(first, rolled_end, dimensions):
                _add(out, row)
            raw_start = datetime.combine(rolled_end, time(0), zone)
        else:
            raw_start = start
        if raw_start < end:
            for row in await self._raw.groups((raw_start, end, *common[2:]), dimensions):
                _add(out, row)
        if ("", None) not in out:  # an empty period: the whole row still comes, its sums zero
            out[("", None)] = GroupRow("", None, None, {n: 0 for n in SUM_NAMES})
        return list(out.values())

    async def presence(self, start: datetime, end: datetime, tz: str, today: date) -> dict[str, float]:
        """As `StatisticsRepository.presence` (call `groups` first: it builds the days), the built days of
        [start, end) from `call_presence_daily`, the rest from the log."""
        zone = ZoneInfo(tz)
        first, after = start.astimezone(zone).date(), end.astimezone(zone).date()
        rolled_end = min(after, today)
        out = {"logged_in": 0.0, "paused": 0.0, "busy": 0.0}
        raw_start = start
        if first < rolled_end and _whole_days(start, end, zone):
            row = await self._pool.fetchrow(
                "SELECT coalesce(sum(logged_in), 0) AS logged_in, coalesce(sum(paused), 0) AS paused,"
                " coalesce(sum(busy), 0) AS busy FROM call_presence_daily WHERE day >= $1 AND day < $2",
                first,
                rolled_end,
            )
            out = {k: float(row[k]) for k in out} if row is not None else out
            raw_start = datetime.combine(rolled_end, time(0), zone)
        if raw_start < end:
            for k, v in (await self._raw.presence(raw_start, end)).items():
                out[k] = out.get(k, 0.0) + float(v)
        return out

    async def _read(self, first: date, after: date, dimensions: Sequence[str]) -> list[GroupRow]:
        rolled = [d for d in dimensions if d in ROLLED]
        unknown = set(dimensions) - set(ROLLED) - set(FROM_DAY)
        if unknown:
            raise ValueError(f"unknown dimensions {sorted(unknown)}")
        parts = [_READ_WHOLE, _READ_ROLLED, *(_read_time(d) for d in dimensions if d in FROM_DAY)]
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL jit = off")  # compiling costs more than these sums of a few rows
            rows = await conn.fetch("\nUNION ALL\n".join(parts), first, after, rolled)
        return [
            GroupRow(r["dimension"], r["key"], r["label"], {n: r[n] if r[n] is not None else 0 for n in SUM_NAMES})
            for r in rows
        ]

    async def ensure(self, common: tuple[Any, ...], first: date, after: date) -> int:
        """Build the days of [first, after) missing or stale (all of them when the parameters changed). Returns
        how many days were built."""
        tz, sig, repeat_days = str(common[2]), signature(common), int(common[6])
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('call_stats_daily'))")
            await conn.execute("SET LOCAL work_mem = '64MB'")  # a month's groups sorted in memory
            current = await conn.fetchrow("SELECT timezone, settings FROM call_stats_rollup")
            if current is None or (current["timezone"], current["settings"]) != (tz, sig):
                await conn.execute("TRUNCATE call_stats_daily, call_presence_daily, call_stats_days, call_stats_stale")
                await conn.execute(
                    "INSERT INTO call_stats_rollup (timezone, settings, repeat_days) VALUES ($1, $2, $3) "
                    "ON CONFLICT (only_row) DO UPDATE SET timezone = $1, settings = $2, repeat_days = $3",
                    tz,
                    sig,
                    repeat_days,
                )
            todo = await conn.fetch(
                """
                SELECT d::date AS day FROM generate_series($1::date, $2::date - 1, interval '1 day') AS d
                WHERE NOT EXISTS (SELECT 1 FROM call_stats_days AS b WHERE b.day = d::date)
                   OR EXISTS (SELECT 1 FROM call_stats_stale AS s WHERE s.day = d::date)
                ORDER BY 1
                """,
                first,
                after,
            )
            days = [r["day"] for r in todo]
            zone = ZoneInfo(tz)
            for run_start, run_end in _runs(days):
                lo, hi = datetime.combine(run_start, time(0), zone), datetime.combine(run_end, time(0), zone)
                await conn.execute("DELETE FROM call_stats_daily WHERE day >= $1 AND day < $2", run_start, run_end)
                await conn.execute(_BUILD, lo, hi, *common[2:])
            for day in days:  # the presence log's seconds, one day at a time (its spans cut at the day's bounds)
                lo = datetime.combine(day, time(0), zone)
                hi = datetime.combine(day + timedelta(days=1), time(0), zone)
                seconds = await self._raw.presence(lo, hi)
                await conn.execute(
                    "INSERT INTO call_presence_daily (day, logged_in, paused, busy) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (day) DO UPDATE SET logged_in = $2, paused = $3, busy = $4",
                    day,
                    seconds.get("logged_in", 0.0),
                    seconds.get("paused", 0.0),
                    seconds.get("busy", 0.0),
                )
            if days:
                await conn.execute("INSERT INTO call_stats_days SELECT unnest($1::date[]) ON CONFLICT DO NOTHING", days)
                await conn.execute("DELETE FROM call_stats_stale WHERE day = ANY($1::date[])", days)
        return len(days)


def _whole_days(start: datetime, end: datetime, zone: ZoneInfo) -> bool:
    return all(t.astimezone(zone).timetz().replace(tzinfo=None) == time(0) for t in (start, end))


def _runs(days: Sequence[date]) -> list[tuple[date, date]]:
    """Consecutive days as [start, end) runs of at most 31 days (one statement each)."""
    runs: list[tuple[date, date]] = []
    for d in days:
        if runs and runs[-1][1] == d and (d - runs[-1][0]).days < 31:
            runs[-1] = (runs[-1][0], d + timedelta(days=1))
        else:
            runs.append((d, d + timedelta(days=1)))
    return runs


def _add(out: dict[tuple[str, str | None], GroupRow], row: GroupRow) -> None:
    key = (row.dimension, row.key)
    found = out.get(key)
    if found is None:
        out[key] = row
        return
    label = found.label if found.label is not None else row.label
    out[key] = GroupRow(row.dimension, row.key, label, {n: found.sums[n] + row.sums[n] for n in SUM_NAMES})
