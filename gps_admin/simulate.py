"""`gps-admin simulate`: the PBX simulator as a load generator for a running service.

The simulator listens for AMI where the service expects Asterisk (`GPS_ADMIN_AMI_HOST`/`_PORT`, the same
username and secret), creates `--advisors` simulated advisors in the service's database (logins `sim01`…, phones
`Local/simNN@advisors`), makes them available through the service's router, and places calls at `--rate` per second
for `--duration` seconds (at most `--concurrent` at once). Simulated advisors acknowledge their pops and end their
wrap-up; `--qualify` also has them qualify each call. It prints a live summary every second, then a final table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import time

import asyncpg
import redis.asyncio as aioredis

from config.settings import Settings
from gps_admin.console import Subparsers, endpoints
from gps_admin.crew import Crew
from simulator.pbx import Pbx, Phone, QueueConfig
from simulator.server import AmiServer
from simulator.traffic import Callers, Mix, generate
from storage.advisors import AdvisorRepository
from storage.pool import create_pool
from storage.users import Role, User


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("simulate", help="load a running service with simulated calls (PBX simulator on its AMI port)")
    p.add_argument("--rate", type=float, default=1.0, help="calls per second (default 1)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of call arrivals (default 60)")
    p.add_argument("--concurrent", type=int, default=200, help="most calls at once (default 200)")
    p.add_argument("--advisors", type=int, default=8, help="simulated advisors (default 8)")
    p.add_argument("--talk", type=float, nargs=2, default=(5.0, 20.0), metavar=("MIN", "MAX"), help="talk seconds")
    p.add_argument("--abandon", type=float, default=0.08, help="share of impatient callers (default 0.08)")
    p.add_argument("--transfer", type=float, default=0.1, help="share of calls transferred to service 2001")
    p.add_argument("--repeat", type=float, default=0.25, help="share of callers who called before (default 0.25)")
    p.add_argument("--anonymous", type=float, default=0.04, help="share of withheld numbers")
    p.add_argument("--no-answer", type=float, default=0.05, help="share of rings the advisor's phone lets pass")
    p.add_argument(
        "--no-autofill",
        action="store_true",
        help="app_queue autofill=no (Asterisk's own default); default yes, as config/asterisk",
    )
    p.add_argument("--qualify", action="store_true", help="simulated advisors qualify each call")
    p.add_argument("--seed", type=int, default=None, help="random seed (same seed, same callers)")


def _check(args: argparse.Namespace) -> str | None:
    shares = {"--abandon": args.abandon, "--transfer": args.transfer, "--anonymous": args.anonymous,
              "--no-answer": args.no_answer, "--repeat": args.repeat}  # fmt: skip
    for name, value in shares.items():
        if not 0 <= value <= 1:
            return f"{name} must be between 0 and 1"
    if not 0 < args.rate <= 1000:
        return "--rate must be between 0 and 1000 calls per second"
    if not 0 < args.duration <= 86400:
        return "--duration must be between 0 and 86400 seconds"
    if not 1 <= args.advisors <= 999:
        return "--advisors must be between 1 and 999"
    if args.concurrent < 1:
        return "--concurrent must be at least 1"
    if not 0 <= args.talk[0] <= args.talk[1]:
        return "--talk MIN MAX with 0 <= MIN <= MAX"
    return None


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def run(args: argparse.Namespace, settings: Settings) -> int:
    problem = _check(args)
    if problem:
        print(f"gps-admin simulate: {problem}", file=sys.stderr)
        return 2
    with endpoints(settings, attach=True) as ep:
        try:
            return asyncio.run(_simulate(args, settings, ep.database_url, ep.redis_url))
        except OSError as exc:
            print(
                f"gps-admin simulate: cannot listen for AMI on {settings.ami_host}:{settings.ami_port}: {exc} "
                "(is an Asterisk or another simulator there?)",
                file=sys.stderr,
            )
            return 2
        except KeyboardInterrupt:
            return 130


async def _simulate(args: argparse.Namespace, settings: Settings, database_url: str, redis_url: str) -> int:
    rng = random.Random(args.seed)
    pbx = Pbx(
        line=settings.line,
        hours=None,
        queue=QueueConfig(name=settings.line.queue, ring_timeout=8, retry=1, autofill=not args.no_autofill),
    )
    pbx.phone_of = lambda _: Phone(answers=rng.random() >= args.no_answer, answer_after=rng.uniform(0.2, 1.0))
    server = AmiServer(pbx, settings.ami_username, settings.ami_secret.get_secret_value(), settings.ami_host,
                       settings.ami_port)  # fmt: skip
    await server.start()
    pool = await create_pool(database_url)
    redis = aioredis.from_url(redis_url)
    crew = Crew(settings, rng=rng)
    crew_task: asyncio.Task[None] | None = None
    try:
        print(f"simulate: AMI listening on {settings.ami_host}:{server.port}; waiting for the service to connect …",
              flush=True)  # fmt: skip
        await server.logged_in.wait()
        crew.members = await _advisors(pool, settings, args.advisors)
        print(f"simulate: service connected; {args.advisors} simulated advisors logging in", flush=True)
        crew_task = asyncio.create_task(crew.run(redis, pool, qualify=args.qualify))
        while len(pbx.members) < args.advisors and not crew_task.done():
            pbx.members_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pbx.members_changed.wait(), 1.0)
        mix = Mix(abandon=args.abandon, anonymous=args.anonymous, transfer=args.transfer, talk=tuple(args.talk),
                  repeat=args.repeat, service_talk=(1.0, 3.0))  # fmt: skip
        callers = Callers(mix=mix, services=("2001",), seed=args.seed)
        started = time.monotonic()
        last = [0.0]

        def live() -> None:
            now = time.monotonic()
            if now - last[0] < 1.0:
                return
            last[0] = now
            s = pbx.stats
            print(
                f"  {now - started:6.1f} s  placed {s.calls:6d}  in progress {len(pbx.calls):4d}  "
                f"waiting {len(pbx.waiting):4d}  answered {s.answered:6d}  abandoned {s.abandoned:5d}  "
                f"transferred {s.transferred:5d}",
                flush=True,
            )

        await generate(pbx, callers, args.rate, duration=args.duration, max_concurrent=args.concurrent, on_tick=live)
        print("simulate: arrivals over; letting the calls in progress end …", flush=True)
        while pbx.tasks:
            live()
            await asyncio.wait(set(pbx.tasks), timeout=1.0)
        _table(args, pbx, time.monotonic() - started)
        return 0
    finally:
        if crew_task is not None:
            crew_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await crew_task
        for advisor_id in crew.members:
            with contextlib.suppress(Exception):
                await crew.command(redis, advisor_id, "logout")
        await pbx.close()
        await server.close()
        await redis.aclose()
        await pool.close()


async def _advisors(pool: asyncpg.Pool, settings: Settings, count: int) -> dict[int, User]:
    repo = AdvisorRepository(pool, settings.routing.skills)
    out: dict[int, User] = {}
    for n in range(1, count + 1):
        login = f"sim{n:02d}"
        found = await repo.by_login(login)
        if found is None:
            found = await repo.add(login, f"Conseiller simulé {n}", f"Local/{login}@advisors")
        out[found.id] = User(id=0, login=login, name=found.name, role=Role.ADVISOR)
    return out


def _table(args: argparse.Namespace, pbx: Pbx, elapsed: float) -> None:
    s = pbx.stats
    ended = s.answered + s.abandoned + s.closed
    rows = [
        ("command", "gps-admin simulate " + " ".join(sys.argv[2:])),
        ("duration (s)", f"{elapsed:.1f}"),
        ("calls placed", str(s.calls)),
        ("not placed (concurrency cap)", str(s.skipped)),
        ("answered", str(s.answered)),
        ("abandoned", str(s.abandoned)),
        ("out of hours", str(s.closed)),
        ("transferred", str(s.transferred)),
        ("rings not answered", str(s.no_answer_rings)),
        ("answered share", f"{100 * s.answered / ended:.1f} %" if ended else "-"),
        ("wait to answer p50 (s)", f"{percentile(s.waits, 0.5):.2f}"),
        ("wait to answer p95 (s)", f"{percentile(s.waits, 0.95):.2f}"),
        ("wait to answer max (s)", f"{max(s.waits, default=float('nan')):.2f}"),
        ("most callers waiting at once", str(s.max_waiting)),
        ("AMI actions from the service", f"{s.actions} ({s.refused_actions} refused)"),
    ]
    width = max(len(k) for k, _ in rows)
    print("\nsimulate: final table")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    sys.stdout.flush()
