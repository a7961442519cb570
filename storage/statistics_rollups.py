"""The statistics' daily sums (migration 0014), SQL only: a finished local day is summed once per breakdown and key
by the same statement as the plain report (`storage.statistics.report_groups`), with the presence log's seconds;
a report then adds the days' sums (`groups`, `presence`) and computes the other days from the records. A day is
summed again when its facts change (the triggers of 0014 mark it) or when the thresholds or the time zone change
(`thresholds`: the key of the ones a day was summed with)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from storage.statistics import SUM_NAMES, GroupRow, PresenceRow, params, presence_rows, report_groups

# the breakdowns summed per day; the others (day, week, month, weekday) are made of the days' whole sums
DAY_DIMENSIONS: tuple[str, ...] = (
    "hour",
    "topic",
    "subtopic",
    "outcome",
    "service",
    "partner",
    "commune",
    "epci",
    "advisor",
    "caller_kind",
)
TIME_KEYS: dict[str, str] = {
    "day": "to_char(day, 'YYYY-MM-DD')",
    "week": "to_char(date_trunc('week', day), 'YYYY-MM-DD')",
    "month": "to_char(day, 'YYYY-MM')",
    "weekday": "extract(isodow FROM day)::int::text",
}
_SUMS = ", ".join(f"sum({n}) AS {n}" for n in SUM_NAMES)
_INSERT = (
    f"INSERT INTO statistics_rollups (day, dimension, key, label, {', '.join(SUM_NAMES)}) "  # noqa: S608 - fixed names
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(SUM_NAMES) + 5))})"
)
_BY_KEY = f"""
SELECT dimension, key, max(label) AS label, {_SUMS} FROM statistics_rollups
WHERE day = ANY ($1::date[]) AND dimension = ANY ($2::text[])
GROUP BY dimension, key
"""  # noqa: S608 - fixed column names
_PENDING = """
WITH bounds AS (
    SELECT least((SELECT min(arrived_at) FROM call_records), (SELECT min(at) FROM advisor_events)) AS first
)
SELECT d::date AS day FROM bounds,
    generate_series((bounds.first AT TIME ZONE $1::text)::date, $2::date - 1, interval '1 day') AS d
WHERE bounds.first IS NOT NULL
  AND (NOT EXISTS (SELECT 1 FROM statistics_days AS s WHERE s.day = d::date AND s.thresholds = $3::text)
       OR EXISTS (SELECT 1 FROM statistics_dirty_days AS x WHERE x.day = d::date))
ORDER BY d DESC
LIMIT $4::int
"""


class RollupRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def pending(self, tz: str, today: date, thresholds: str, limit: int) -> list[date]:
        """Finished days (before `today`) not summed with these thresholds, or changed since: the latest first."""
        rows = await self._pool.fetch(_PENDING, tz, today, thresholds, limit)
        return [r["day"] for r in rows]

    async def build(self, day: date, tz: str, thresholds: str, common_of: Any) -> None:
        """Sum one finished day (again). `common_of(start, end)` gives the report's parameters for that span."""
        zone = ZoneInfo(tz)
        start = datetime.combine(day, time(0), zone)
        end = datetime.combine(day + timedelta(days=1), time(0), zone)
        async with self._pool.acquire() as conn, conn.transaction():
            # the mark goes first: a change committed while this runs marks the day again, for the next round
            await conn.execute("DELETE FROM statistics_dirty_days WHERE day = $1", day)
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('statistics_rollups'), $1::int)", day.toordinal())
            rows = await report_groups(conn, common_of(start, end), DAY_DIMENSIONS)
            presence = await presence_rows(conn, start, end)
            await conn.execute("DELETE FROM statistics_days WHERE day = $1", day)
            await conn.execute("INSERT INTO statistics_days (day, thresholds) VALUES ($1, $2)", day, thresholds)
            await conn.executemany(
                "INSERT INTO statistics_presence (day, advisor_id, state, reason, seconds) VALUES ($1, $2, $3, $4, $5)",
                [(day, p.advisor_id, p.state, p.reason, p.seconds) for p in presence],
            )
            await conn.executemany(
                _INSERT,
                [
                    (
                        day,
                        r.dimension,
                        r.key,
                        None if r.label is None else r.label[:300],
                        *(r.sums[n] for n in SUM_NAMES),
                    )
                    for r in rows
                    if r.sums["calls"]
                ],
            )

    async def summed(self, start: date, end: date, thresholds: str) -> set[date]:
        """The days of [start, end] whose sums can be read (summed with these thresholds, unchanged since)."""
        rows = await self._pool.fetch(
            """SELECT s.day FROM statistics_days AS s
               WHERE s.day BETWEEN $1 AND $2 AND s.thresholds = $3
                 AND NOT EXISTS (SELECT 1 FROM statistics_dirty_days AS x WHERE x.day = s.day)""",
            start,
            end,
            thresholds,
        )
        return {r["day"] for r in rows}

    async def groups(self, days: Sequence[date], dimensions: tuple[str, ...]) -> list[GroupRow]:
        """The sums of these days, as a whole and per group of each breakdown (time ones from the days' sums)."""
        per_key = [d for d in dimensions if d in DAY_DIMENSIONS]
        rows = await self._pool.fetch(_BY_KEY, list(days), ["", *per_key])
        out = [GroupRow(r["dimension"], r["key"], r["label"], {n: r[n] for n in SUM_NAMES}) for r in rows]
        if not any(r.dimension == "" for r in out):
            out.append(GroupRow("", None, None, dict.fromkeys(SUM_NAMES, 0)))
        timed = [d for d in dimensions if d in TIME_KEYS]
        if timed:
            sets = ", ".join(f"({TIME_KEYS[d]})" for d in timed)
            keys = ", ".join(f"{TIME_KEYS[d]} AS k_{d}, GROUPING({TIME_KEYS[d]}) AS g_{d}" for d in timed)
            sql = (
                f"SELECT {keys}, {_SUMS} FROM statistics_rollups "  # noqa: S608 - fixed SQL snippets
                f"WHERE day = ANY ($1::date[]) AND dimension = '' GROUP BY GROUPING SETS ({sets})"
            )
            for r in await self._pool.fetch(sql, list(days)):
                dim = next(d for d in timed if r[f"g_{d}"] == 0)
                out.append(GroupRow(dim, r[f"k_{dim}"], None, {n: r[n] for n in SUM_NAMES}))
        return out

    async def group_sum(self, days: Sequence[date], dimension: str, key: str | None, name: str) -> float:
        """One sum of one group of a per-day breakdown (DAY_DIMENSIONS) over these days, from the index of 0021:
        what a drill-down counts, without reading the breakdown's other groups."""
        if dimension not in DAY_DIMENSIONS or name not in SUM_NAMES:
            raise ValueError(f"not a summed breakdown or sum: {dimension}, {name}")
        match = "key IS NULL" if key is None else "key = $3::text"
        sql = (
            f"SELECT coalesce(sum({name}), 0) FROM statistics_rollups "  # noqa: S608 - a checked column name
            f"WHERE dimension = $1 AND {match} AND day = ANY ($2::date[])"
        )
        args: list[object] = [dimension, list(days)]
        if key is not None:
            args.append(key)
        value: float = await self._pool.fetchval(sql, *args)
        return value

    async def presence(self, days: Sequence[date]) -> list[PresenceRow]:
        """The presence seconds of these days, per advisor, state and reason."""
        rows = await self._pool.fetch(
            """SELECT advisor_id, state, reason, sum(seconds) AS seconds FROM statistics_presence
               WHERE day = ANY ($1::date[]) GROUP BY advisor_id, state, reason""",
            list(days),
        )
        return [PresenceRow(r["advisor_id"], r["state"], r["reason"], r["seconds"]) for r in rows]


def common_for(tz: str, short: float, t: float, cap: float, repeat_days: int) -> Any:
    """The report's parameters for a span, with the given thresholds (for `RollupRepository.build`)."""

    def of(start: datetime, end: datetime) -> tuple[Any, ...]:
        return params(start, end, tz, short, t, cap, repeat_days)

    return of
