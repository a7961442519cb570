"""Wallboard benchmark: what one snapshot costs (`GET /api/supervision`'s work) over a day of calls, and what the
wallboard adds to the service loop per AMI effect.

    python -m bench.wallboard [--calls N] [--advisors A] [--snapshots S] [--effects E]
    python -m bench.wallboard --live [--rates 10 100] [--seconds 10] [--wait 3] [--role leader|follower]

`--live`: the lag of the wallboard behind the AMI at R calls/s through the whole service (`bench.wallboard_live`).

On the real PostgreSQL at 127.0.0.1:5432 (a throw-away database, migrated, dropped at the end):

- `snapshot`: S calls of `SupervisionService.snapshot()` (advisors, the presence log, today's sums by the
  statistics' SQL, the live view's waiting calls) with N records arrived today (a mix of answered, abandoned and
  short abandons), A advisors with a day of presence changes, 20 callers waiting in the live view; p50/p95/max in
  ms (nearest rank). Baseline in the same run: `SELECT 1` on the same pool.
- `notifier per effect`: E effects (start, queue, ring, answer, end of E/5 calls) through
  `WallboardNotifier.on_effect` with its throttle (a no-op broadcast), CPU µs per effect; baseline in the same run:
  `LiveView.apply` of the same effects (the loop's own work on them).

Nothing here is asserted on time.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import redis.asyncio as aioredis

from config.settings import load_settings
from screenpop.statistics.kpis import Thresholds
from screenpop.statistics.service import StatisticsService
from screenpop.supervision.notifier import WallboardNotifier
from screenpop.supervision.service import SupervisionService
from storage.advisors import AdvisorRepository
from storage.calls import CallRecordRepository
from storage.migrate import migrate
from storage.pool import create_pool
from storage.redis.commands import RedisRouterCommands
from telephony.advisors import AdvisorState, StateChange
from telephony.effects import AdvisorRinging, AnyEffect, CallAnswered, CallEnded, CallQueued, CallStarted
from telephony.live import LiveView
from telephony.records import CallRecord, CallStatus, HangupBy

SERVER = "postgresql://postgres@127.0.0.1:5432"


@dataclass(frozen=True)
class Row:
    name: str
    n: int
    samples: tuple[float, ...]  # ms (snapshot) or µs (per effect)
    unit: str

    def rank(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def _record(i: int, now: datetime) -> CallRecord:
    arrived = now - timedelta(seconds=30 + 60 * i % 36000)
    kind = i % 10
    queued = arrived + timedelta(seconds=3)
    if kind < 7:  # answered
        wait = float(5 + i % 40)
        return CallRecord(
            linkedid=f"bench.{i}",
            caller_number=f"+333210{i:05d}",
            arrived_at=arrived,
            line_open=True,
            queue="gps",
            queue_entered_at=queued,
            queue_left_at=queued + timedelta(seconds=wait),
            answered_at=queued + timedelta(seconds=wait),
            advisor_interface=f"Local/adv{i % 8 + 1}@advisors",
            advisor_name="Conseiller",
            ended_at=queued + timedelta(seconds=wait + 180),
            hangup_by=HangupBy.CALLER,
            status=CallStatus.ANSWERED,
        )
    wait = 2.0 if kind == 9 else 45.0  # a short abandon, or an abandon
    return CallRecord(
        linkedid=f"bench.{i}",
        caller_number=f"+333210{i:05d}",
        arrived_at=arrived,
        line_open=True,
        queue="gps",
        queue_entered_at=queued,
        queue_left_at=queued + timedelta(seconds=wait),
        ended_at=queued + timedelta(seconds=wait),
        hangup_by=HangupBy.CALLER,
        status=CallStatus.ABANDONED,
    )


def _effects(calls: int, now: datetime) -> list[AnyEffect]:
    out: list[AnyEffect] = []
    for i in range(calls):
        lid, at, phone = f"e.{i}", now + timedelta(milliseconds=i), f"Local/adv{i % 8 + 1}@advisors"
        record = CallRecord(
            linkedid=lid,
            arrived_at=at,
            line_open=True,
            ended_at=at,
            hangup_by=HangupBy.CALLER,
            status=CallStatus.ANSWERED,
        )
        out += [
            CallStarted(linkedid=lid, at=at, caller_number="+33321000001", caller_name=None, line_open=True),
            CallQueued(linkedid=lid, at=at, queue="gps", caller_number="+33321000001", topic=None),
            AdvisorRinging(
                linkedid=lid,
                at=at,
                interface=phone,
                member_name="x",
                caller_number="+33321000001",
                caller_name=None,
                queue_entered_at=at,
            ),
            CallAnswered(linkedid=lid, at=at, interface=phone, advisor_channel=phone + "-1;1"),
            CallEnded(linkedid=lid, at=at, record=record),
        ]
    return out


async def _timed(n: int, fn: Callable[[], Awaitable[object]]) -> tuple[float, ...]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return tuple(samples)


async def _run(calls: int, advisors: int, snapshots: int, effects: int) -> tuple[str, list[Row]]:
    name = f"gps_bench_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    redis = aioredis.Redis()  # never connected: nothing is published here
    try:
        pool = await create_pool(f"{SERVER}/{name}", max_size=8, command_timeout=600.0)
        try:
            await migrate(pool)
            version = str(await pool.fetchval("SHOW server_version"))
            now = datetime.now(UTC)
            await CallRecordRepository(pool).upsert_many([_record(i, now) for i in range(calls)])
            repo = AdvisorRepository(pool, {})
            states = [AdvisorState.AVAILABLE, AdvisorState.RINGING, AdvisorState.ON_CALL, AdvisorState.WRAP_UP]
            for a in range(advisors):
                advisor = await repo.add(f"adv{a:03d}", f"Conseiller {a}", f"Local/adv{a}@advisors")
                changes = [
                    StateChange(advisor_id=advisor.id, state=states[k % 4], at=now - timedelta(minutes=600 - k))
                    for k in range(0, 600, 3)
                ]
                await repo.record_many(changes)
            live = LiveView()
            for w in range(20):
                at = now - timedelta(seconds=w * 7)
                live.apply(CallStarted(linkedid=f"w.{w}", at=at, caller_number=None, caller_name=None, line_open=True))
                live.apply(CallQueued(linkedid=f"w.{w}", at=at, queue="gps", caller_number=None, topic="taxes"))
            service = SupervisionService(
                live,
                repo,
                StatisticsService(pool, load_settings(), lambda: datetime.now(UTC)),
                RedisRouterCommands(redis, "gps"),
                thresholds=Thresholds(),
                pause_reasons={"break": "Pause"},
                topics={"taxes": "Impôts"},
            )
            rows = []
            select_one = await _timed(snapshots, lambda: pool.fetchval("SELECT 1"))
            snapshot = await _timed(snapshots, service.snapshot)
            rows += [
                Row("SELECT 1 (baseline)", snapshots, select_one, "ms"),
                Row("snapshot", snapshots, snapshot, "ms"),
            ]
            stream = _effects(effects // 5, now)
            view = LiveView()
            t0 = time.process_time()
            for effect in stream:
                view.apply(effect)
            base = (time.process_time() - t0) / len(stream) * 1e6
            notifier = WallboardNotifier(redis, lambda _id, _payload: None)
            t0 = time.process_time()
            for effect in stream:
                await notifier.on_effect(effect)
            cost = (time.process_time() - t0) / len(stream) * 1e6
            await notifier.close()
            rows += [
                Row("LiveView.apply per effect (baseline)", len(stream), (base,), "µs CPU"),
                Row("notifier per effect", len(stream), (cost,), "µs CPU"),
            ]
            return version, rows
        finally:
            await pool.close()
    finally:
        await redis.aclose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    args_given = sys.argv[1:] if argv is None else argv
    if "--live" in args_given:  # the lag behind the AMI, through the whole service: bench.wallboard_live
        from bench import wallboard_live

        return wallboard_live.main(args_given)
    parser = argparse.ArgumentParser(prog="python -m bench.wallboard", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="records arrived today")
    parser.add_argument("--advisors", type=int, default=30)
    parser.add_argument("--snapshots", type=int, default=50)
    parser.add_argument("--effects", type=int, default=50_000)
    args = parser.parse_args(argv)
    version, rows = asyncio.run(_run(args.calls, args.advisors, args.snapshots, args.effects))
    command = "python -m bench.wallboard " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"{command.strip()}  (PostgreSQL {version}; {args.calls} calls today, {args.advisors} advisors)")
    print(f"{'measure':<40} {'n':>7} {'p50':>10} {'p95':>10} {'max':>10}  unit")
    for row in rows:
        p50, p95, top = row.rank(0.5), row.rank(0.95), max(row.samples)
        print(f"{row.name:<40} {row.n:>7} {p50:>10.3f} {p95:>10.3f} {top:>10.3f}  {row.unit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
