"""Prometheus `/metrics` (the `prometheus-client` library's text format): the AMI link, the calls in progress and
waiting (the live view), the pop latency (AMI event → the advisor's browser acknowledging the pop, as a histogram),
the call records spooled, written and rejected, and whether PostgreSQL and Redis answer now.

Read at each scrape from the components' own counters (nothing is counted twice); the stores are asked with a
bound (one second), so a scrape never hangs on a store that is away. Who may read it: a supervisor's or an admin's
session, or a client on the loopback interface talking to the service directly (Prometheus on the same host). A
request that came through a reverse proxy (one of the forwarding headers present) is not "local", whatever its
address: behind a proxy on the same host every client comes from loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis
from aiohttp import hdrs, web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from screenpop.web.errors import Forbidden
from screenpop.web.hub import LATENCY_BUCKETS_MS, Hub
from screenpop.web.keys import USER
from screenpop.web.openapi import Operations, declare, operation
from storage.users import Role
from storage.writer import RecordWriter
from telephony.aio import bounded
from telephony.ami import AmiClient
from telephony.live import CallPhase, LiveView
from telephony.router import Router

FORWARDED = (hdrs.FORWARDED, hdrs.X_FORWARDED_FOR, "X-Real-IP", hdrs.X_FORWARDED_HOST)
PROBE_WITHIN = 1.0  # seconds
READERS = frozenset({Role.SUPERVISOR, Role.ADMIN})  # as /healthz's details


class MetricsForbidden(Forbidden):
    error_id = "metrics-forbidden"
    default_message = "Les métriques sont réservées aux superviseurs, aux administrateurs et à la machine elle-même."


def allowed(request: web.Request) -> bool:
    user = request.get(USER)
    if user is not None and user.role in READERS:
        return True
    if any(name in request.headers for name in FORWARDED):
        return False
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:  # a Unix socket (no address): not known to be local
        return False


async def _redis_up(redis: aioredis.Redis) -> bool:
    try:
        return bool(await bounded(redis.ping(), PROBE_WITHIN))
    except (aioredis.RedisError, OSError, TimeoutError):
        return False


async def _postgresql_up(pool: asyncpg.Pool) -> bool:
    try:
        return bool(await bounded(pool.fetchval("SELECT 1"), PROBE_WITHIN) == 1)
    except (asyncpg.PostgresError, OSError, TimeoutError, asyncpg.InterfaceError):
        return False


class _Scrape(Collector):
    """One scrape's families, gathered beforehand (the stores asked asynchronously)."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


@dataclass(frozen=True)
class Sources:
    """What the metrics read (the composition root hands them over)."""

    ami: AmiClient
    live: LiveView
    writer: RecordWriter
    hub: Hub
    router: Router
    redis: aioredis.Redis
    pool: asyncpg.Pool


def families(svc: Sources, *, redis_up: bool, postgresql_up: bool) -> list[Metric]:
    calls = list(svc.live.calls())
    waiting = sum(1 for c in calls if c.phase in (CallPhase.WAITING, CallPhase.RINGING) and c.queued_at is not None)
    stats, hub = svc.writer.stats(), svc.hub.stats
    out: list[Metric] = [
        GaugeMetricFamily("gps_ami_up", "1 while the AMI link to Asterisk is up", value=int(svc.ami.ready.is_set())),
        GaugeMetricFamily("gps_calls_in_progress", "Calls in progress (the live view)", value=len(calls)),
        GaugeMetricFamily("gps_calls_waiting", "Callers in the queue waiting for an advisor", value=waiting),
        CounterMetricFamily("gps_records_spooled", "Call records spooled since the start", value=stats.spooled),
        CounterMetricFamily("gps_records_written", "Call records committed to PostgreSQL", value=stats.written),
        CounterMetricFamily("gps_records_rejected", "Call records PostgreSQL refused for good", value=stats.rejected),
        GaugeMetricFamily("gps_records_pending", "Call records spooled and not yet committed", value=stats.pending),
        GaugeMetricFamily(
            "gps_postgresql_up", "1 when PostgreSQL answered SELECT 1 within 1 s", value=int(postgresql_up)
        ),
        GaugeMetricFamily("gps_redis_up", "1 when Redis answered PING within 1 s", value=int(redis_up)),
        GaugeMetricFamily("gps_router_leader", "1 while this instance leads the routing", value=int(svc.router.leader)),
        GaugeMetricFamily("gps_desk_sockets", "Advisors' desk websockets open on this instance", value=hub.sockets),
        GaugeMetricFamily("gps_wallboard_sockets", "Wallboards open on this instance", value=svc.hub.watchers),
    ]
    buckets = [(f"{bound / 1000:g}", float(hub.latency_buckets[bound])) for bound in LATENCY_BUCKETS_MS]
    buckets.append(("+Inf", float(hub.latency_count)))
    out.append(
        HistogramMetricFamily(
            "gps_pop_latency_seconds",
            "From the AMI event of a ring to the advisor's browser acknowledging the pop",
            buckets=buckets,
            sum_value=hub.latency_sum_ms / 1000,
        )
    )
    return out


def setup(app: web.Application, svc: Sources) -> None:
    async def metrics(request: web.Request) -> web.Response:
        if not allowed(request):
            raise MetricsForbidden()
        redis_up, postgresql_up = await asyncio.gather(_redis_up(svc.redis), _postgresql_up(svc.pool))
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Scrape(families(svc, redis_up=redis_up, postgresql_up=postgresql_up)))
        return web.Response(body=generate_latest(registry), headers={hdrs.CONTENT_TYPE: CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", metrics)
    declare(app, OPERATIONS)


OPERATIONS: Operations = {
    "/metrics": {
        "get": operation(
            "Prometheus metrics (text format): AMI link, calls in progress and waiting, pop latency histogram,"
            " records spooled/written/rejected, PostgreSQL and Redis up. For a supervisor's or an admin's session, or"
            " a direct loopback client (not through a reverse proxy)",
            auth=False,
            errors=(403,),
        )
    }
}
