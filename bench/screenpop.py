"""Screen-pop benchmark: AMI `AgentCalled` in → pop frame at the advisor's websocket; hang-up → record committed.

    python -m bench.screenpop [--rates 10 100] [--seconds S] [--instances 1 2] [--advisors N] [--context db|none]
        [--rounds shared separate]

The production pieces run as `gps_admin.app.build_app` wires them, in one process and one event loop (the desk
clients, like browsers, in another process):

- instance A: `CallTracker` + `MemberTracker("gps")` in a `CallPipeline` whose record sink is a `RecordWriter`
  (temp spool dir, then a REAL PostgreSQL: a throw-away database on `postgresql://postgres@127.0.0.1:5432`,
  migrated, dropped at the end; records handed over with `accept` as in production), the `Router` (leader: it takes
  the lease once; its store is `AdvisorRepository` on the same database, as build_app: the presence log is written
  and the continuity look-up queried in PostgreSQL at every call), the `PopPublisher` (`advisor_of` = the router's
  board, `is_leader` = the router; `context_of` = `screenpop.pops.service.context_lookup`, history + commune from
  PostgreSQL, as build_app; `--context none` skips it), the router's presence changes published to the desks
  (`PresencePublisher`), the live view (`telephony.live.LiveView`, fed by the pipeline), in build_app's order,
  and a `Hub` served on loopback by aiohttp;
  Every Redis script call of instance A goes in one `storage.redis.rounds.Rounds`, as build_app (`--rounds separate`:
  one per component, for comparison);
- instance B (with `--instances 2`): a second `Hub` with its own Redis client, subscription and aiohttp server;
  every websocket is connected to it, so each pop crosses Redis from A's publisher to B's subscription.

Redis is real (`redis://$GPS_TEST_REDIS/10`, default 127.0.0.1:6379, flushed at the start of every row).
Asterisk's action side is the recording `ActionSender` of bench.routing; Asterisk's events are fed with
`pipeline.sink` as the AMI edge does. Each advisor has an aiohttp websocket client (a test middleware sets
`request[USER]`: auth is not measured) that acknowledges every message but presence ones, as the desk page does;
the 200 clients run in `bench.desk_clients`, a child process, which reports each pop's arrival time (its
`perf_counter()`, CLOCK_MONOTONIC: one clock for every process of the machine) and each "ended" message on stdout.

A call: Newchannel + QueueCallerJoin; the router offers it to a free advisor (its `QueuePenalty Penalty: 1` reaches
the recording sender, which tells the call who was offered); "Asterisk" then rings that advisor: Newchannel of the
leg, then AgentCalled (t0 = `perf_counter()` just before `pipeline.sink(AgentCalled)`); the advisor's client (in the
child process) takes t1 when the pop frame (matched by linkedid) arrives. After RING_S: AgentConnect; after
TALK_S: AgentComplete, Hangup of the caller, Hangup of the leg (t2 = just before sinking that last Hangup). t3 =
when the writer's drain has committed the record (observed through its "record written" log line, emitted right
after the commit and the spool file's removal, in the drain task). The advisor ends the wrap-up
(`router.command(id, "wrapup_done")`) WRAPUP_S after their desk got the call's "ended" message. Calls start on an
absolute schedule (i / rate).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from bench.desk_clients import ADVISOR_HEADER
from bench.routing import Chan, Events, RecordingSender, make_advisors, percentile
from config.settings import DeskSettings, LineSettings, OpeningHours, RoutingSettings
from screenpop.pops.notifier import PopPublisher, PresencePublisher, no_context
from screenpop.pops.service import context_lookup
from screenpop.web.hub import Hub
from screenpop.web.keys import USER
from storage.advisors import AdvisorRepository
from storage.migrate import migrate
from storage.pool import create_pool
from storage.redis.claims import RedisClaims
from storage.redis.lease import RedisLease
from storage.redis.rounds import Rounds
from storage.spool import Spool
from storage.users import Role, User
from storage.writer import RecordWriter
from telephony.advisors import Advisor
from telephony.aio import bounded, settle_heap
from telephony.calls import CallTracker
from telephony.live import LiveView
from telephony.members import MemberTracker
from telephony.pipeline import CallPipeline
from telephony.router import Router

REDIS_URL = f"redis://{os.environ.get('GPS_TEST_REDIS', '127.0.0.1:6379')}/10"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
QUEUE = "gps"
POP_TARGET_MS = 10.0  # p99, one instance, 100 calls/s
RECORD_TARGET_MS = 50.0  # p99
RING_S = 0.05  # AgentCalled → AgentConnect
TALK_S = 0.2  # AgentConnect → hang-up
WRAPUP_S = 0.05  # "ended" message at the desk → wrapup_done
WARMUP = 5  # unmeasured calls, one after the other, before each row's schedule
WITHIN = 120.0  # any single wait of a call (offer, pop, record) fails the bench beyond this (overload included)


class BenchError(Exception):
    """A call did not get exactly one pop at the right desk and one committed record, or timed out."""


# ---- one call, as measured ----


@dataclass
class CallRun:
    linkedid: str
    measured: bool
    advisor_id: int = 0
    t0: float = 0.0  # just before pipeline.sink(AgentCalled)
    t1: float = 0.0  # the pop frame received by the advisor's websocket client (its perf_counter, same clock)
    t2: float = 0.0  # just before pipeline.sink(last Hangup)
    t3: float = 0.0  # the record committed (the writer's "record written")
    pops: list[int] = field(default_factory=list)  # advisor id of each client that received this call's pop
    commits: int = 0
    offered: asyncio.Future[Advisor] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    popped: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # the desk got the "ended" message
    committed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def pop_s(self) -> float:
        return self.t1 - self.t0

    @property
    def record_s(self) -> float:
        return self.t3 - self.t2


class OfferSender(RecordingSender):
    """bench.routing's recording Asterisk; an offer (QueuePenalty Penalty 1) tells the offered call its advisor."""

    def __init__(self, calls: dict[str, CallRun]) -> None:
        super().__init__()
        self.calls = calls
        self.router: Router | None = None

    async def send(self, action: dict[str, str], timeout: float | None = None) -> dict[str, str]:
        reply = await super().send(action, timeout)
        if action["Action"] == "QueuePenalty" and action.get("Penalty") == "1" and self.router is not None:
            board = self.router.board
            advisor = board.advisor_of(action["Interface"])
            call = self.calls.get(board.offered_call(advisor.id) or "") if advisor is not None else None
            if advisor is not None and call is not None and not call.offered.done():
                call.offered.set_result(advisor)
        return reply


class BenchEvents(Events):
    """bench.routing's event builder with linkedids of their own (not `1795888079.N`, which the tests use too):
    desk messages published by anything else on the same Redis server are then told apart."""

    def __init__(self) -> None:
        super().__init__()
        self.prefix = 1_000_000_000 + secrets.randbelow(8_000_000_000)

    def _uid(self) -> str:
        self.seq += 1
        return f"{self.prefix}.{self.seq}"


class CommitWatch(logging.Handler):
    """t3: the writer logs "record written linkedid=…" in its drain task right after the commit (and the spool
    file's removal); this handler runs synchronously there."""

    def __init__(self, calls: dict[str, CallRun]) -> None:
        super().__init__(logging.INFO)
        self.calls = calls

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("record written") and isinstance(record.args, tuple) and record.args:
            call = self.calls.get(str(record.args[0]))
            if call is not None:
                call.t3 = call.t3 or time.perf_counter()
                call.commits += 1
                call.committed.set()


class SlowLookUps(AdvisorRepository):
    """The advisor store of a busy database: each continuity look-up (`last_advisor_for`, one per queued call)
    answers `delay` seconds late (`--lookup-delay`)."""

    def __init__(self, pool: asyncpg.Pool, delay: float) -> None:
        super().__init__(pool, {})
        self.delay = delay

    async def last_advisor_for(self, caller_number: str, since: datetime) -> int | None:
        await asyncio.sleep(self.delay)
        return await super().last_advisor_for(caller_number, since)


# ---- the instances ----


@web.middleware
async def bench_login(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """As tests/integration/test_hub.py: the advisor named by a header is the request's user."""
    advisor = request.headers.get(ADVISOR_HEADER)
    if advisor is not None:
        request[USER] = User(
            id=int(advisor), login=f"adv{advisor}", name="Bench", role=Role.ADVISOR, advisor_id=int(advisor)
        )
    return await handler(request)


class HubServer:
    """One instance's desk side: a Hub on its own Redis client, served on loopback."""

    def __init__(self, redis: aioredis.Redis, rounds: Rounds | None = None) -> None:
        self.redis = redis
        self.hub = Hub(redis, rounds)
        app = web.Application(middlewares=[bench_login])
        app.router.add_get("/ws", self.hub.handle)
        self.runner = web.AppRunner(app)
        self.task: asyncio.Task[None] | None = None
        self.url = ""

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/ws"
        self.task = asyncio.create_task(self.hub.run(), name="bench-hub")
        await bounded(self.hub.ready.wait(), WITHIN)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.hub.close_all()
        await self.runner.cleanup()
        await self.redis.aclose()


class Rig:
    """Instance A (pipeline, router, publisher, writer, hub) and optionally instance B (a hub)."""

    def __init__(
        self,
        advisors: list[Advisor],
        instances: int,
        pool: asyncpg.Pool,
        dsn: str,
        spool: Path,
        context: str,
        shared_rounds: bool = True,
        lookup_delay: float = 0.0,
    ) -> None:
        self.calls: dict[str, CallRun] = {}
        self.advisors = advisors
        self.by_id = {a.id: a for a in self.advisors}
        self.events = BenchEvents()
        self.redis = aioredis.from_url(REDIS_URL)
        # as build_app: one Rounds for every script call of instance A (`shared=False`: one per component)
        rounds = Rounds(self.redis) if shared_rounds else None
        self.sender = OfferSender(self.calls)

        async def pool_factory() -> asyncpg.Pool:
            return await create_pool(dsn, command_timeout=5.0)

        self.writer = RecordWriter(Spool(spool), pool_factory, submit_timeout=0.0, write_timeout=5.0)
        self.pipeline = CallPipeline(
            CallTracker(LineSettings(), OpeningHours()), self.writer.accept, MemberTracker(QUEUE), live=LiveView()
        )
        self.router = Router(
            ami=self.sender,
            # as build_app: presence log and continuity in PostgreSQL (`--lookup-delay`: a busy database)
            store=SlowLookUps(pool, lookup_delay) if lookup_delay else AdvisorRepository(pool, {}),
            # the router's script calls in one Rounds (its own with `--rounds separate`), as build_app
            lease=RedisLease(self.redis, QUEUE, router_rounds := rounds or Rounds(self.redis)),
            claims=RedisClaims(self.redis, QUEUE, router_rounds),
            # no minimum wrap-up: advisors end theirs as the bench says (the figures stay comparable with earlier runs)
            routing=RoutingSettings(wrapup_max=3600, wrapup_min=0, claim_ttl=600),
            queue=QUEUE,
            lease_ttl=600.0,  # taken once; `run()` (the timer task) is not started, as in bench.routing
        )
        self.sender.router = self.router
        router = self.router

        def advisor_of(interface: str) -> int | None:
            advisor = router.board.advisor_of(interface)
            return advisor.id if advisor is not None else None

        self.publisher = PopPublisher(
            self.redis,
            advisor_of=advisor_of,
            is_leader=lambda: router.leader,
            context_of=context_lookup(pool, DeskSettings()) if context == "db" else no_context,
            rounds=rounds,
            live=self.pipeline.live,
        )
        # as build_app: the live view (fed by the pipeline), publisher, router, presence to the desks
        self.pipeline.listen(self.publisher.on_effect)
        self.pipeline.listen(self.router.on_effect)
        self.router.presence_listeners.append(PresencePublisher(self.redis, rounds))
        self.hubs = [HubServer(self.redis, rounds)] + [
            HubServer(aioredis.from_url(REDIS_URL)) for _ in range(instances - 1)
        ]
        self.tasks: list[asyncio.Task[None]] = []
        self.browsers: asyncio.subprocess.Process | None = None  # bench.desk_clients
        self.watch = CommitWatch(self.calls)
        self.foreign = 0  # messages for no call of this rig (Redis pub/sub ignores the db number: see README)

    async def start(self) -> None:
        await self.redis.flushdb()
        for server in self.hubs:
            await server.start()
        await self.writer.start()
        self.tasks.append(asyncio.create_task(self.pipeline.run(), name="bench-pipeline"))
        await self.router._keep_lease()  # leader for the whole row
        if not self.router.leader:
            raise BenchError("the router did not take the lease (another holder in db 10?)")
        for advisor in self.advisors:
            await self.router.command(advisor.id, "login")
        desk = self.hubs[-1]  # the websockets are on B when there are two instances
        self.browsers = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.desk_clients",
            desk.url,
            *(str(a.id) for a in self.advisors),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.browsers.stdout is not None
        line = await bounded(self.browsers.stdout.readline(), WITHIN)
        if line != b"ready\n":
            raise BenchError(f"the desk clients did not start: {line!r}")
        self.tasks.append(asyncio.create_task(self._reports(self.browsers.stdout), name="bench-desk-reports"))
        for _ in range(int(WITHIN * 100)):  # the hub registers a socket just after the handshake
            if desk.hub.stats.sockets == len(self.advisors):
                break
            await asyncio.sleep(0.01)
        else:
            raise BenchError(f"{desk.hub.stats.sockets} desk sockets registered, expected {len(self.advisors)}")

    async def stop(self) -> None:
        if self.browsers is not None:
            assert self.browsers.stdin is not None
            self.browsers.stdin.close()
            try:
                await bounded(self.browsers.wait(), 10.0)
            except TimeoutError:
                self.browsers.kill()
                await self.browsers.wait()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.writer.stop()
        await self.router.resign()
        for server in reversed(self.hubs):
            await server.stop()  # A's closes the shared client last

    def desk_cpu(self) -> float:
        """CPU seconds used so far by the desk clients' process (Linux: /proc)."""
        if self.browsers is None:
            return 0.0
        fields = Path(f"/proc/{self.browsers.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    async def _reports(self, stdout: asyncio.StreamReader) -> None:
        """What the desk pages saw (bench.desk_clients): the pop's arrival time t1, the "ended" message."""
        while line := await stdout.readline():
            kind, linkedid, advisor, *rest = line.decode().split()
            call = self.calls.get(linkedid)
            if call is None:
                self.foreign += 1
            elif kind == "pop":
                call.t1 = call.t1 or float(rest[0])
                call.pops.append(int(advisor))
                call.popped.set()
            elif kind == "ended":
                call.ended.set()

    async def call(self, measured: bool) -> CallRun:
        chan, joining = self.events.caller()
        call = CallRun(chan.linkedid, measured)
        self.calls[chan.linkedid] = call
        for event in joining:
            self.pipeline.sink(event)
        try:
            advisor = await bounded(asyncio.shield(call.offered), WITHIN)
        except TimeoutError:
            waiting = self.router.board.waiting()
            raise BenchError(
                f"call {chan.linkedid} was never offered within {WITHIN} s: {len(waiting)} waiting"
                f" ({sum(w.offered_to is not None for w in waiting)} offered, {sum(w.ringing for w in waiting)}"
                f" ringing), router {self.router.stats.as_dict()}"
            ) from None
        call.advisor_id = advisor.id
        leg, ringing = self.events.ring(chan, advisor)
        self.pipeline.sink(ringing[0])  # the leg's Newchannel
        call.t0 = time.perf_counter()
        self.pipeline.sink(ringing[1])  # AgentCalled
        await asyncio.sleep(RING_S)
        self.pipeline.sink(self.events.connect(chan, leg, advisor))
        await asyncio.sleep(TALK_S)
        await self._hang_up(call, chan, leg, advisor)
        await self._wait(call.ended, call, "its desk never got the 'ended' message")
        await asyncio.sleep(WRAPUP_S)
        await self.router.command(advisor.id, "wrapup_done")
        await self._wait(call.popped, call, "no pop received")
        await self._wait(call.committed, call, "its record was never committed")
        return call

    async def _hang_up(self, call: CallRun, chan: Chan, leg: Chan, advisor: Advisor) -> None:
        self.pipeline.sink(self.events.complete(chan, advisor))
        self.pipeline.sink(self.events.hangup(chan))
        last = self.events.hangup(leg)
        call.t2 = time.perf_counter()
        self.pipeline.sink(last)

    @staticmethod
    async def _wait(event: asyncio.Event, call: CallRun, what: str) -> None:
        try:
            await bounded(event.wait(), WITHIN)
        except TimeoutError:
            raise BenchError(f"call {call.linkedid}: {what} within {WITHIN} s") from None


# ---- one row ----


@dataclass(frozen=True)
class Row:
    instances: int
    rate: float
    advisors: int
    context: str
    rounds: str  # "shared": one storage.redis.rounds.Rounds for instance A, as build_app; "separate": one per component
    lookup_delay: float  # seconds added to each continuity look-up (0: the database as it is)
    calls: tuple[CallRun, ...]  # measured calls
    warmup: int
    pops: int  # pop frames received, all calls (warm-up included)
    records: int  # rows in call_records at the end, all calls
    overflows: int  # hub socket overflows
    foreign: int  # desk messages received for calls not of this run (other publishers on the Redis server)
    backlog_max: int  # largest pipeline backlog seen by the scheduler
    late_max_ms: float  # how late the scheduler started a call, at worst
    cpu_ms: float  # CPU time of the service process (all threads) per measured call, measured phase only
    desk_cpu_ms: float  # the same for the desk clients' process

    def _ms(self, values: list[float], q: float) -> float:
        return 1000 * percentile(values, q)

    def pop_ms(self, q: float) -> float:
        return self._ms([c.pop_s for c in self.calls], q)

    def record_ms(self, q: float) -> float:
        return self._ms([c.record_s for c in self.calls], q)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(f"{PG_SERVER}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run_row(
    instances: int,
    rate: float,
    seconds: float,
    advisors: int,
    dsn: str,
    context: str = "db",
    warmup: int = WARMUP,
    rounds: str = "shared",
    lookup_delay: float = 0.0,
) -> Row:
    """One (instances, rate) run on fresh Redis (FLUSHDB), emptied call_records and presence log."""
    pool = await create_pool(dsn)
    watch_logger = logging.getLogger("storage.writer")
    level = watch_logger.level
    with tempfile.TemporaryDirectory(prefix="bench-screenpop-") as spool:
        await pool.execute("TRUNCATE call_records, advisor_events")
        listed = (await AdvisorRepository(pool, {}).list(active_only=True))[:advisors]
        rig = Rig(listed, instances, pool, dsn, Path(spool), context, rounds == "shared", lookup_delay)
        watch_logger.addHandler(rig.watch)
        watch_logger.setLevel(logging.INFO)
        try:
            await rig.start()
            for _ in range(warmup):
                await rig.call(measured=False)
            settle_heap()
            count = max(1, round(rate * seconds))
            cpu = time.process_time(), rig.desk_cpu()
            loop = asyncio.get_running_loop()
            start = loop.time() + 0.05
            tasks: list[asyncio.Task[CallRun]] = []
            late = 0.0
            backlog = 0
            for i in range(count):
                deadline = start + i / rate
                delay = deadline - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                late = max(late, loop.time() - deadline)
                backlog = max(backlog, rig.pipeline.backlog)
                tasks.append(asyncio.create_task(rig.call(measured=True)))
            done = await asyncio.gather(*tasks)
            await bounded(rig.writer.wait_drained(), WITHIN)
            cpu_ms = 1000 * (time.process_time() - cpu[0]) / count
            desk_cpu_ms = 1000 * (rig.desk_cpu() - cpu[1]) / count
            ids = {r["linkedid"] for r in await pool.fetch("SELECT linkedid FROM call_records")}
            _check(rig, ids)
            return Row(
                instances=instances,
                rate=rate,
                advisors=advisors,
                context=context,
                rounds=rounds,
                lookup_delay=lookup_delay,
                calls=tuple(done),
                warmup=warmup,
                pops=sum(len(c.pops) for c in rig.calls.values()),
                records=len(ids),
                overflows=sum(s.hub.stats.overflows for s in rig.hubs),
                foreign=rig.foreign,
                backlog_max=backlog,
                late_max_ms=1000 * late,
                cpu_ms=cpu_ms,
                desk_cpu_ms=desk_cpu_ms,
            )
        finally:
            watch_logger.removeHandler(rig.watch)
            watch_logger.setLevel(level)
            await rig.stop()
            await pool.close()


def _check(rig: Rig, committed: set[str]) -> None:
    """Every call: exactly one pop, at the offered advisor's desk; exactly one record, committed."""
    errors: list[str] = []
    for call in rig.calls.values():
        if call.pops != [call.advisor_id]:
            errors.append(f"{call.linkedid}: pops at desks {call.pops}, offered to {call.advisor_id}")
        if call.commits != 1 or call.linkedid not in committed:
            errors.append(f"{call.linkedid}: {call.commits} commit(s), in call_records: {call.linkedid in committed}")
    if committed - set(rig.calls):
        errors.append(f"unknown records: {sorted(committed - set(rig.calls))[:5]}")
    stats = rig.pipeline.stats
    if stats.tracker_errors or stats.effect_errors or rig.router.stats.action_errors:
        errors.append(f"errors: pipeline {stats.as_dict()}, router {rig.router.stats.as_dict()}")
    if errors:
        raise BenchError(f"{len(errors)} problem(s): " + "; ".join(errors[:5]))


# ---- the whole bench ----


@dataclass(frozen=True)
class BenchResult:
    rates: tuple[float, ...]
    seconds: float
    instances: tuple[int, ...]
    advisors: int
    context: str
    warmup: int
    rounds: tuple[str, ...]
    lookup_delay: float
    redis_version: str
    postgres_version: str
    rows: tuple[Row, ...]

    def row(self, instances: int, rate: float) -> Row:
        return next(r for r in self.rows if r.instances == instances and r.rate == rate)


async def _bench(
    rates: Sequence[float],
    seconds: float,
    instances: Sequence[int],
    advisors: int,
    context: str,
    warmup: int,
    rounds: Sequence[str],
    lookup_delay: float = 0.0,
) -> BenchResult:
    name = f"gps_bench_{secrets.token_hex(6)}"
    await _admin(f'CREATE DATABASE "{name}"')
    dsn = f"{PG_SERVER}/{name}"
    try:
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
            await conn.executemany(
                "INSERT INTO advisors (login, name, interface) VALUES ($1, $2, $3)",
                [(a.login, a.name, a.interface) for a in make_advisors(advisors)],
            )
            pg_version = str(await conn.fetchval("SHOW server_version")).split()[0]
        finally:
            await conn.close()
        client = aioredis.from_url(REDIS_URL)
        try:
            redis_version = str((await client.info("server")).get("redis_version", "?"))
        finally:
            await client.aclose()
        rows = [
            await run_row(n, rate, seconds, advisors, dsn, context, warmup, mode, lookup_delay)
            for mode in rounds
            for n in instances
            for rate in rates
        ]
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return BenchResult(
        tuple(rates),
        seconds,
        tuple(instances),
        advisors,
        context,
        warmup,
        tuple(rounds),
        lookup_delay,
        redis_version,
        pg_version,
        tuple(rows),
    )


def run_bench(
    rates: Sequence[float] = (10, 100),
    seconds: float = 5.0,
    instances: Sequence[int] = (1, 2),
    advisors: int = 200,
    context: str = "db",
    warmup: int = WARMUP,
    rounds: Sequence[str] = ("shared",),
    lookup_delay: float = 0.0,
) -> BenchResult:
    """Every (instances, rate) row on fresh state; rows as data. Raises BenchError when a call misses its pop or
    its record (or gets two). `lookup_delay`: seconds added to each continuity look-up (a busy database)."""
    if min(rates) <= 0 or seconds <= 0 or advisors < 1 or not set(instances) <= {1, 2} or warmup < 0:
        raise ValueError("rates and seconds > 0, advisors ≥ 1, instances in {1, 2}, warmup ≥ 0")
    if not rounds or not set(rounds) <= {"shared", "separate"}:
        raise ValueError("rounds in {shared, separate}")
    if not 0 <= lookup_delay <= 10:
        raise ValueError("lookup_delay in [0, 10] seconds")
    return asyncio.run(_bench(rates, seconds, instances, advisors, context, warmup, rounds, lookup_delay))


def _num(x: float) -> str:
    return f"{x:g}"


def command_line(r: BenchResult) -> str:
    line = (
        f"python -m bench.screenpop --rates {' '.join(map(_num, r.rates))} --seconds {_num(r.seconds)}"
        f" --instances {' '.join(map(str, r.instances))} --advisors {r.advisors}"
    )
    line += "" if r.context == "db" else f" --context {r.context}"
    line += "" if r.rounds == ("shared",) else f" --rounds {' '.join(r.rounds)}"
    line += f" --lookup-delay {_num(r.lookup_delay * 1000)}" if r.lookup_delay else ""
    return line + ("" if r.warmup == WARMUP else f" --warmup {r.warmup}")


def format_report(r: BenchResult) -> str:
    lines = [
        "command: " + command_line(r),
        f"python {sys.version.split()[0]}, redis {r.redis_version} at {REDIS_URL}, PostgreSQL {r.postgres_version}"
        f" (throw-away database), {r.advisors} advisors, pop context: {r.context}"
        + (f", continuity look-ups {r.lookup_delay * 1000:g} ms late (a busy database)" if r.lookup_delay else ""),
        "pop: AgentCalled sunk (t0) → pop frame at the advisor's websocket client (t1);"
        " record: last Hangup sunk (t2) → record committed (t3)",
        f"{'redis':>8} {'instances':>9} {'rate/s':>6} {'calls':>6} {'pop p50':>8} {'pop p99':>8} {'pop max':>8}"
        f" {'rec p50':>8} {'rec p99':>8} {'rec max':>8} {'backlog':>7} {'late ms':>7} {'cpu/call':>8} {'desk cpu':>8}",
    ]
    for row in r.rows:
        lines.append(
            f"{row.rounds:>8} {row.instances:>9} {_num(row.rate):>6} {len(row.calls):>6} {row.pop_ms(0.5):>8.2f}"
            f" {row.pop_ms(0.99):>8.2f} {row.pop_ms(1.0):>8.2f} {row.record_ms(0.5):>8.2f}"
            f" {row.record_ms(0.99):>8.2f} {row.record_ms(1.0):>8.2f} {row.backlog_max:>7} {row.late_max_ms:>7.1f}"
            f" {row.cpu_ms:>8.2f} {row.desk_cpu_ms:>8.2f}"
        )
    lines.append(
        "(ms; nearest-rank; backlog = largest pipeline queue seen at a call's start; late = scheduler lag;"
        " cpu/call = CPU ms of the service process per call, desk cpu = of the desk clients' process;"
        " redis = script calls in one storage.redis.rounds.Rounds for instance A (shared, as build_app) or one per"
        " component (separate))"
    )
    for row in r.rows:
        lines.append(
            f"checked {row.instances} instance(s) at {_num(row.rate)}/s: {row.pops} pops for"
            f" {len(row.calls) + row.warmup} calls ({row.warmup} warm-up), each at the offered advisor's desk;"
            f" {row.records} records committed; {row.overflows} socket overflows"
            + (f"; {row.foreign} foreign desk messages (other publishers on this Redis)" if row.foreign else "")
        )
    for row in r.rows:
        if row.instances == 1 and row.rate == 100 and row.rounds == "shared":
            p99 = row.pop_ms(0.99)
            verdict = "PASS" if p99 <= POP_TARGET_MS else "FAIL"
            lines.append(f"target: pop p99 ≤ {POP_TARGET_MS:g} ms, 1 instance at 100 calls/s: {p99:.2f} ms → {verdict}")
    for row in r.rows:
        p99 = row.record_ms(0.99)
        verdict = "PASS" if p99 <= RECORD_TARGET_MS else "FAIL"
        lines.append(
            f"target: record p99 ≤ {RECORD_TARGET_MS:g} ms, {row.instances} instance(s) at {_num(row.rate)}/s:"
            f" {p99:.2f} ms → {verdict}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.screenpop", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[10, 100], help="calls/s (default 10 100)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of calls per row (default 5)")
    parser.add_argument("--instances", type=int, nargs="+", choices=(1, 2), default=[1, 2], help="default 1 2")
    parser.add_argument("--advisors", type=int, default=200, help="advisors logged in (default 200)")
    parser.add_argument("--context", choices=("db", "none"), default="db", help="pop context look-up (default db)")
    parser.add_argument(
        "--rounds",
        nargs="+",
        choices=("shared", "separate"),
        default=["shared"],
        help="Redis script calls batched for the whole instance (shared, as build_app) or per component",
    )
    parser.add_argument("--warmup", type=int, default=WARMUP, help=f"unmeasured calls first (default {WARMUP})")
    parser.add_argument(
        "--lookup-delay",
        type=float,
        default=0.0,
        metavar="MS",
        help="ms added to each continuity look-up, as from a busy database (default 0)",
    )
    args = parser.parse_args(argv)
    if min(args.rates) <= 0 or args.seconds <= 0 or args.advisors < 1 or args.warmup < 0:
        parser.error("--rates and --seconds must be > 0, --advisors ≥ 1, --warmup ≥ 0")
    if not 0 <= args.lookup_delay <= 10_000:
        parser.error("--lookup-delay must be between 0 and 10000 ms")
    try:
        result = run_bench(
            args.rates,
            args.seconds,
            args.instances,
            args.advisors,
            args.context,
            args.warmup,
            args.rounds,
            args.lookup_delay / 1000,
        )
    except (BenchError, aioredis.RedisError, asyncpg.PostgresError, OSError) as exc:
        print(f"bench.screenpop: {exc}", file=sys.stderr)
        return 1
    print(format_report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
