"""The drill-down at scale (issue 12 item 3, the calls behind a figure) on the database of `bench.stats`.

    python -m bench.stats --generate-only [--calls 10000000]        # once: the records (bench/stats.py)
    python -m bench.drilldown [--db gps_bench_stats] [--rounds 3] [--old-year-rounds 1] [--refresh-days 400]
                              [--reindex]

Migrates the database (0021's indexes: the time of the migration is printed; `--reindex` builds each of them again,
timed), sums the days the periods need
(`StatisticsService.refresh`, time printed), then times in the same run, for the last finished month and the last
365 finished days, for several figures (every abandoned call, a frequent and a rare commune, a topic, an advisor, the
questions without an answer: one answered call in 500 of the last 400 days, written once when there are none):
- before: the drill-down's first query (`StatisticsRepository.calls_scan`: the period's facts filtered, counted by a
  window, a page by OFFSET), its first page and a deep page (the middle of the list);
- after: `StatisticsService.drill` as the page asks it (the count from the figure's sums, the page from the indexes),
  its first page, the same deep page reached by the « Appels suivants » cursor, and the last numbered page (the 10,000th
  call);
and checks that the deep page's calls are the same both ways. Median of `--rounds` rounds (the old query on a year:
`--old-year-rounds`); without a statement timeout (the service's is 10 s: a figure over it answered a 503).
The machine's load (`os.getloadavg`) is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg

from config.settings import Settings
from screenpop.statistics import kpis
from screenpop.statistics.models import Dimension, ReportQuery
from screenpop.statistics.service import DRILL_OFFSET_MAX, StatisticsService
from storage.migrate import migrate
from storage.pool import create_pool
from storage.statistics import StatisticsRepository

SETTINGS = Settings()
MIGRATION = Path(__file__).resolve().parents[1] / "storage/migrations/0021_statistics_drill_down.sql"
TZ = ZoneInfo(SETTINGS.hours.timezone)
T = TypeVar("T")


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


async def timed(rounds: int, call: Callable[..., Awaitable[T]], *args: Any, **kw: Any) -> tuple[float, T]:
    """The median wall time of `rounds` calls (ms), and the last call's result."""
    times: list[float] = []
    result: Any = None
    for _ in range(rounds):
        started = time.perf_counter()
        result = await call(*args, **kw)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


async def pick(pool: asyncpg.Pool, dimension: str, start: date, end: date, rank: str) -> str:
    """A group of a breakdown over the period from the daily sums: the largest, or one of about 30 calls a year."""
    order = "sum(calls) DESC" if rank == "top" else "abs(sum(calls) - 30)"
    key: str = await pool.fetchval(
        "SELECT key FROM statistics_rollups WHERE dimension = $1 AND day BETWEEN $2 AND $3 AND key IS NOT NULL "
        f"GROUP BY key ORDER BY {order}, key LIMIT 1",
        dimension,
        start,
        end,
    )
    return key


async def run(args: argparse.Namespace) -> int:
    dsn = f"{args.dsn}/{args.db}"
    pool = await create_pool(dsn, max_size=3, command_timeout=600.0)
    try:
        count = await pool.fetchval("SELECT count(*) FROM call_records")
        log(f"{count:,} call records in {args.db}; load {os.getloadavg()}")
        started = time.perf_counter()
        applied = await migrate(pool)
        log(f"migrations applied: {applied or 'none'} in {time.perf_counter() - started:.1f} s")
        if args.reindex:  # 0021's indexes built again, one by one, as the migration builds them
            for statement in MIGRATION.read_text().split(";"):
                create = " ".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
                if not create.startswith("CREATE INDEX"):
                    continue
                name = create.split()[2]
                await pool.execute(f'DROP INDEX IF EXISTS "{name}"')
                started = time.perf_counter()
                await pool.execute(create)
                log(f"{name} built in {time.perf_counter() - started:.1f} s")
        today = datetime.now(TZ).date()
        if not await pool.fetchval("SELECT EXISTS (SELECT 1 FROM knowledge_unanswered)"):
            # the generator writes no questions: one answered call in 500 of the last 400 days left one
            added = await pool.execute(
                "INSERT INTO knowledge_unanswered (linkedid, question, topic, asked_by, asked_at) "
                "SELECT linkedid, 'Question sans réponse ' || linkedid, coalesce(topic, 'autre'), 'bench', arrived_at "
                "FROM (SELECT linkedid, topic, arrived_at, row_number() OVER (ORDER BY arrived_at) AS n "
                "      FROM call_records WHERE status = 'answered' AND arrived_at >= now() - interval '400 days') AS c "
                "WHERE n % 500 = 0"
            )
            log(f"questions without an answer written: {added}")
        service = StatisticsService(pool, SETTINGS, lambda: datetime.now(TZ))
        started = time.perf_counter()
        summed = 0
        while True:
            done = await service.refresh(limit=31)
            summed += done
            if not done or summed >= args.refresh_days:
                break
        log(f"{summed} days summed in {time.perf_counter() - started:.0f} s")
        month_end = today.replace(day=1) - timedelta(days=1)
        periods = {
            "month": (month_end.replace(day=1), month_end),
            "year": (today - timedelta(days=365), today - timedelta(days=1)),
        }
        repo = StatisticsRepository(pool)
        rows: list[str] = []
        year_start, year_end = periods["year"]
        commune_top = await pick(pool, "commune", year_start, year_end, "top")
        commune_rare = await pick(pool, "commune", year_start, year_end, "rare")
        topic = await pick(pool, "topic", year_start, year_end, "top")
        advisor = await pick(pool, "advisor", year_start, year_end, "top")
        figures: list[tuple[str, str, Dimension | None, str | None]] = [
            ("abandoned calls", "abandoned", None, None),
            ("short abandons", "short_abandoned", None, None),
            (f"offered, commune {commune_top} (largest)", "offered", "commune", commune_top),
            (f"offered, commune {commune_rare} (rare)", "offered", "commune", commune_rare),
            (f"offered, topic {topic}", "offered", "topic", topic),
            (f"answered, advisor {advisor}", "answered", "advisor", advisor),
            ("unanswered questions", "unanswered_questions", None, None),
        ]
        size = SETTINGS.statistics.drill_page_size
        for name, (start, end) in periods.items():
            q = ReportQuery(start=start, end=end)
            common = service._common(service.period(start, end))  # the bench times the old query
            old_rounds = args.rounds if name == "month" else args.old_year_rounds
            for label, figure, dimension, key in figures:
                call_set = kpis.FIGURE_CALLS[figure].value
                old_first, (total, _) = await timed(
                    old_rounds, repo.calls_scan, common, call_set, dimension, key, size, 0
                )
                middle = max(0, (total // 2) // size * size)
                old_deep, (_, deep) = await timed(
                    old_rounds, repo.calls_scan, common, call_set, dimension, key, size + 1, max(0, middle - 1)
                )
                new_first, first = await timed(args.rounds, service.drill, q, figure, dimension, key, 1)
                cursor = (deep[0]["arrived_at"], deep[0]["linkedid"]) if middle and deep else None
                expected = [r["linkedid"] for r in (deep[1:] if cursor else deep[:size])]
                new_deep, page = await timed(args.rounds, service.drill, q, figure, dimension, key, 1, after=cursor)
                assert [c.linkedid for c in page.calls] == expected, (name, label)
                assert first.total == total, (name, label, first.total, total)
                last_numbered = min(first.numbered_pages, DRILL_OFFSET_MAX // size + 1)
                new_numbered, _ = await timed(args.rounds, service.drill, q, figure, dimension, key, last_numbered)
                rows.append(
                    f"| {name} | {label} | {total:,} | {old_first:,.0f} | {old_deep:,.0f} | {new_first:,.1f} "
                    f"| {new_deep:,.1f} | {new_numbered:,.1f} (p. {last_numbered}) |"
                )
                log(rows[-1])
        print()
        print(f"load average after: {os.getloadavg()}")
        print(
            "| period | figure | calls | before: 1st page ms | before: deep page ms | after: 1st page ms "
            "| after: deep page (cursor) ms | after: last numbered page ms |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for row in rows:
            print(row)
        return 0
    finally:
        await pool.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--db", default="gps_bench_stats")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old-year-rounds", type=int, default=1)
    parser.add_argument("--refresh-days", type=int, default=400)
    parser.add_argument("--reindex", action="store_true", help="drop and build 0021's indexes again, timed")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
