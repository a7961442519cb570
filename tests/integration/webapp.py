"""The real application (`gps_admin.app.build_app`, as `gps-admin serve` builds it) served on 127.0.0.1 over real
PostgreSQL and Redis, connected to the real Asterisk of the rig, with one account per role and browser-like HTTP
clients logged in as each (the login form, its cookies, the session's CSRF token).

Used by the tests that probe the HTTP surface as a user and as an attacker would: the role × route table, bad input,
the schemathesis run over /openapi.json.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from pydantic import SecretStr
from yarl import URL

from config.settings import DeskSettings, OpeningHours, load_settings
from gps_admin.app import SERVICE, Endpoints, build_app
from screenpop.knowledge.models import ArticleInput
from screenpop.knowledge.service import KnowledgeService
from screenpop.knowledge.workflow import Action
from storage.advisors import AdvisorRepository
from storage.calls import CallRecordRepository
from storage.migrate import migrate
from storage.pool import create_pool
from storage.services import ServiceRepository
from storage.users import Role, User, UserRepository
from telephony.effects import AdvisorRinging, CallAnswered, CallStarted
from telephony.router import wait_for
from tests.fixtures_db import make_record
from tests.rig.asterisk import AsteriskRig, free_loopback_port

PASSWORD = "mot-de-passe-de-test"
HTML = {"Accept": "text/html,application/xhtml+xml"}

# who is who: the advisor on the live call, another advisor, a supervisor and an admin without a phone
AGNES, BRUNO, SAM, ADA = "agnes", "bruno", "sam", "ada"
AGNES_PHONE, BRUNO_PHONE = "Local/adv1@advisors", "Local/adv2@advisors"
LIVE_CALL = "1900000000.1"  # agnes talks with this caller (fed to the live view)
LIVE_CALLER = "+33321009999"
PAST_CALL = "1800000000.1"  # a record answered by agnes earlier (make_record's caller)
PAST_CALLER = "+33612345678"


@dataclass
class Client:
    """A browser-like client: its cookies, and the session's CSRF token once logged in."""

    session: aiohttp.ClientSession
    url: str
    csrf: str = ""
    user: User | None = None

    def headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf} if self.csrf else {}

    @property
    def session_cookie(self) -> str:
        morsel = self.session.cookie_jar.filter_cookies(URL(self.url)).get("gps_session")
        return "" if morsel is None else morsel.value


@dataclass
class Served:
    url: str
    app: web.Application
    dsn: str
    redis_url: str
    users: dict[str, User]
    closed_service: int  # a service of the directory that is never open
    clients: list[Client] = field(default_factory=list)
    article: int = 0  # a published article of the knowledge base, owned by the closed service

    async def client(self, login: str | None = None) -> Client:
        """A new client, logged in as `login` through the login form (None: anonymous)."""
        jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[self.url, self.url.replace("http", "ws")])
        client = Client(aiohttp.ClientSession(cookie_jar=jar), self.url)
        self.clients.append(client)
        if login is not None:
            status = await log_in(client, login, PASSWORD)
            assert status == 303, f"login of {login}: {status}"
            me = await (await client.session.get(self.url + "/api/me")).json()
            client.csrf, client.user = me["csrf"], self.users[login]
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.session.close()


async def log_in(client: Client, login: str, password: str) -> int:
    """The login form as a browser fills it: its status (303 when logged in)."""
    page = await (await client.session.get(client.url + "/login", headers=HTML)).text()
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None, page
    form = {"csrf": token[1], "next": "/desk", "login": login, "password": password}
    response = await client.session.post(client.url + "/login", data=form, allow_redirects=False)
    return response.status


async def prepare(dsn: str) -> tuple[dict[str, User], int]:
    """Accounts, advisors, a past record of agnes's and a closed service, in a fresh database."""
    pool = await create_pool(dsn)
    try:
        await migrate(pool)
        await pool.execute(
            "TRUNCATE knowledge_articles, users, advisor_events, advisors, call_records RESTART IDENTITY CASCADE"
        )
        await pool.execute("DELETE FROM organisations")
        advisors = AdvisorRepository(pool, {})
        agnes = await advisors.add(AGNES, "Agnès Roussel", AGNES_PHONE)
        bruno = await advisors.add(BRUNO, "Bruno Caron", BRUNO_PHONE)
        repo = UserRepository(pool)
        users = {
            AGNES: await repo.add(AGNES, "Agnès Roussel", Role.ADVISOR, PASSWORD, advisor_id=agnes.id),
            BRUNO: await repo.add(BRUNO, "Bruno Caron", Role.ADVISOR, PASSWORD, advisor_id=bruno.id),
            SAM: await repo.add(SAM, "Sam Carpentier", Role.SUPERVISOR, PASSWORD),
            ADA: await repo.add(ADA, "Ada Lemaire", Role.ADMIN, PASSWORD),
        }
        record = make_record(PAST_CALL, advisor_interface=AGNES_PHONE, advisor_name="Agnès Roussel")
        await CallRecordRepository(pool).upsert(record)
        closed = await ServiceRepository(pool).add("Archives départementales", "2002", hours={})
        return users, closed.id
    finally:
        await pool.close()


def live_call(app: web.Application) -> None:
    """agnes answered LIVE_CALL from LIVE_CALLER a moment ago (the live view, as the pipeline feeds it)."""
    live = app[SERVICE].live
    at = datetime.now(UTC)
    for effect in (
        CallStarted(linkedid=LIVE_CALL, at=at, caller_number=LIVE_CALLER, caller_name=None, line_open=True),
        AdvisorRinging(
            linkedid=LIVE_CALL,
            at=at,
            interface=AGNES_PHONE,
            member_name="Agnès Roussel",
            caller_number=LIVE_CALLER,
            caller_name=None,
            queue_entered_at=at,
        ),
        CallAnswered(linkedid=LIVE_CALL, at=at, interface=AGNES_PHONE, advisor_channel="Local/adv1@advisors-0001;1"),
    ):
        live.apply(effect)


async def serve(
    rig: AsteriskRig, dsn: str, redis_url: str, data_dir: Path, hours: OpeningHours | None = None, **desk: object
) -> AsyncIterator[Served]:
    """The application served on a free loopback port (its public origin is the listener's own), until closed.
    `hours`: the line's opening hours (default: the settings' own)."""
    flush = aioredis.from_url(redis_url)
    await flush.flushdb()
    await flush.aclose()
    users, closed = await prepare(dsn)
    port = free_loopback_port()
    settings = load_settings(
        data_dir=data_dir,
        http_host="127.0.0.1",
        http_port=port,
        ami_port=rig.port,
        ami_username=rig.username,
        ami_secret=SecretStr(rig.secret),
        desk=DeskSettings.model_validate(desk),
        **({} if hours is None else {"hours": hours}),
    )
    app = await build_app(settings, Endpoints(dsn, redis_url, True))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    served = Served(f"http://127.0.0.1:{port}", app, dsn, redis_url, users, closed)
    served.article = await published_article(app[SERVICE].pool, users[ADA], closed, settings.desk)
    svc = app[SERVICE]
    await asyncio.wait_for(svc.ami.ready.wait(), 30)
    await wait_for(svc.router, lambda: svc.router.leader, 30)  # presence commands are answered
    live_call(app)
    try:
        yield served
    finally:
        await served.close()
        await runner.cleanup()


async def published_article(pool: asyncpg.Pool, author: User, service_id: int, desk: DeskSettings) -> int:
    """A published article of the knowledge base, owned by `service_id`."""
    kb = KnowledgeService(pool, desk)
    data = ArticleInput(title="Consulter les archives", body="Sur rendez-vous.", review_by=date(2099, 1, 1))
    view = await kb.create(author, service_id, data)
    view = await kb.transition(author, view.id, view.revision, Action.SUBMIT)
    view = await kb.transition(author, view.id, view.revision, Action.PUBLISH)
    return view.id


async def db_rows(dsn: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()
