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

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from config.settings import Settings
from storage.advisors import AdvisorRepository
from storage.migrate import MigrationError, check, migrate
from storage.pool import create_pool
from storage.spool import Spool
from storage.writer import RecordWriter
from telephony.aio import bounded
from telephony.ami import AmiClient, AmiConfig
from telephony.calls import CallTracker
from telephony.members import MemberTracker
from telephony.pipeline import CallPipeline
from telephony.router import Router

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoints:
    """Where the stores are: from the settings, or from the embedded servers."""

    database_url: str
    redis_url: str
    auto_migrate: bool  # True for the embedded database, which this process owns


SETTINGS = web.AppKey("settings", Settings)
ENDPOINTS = web.AppKey("endpoints", Endpoints)
REDIS = web.AppKey("redis", aioredis.Redis)
WRITER = web.AppKey("writer", RecordWriter)
PIPELINE = web.AppKey("pipeline", CallPipeline)
AMI = web.AppKey("ami", AmiClient)
ROUTER = web.AppKey("router", Router)


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


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    client = aioredis.from_url(app[ENDPOINTS].redis_url, socket_connect_timeout=5)
    try:
        await client.ping()
    except (aioredis.ConnectionError, OSError) as exc:
        log.warning("Redis unreachable at start (%s)", exc)
    app[REDIS] = client
    yield
    await client.aclose()


async def _storage_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, endpoints = app[SETTINGS], app[ENDPOINTS]
    await prepare_database(endpoints.database_url, apply=endpoints.auto_migrate)

    async def pool_factory() -> asyncpg.Pool:
        return await create_pool(endpoints.database_url, command_timeout=settings.db_write_timeout)

    # The service loop only waits for the spool's fsync; the drain commits in the background.
    writer = RecordWriter(
        Spool(settings.spool_dir), pool_factory, submit_timeout=0.0, write_timeout=settings.db_write_timeout
    )
    await writer.start()
    app[WRITER] = writer
    yield
    await writer.stop()


async def _telephony_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, endpoints = app[SETTINGS], app[ENDPOINTS]
    queue = settings.line.queue
    pipeline = CallPipeline(CallTracker(settings.line, settings.hours), app[WRITER].submit, MemberTracker(queue))
    ami = AmiClient(ami_config(settings), pipeline.sink)
    # min_size=0: the pool is created even while PostgreSQL is away; the router waits for it to lead
    pool = await create_pool(endpoints.database_url, min_size=0, max_size=3)
    router = Router(
        ami=ami,
        store=AdvisorRepository(pool, settings.routing.skills),
        redis=app[REDIS],
        routing=settings.routing,
        queue=queue,
    )
    pipeline.listen(router.on_effect)
    app[PIPELINE] = pipeline
    app[AMI] = ami
    app[ROUTER] = router
    tasks = [
        asyncio.create_task(pipeline.run(), name="call-pipeline"),
        asyncio.create_task(ami.run(), name="ami-client"),
        asyncio.create_task(router.run(), name="router"),
        asyncio.create_task(router.serve_commands(), name="router-commands"),
    ]
    yield
    log.info("stopping: AMI, router, pipeline")
    await stop_tasks(reversed(tasks))
    await router.resign()
    await bounded(pool.close(), 10)
    log.debug("advisor pool closed")
    # events already received are applied before the writer stops
    with contextlib.suppress(TimeoutError):
        await bounded(_drain(pipeline), 5)


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


async def health(request: web.Request) -> web.Response:
    app = request.app
    ami, pipeline, writer = app[AMI], app[PIPELINE], app[WRITER]
    stats = writer.stats()
    body = {
        "ami": {"connected": ami.ready.is_set(), "version": ami.version, **ami.stats.as_dict()},
        "calls": {
            "open": pipeline.tracker.open_calls,
            "backlog": pipeline.backlog,
            **pipeline.stats.as_dict(),
        },
        "records": stats.model_dump(),
        "router": {"leader": app[ROUTER].leader, **app[ROUTER].stats.as_dict()},
    }
    status = 200 if ami.ready.is_set() else 503
    return web.json_response(body, status=status)


def build_app(settings: Settings, endpoints: Endpoints) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app[ENDPOINTS] = endpoints
    app.cleanup_ctx.append(_redis_ctx)
    app.cleanup_ctx.append(_storage_ctx)
    app.cleanup_ctx.append(_telephony_ctx)
    app.router.add_get("/healthz", health)
    return app
