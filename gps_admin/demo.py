"""`gps-admin demo`: the whole product on one machine with nothing installed.

Embedded PostgreSQL and Redis under a data folder (default `<data_dir>/demo`), the PBX simulator speaking AMI on a
loopback port (the service connects to it exactly as to Asterisk: same settings, same code), demo advisors,
services and accounts, a simulated crew (seven advisors whose phones answer, who qualify their calls and end their
wrap-up) and callers at a gentle rate. One advisor account is for the person trying the demo.

The line of the demo is open every day, closed five minutes in every hour so that out-of-hours calls show too; the
first closure comes 55 minutes after the demo starts (someone trying it never meets a closed line at once).

Skill routing shows too: each simulated advisor has one skill (they come from different services) and the demo
user's advisor, agnes, has them all, so a call whose topic's specialist is busy comes to her when she is available.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import random
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web
from pydantic import SecretStr

from config.settings import WEEKDAYS, OpeningHours, OpeningSpan, Settings
from gps_admin.app import SERVICE, StartupError, build_app
from gps_admin.console import Subparsers, endpoints
from gps_admin.crew import Crew
from gps_admin.directory import seed_demo as seed_demo_directory
from gps_admin.history import load as load_history
from gps_admin.history import months_before, plan_for
from simulator.history import PREFIX as history_prefix
from simulator.pbx import Pbx, Phone, QueueConfig
from simulator.server import AmiServer
from simulator.traffic import Callers, Mix, generate
from storage.advisors import AdvisorRepository
from storage.directory import DirectoryStore
from storage.history import inputs as history_inputs
from storage.services import ServiceRepository
from storage.users import Role, User, UserRepository
from telephony.hours import is_open

log = logging.getLogger("gps_admin.demo")

HUMAN = ("agnes", "Agnès Leroy")  # the advisor account of the person trying the demo
CREW = (  # login, name, the one skill (settings.routing.skills key) of the service they come from
    ("bruno", "Bruno Delattre", "taxes"),
    ("chloe", "Chloé Vasseur", "secondary_schools"),
    ("didier", "Didier Caron", "health"),
    ("elise", "Élise Lefebvre", "elderly"),
    ("fabrice", "Fabrice Dufour", "disability"),
    ("gaelle", "Gaëlle Bécourt", "social_aid"),
    ("hugo", "Hugo Lemaire", "roads"),
)
ACCOUNTS = (("agnes", "Agnès Leroy", Role.ADVISOR), ("superviseur", "Sam Carpentier", Role.SUPERVISOR),
            ("admin", "Alex Deprez", Role.ADMIN), ("redaction", "Romane Dufresne", Role.EDITOR))  # fmt: skip
EDITOR_SERVICE = "Action sociale — RSA"  # the service the demo's editor writes the knowledge base for
CLOSED: dict[str, list[list[str]]] = {}  # no span on any day: the desk refuses a transfer there
SERVICES: tuple[tuple[str, str, tuple[str, ...], dict[str, list[list[str]]] | None], ...] = (
    ("Service des routes", "2001", ("roads",), None),  # None: always open
    ("Collèges — transports scolaires", "2002", ("secondary_schools",), None),
    ("Autonomie — personnes âgées et handicapées", "2003", ("elderly", "disability"), None),
    ("Action sociale — RSA", "2004", ("social_aid",), None),
    ("Archives départementales", "2005", (), CLOSED),
)
MINUTES_A_DAY = 24 * 60


def demo_hours(start: datetime, timezone: str = "Europe/Paris") -> OpeningHours:
    """Open every day (public holidays of the next 30 days included), closed five minutes in every hour: from the
    minute 55 minutes after `start` (timezone-aware), so that a demo starts with 55 open minutes."""
    local = start.astimezone(ZoneInfo(timezone))
    first = (local.minute + 55) % 60  # the minute of each hour where the closure begins
    closed = {(h * 60 + first + k) % MINUTES_A_DAY for h in range(24) for k in range(5)}
    spans: list[OpeningSpan] = []
    minute = 0
    while minute < MINUTES_A_DAY:
        if minute in closed:
            minute += 1
            continue
        end = minute
        while end < MINUTES_A_DAY and end not in closed:
            end += 1
        spans.append(OpeningSpan(start=_clock(minute), end=_clock(end)))
        minute = end
    today = local.date()
    return OpeningHours(
        timezone=timezone,
        week=dict.fromkeys(WEEKDAYS, tuple(spans)),
        open_dates=tuple(today + timedelta(d) for d in range(-1, 30)),
    )


def first_closure(hours: OpeningHours, now: datetime) -> datetime | None:
    """The first minute within the next two hours at which the line is closed (local time), if any."""
    zone = ZoneInfo(hours.timezone)
    start = now.astimezone(zone).replace(second=0, microsecond=0)
    return next(
        (at for at in (start + timedelta(minutes=m) for m in range(1, 121)) if not is_open(at, hours)),
        None,
    )


def _clock(minute: int) -> time:
    """The time of day `minute` minutes after midnight; the day's end (1440) is the last instant of the day."""
    return time.max if minute == MINUTES_A_DAY else time(minute // 60, minute % 60)


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Demo:
    settings: Settings
    rate: float
    pbx: Pbx
    server: AmiServer
    crew: Crew  # shares `rng`
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    history_months: int = 6  # of example history before the first start's day (0: none)

    def phone(self, interface: str) -> Phone:
        """Crew phones answer after 1-4 s, and 6 % of the time not at all; the demo user's headset after 2 s."""
        if interface == f"Local/{HUMAN[0]}@advisors":
            return Phone(answers=True, answer_after=2.0)
        return Phone(answers=self.rng.random() > 0.06, answer_after=self.rng.uniform(1.0, 4.0))


async def seed(pool: asyncpg.Pool, settings: Settings) -> tuple[dict[str, int], list[tuple[str, str, str]], bool]:
    """Demo advisors, services and accounts. Accounts get fresh passwords at every start (printed once, never
    stored in clear). Returns advisor ids by login, (login, role, password) and whether this was the first start."""
    advisors = AdvisorRepository(pool, settings.routing.skills)
    ids: dict[str, int] = {}
    first = await advisors.by_login(HUMAN[0]) is None
    everything = [skill for _, _, skill in CREW]
    for login, name, skills in (
        (*HUMAN, everything),
        *((login, name, [skill]) for login, name, skill in CREW),
    ):
        found = await advisors.by_login(login)
        if found is None:
            found = await advisors.add(login, name, f"Local/{login}@advisors", skills)
        elif found.skills != frozenset(skills):  # a data folder of an older demo
            found = await advisors.update(found.id, skills=skills)
        ids[login] = found.id
    services = ServiceRepository(pool, settings.desk.topics)
    known = {s.extension for s in await services.list()}
    for name, extension, topics, hours in SERVICES:
        if extension not in known:
            await services.add(name, extension, topics, hours)
    await seed_demo_directory(pool, settings)  # the partners of the Pas-de-Calais (made-up contacts)
    await _knowledge(pool, settings)
    users = UserRepository(pool)
    service_ids = {s.name: s.id for s in await services.list()}
    printed = []
    for login, name, role in ACCOUNTS:
        password = secrets.token_urlsafe(9)
        user = await users.by_login(login)
        if user is None:
            service_id = service_ids.get(EDITOR_SERVICE) if role is Role.EDITOR else None
            if role is Role.EDITOR and service_id is None:  # a data folder whose services were renamed
                log.warning("demo editor %s not created: no service named %s", login, EDITOR_SERVICE)
                continue
            await users.add(login, name, role, password, ids.get(login), service_id)
        else:
            await users.set_password(user.id, password)
        printed.append((login, role.value, password))
    return ids, printed, first


async def _knowledge(pool: asyncpg.Pool, settings: Settings) -> None:
    """The knowledge base's demo content (national subset, example articles): loaded once, unchanged after."""
    from screenpop.knowledge.errors import ImportRefused
    from screenpop.knowledge.imports import load_demo

    try:
        fiches, articles = await load_demo(pool, settings.desk)
    except ImportRefused as exc:  # e.g. a data folder whose services were renamed: the demo runs without it
        log.warning("demo knowledge base not loaded: %s %s", exc.message, exc.problems[:3])
        return
    log.info("demo knowledge base: %d national fiches, %d example articles added", fiches.created, articles.created)


async def _crew_ctx(app: web.Application) -> AsyncIterator[None]:
    demo = app[DEMO]
    svc = app[SERVICE]
    settings = demo.settings
    ids, accounts, first = await seed(svc.pool, settings)
    demo.crew.members = {ids[login]: User(id=0, login=login, name=name, role=Role.ADVISOR) for login, name, _ in CREW}
    url = f"http://{settings.http_host}:{settings.http_port}/"
    closes = first_closure(settings.hours, datetime.now(UTC))
    lines = [
        "",
        "GPS administration — DEMO (simulated calls, made-up people)",
        f"  open {url} and log in as one of these accounts (passwords new at every start, shown only here):",
        *(f"    {login:<12} {role:<11} {password}" for login, role, password in accounts),
        f"  {len(CREW)} simulated advisors answer; callers arrive about every {1 / demo.rate:.0f} s"
        f" (PBX simulator on AMI 127.0.0.1:{demo.server.port}).",
        "  Log in as agnes and press « Disponible » to take calls yourself: each simulated advisor knows one topic,"
        " agnes knows them all,",
        "  so a caller whose topic's specialist is busy comes to her first. Ctrl-C stops everything.",
        f"  Log in as redaction to write the knowledge base for « {EDITOR_SERVICE} » (/connaissances); agnes finds"
        " its articles on the desk (Alt+K).",
        f"  The line closes five minutes in every hour (out-of-hours calls), next at {closes:%H:%M}"
        f" ({settings.hours.timezone} time)."
        if closes is not None
        else "",
        "" if first else "  (existing demo data reused: call history is kept in the data folder)",
    ]
    print("\n".join(lines), flush=True)
    demo.tasks = [
        asyncio.create_task(demo.crew.run(svc.redis, svc.pool), name="demo-crew"),
        asyncio.create_task(_traffic(demo, await organisation_callers(svc.pool)), name="demo-traffic"),
        asyncio.create_task(_summary(demo), name="demo-summary"),
    ]
    if demo.history_months > 0:
        demo.tasks.append(asyncio.create_task(_history(demo, svc.pool), name="demo-history"))
    yield
    for task in demo.tasks:
        task.cancel()
    for task in demo.tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    await demo.pbx.close()


async def _sim_ctx(app: web.Application) -> AsyncIterator[None]:
    demo = app[DEMO]
    await demo.server.start()
    yield
    await demo.server.close()


async def organisation_callers(pool: asyncpg.Pool) -> tuple[tuple[str, str], ...]:
    """The demo directory's town halls and partners that call the line: (national number, name), so that the demo
    shows callers recognised (« Mairie de … » and its commune's recent calls)."""
    found = await DirectoryStore(pool).partner_numbers(source="demo")
    return tuple(("0" + number[3:], name) for number, name in found if number.startswith("+33") and len(number) == 12)


async def _traffic(demo: Demo, organisations: tuple[tuple[str, str], ...] = ()) -> None:
    services = tuple(extension for _, extension, _, hours in SERVICES if hours is None)
    # one call in ten from a town hall or a partner of the demo directory
    callers = Callers(
        mix=Mix(talk=(15.0, 60.0), organisation=0.1, hold=0.15), services=services, organisations=organisations
    )
    await asyncio.sleep(3)  # the crew logs in first
    await generate(demo.pbx, callers, demo.rate)


async def _history(demo: Demo, pool: asyncpg.Pool) -> None:
    """The example history (`gps_admin.history`): `history_months` before today, the demo's eight advisors, loaded once
    in the background while the demo runs, its progress printed."""
    settings = demo.settings
    today = datetime.now(ZoneInfo(settings.hours.timezone)).date()
    inputs = await history_inputs(pool, settings.desk.departement, [HUMAN[0], *(login for login, _, _ in CREW)])
    plan = plan_for(inputs, settings, months_before(today, demo.history_months), today)
    shown = [0]

    def progress(day: date, calls: int, expected: int) -> None:
        share = min(99, 100 * calls // max(expected, 1))
        if share >= shown[0] + 25:
            shown[0] = share - share % 25
            print(f"demo: example history {share} % ({calls} calls, up to {day:%d/%m/%Y})", flush=True)

    try:
        loaded = await load_history(pool, plan, progress=progress)
    except (asyncpg.PostgresError, OSError) as exc:
        log.warning("demo example history not loaded: %s", exc)
        return
    if not loaded.skipped:
        print(
            f"demo: example history loaded: {loaded.calls} calls and {loaded.events} presence events from "
            f"{plan.start:%d/%m/%Y} to {plan.end - timedelta(days=1):%d/%m/%Y} in {loaded.seconds:.1f} s "
            f"(linkedid « {history_prefix}… »)",
            flush=True,
        )


async def _summary(demo: Demo, every: float = 30.0) -> None:
    while True:
        await asyncio.sleep(every)
        s = demo.pbx.stats
        print(
            f"demo: {s.calls} calls · {s.answered} answered · {s.abandoned} abandoned · {s.closed} out of hours · "
            f"{s.transferred} transferred · {len(demo.pbx.waiting)} waiting now",
            flush=True,
        )


DEMO = web.AppKey("demo", Demo)


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("demo", help="run the whole product with a PBX simulator and embedded storage")
    p.add_argument("--port", type=int, default=None, help="HTTP port (default: GPS_ADMIN_HTTP_PORT or 8080)")
    p.add_argument("--data-dir", type=Path, default=None, help="data folder (default: <data_dir>/demo)")
    p.add_argument("--rate", type=float, default=1 / 8, help="calls per second (default: one every 8 s)")
    p.add_argument(
        "--history-months",
        type=int,
        default=6,
        help="months of example call history loaded once before today, in the background (default 6; 0: none)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not 0 <= args.history_months <= 36:
        print("gps-admin demo: --history-months must be between 0 and 36", file=sys.stderr)
        return 2
    if not 0 < args.rate <= 50:
        print("gps-admin demo: --rate must be between 0 and 50 calls per second", file=sys.stderr)
        return 2
    port = settings.http_port if args.port is None else args.port
    if not 0 < port < 65536:
        print("gps-admin demo: --port must be between 1 and 65535", file=sys.stderr)
        return 2
    if not port_free(settings.http_host, port):
        print(
            f"gps-admin demo: port {port} on {settings.http_host} is already taken by another program; "
            f"choose another one: gps-admin demo --port {port + 1}",
            file=sys.stderr,
        )
        return 2
    secret = secrets.token_urlsafe(18)
    ami_port = free_port()
    settings = settings.model_copy(
        update={
            "data_dir": args.data_dir or settings.data_dir / "demo",
            "http_port": port,
            "ami_host": "127.0.0.1",
            "ami_port": ami_port,
            "ami_secret": SecretStr(secret),
            "hours": demo_hours(datetime.now(UTC), settings.hours.timezone),
            "database_url": None,
            "redis_url": None,
        }
    )
    pbx = Pbx(
        line=settings.line,
        hours=settings.hours,
        queue=QueueConfig(name=settings.line.queue, ring_timeout=12.0, retry=2.0),
    )
    server = AmiServer(pbx, settings.ami_username, secret, port=ami_port)
    rng = random.Random()
    demo = Demo(
        settings=settings,
        rate=args.rate,
        pbx=pbx,
        server=server,
        crew=Crew(settings, rng=rng),
        rng=rng,
        history_months=args.history_months,
    )
    pbx.phone_of = demo.phone
    with endpoints(settings) as ep:

        async def make() -> web.Application:
            app = await build_app(settings, ep, demo=True)
            app[DEMO] = demo
            app.cleanup_ctx.insert(0, _sim_ctx)
            app.cleanup_ctx.append(_crew_ctx)
            return app

        try:
            web.run_app(
                make(),
                host=settings.http_host,
                port=port,
                print=lambda _: print(f"gps-admin demo ready on http://{settings.http_host}:{port}/", flush=True),
            )
        except StartupError as exc:
            print(f"gps-admin demo: cannot start: {exc}", file=sys.stderr)
            return 2
    return 0
