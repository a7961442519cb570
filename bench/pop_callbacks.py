"""The screen pop's caller query (`storage.qualification._CALLER`: history, latest commune, open callbacks in one round
trip) on a filled database: its plan and its time.

    python -m bench.pop_callbacks [--records N] [--queries Q]

On the real PostgreSQL at 127.0.0.1:5432 (a throw-away database, migrated, dropped at the end): N call records
(default 100,000) from N / 5 numbers (5 calls each), plus one busy number (a town hall: every 21st call, N / 20
calls); all spread over the months (a call every 5 minutes); every 10th
record asked for a callback (migration 0020's table), one in five of them still open, the rest done or cancelled.
Prints the plan (`EXPLAIN (ANALYZE, BUFFERS)`) of the pop's query for an ordinary number and the busy one, then Q
runs of each through `QualificationRepository.caller` (p50/p95/max in ms, nearest-rank). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import secrets
import sys
import time

import asyncpg

from storage.migrate import migrate
from storage.pool import create_pool
from storage.qualification import _CALLER, QualificationRepository

SERVER = "postgresql://postgres@127.0.0.1:5432"
BUSY = "+33321000000"

_FILL = """
INSERT INTO call_records (linkedid, caller_number, arrived_at, line_open, ended_at, hangup_by, status, topic,
                          outcome, callback_requested, callback_slot, commune_insee, qualified_at, qualified_by)
SELECT i || '.1',
       CASE WHEN i % $2::int = 0 THEN $3::text ELSE '+336' || lpad((i % ($1::int / 5))::text, 8, '0') END,
       timestamptz '2026-01-01 08:00+01' + i * interval '5 minutes', true,
       timestamptz '2026-01-01 08:04+01' + i * interval '5 minutes', 'caller', 'answered', 'taxes', 'advice',
       i % 10 = 0, CASE WHEN i % 10 = 0 THEN 'matin' END, '62041',
       timestamptz '2026-01-01 08:05+01' + i * interval '5 minutes', 'bench'
FROM generate_series(1, $1::int * 21 / 20) AS i
"""
_CALLBACKS = """
INSERT INTO callbacks (linkedid, caller_number, commune_insee, topic, slot, requested_by, created_at, status, done_at,
                       cancelled_at, cancel_reason, cancelled_by)
SELECT linkedid, caller_number, commune_insee, topic, callback_slot, 'bench', qualified_at, s.status,
       CASE WHEN s.status = 'done' THEN qualified_at + interval '1 day' END,
       CASE WHEN s.status = 'cancelled' THEN qualified_at + interval '1 day' END,
       CASE WHEN s.status = 'cancelled' THEN 'bench' END,
       CASE WHEN s.status = 'cancelled' THEN 'bench' END
FROM call_records,
     LATERAL (SELECT CASE split_part(linkedid, '.', 1)::int / 10 % 5 WHEN 0 THEN 'open' WHEN 1 THEN 'cancelled'
                          ELSE 'done' END AS status) AS s
WHERE callback_requested
"""


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run(records: int, queries: int) -> None:
    name = f"gps_bench_pop_{secrets.token_hex(6)}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        await measure(f"{SERVER}/{name}", records, queries)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def measure(dsn: str, records: int, queries: int) -> None:
    pool = await create_pool(dsn)
    try:
        await migrate(pool)
        started = time.perf_counter()
        await pool.execute(_FILL, records, 21, BUSY)
        await pool.execute(_CALLBACKS)
        await pool.execute("ANALYZE")
        counts = await pool.fetchrow(
            "SELECT (SELECT count(*) FROM call_records) AS records, (SELECT count(*) FROM callbacks) AS callbacks,"
            " (SELECT count(*) FROM callbacks WHERE status = 'open') AS open"
        )
        assert counts is not None
        print(
            f"filled in {time.perf_counter() - started:.1f} s: {counts['records']} records, "
            f"{counts['callbacks']} callbacks ({counts['open']} open)"
        )
        ordinary = await pool.fetchval(
            "SELECT cr.caller_number FROM callbacks AS cb JOIN call_records AS cr USING (linkedid)"
            " WHERE cb.status = 'open' AND cr.caller_number <> $1 LIMIT 1",
            BUSY,
        )
        repo = QualificationRepository(pool)
        for label, number in (("ordinary", ordinary), ("busy", BUSY)):
            rows = await repo.caller(number, 10, 10)
            print(f"\n{label} number {number}: {len(rows.history)} history rows, {len(rows.open_callbacks)} open")
            plan = await pool.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {_CALLER}", number, 10, 10)
            print("\n".join(r[0] for r in plan))
            samples = []
            for _ in range(queries):
                t0 = time.perf_counter()
                await repo.caller(number, 10, 10)
                samples.append((time.perf_counter() - t0) * 1000)
            print(
                f"{label}: {queries} pops' queries, ms p50 {quantile(samples, 0.5):.2f} "
                f"p95 {quantile(samples, 0.95):.2f} max {max(samples):.2f}"
            )
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    print(f"command: python -m bench.pop_callbacks {' '.join(sys.argv[1:] if argv is None else argv)}".rstrip())
    asyncio.run(run(args.records, args.queries))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
