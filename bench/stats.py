"""Statistics at scale (issue 12 item 10): a month's and a year's full report over millions of call records.

    python -m bench.stats [--calls 10000000] [--years 3] [--advisors 300] [--regenerate] [--rounds 20]
                          [--year-rounds 3] [--raw-rounds 3] [--raw-year-rounds 1] [--check 1]
                          [--dsn postgresql://postgres@127.0.0.1:5432] [--db gps_bench_stats] [--generate-only]

Data: a database `--db` on the server `--dsn`, created and migrated by the bench and kept between runs (generated
again only with `--regenerate` or when its size differs): `--calls` call records over `--years` years before today
with `--advisors` advisors, their presence log, the demo's services and directory, all from `simulator.history` (the
demo's example history, its volume scaled), written with COPY (secondary indexes built after the load, the
classifying trigger off: the rows carry their caller kind), progress and generation time printed.

Measured in the same run, on months drawn from the period (grouped by day) and twelve-month periods (by month), every
breakdown of the report page:
- the report: `StatisticsService.report` as the page asks it, which reads the statistics' daily sums (migration
  0014, `storage.statistics_rollups`) for the finished days and the records for the rest, after every day was summed
  once (`StatisticsService.refresh`, time printed): `--rounds` months, `--year-rounds` years;
- the raw SQL: the same sums computed from the records (`StatisticsRepository.groups` and `.presence`, one scan with
  GROUPING SETS): `--raw-rounds` months, `--raw-year-rounds` years;
- the baseline: a plain SQL recomputation over the raw records written here, independently (one GROUP BY per
  breakdown, repeat callers by a window over the caller's calls instead of a look-up per call), same periods;
- exactness on `--check` periods of each kind: every sum of every group of every breakdown, of the report's sums and
  of the raw SQL, equals the baseline's.
The machine's load (`os.getloadavg`) is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from config.settings import Settings
from gps_admin import history
from gps_admin.demo import SERVICES
from gps_admin.directory import seed_demo
from screenpop.statistics.models import BREAKDOWNS, ReportQuery
from screenpop.statistics.service import StatisticsService
from simulator import history as gen
from storage import history as store
from storage.communes import ensure_communes
from storage.migrate import migrate
from storage.pool import create_pool
from storage.services import ServiceRepository
from storage.statistics import SUM_NAMES, StatisticsRepository

SETTINGS = Settings()
TZ = ZoneInfo(SETTINGS.hours.timezone)
META = "bench_stats_meta"  # what the database holds (this bench's table, not a migration)


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


async def ensure_database(dsn: str, name: str) -> str:
    conn = await asyncpg.connect(f"{dsn}/postgres")
    try:
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
            log(f"database {name} created")
    finally:
        await conn.close()
    return f"{dsn}/{name}"


async def generate(pool: asyncpg.Pool, calls: int, years: int, advisors: int, seed: int) -> dict[str, Any]:
    """Empty the call tables and write the history (see the module's docstring)."""
    today = datetime.now(TZ).date()
    start, end = history.months_before(today, 12 * years), today
    log(f"generating {calls:,} calls from {start} to {end} with {advisors} advisors …")
    started = time.perf_counter()
    async with pool.acquire() as conn:
        await conn.execute(
            "TRUNCATE call_records, advisor_events, pending_qualifications, knowledge_unanswered, advisors CASCADE"
        )
        await conn.executemany(
            "INSERT INTO advisors (login, name, interface, skills) VALUES ($1, $2, $3, '{}')",
            [(f"bench{i:03d}", f"Conseiller {i:03d}", f"Local/bench{i:03d}@advisors") for i in range(1, advisors + 1)],
        )
    await ensure_communes(pool)
    services = ServiceRepository(pool, SETTINGS.desk.topics)
    known = {s.extension for s in await services.list()}
    for name, extension, topics, hours in SERVICES:
        if extension not in known:
            await services.add(name, extension, topics, hours)
    await seed_demo(pool, SETTINGS)
    inputs = await store.inputs(pool, SETTINGS.desk.departement)
    unit = history.plan_for(inputs, SETTINGS, start, end)
    scale = calls / gen.expected_calls(unit)
    lo, hi = unit.shape.calls_per_day
    shape = gen.Shape(calls_per_day=(round(lo * scale), round(hi * scale)))
    plan = history.plan_for(inputs, SETTINGS, start, end, shape=shape, seed=seed)
    expected = gen.expected_calls(plan)

    async with pool.acquire() as conn:
        indexes = [
            (r["indexname"], r["indexdef"])
            for r in await conn.fetch(
                "SELECT i.indexname, i.indexdef FROM pg_indexes AS i "
                "WHERE i.tablename IN ('call_records', 'advisor_events') AND i.indexname NOT LIKE '%_pkey'"
            )
        ]
        for name, _ in indexes:
            await conn.execute(f'DROP INDEX "{name}"')
        await conn.execute("ALTER TABLE call_records DISABLE TRIGGER USER")
        await conn.execute("SET synchronous_commit = off")
        written = events = 0
        last_shown = 0.0
        day = plan.start
        step = timedelta(days=7)
        pending = asyncio.create_task(asyncio.to_thread(_chunk, plan, day, min(plan.end, day + step)))
        while day < plan.end:
            rows, log_rows = await pending
            day = min(plan.end, day + step)
            if day < plan.end:  # the next week is generated while this one is copied
                pending = asyncio.create_task(asyncio.to_thread(_chunk, plan, day, min(plan.end, day + step)))
            async with conn.transaction():
                await store.copy_calls(conn, gen.CALL_COLUMNS, rows)
                await store.copy_events(conn, gen.EVENT_COLUMNS, log_rows)
            written += len(rows)
            events += len(log_rows)
            if time.perf_counter() - last_shown > 10 or day >= plan.end:
                last_shown = time.perf_counter()
                rate = written / (last_shown - started)
                share = 100 * written / expected
                shown = f"{written:,} / ~{expected:,} calls ({share:.0f} %), {events:,} presence events"
                log(f"  {shown}, up to {day}, {rate:,.0f} calls/s")
        loaded = time.perf_counter() - started
        await conn.execute("ALTER TABLE call_records ENABLE TRIGGER USER")
        log(f"rows written in {loaded:.0f} s; building {len(indexes)} indexes …")
        for _, definition in indexes:
            await conn.execute(definition)
        await conn.execute("ANALYZE call_records")
        await conn.execute("ANALYZE advisor_events")
    seconds = time.perf_counter() - started
    log(f"generated {written:,} calls and {events:,} presence events in {seconds:.0f} s (rows {loaded:.0f} s)")
    return {"calls": written, "events": events, "start": start, "end": end, "seconds": seconds}


def _chunk(plan: gen.Plan, start: date, end: date) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    calls: list[tuple[object, ...]] = []
    events: list[tuple[object, ...]] = []
    for day in gen.days(_between(plan, start, end)):
        calls += day.calls
        events += day.events
    return calls, events


def _between(plan: gen.Plan, start: date, end: date) -> gen.Plan:
    import dataclasses

    return dataclasses.replace(plan, start=start, end=end)


# -- the baseline: a plain recomputation over the raw records ------------------------------------------------------

# One row per call of [$1, $2) with the facts of KPIS.md, written apart from storage.statistics: repeat callers by
# the previous call of the same number (a window over the calls from `repeat_days` before the period).
_BASE = """
WITH window_calls AS (
    SELECT c.*, lag(c.arrived_at) OVER (PARTITION BY c.caller_number ORDER BY c.arrived_at, c.linkedid) AS before
    FROM call_records AS c
    WHERE c.arrived_at >= $1::timestamptz - $7::int * interval '1 day' AND c.arrived_at < $2::timestamptz
), c AS (
    SELECT w.*,
           coalesce(w.wait_seconds, 0) AS wait0,
           w.line_open AND w.status = 'answered' AS is_answered,
           w.line_open AND w.status IN ('abandoned', 'abandoned_ringing') AS is_abandon,
           w.caller_number IS NOT NULL AND w.before IS NOT NULL
               AND w.before >= w.arrived_at - $7::int * interval '1 day' AND w.before < w.arrived_at AS is_repeat,
           CASE WHEN w.answered_at IS NOT NULL AND w.qualified_at IS NOT NULL THEN
               least(greatest(extract(epoch FROM w.qualified_at - w.answered_at)::float8
                              - coalesce(w.talk_seconds, 0), 0), $6::float8) END AS wrap,
           w.arrived_at AT TIME ZONE $3::text AS local_at,
           m.name AS commune_name, m.epci_siren, m.epci_name,
           coalesce(a.name, w.advisor_name) AS advisor_label,
           coalesce(w.caller_kind, 'citizen') AS caller_kind0,
           EXISTS (SELECT 1 FROM knowledge_unanswered AS k WHERE k.linkedid = w.linkedid) AS is_unanswered
    FROM window_calls AS w
    LEFT JOIN communes AS m ON m.code_insee = w.commune_insee
    LEFT JOIN advisors AS a ON a.interface = w.advisor_interface
    WHERE w.arrived_at >= $1::timestamptz
)
"""
_BASE_SUMS = """
    count(*) AS calls,
    sum(CASE WHEN line_open THEN 1 ELSE 0 END) AS offered,
    sum(CASE WHEN NOT line_open THEN 1 ELSE 0 END) AS closed,
    sum(CASE WHEN is_answered THEN 1 ELSE 0 END) AS answered,
    sum(CASE WHEN is_abandon AND wait0 >= $4::float8 THEN 1 ELSE 0 END) AS abandoned,
    sum(CASE WHEN is_abandon AND wait0 < $4::float8 THEN 1 ELSE 0 END) AS short_abandoned,
    sum(CASE WHEN line_open AND NOT is_answered AND NOT is_abandon THEN 1 ELSE 0 END) AS failed,
    sum(CASE WHEN is_answered AND wait0 <= $5::float8 THEN 1 ELSE 0 END) AS answered_in_time,
    sum(CASE WHEN is_answered THEN wait0 ELSE 0 END) AS answered_wait,
    sum(CASE WHEN is_abandon AND wait0 >= $4::float8 THEN wait0 ELSE 0 END) AS abandoned_wait,
    sum(CASE WHEN is_answered THEN coalesce(talk_seconds, 0) ELSE 0 END) AS talk,
    0::float8 AS hold,
    sum(CASE WHEN is_answered THEN coalesce(wrap, 0) ELSE 0 END) AS wrap_up,
    sum(CASE WHEN is_answered AND wrap IS NOT NULL THEN 1 ELSE 0 END) AS wrapped_up,
    sum(CASE WHEN is_answered AND outcome = 'transfer' THEN 1 ELSE 0 END) AS transfers,
    sum(CASE WHEN is_answered AND outcome = 'immediate_answer' THEN 1 ELSE 0 END) AS immediate_answers,
    sum(CASE WHEN is_answered AND coalesce(callback_requested, false) THEN 1 ELSE 0 END) AS callbacks_requested,
    sum(CASE WHEN line_open AND is_repeat THEN 1 ELSE 0 END) AS repeat_calls,
    sum(CASE WHEN line_open AND is_unanswered THEN 1 ELSE 0 END) AS unanswered_questions
"""
# The breakdowns' keys, as the report names its groups (KPIS.md's "calls by …"), over `c`.
_BASE_KEYS: dict[str, str] = {
    "day": "to_char(local_at, 'YYYY-MM-DD')",
    "week": "to_char(date_trunc('week', local_at), 'YYYY-MM-DD')",
    "month": "to_char(date_trunc('month', local_at), 'YYYY-MM')",
    "hour": "to_char(local_at, 'HH24')",
    "weekday": "extract(isodow FROM local_at)::int::text",
    "topic": "topic",
    "subtopic": "CASE WHEN topic IS NOT NULL THEN topic || '/' || coalesce(subtopic, '') END",
    "outcome": "outcome",
    "service": "CASE WHEN outcome = 'transfer' THEN transfer_service END",
    "partner": "CASE WHEN outcome = 'partner_contact' THEN partner END",
    "commune": "commune_insee::text",
    "epci": "epci_siren",
    "advisor": "advisor_interface",
    "caller_kind": "caller_kind0",
}


def baseline_sql(dimensions: Sequence[str]) -> str:
    """One statement: the whole period, then each breakdown by its own GROUP BY (UNION ALL)."""
    parts = [f"SELECT '' AS dimension, NULL::text AS key, {_BASE_SUMS} FROM c"]
    parts += [f"SELECT '{d}', ({_BASE_KEYS[d]})::text, {_BASE_SUMS} FROM c GROUP BY 2" for d in dimensions]
    return _BASE + "\nUNION ALL\n".join(parts)


Groups = dict[tuple[str, str | None], dict[str, float]]


async def baseline(pool: asyncpg.Pool, common: tuple[Any, ...], dimensions: Sequence[str]) -> Groups:
    rows = await pool.fetch(baseline_sql(dimensions), *common)
    return {(r["dimension"], r["key"]): {n: float(r[n] or 0) for n in SUM_NAMES} for r in rows}


async def fast_groups(repo: StatisticsRepository, common: tuple[Any, ...], dimensions: Sequence[str]) -> Groups:
    rows = await repo.groups(common, tuple(dimensions))
    return {(r.dimension, r.key): {n: float(r.sums[n] or 0) for n in SUM_NAMES} for r in rows}


def differences(fast: Groups, base: Groups) -> list[str]:
    out = []
    for key in sorted(set(fast) | set(base), key=str):
        a, b = fast.get(key), base.get(key)
        if a is None or b is None:
            out.append(f"{key}: only in {'baseline' if a is None else 'report'}")
            continue
        for name in SUM_NAMES:
            if not math.isclose(a[name], b[name], rel_tol=1e-9, abs_tol=1e-6):
                out.append(f"{key} {name}: report {a[name]} baseline {b[name]}")
    return out


# -- timing -------------------------------------------------------------------------------------------------------


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def month_periods(start: date, end: date, count: int, rng: random.Random) -> list[tuple[date, date]]:
    months = []
    d = date(start.year, start.month, 1)
    if d < start:
        d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    while True:
        following = date(d.year + d.month // 12, d.month % 12 + 1, 1)
        if following > end:
            break
        months.append((d, following - timedelta(days=1)))
        d = following
    return [rng.choice(months) for _ in range(count)]


async def timed(coroutine: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await coroutine
    return (time.perf_counter() - started) * 1000, result


async def run(args: argparse.Namespace) -> int:
    dsn = await ensure_database(args.dsn, args.db)
    pool = await create_pool(dsn, min_size=1, max_size=4, command_timeout=args.timeout)
    try:
        await migrate(pool)
        await pool.execute(
            f"CREATE TABLE IF NOT EXISTS {META} (calls bigint, events bigint, years int, advisors int, seed int,"
            " start date, end_ date, seconds float8, generated_at timestamptz DEFAULT now())"
        )
        meta = await pool.fetchrow(f"SELECT * FROM {META} ORDER BY generated_at DESC LIMIT 1")
        wanted = (args.years, args.advisors, args.seed)
        reuse = (
            meta is not None
            and not args.regenerate
            and (meta["years"], meta["advisors"], meta["seed"]) == wanted
            and abs(meta["calls"] - args.calls) <= 0.1 * args.calls
        )
        if reuse:
            assert meta is not None
            log(
                f"reusing {meta['calls']:,} calls, {meta['events']:,} presence events ({meta['start']}–{meta['end_']},"
                f" generated {meta['generated_at']:%Y-%m-%d %H:%M} in {meta['seconds']:.0f} s; --regenerate to redo)"
            )
            start, end, generation = meta["start"], meta["end_"], None
        else:
            made = await generate(pool, args.calls, args.years, args.advisors, args.seed)
            await pool.execute(
                f"INSERT INTO {META} (calls, events, years, advisors, seed, start, end_, seconds) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                made["calls"], made["events"], args.years, args.advisors, args.seed, made["start"], made["end"],
                made["seconds"],
            )  # fmt: skip
            start, end, generation = made["start"], made["end"], made["seconds"]
        total = await pool.fetchval("SELECT count(*) FROM call_records")
        if args.generate_only:
            return 0
        now = datetime.combine(end, datetime.min.time(), TZ)  # "today" of the data: its day after the last
        service = StatisticsService(pool, SETTINGS, now=lambda: now)
        repo = StatisticsRepository(pool)
        rng = random.Random(args.seed)
        load_before = os.getloadavg()

        log("summing every finished day (the statistics' daily sums, migration 0014) …")
        build_ms, built = await timed(service.refresh(limit=100_000))
        log(f"daily sums: {built} days summed in {build_ms / 1000:.1f} s")
        rollup_rows = await pool.fetchval("SELECT count(*) FROM statistics_rollups")

        results: list[tuple[str, str, list[float]]] = []
        exact: list[str] = []
        for label, periods, grouping, rounds in (
            ("month", month_periods(start, end, args.rounds, rng), "day", args.rounds),
            ("year", _years(end, args.year_rounds), "month", args.year_rounds),
        ):
            dims = (grouping, *BREAKDOWNS)
            timings: dict[str, list[float]] = {k: [] for k in ("report", "raw", "base")}
            raw_rounds = args.raw_rounds if label == "month" else args.raw_year_rounds
            for i, (p_start, p_end) in enumerate(periods[:rounds]):
                period = service.period(p_start, p_end)
                common = service._common(period)
                q = ReportQuery(start=p_start, end=p_end, grouping=grouping)
                ms, _ = await timed(service.report(q))
                timings["report"].append(ms)
                line = f"  {label} {p_start}–{p_end}: report {ms:.0f} ms"
                if i < raw_rounds:
                    instants = service._instants(period)
                    t0 = time.perf_counter()
                    raw_rows = await repo.groups(common, dims)
                    await repo.presence(*instants)
                    timings["raw"].append((time.perf_counter() - t0) * 1000)
                    ms, base = await timed(baseline(pool, common, dims))
                    timings["base"].append(ms)
                    line += f", raw SQL {timings['raw'][-1]:.0f} ms, baseline {ms:.0f} ms"
                    if i < args.check:
                        fast_rows, _ = await service._sums(period, dims)
                        for path, rows in (("report (daily sums)", fast_rows), ("raw SQL", raw_rows)):
                            groups = {(r.dimension, r.key): {n: float(r.sums[n] or 0) for n in SUM_NAMES} for r in rows}
                            problems = differences(groups, base)
                            problem = "identical" if not problems else f"{len(problems)} DIFFERENCES: {problems[:5]}"
                            exact.append(f"{label} {p_start}–{p_end}, {path}: {len(groups)} groups, {problem}")
                log(line)
            names = {
                "report": "report (StatisticsService.report: daily sums of 0014)",
                "raw": "raw SQL over the records (StatisticsRepository.groups + presence)",
                "base": "baseline (plain SQL over the raw records)",
            }
            results += [(label, names[k], v) for k, v in timings.items() if v]
        load_after = os.getloadavg()
    finally:
        await pool.close()

    command = "python -m bench.stats " + " ".join(sys.argv[1:])
    print()
    print(f"`{command}` — {total:,} call records, {args.advisors} advisors, {start}–{end}, daily sums {rollup_rows:,}"
          f" rows ({built} days summed in {build_ms / 1000:.0f} s)"
          + (f", generated in {generation:.0f} s" if generation else " (reused)"))  # fmt: skip
    print(f"load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f},"
          f" after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}; 2 cores shared")  # fmt: skip
    print()
    print("| period | path | runs | p50 ms | p95 ms | max ms | target |")
    print("|---|---|---|---|---|---|---|")
    for label, path, values in results:
        target = "p95 ≤ 200 ms" if label == "month" else "≤ 1000 ms"
        limit = 200 if label == "month" else 1000
        worst = p95(values) if label == "month" else max(values)
        verdict = " PASS" if worst <= limit else " FAIL"
        verdict = verdict if path.startswith(("report", "raw")) else ""
        print(f"| {label} | {path} | {len(values)} | {statistics.median(values):.0f} | {p95(values):.0f} |"
              f" {max(values):.0f} | {target}{verdict} |")  # fmt: skip
    print()
    print("exactness (every sum of every group of every breakdown vs the baseline):")
    for line in exact:
        print(f"- {line}")
    return 0 if all("identical" in line for line in exact) else 1


def _years(end: date, count: int) -> list[tuple[date, date]]:
    """Twelve-month periods ending on the last day of the data, then a year before, …"""
    out = []
    last = end - timedelta(days=1)
    for i in range(count):
        stop = history.months_before(last, 12 * i)
        out.append((history.months_before(stop, 12) + timedelta(days=1), stop))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.stats", description=__doc__.split("\n\n")[0] if __doc__ else "")
    p.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432", help="server (without a database)")
    p.add_argument("--db", default="gps_bench_stats")
    p.add_argument("--calls", type=int, default=10_000_000)
    p.add_argument("--years", type=int, default=3)
    p.add_argument("--advisors", type=int, default=300)
    p.add_argument("--seed", type=int, default=2012)
    p.add_argument("--regenerate", action="store_true", help="generate the data again even if it is there")
    p.add_argument("--rounds", type=int, default=20, help="months timed")
    p.add_argument("--year-rounds", type=int, default=3, help="twelve-month periods timed")
    p.add_argument("--check", type=int, default=1, help="periods of each kind checked for exactness")
    p.add_argument("--raw-rounds", type=int, default=3, help="months timed on the raw paths (seconds each)")
    p.add_argument("--raw-year-rounds", type=int, default=1, help="years timed on the raw paths (minutes each)")
    p.add_argument("--generate-only", action="store_true", help="make sure the data is there, time nothing")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds a statement may take")
    args = p.parse_args(argv)
    if not (1 <= args.years <= 10 and 1 <= args.advisors <= 2000 and 1000 <= args.calls <= 50_000_000):
        print("bench.stats: --years 1–10, --advisors 1–2000, --calls 1,000–50,000,000", file=sys.stderr)
        return 2
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
