"""The wallboard's lag behind the AMI (issue 12 item 10: "at 100 calls/s the live figures stay ≤ 1 s behind").

    python -m bench.wallboard --live [--rates 10 100] [--seconds 10] [--wait 3] [--role leader|follower]

The service is `gps_admin.app.build_app`, as `gps-admin serve` runs it: real PostgreSQL (a throw-away database on
127.0.0.1:5432, migrated, dropped at the end of each row), real Redis (`$GPS_TEST_REDIS`, database 12, flushed), the
record spool in a temporary folder, HTTP on a free loopback port, the line open all day. Its AMI is `bench.ami_peer`
(Asterisk cannot place 100 calls a second on the rig). `--role leader` (the default): this instance holds the
router's lease, as a one-instance deployment; `follower`: another instance holds it.

A supervisor's browser (`bench.wallboard_watcher`, a child process: its own event loop) logs in through the form,
opens `/ws/supervision` and, as `supervision.js`, reads `GET /api/supervision` at each "wallboard" message (one
read at a time, one more when a message came meanwhile). Then the peer sends, on an absolute schedule, R new calls a
second for S seconds on the public line (Newchannel + QueueCallerJoin, each stamped with the wall clock), and W
seconds after each its abandon (QueueCallerAbandon + QueueCallerLeave + Hangup): no advisor is logged in, so every
call waits, is abandoned, and its record is written to PostgreSQL, where today's figures are read from.

Lags, per call, from `time.perf_counter()` just before the peer writes the event (CLOCK_MONOTONIC: the same clock
in the watcher's process) to the first snapshot the watcher has read that shows it:
- `join`: the call is among the calls waiting (the live view → notifier → hub → snapshot path);
- `gone`: after its hang-up, the call is no longer waiting;
- `figures`: after its hang-up, today's « Appels présentés » counts it (the pipeline → record writer → PostgreSQL
  commit → notifier → snapshot's SQL path): the k-th hang-up is shown once `offered` ≥ k.
A call that no snapshot showed waiting (it joined and left between two reads: possible only if a read came more
than W seconds late) is counted as `unseen`. The baseline is the same stream at the first (lower) rate in the same
run, and the snapshot's own time (`get`, the GET's duration). Nothing is asserted on time.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import os
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from pydantic import SecretStr

from bench.ami_peer import AmiPeer
from bench.routing import percentile
from config.settings import WEEKDAYS, OpeningHours, OpeningSpan, Settings
from gps_admin.app import SERVICE, Endpoints, build_app
from storage.migrate import migrate
from storage.pool import create_pool
from storage.users import Role, UserRepository

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
REDIS_URL = f"redis://{os.environ.get('GPS_TEST_REDIS', '127.0.0.1:6379')}/12"
SUPERVISOR, PASSWORD = "superviseur-banc", "mot-de-passe-du-banc-live"
WITHIN = 120.0  # seconds: any single wait of the bench (start, the last record shown) beyond it fails the row
TARGET_S = 1.0


class BenchError(Exception):
    pass


@dataclass
class Snap:
    done: float
    get_ms: float
    waiting: frozenset[str]
    offered: float


@dataclass
class Row:
    rate: float
    seconds: float
    wait: float
    role: str
    calls: int
    joins: list[float] = field(default_factory=list)  # perf_counter before each call's join was written
    ends: list[float] = field(default_factory=list)  # … before its hang-up was written
    ids: list[str] = field(default_factory=list)
    snaps: list[Snap] = field(default_factory=list)
    told: int = 0  # wallboard messages the service offered its sockets
    late_max_ms: float = 0.0  # how late the scheduler wrote an event, at worst
    records: int = 0
    cpu_ms: float = 0.0  # the service process's CPU per call (the watcher is another process)

    def lags(self) -> tuple[list[float], list[float], list[float], int]:
        """(join, gone, figures) lags in ms, and how many calls no snapshot showed waiting."""
        snaps = sorted(self.snaps, key=lambda s: s.done)
        times = [s.done for s in snaps]
        join: list[float] = []
        gone: list[float] = []
        unseen = 0
        for lid, t_join, t_end in zip(self.ids, self.joins, self.ends, strict=True):
            first = bisect.bisect_right(times, t_join)
            shown = next((s for s in snaps[first:] if lid in s.waiting), None)
            if shown is None:
                unseen += 1
            else:
                join.append((shown.done - t_join) * 1000)
            after = bisect.bisect_right(times, t_end)
            left = next((s for s in snaps[after:] if lid not in s.waiting), None)
            if left is not None:
                gone.append((left.done - t_end) * 1000)
        figures: list[float] = []
        for k, t_end in enumerate(sorted(self.ends), start=1):
            after = bisect.bisect_right(times, t_end)
            counted = next((s for s in snaps[after:] if s.offered >= k), None)
            if counted is not None:
                figures.append((counted.done - t_end) * 1000)
        return join, gone, figures, unseen


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _snapshot_fields(n: int, uid: str, ts: float) -> str:
    return (
        f"Channel: PJSIP/trunk-{n:08x}\r\nChannelState: 6\r\nCallerIDNum: 03210{n % 100000:05d}\r\n"
        f"CallerIDName: Appelant {n}\r\nContext: public\r\nExten: 0800123456\r\nUniqueid: {uid}\r\n"
        f"Linkedid: {uid}\r\nTimestamp: {ts:.6f}\r\n"
    )


def joined(n: int, uid: str, ts: float) -> bytes:
    """A new call on the public line that joins the queue (as bench.ami_peer.storm, stamped `ts`)."""
    snap = _snapshot_fields(n, uid, ts)
    return (
        f"Event: Newchannel\r\nPrivilege: call,all\r\n{snap}\r\n"
        f"Event: QueueCallerJoin\r\nPrivilege: agent,all\r\n{snap}Queue: gps\r\nPosition: 1\r\nCount: 1\r\n\r\n"
    ).encode()


def abandoned(n: int, uid: str, ts: float, held: float) -> bytes:
    """The caller hangs up while waiting: app_queue's abandon and leave, then the channel's hang-up."""
    snap = _snapshot_fields(n, uid, ts)
    return (
        f"Event: QueueCallerAbandon\r\nPrivilege: agent,all\r\n{snap}Queue: gps\r\nPosition: 1\r\n"
        f"OriginalPosition: 1\r\nHoldTime: {round(held)}\r\n\r\n"
        f"Event: QueueCallerLeave\r\nPrivilege: agent,all\r\n{snap}Queue: gps\r\nPosition: 1\r\nCount: 0\r\n\r\n"
        f"Event: Hangup\r\nPrivilege: call,all\r\n{snap}Cause: 16\r\nCause-txt: Normal Clearing\r\n\r\n"
    ).encode()


def always_open(tz: str) -> OpeningHours:
    """Open all day, every day (today included, even a public holiday): every call of the bench is offered."""
    day = (OpeningSpan(start=dtime(0), end=dtime.max),)
    today = datetime.now(ZoneInfo(tz)).date()
    return OpeningHours(timezone=tz, week=dict.fromkeys(WEEKDAYS, day), open_dates=(today,))


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(f"{PG_SERVER}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run_row(rate: float, seconds: float, wait: float, role: str) -> Row:
    name = f"gps_bench_{secrets.token_hex(6)}"
    await _admin(f'CREATE DATABASE "{name}"')
    dsn = f"{PG_SERVER}/{name}"
    redis = aioredis.from_url(REDIS_URL)
    await redis.flushdb()
    if role == "follower":  # another instance leads (telephony.router's lease key)
        await redis.set("gps:router:gps:lease", "bench-other-instance", px=3_600_000)
    await redis.aclose()
    try:
        pool = await create_pool(dsn)
        try:
            await migrate(pool)
            await UserRepository(pool).add(SUPERVISOR, "Sam Banc", Role.SUPERVISOR, PASSWORD)
        finally:
            await pool.close()
        with tempfile.TemporaryDirectory(prefix="gps-wallboard-", ignore_cleanup_errors=True) as data_dir:
            async with AmiPeer() as peer:
                return await _row(rate, seconds, wait, role, dsn, Path(data_dir), peer)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _read(stream: asyncio.StreamReader, row: Row, ready: asyncio.Event, shown: asyncio.Event) -> None:
    async for line in stream:
        body: dict[str, Any] = json.loads(line)
        if body.get("ready"):
            ready.set()
            continue
        row.snaps.append(Snap(body["done"], body["get_ms"], frozenset(body["waiting"]), body["offered"] or 0))
        if (body["offered"] or 0) >= row.calls and row.calls and not body["waiting"]:
            shown.set()


async def _row(rate: float, seconds: float, wait: float, role: str, dsn: str, data_dir: Path, peer: AmiPeer) -> Row:
    port = _free_port()
    tz = "Europe/Paris"
    settings = Settings(
        database_url=SecretStr(dsn),
        redis_url=SecretStr(REDIS_URL),
        data_dir=data_dir,
        ami_port=peer.port,
        ami_secret=SecretStr("bench"),
        http_host="127.0.0.1",
        http_port=port,
        log_level="WARNING",
        hours=always_open(tz),
    )
    app = await build_app(settings, Endpoints(dsn, REDIS_URL, auto_migrate=False))
    svc = app[SERVICE]
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    url = f"http://127.0.0.1:{port}"
    watcher: asyncio.subprocess.Process | None = None
    count = max(1, round(rate * seconds))
    row = Row(rate=rate, seconds=seconds, wait=wait, role=role, calls=count)
    try:
        await asyncio.wait_for(svc.ami.ready.wait(), 30)
        if role == "leader":
            deadline = time.monotonic() + 30
            while not svc.router.leader:
                if time.monotonic() > deadline:
                    raise BenchError("the router did not take the lease")
                await asyncio.wait_for(svc.router.changed.wait(), 30)
        await asyncio.wait_for(svc.wallboard.ready.wait(), 30)
        watcher = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.wallboard_watcher",
            url,
            SUPERVISOR,
            PASSWORD,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert watcher.stdout is not None
        ready, shown = asyncio.Event(), asyncio.Event()
        reading = asyncio.create_task(_read(watcher.stdout, row, ready, shown))
        await asyncio.wait_for(ready.wait(), 60)
        row.snaps.clear()  # the first read, before any call
        told = svc.wallboard.told
        prefix = int(time.time()) % 1_000_000_000 + 1_000_000_000
        row.ids = [f"{prefix}.{n}" for n in range(count)]
        row.joins, row.ends = [0.0] * count, [0.0] * count
        # (due, kind, n): kind 0 = join, 1 = abandon; both on one absolute schedule
        plan = sorted([(n / rate, 0, n) for n in range(count)] + [(n / rate + wait, 1, n) for n in range(count)])
        loop = asyncio.get_running_loop()
        cpu = time.process_time()
        start = loop.time() + 0.05
        for due, kind, n in plan:
            delay = start + due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            row.late_max_ms = max(row.late_max_ms, (loop.time() - start - due) * 1000)
            now = time.perf_counter()
            if kind == 0:
                row.joins[n] = now
                peer.send(joined(n, row.ids[n], time.time()))
            else:
                row.ends[n] = now
                peer.send(abandoned(n, row.ids[n], time.time(), wait))
            await peer.drain()
        try:
            await asyncio.wait_for(shown.wait(), WITHIN)
        except TimeoutError:
            last = row.snaps[-1] if row.snaps else Snap(0.0, 0.0, frozenset(), 0.0)
            raise BenchError(
                f"{rate:g}/s: the wallboard never showed the {count} calls offered and none waiting "
                f"(last snapshot: offered {last.offered:g}, waiting {len(last.waiting)})"
            ) from None
        row.cpu_ms = (time.process_time() - cpu) * 1000 / count
        row.told = svc.wallboard.told - told
        row.records = int(await svc.pool.fetchval("SELECT count(*) FROM call_records"))
        assert watcher.stdin is not None
        watcher.stdin.close()
        await asyncio.wait_for(watcher.wait(), 60)
        await reading
        return row
    finally:
        if watcher is not None and watcher.returncode is None:
            watcher.kill()
            await watcher.wait()
        await runner.cleanup()


def _ms(values: Sequence[float], q: float) -> str:
    return f"{percentile(list(values), q):.0f}" if values else "—"


def format_report(rows: Sequence[Row], command: str) -> str:
    lines = [
        f"command: {command}",
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; the service"
        f" (build_app, {rows[0].role if rows else '?'}) on real PostgreSQL and Redis, its AMI a bench.ami_peer;"
        " the supervisor's browser in a child process",
        "lag (ms) = the AMI event written by the peer → the first snapshot the wallboard read showing it;"
        " p50 / p95 / max, nearest rank",
        f"{'rate/s':>6} {'calls':>6} {'join p50':>8} {'p95':>5} {'max':>5} {'gone p50':>8} {'p95':>5} {'max':>5}"
        f" {'figs p50':>8} {'p95':>5} {'max':>5} {'unseen':>6} {'reads':>5} {'get p50':>7} {'p95':>5}"
        f" {'late':>5} {'cpu/call':>8}",
    ]
    for r in rows:
        join, gone, figures, unseen = r.lags()
        gets = [s.get_ms for s in r.snaps]
        lines.append(
            f"{r.rate:>6g} {r.calls:>6} {_ms(join, 0.5):>8} {_ms(join, 0.95):>5} {_ms(join, 1.0):>5}"
            f" {_ms(gone, 0.5):>8} {_ms(gone, 0.95):>5} {_ms(gone, 1.0):>5} {_ms(figures, 0.5):>8}"
            f" {_ms(figures, 0.95):>5} {_ms(figures, 1.0):>5} {unseen:>6} {len(r.snaps):>5} {_ms(gets, 0.5):>7}"
            f" {_ms(gets, 0.95):>5} {r.late_max_ms:>5.0f} {r.cpu_ms:>8.2f}"
        )
    lines.append(
        "(join: the call shown waiting; gone: no longer waiting after its hang-up; figs: counted in today's offered"
        " calls, read from PostgreSQL; reads: snapshots read; get: GET /api/supervision ms; late: scheduler lag ms;"
        " cpu/call: the service process's CPU ms per call)"
    )
    for r in rows:
        join, gone, figures, unseen = r.lags()
        worst = max([*join, *gone, *figures], default=float("inf"))
        verdict = "PASS" if worst <= TARGET_S * 1000 and not unseen else "FAIL"
        lines.append(
            f"checked {r.rate:g}/s: {r.calls} calls, {r.records} records committed, {r.told} wallboard messages;"
            f" target ≤ {TARGET_S * 1000:.0f} ms behind at worst: {worst:.0f} ms → {verdict}"
        )
    return "\n".join(lines)


def run_bench(rates: Sequence[float], seconds: float, wait: float, role: str) -> list[Row]:
    async def rows() -> list[Row]:
        return [await run_row(rate, seconds, wait, role) for rate in rates]

    return asyncio.run(rows())


def main(argv: Sequence[str]) -> int:
    import argparse
    import logging

    parser = argparse.ArgumentParser(prog="python -m bench.wallboard --live", description=__doc__.split("\n\n")[0])
    parser.add_argument("--live", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rates", type=float, nargs="+", default=[10, 100], help="calls/s (default 10 100)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of new calls per row (default 10)")
    parser.add_argument("--wait", type=float, default=3.0, help="seconds each caller waits before hanging up")
    parser.add_argument("--role", choices=("leader", "follower"), default="leader")
    args = parser.parse_args(list(argv))
    if (
        min(args.rates) <= 0
        or args.seconds <= 0
        or not 0.5 <= args.wait <= 60
        or max(args.rates) * args.seconds > 20_000
    ):
        parser.error("--rates and --seconds > 0 (at most 20,000 calls a row), --wait in [0.5, 60] s")
    logging.basicConfig(level=logging.ERROR)
    command = "python -m bench.wallboard " + " ".join(argv)
    try:
        rows = run_bench(args.rates, args.seconds, args.wait, args.role)
    except (BenchError, aioredis.RedisError, asyncpg.PostgresError, OSError) as exc:
        print(f"bench.wallboard --live: {exc}", file=sys.stderr)
        return 1
    print(format_report(rows, command.strip()))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1:]))
