"""The composition root: settings in, one aiohttp application out, each resource with its own lifecycle.

Nothing here decides anything: it builds the edges (AMI, PostgreSQL, Redis, HTTP) and the pure core,
hands each component its slice of the settings, and owns every task it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from config.settings import Settings
from gps_admin import metrics as metrics_http
from screenpop.auth import http as auth_http
from screenpop.callbacks import http as callbacks_http
from screenpop.callbacks.service import CallbackService
from screenpop.calls import http as calls_http
from screenpop.calls.service import HistoryAccess, QualificationService, TransferService
from screenpop.desk import http as desk_http
from screenpop.desk.service import DeskService
from screenpop.directory import http as directory_http
from screenpop.directory.pages import PagesDeps
from screenpop.directory.service import DirectoryService
from screenpop.knowledge import http as knowledge_http
from screenpop.knowledge.pages import Knowledge
from screenpop.knowledge.search import KnowledgeSearch
from screenpop.knowledge.service import KnowledgeService
from screenpop.pops import http as pops_http
from screenpop.pops.notifier import PopPublisher, PresencePublisher
from screenpop.pops.service import DeskMessageStore, context_lookup
from screenpop.statistics import http as statistics_http
from screenpop.statistics.kpis import Thresholds
from screenpop.statistics.service import StatisticsService, refresh_forever
from screenpop.supervision import http as supervision_http
from screenpop.supervision.notifier import WallboardNotifier
from screenpop.supervision.service import SupervisionService
from screenpop.web import http as web_http
from screenpop.web.hub import Hub
from screenpop.web.keys import USER
from screenpop.web.nav import HOMES
from screenpop.web.openapi import Operations, declare, operation
from storage.advisors import AdvisorRepository
from storage.communes import ensure_communes
from storage.desk_day import DeskDayRepository
from storage.migrate import MigrationError, check, migrate
from storage.pool import create_pool
from storage.probe import DatabaseProbe
from storage.qualification import NOTE_DB_MAX
from storage.redis.claims import RedisClaims
from storage.redis.commands import CommandServer, RedisRouterCommands
from storage.redis.lease import RedisLease
from storage.redis.rounds import Rounds
from storage.redis.sessions import SessionStore
from storage.redis.signing import SigningKeys
from storage.redis.throttle import LoginThrottle
from storage.redis.uploads import UploadStore
from storage.spool import Spool
from storage.users import Role, UserRepository
from storage.writer import RecordWriter
from telephony.advisors import StateChange
from telephony.aio import bounded, settle_heap
from telephony.ami import AmiClient, AmiConfig
from telephony.calls import CallTracker
from telephony.hours import prepare as prepare_hours
from telephony.live import LiveView
from telephony.members import MemberTracker
from telephony.pipeline import CallPipeline
from telephony.router import Router

log = logging.getLogger(__name__)
# where each role starts (after a login with no page asked, and at the site's root); the others: the desk
HOME_PAGES = {Role.SUPERVISOR: "/supervision", Role.ADMIN: "/supervision", Role.EDITOR: "/connaissances"}


@dataclass(frozen=True)
class Endpoints:
    """Where the stores are: from the settings, or from the embedded servers."""

    database_url: str
    redis_url: str
    auto_migrate: bool  # True for the embedded database, which this process owns


@dataclass
class Service:
    """Every long-lived object of one instance, built before the app starts (no I/O), run by its contexts."""

    settings: Settings
    endpoints: Endpoints
    redis: aioredis.Redis
    pool: asyncpg.Pool  # min_size=0: created without connecting, so PostgreSQL may come later
    writer: RecordWriter
    pipeline: CallPipeline
    ami: AmiClient
    router: Router
    hub: Hub
    publisher: PopPublisher
    live: LiveView
    rounds: Rounds
    commands: CommandServer  # the presence commands, applied by the router when it leads
    wallboard: WallboardNotifier  # tells the wallboards open on this instance that what they show changed


SERVICE = web.AppKey("service", Service)


class StartupError(Exception):
    error_id = "startup-error"


def ami_config(settings: Settings) -> AmiConfig:
    return AmiConfig(
        host=settings.ami_host,
        port=settings.ami_port,
        username=settings.ami_username,
        secret=settings.ami_secret,
        ping_interval=settings.ami_ping_interval,
        ping_timeout=settings.ami_ping_timeout,
        reconnect_min=settings.ami_reconnect_min,
        reconnect_max=settings.ami_reconnect_max,
        action_timeout=settings.ami_action_timeout,
    )


async def prepare_database(database_url: str, *, apply: bool, connect_timeout: float = 10.0) -> None:
    """Check (or apply) the migrations. An unreachable database is not fatal: records wait in the spool."""
    try:
        conn = await bounded(asyncpg.connect(database_url), connect_timeout)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        log.warning("PostgreSQL unreachable at start (%s): call records will wait in the spool", exc)
        return
    try:
        if apply:
            applied = await migrate(conn)
            if applied:
                log.info("migrations applied: %s", ", ".join(applied))
        else:
            await check(conn)
    except MigrationError as exc:
        raise StartupError(str(exc)) from None
    finally:
        await conn.close()


async def _storage_ctx(app: web.Application) -> AsyncIterator[None]:
    svc = app[SERVICE]
    await prepare_database(svc.endpoints.database_url, apply=svc.endpoints.auto_migrate)
    try:
        loaded = await bounded(ensure_communes(svc.pool), 60)
        if loaded:
            log.info("communes loaded: %d (Etalab — découpage administratif, Licence Ouverte)", loaded)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        log.warning("communes not loaded (%s): the autocomplete stays empty until the next start", exc)
    with contextlib.suppress(aioredis.RedisError, OSError):
        await bounded(svc.redis.ping(), 5)
    await svc.writer.start()
    yield
    await svc.writer.stop()
    await svc.redis.aclose()
    await bounded(svc.pool.close(), 10)


async def _telephony_ctx(app: web.Application) -> AsyncIterator[None]:
    svc = app[SERVICE]
    tasks = [
        asyncio.create_task(svc.pipeline.run(), name="call-pipeline"),
        asyncio.create_task(svc.ami.run(), name="ami-client"),
        asyncio.create_task(svc.router.run(), name="router"),
        asyncio.create_task(
            CommandServer(svc.redis, svc.settings.line.queue).serve(svc.router), name="router-commands"
        ),
        asyncio.create_task(svc.hub.run(), name="desk-hub"),
        asyncio.create_task(svc.wallboard.run(), name="wallboard-relay"),
    ]
    prepare_hours(svc.settings.hours, datetime.now(UTC).date())
    settle_heap()  # started: what is alive now stays out of the garbage collector's full passes
    yield
    log.info("stopping: desk sockets, AMI, router, pipeline")
    await svc.hub.close_all()
    await stop_tasks(reversed(tasks))
    await svc.wallboard.close()
    with contextlib.suppress(TimeoutError):
        await bounded(svc.router.log_drained(), 5)
    await svc.router.resign()
    # events already received are applied before the writer stops
    with contextlib.suppress(TimeoutError):
        await bounded(_drain(svc.pipeline), 5)
        await bounded(svc.rounds.drained(), 5)  # the desk messages and releases they produced


async def stop_tasks(tasks: Iterable[asyncio.Task[None]], grace: float = 5.0) -> None:
    """Cancel and await each task; one that does not finish within `grace` is logged with its stack."""
    for task in tasks:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            log.error("task %s did not stop within %.0f s:\n%s", task.get_name(), grace, _stack(task))
            continue
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s had failed: %r", task.get_name(), task.exception())


def _stack(task: asyncio.Task[None]) -> str:
    import io

    out = io.StringIO()
    task.print_stack(file=out)
    return out.getvalue()


async def _drain(pipeline: CallPipeline) -> None:
    task = asyncio.create_task(pipeline.run())
    try:
        await pipeline.wait_idle()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


HEALTH_DETAILS_FOR = frozenset({Role.SUPERVISOR, Role.ADMIN})


async def health(request: web.Request) -> web.Response:
    """Up (200 `{"status": "ok"}`) or down (503 `{"status": "down"}`: no AMI link). The counters (AMI, calls,
    records, router, desk, Redis) only for a supervisor's or an admin's session: not for anonymous clients, nor
    for loopback ones (behind a reverse proxy on the same host, every client comes from loopback)."""
    svc = request.app[SERVICE]
    ami, pipeline, writer = svc.ami, svc.pipeline, svc.writer
    up = ami.ready.is_set()
    status, state = (200, "ok") if up else (503, "down")
    user = request.get(USER)
    if user is None or user.role not in HEALTH_DETAILS_FOR:
        return web.json_response({"status": state}, status=status)
    stats = writer.stats()
    body = {
        "status": state,
        "ami": {"connected": up, "version": ami.version, **ami.stats.as_dict()},
        "calls": {
            "open": pipeline.tracker.open_calls,
            "backlog": pipeline.backlog,
            **pipeline.stats.as_dict(),
        },
        "records": stats.model_dump(),
        "database": database.model_dump(mode="json") if (database := writer.database_status()) else None,
        "router": {"leader": svc.router.leader, **svc.router.stats.as_dict()},
        "desk": svc.hub.stats.as_dict(),
        "redis": {"calls": svc.rounds.calls, "rounds": svc.rounds.rounds, "failed": svc.rounds.failed},
    }
    return web.json_response(body, status=status)


async def build_app(settings: Settings, endpoints: Endpoints, *, demo: bool = False) -> web.Application:
    """The application of one instance. Builds objects only; connections and tasks start with the app."""
    redis = aioredis.from_url(endpoints.redis_url, socket_connect_timeout=5)
    pool = await create_pool(endpoints.database_url, min_size=0, max_size=8)
    queue = settings.line.queue

    async def pool_factory() -> asyncpg.Pool:
        return await create_pool(endpoints.database_url, command_timeout=settings.db_write_timeout)

    async def probe_connect() -> asyncpg.Connection:
        return await asyncpg.connect(endpoints.database_url, timeout=settings.db_write_timeout)

    # The service loop hands each record over (`accept`): a spooler task fsyncs it, the drain commits it.
    writer = RecordWriter(
        Spool(settings.spool_dir),
        pool_factory,
        submit_timeout=0.0,
        write_timeout=settings.db_write_timeout,
        probe=DatabaseProbe(probe_connect, timeout=settings.db_write_timeout),  # /healthz "database"
    )
    live = LiveView()  # the calls in progress and the advisors' states, fed by the pipeline (and the router)
    pipeline = CallPipeline(CallTracker(settings.line, settings.hours), writer.accept, MemberTracker(queue), live=live)
    ami = AmiClient(ami_config(settings), pipeline.sink)
    rounds = Rounds(redis)  # every script call of the instance, batched under load
    router = Router(
        ami=ami,
        store=AdvisorRepository(pool, settings.routing.skills),
        lease=RedisLease(redis, queue, rounds),
        claims=RedisClaims(redis, queue, rounds),
        routing=settings.routing,
        queue=queue,
    )

    def advisor_of(interface: str) -> int | None:
        advisor = router.board.advisor_of(interface)
        return advisor.id if advisor is not None else None

    hub = Hub(redis, rounds)
    publisher = PopPublisher(
        redis,
        advisor_of=advisor_of,
        is_leader=lambda: router.leader,
        context_of=context_lookup(pool, settings.desk),
        rounds=rounds,
        live=live,
    )
    # The publisher first: a pop needs nothing from the router's step, and would otherwise wait for its Redis and
    # AMI round trips (claim release, member actions, presence log) before leaving.
    pipeline.listen(publisher.on_effect)
    pipeline.listen(router.on_effect)
    # the wallboards: told of calls by this instance's own view, of presence by the leader (through Redis), of
    # today's figures once each record is committed
    wallboard = WallboardNotifier(redis, hub.broadcast)
    pipeline.listen(wallboard.on_effect)
    writer.written_listeners.append(wallboard.on_written)

    router.presence_listeners.append(PresencePublisher(redis, rounds))

    async def presence_to_live(changes: list[StateChange]) -> None:
        live.on_presence(changes)

    router.presence_listeners.append(presence_to_live)
    router.presence_listeners.append(wallboard.on_presence)

    app = web.Application()
    app[HOMES] = dict(HOME_PAGES)
    app[SERVICE] = Service(
        settings,
        endpoints,
        redis,
        pool,
        writer,
        pipeline,
        ami,
        router,
        hub,
        publisher,
        live,
        rounds,
        CommandServer(redis, queue),
        wallboard,
    )
    app.cleanup_ctx.append(_storage_ctx)
    app.cleanup_ctx.append(_telephony_ctx)
    # The web: its shared layer first (pages, security headers, error mapping), then each slice's routes.
    web_http.setup(app, web_http.WebDeps(demo=demo))
    advisors = AdvisorRepository(pool, settings.routing.skills)
    desk_messages = DeskMessageStore(redis, rounds)
    desk = DeskService(
        advisors,
        desk_messages,
        RedisRouterCommands(redis, queue),
        settings.routing.pause_reasons,
        demo,
        day=DeskDayRepository(pool),
        zone=settings.hours.timezone,
        thresholds=Thresholds.from_settings(settings),
    )
    auth_http.setup(
        app,
        auth_http.AuthDeps(
            users=UserRepository(pool),
            sessions=SessionStore(redis, settings.desk.session_hours * 3600),
            throttle=LoginThrottle(redis, settings.desk.login_attempts, settings.desk.login_window),
            signing=SigningKeys(redis),
            settings=settings.desk,
            session_ending=[desk.leave_queue],  # « Fermer la session »: the advisor leaves the queue first
            landing=HOME_PAGES,  # a supervisor's wallboard, an editor's knowledge base, not a desk
        ),
    )
    desk_http.setup(app, desk_http.DeskDeps(desk, min(settings.desk.note_max, NOTE_DB_MAX)))
    pops_http.setup(app, hub, settings.origins)
    if not settings.public_origins and settings.http_host in ("0.0.0.0", "::", ""):  # noqa: S104
        log.warning(
            "listening on all interfaces without GPS_ADMIN_PUBLIC_ORIGINS: the desk's websocket accepts only %s",
            ", ".join(sorted(settings.origins)),
        )
    directory = DirectoryService(
        pool, settings.hours, topics=settings.desk.topics, departement=settings.desk.departement
    )
    admin_pages = PagesDeps(
        uploads=UploadStore(redis),
        topics={key: topic.label for key, topic in settings.desk.topics.items()},
        departement=settings.desk.departement,
        timezone=settings.hours.timezone,
    )
    directory_http.setup(app, directory_http.DirectoryDeps(directory, settings.desk.departement, admin_pages))
    history = HistoryAccess(live, advisors, desk_messages.current_caller)
    calls_http.setup(
        app,
        calls_http.CallsDeps(
            qualifications=QualificationService(
                pool, settings.desk, taken_by=live.taken_by, qualified=desk, callbacks_changed=wallboard.on_callbacks
            ),
            transfers=TransferService(live, ami, directory, advisors),
            directory=directory,
            desk=settings.desk,
            history=history,
        ),
    )
    knowledge_http.setup(
        app,
        knowledge_http.KnowledgeDeps(
            Knowledge(
                KnowledgeService(pool, settings.desk),
                KnowledgeSearch(pool, settings.desk),
                settings.hours.timezone,
            ),
            may_read_number=history.check,  # the pop's suggestions from a caller's history: the history's rule
        ),
    )
    topic_labels = {key: topic.label for key, topic in settings.desk.topics.items()}
    callbacks = CallbackService(pool, settings.hours, topic_labels, changed=wallboard.on_callbacks)
    callbacks_http.setup(app, callbacks_http.CallbacksDeps(callbacks))
    statistics = StatisticsService(pool, settings, lambda: datetime.now(UTC))
    statistics_http.setup(app, statistics_http.StatisticsDeps(statistics))
    supervision_http.setup(
        app,
        supervision_http.SupervisionDeps(
            SupervisionService(
                live,
                advisors,
                statistics,  # today's figures, as the reports compute them
                RedisRouterCommands(redis, queue),
                callbacks=callbacks.waiting,  # the open callbacks now, and those past one working day
                thresholds=Thresholds.from_settings(settings),
                pause_reasons=settings.routing.pause_reasons,
                topics={key: topic.label for key, topic in settings.desk.topics.items()},
                timezone=settings.hours.timezone,
            ),
            hub,
            settings.origins,
        ),
    )

    async def statistics_ctx(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(refresh_forever(statistics), name="statistics-daily-sums")
        yield
        await stop_tasks([task])

    app.cleanup_ctx.append(statistics_ctx)
    app.router.add_get("/healthz", health)
    declare(app, HEALTH)
    metrics_http.setup(app, metrics_http.Sources(ami, live, writer, hub, router, redis, pool))
    return app


HEALTH: Operations = {
    "/healthz": {
        "get": operation(
            "Up or down ({status: ok} or 503 {status: down}); with a supervisor's or an admin's session, the live"
            " counters too (AMI, calls, records, router, pop latency, Redis)",
            auth=False,
            errors=(503,),
        )
    }
}
