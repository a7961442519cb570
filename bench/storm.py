"""Event-storm benchmark: `/healthz` and the AMI watchdog while the peer floods the service (issue 11, item 12).

    python -m bench.storm [--calls 20000] [--variants before after] [--role follower|leader]

The service is `gps_admin.app.build_app`, as `gps-admin serve` runs it: real PostgreSQL (a throw-away database on
127.0.0.1:5432, migrated, dropped at the end), real Redis (`$GPS_TEST_REDIS`, database 11, flushed), the record spool
in a temporary folder, HTTP on a free loopback port, production AMI settings (a Ping every 5 s, 3 s to answer). Its
AMI is `bench.ami_peer` (Asterisk cannot be made to send a storm on demand). One row per variant, each with a fresh
service and database:

- `before`: the service loop never yields while events wait (`CallPipeline.yield_every = None`, as before the fix);
- `after`: the default (`telephony.pipeline.YIELD_EVERY` events or `TURN_BUDGET` seconds per loop turn at most).

`--role follower` (the default): another instance holds the router's lease (set in Redis before the start), so this
one only tracks: the edge, the tracker, the writer, and the router and pops following, the part this bench is
about. `--role leader`: this instance routes too; with no advisor logged in, every waiting call stays waiting, and
each router step (one per effect, one per continuity look-up) reads every waiting call: O(n²) over a storm.

In each row, once the AMI link is up, a child process (its own event loop, so its timings are not the service's)
requests `/healthz` every 50 ms, each on a fresh connection, and reports each latency; the peer then writes N new
calls (Newchannel + QueueCallerJoin each, on the public line) and their N hang-ups, as fast as the socket takes them.
The storm ends once the pipeline has applied every event; the row's figures cover the storm only.

Columns: `healthz` = requests answered during the storm, their latency p50 / p99 / max; `pong gap` = the longest
time between two Pings the peer answered, from the last Ping before the storm (the watchdog pings every 5 s: a gap
much beyond 5 s means the watchdog could not run); `aborts` = watchdog aborts (each one cut the link); `storm` =
first byte → last event applied; `events` = events applied. Performance is reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from pydantic import SecretStr

from bench.ami_peer import AmiPeer, storm
from bench.routing import percentile
from config.settings import Settings
from gps_admin.app import SERVICE, Endpoints, build_app
from storage.migrate import migrate

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
REDIS_URL = f"redis://{os.environ.get('GPS_TEST_REDIS', '127.0.0.1:6379')}/11"
VARIANTS = ("before", "after")

# The child process: GET /healthz every 50 ms on a fresh connection, one latency (ms) per line, until stdin closes.
_POLLER = r"""
import sys, threading, time, urllib.request, urllib.error
url = sys.argv[1]
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
while not stop.is_set():
    start = time.perf_counter()
    try:
        urllib.request.urlopen(url, timeout=30).read()
    except urllib.error.HTTPError:
        pass
    except OSError:
        print("error", flush=True)
        continue
    print(f"{start:.6f} {(time.perf_counter() - start) * 1000:.3f}", flush=True)
    time.sleep(0.05)
"""


class BenchError(Exception):
    pass


@dataclass(frozen=True)
class Row:
    variant: str
    role: str
    calls: int
    events: int
    storm_s: float
    healthz_ms: tuple[float, ...]
    pong_gap_s: float
    aborts: int
    disconnects: int


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(f"{PG_SERVER}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run_row(variant: str, calls: int, role: str = "follower") -> Row:
    name = f"gps_bench_{secrets.token_hex(6)}"
    await _admin(f'CREATE DATABASE "{name}"')
    dsn = f"{PG_SERVER}/{name}"
    redis = aioredis.from_url(REDIS_URL)
    await redis.flushdb()
    if role == "follower":  # another instance leads (telephony.router's lease key)
        await redis.set("gps:router:gps:lease", "bench-other-instance", px=3_600_000)
    await redis.aclose()
    try:
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        with tempfile.TemporaryDirectory(prefix="gps-storm-", ignore_cleanup_errors=True) as data_dir:
            async with AmiPeer() as peer:
                return await _storm(variant, role, calls, dsn, Path(data_dir), peer)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _storm(variant: str, role: str, calls: int, dsn: str, data_dir: Path, peer: AmiPeer) -> Row:
    settings = Settings(
        database_url=SecretStr(dsn),
        redis_url=SecretStr(REDIS_URL),
        data_dir=data_dir,
        ami_port=peer.port,
        ami_secret=SecretStr("bench"),
        http_port=0,
        log_level="WARNING",
    )
    app = await build_app(settings, Endpoints(dsn, REDIS_URL, auto_migrate=False))
    svc = app[SERVICE]
    if variant == "before":
        svc.pipeline.yield_every = None
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = int(runner.addresses[0][1])
    poller: asyncio.subprocess.Process | None = None
    try:
        await asyncio.wait_for(svc.ami.ready.wait(), 30)
        await asyncio.wait_for(peer.until(lambda: peer.pongs >= 1), 30)  # a Ping before the storm: the gap's start
        poller = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _POLLER,
            f"http://127.0.0.1:{port}/healthz",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        latencies: list[tuple[float, float]] = []
        assert poller.stdout is not None
        polling = asyncio.Event()
        reading = asyncio.create_task(_read(poller.stdout, latencies, polling))
        await asyncio.wait_for(polling.wait(), 30)  # the poller is up
        base_events = svc.pipeline.stats.events
        started = time.perf_counter()
        for chunk in storm(calls):
            peer.send(chunk)  # to the session(s) logged in now: a session the watchdog cut loses the rest
            await peer.drain()
        # every byte is in the service's socket: the storm ends when the service has read and applied it all
        expected = base_events + 3 * calls  # Newchannel, QueueCallerJoin, Hangup
        while svc.pipeline.stats.events < expected and svc.ami.stats.watchdog_aborts == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # the bench polls the service's counter (the service waits on nothing)
        await svc.pipeline.wait_idle()
        ended = time.perf_counter()
        assert poller.stdin is not None
        poller.stdin.close()
        await asyncio.wait_for(poller.wait(), 60)
        await reading
        pongs = [t for t in peer.pong_times if t <= ended]
        before_storm = [t for t in pongs if t < started]
        marks = [before_storm[-1] if before_storm else started, *[t for t in pongs if t >= started], ended]
        gap = max(b - a for a, b in itertools.pairwise(marks))
        during = tuple(ms for at, ms in latencies if at + ms / 1000 >= started and at <= ended)
        return Row(
            variant=variant,
            role=role,
            calls=calls,
            events=svc.pipeline.stats.events - base_events,
            storm_s=ended - started,
            healthz_ms=during,
            pong_gap_s=gap,
            aborts=svc.ami.stats.watchdog_aborts,
            disconnects=svc.ami.stats.disconnects,
        )
    finally:
        if poller is not None and poller.returncode is None:
            poller.kill()
            await poller.wait()
        await runner.cleanup()


async def _read(stream: asyncio.StreamReader, into: list[tuple[float, float]], first: asyncio.Event) -> None:
    async for line in stream:
        parts = line.decode().split()
        if len(parts) == 2:
            into.append((float(parts[0]), float(parts[1])))
            first.set()


def run_bench(calls: int, variants: Sequence[str], role: str = "follower") -> list[Row]:
    async def all_rows() -> list[Row]:
        return [await run_row(v, calls, role) for v in variants]

    return asyncio.run(all_rows())


def format_report(rows: Sequence[Row], command: str) -> str:
    lines = [
        f"command: {command}",
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; storm: N new calls then N hang-ups from the AMI"
        f" peer; this instance: {rows[0].role if rows else '?'}",
        f"{'variant':8} {'calls':>6} {'events':>7} {'storm s':>8} {'healthz':>8} {'p50 ms':>8} {'p99 ms':>9}"
        f" {'max ms':>9} {'pong gap s':>11} {'aborts':>7}",
    ]
    for r in rows:
        h = r.healthz_ms
        p50 = percentile(h, 0.5) if h else float("nan")
        p99 = percentile(h, 0.99) if h else float("nan")
        worst = max(h) if h else float("nan")
        lines.append(
            f"{r.variant:8} {r.calls:>6} {r.events:>7} {r.storm_s:>8.2f} {len(h):>8} {p50:>8.1f} {p99:>9.1f}"
            f" {worst:>9.1f} {r.pong_gap_s:>11.2f} {r.aborts:>7}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.storm", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000, help="new calls, then as many hang-ups (default 20000)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--role", choices=("follower", "leader"), default="follower", help="default follower")
    args = parser.parse_args(argv)
    if args.calls < 1:
        parser.error("--calls must be ≥ 1")
    logging.basicConfig(level=logging.ERROR)
    command = "python -m bench.storm " + " ".join(argv if argv is not None else sys.argv[1:])
    try:
        rows = run_bench(args.calls, args.variants, args.role)
    except (BenchError, aioredis.RedisError, asyncpg.PostgresError, OSError, subprocess.SubprocessError) as exc:
        print(f"bench.storm: {exc}", file=sys.stderr)
        return 1
    print(format_report(rows, command.strip()))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
