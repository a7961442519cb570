"""Prometheus `/metrics` over the real application (real PostgreSQL, Redis and the rig's Asterisk): the text parses
with prometheus_client's own parser, the figures are the components' (the live view's calls, the AMI link, the
stores answering), and only a direct loopback client or a supervisor's or admin's session reads it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from gps_admin import metrics
from gps_admin.app import SERVICE
from tests.fixtures_db import fresh_database
from tests.integration.webapp import AGNES, SAM, Served, serve
from tests.rig.asterisk import AsteriskRig, free_loopback_port
from tests.servers import redis_url

__all__ = ["fresh_database"]

pytestmark = pytest.mark.asterisk

REDIS = redis_url(12)
PROXIED = {"X-Forwarded-For": "203.0.113.9"}


@pytest.fixture
async def served(asterisk_rig: AsteriskRig, fresh_database: str, tmp_path: Path) -> AsyncIterator[Served]:
    async for app in serve(asterisk_rig, fresh_database, REDIS, tmp_path / "data"):
        yield app


async def test_metrics_parse_and_tell_the_service_s_state(served: Served) -> None:
    anonymous = await served.client()
    response = await anonymous.session.get(served.url + "/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(await response.text())}
    value = {name: f.samples[0].value for name, f in families.items() if len(f.samples) == 1}
    assert value["gps_ami_up"] == 1
    assert value["gps_calls_in_progress"] == 1  # agnes's live call (webapp.live_call)
    assert value["gps_calls_waiting"] == 0
    assert value["gps_postgresql_up"] == 1 and value["gps_redis_up"] == 1
    assert value["gps_router_leader"] == 1
    assert value["gps_desk_sockets"] == 0 and value["gps_wallboard_sockets"] == 0
    for counter in ("gps_records_spooled", "gps_records_written", "gps_records_rejected"):
        assert families[counter].type == "counter"
    latency = families["gps_pop_latency_seconds"]
    assert latency.type == "histogram"
    buckets = [s for s in latency.samples if s.name.endswith("_bucket")]
    assert buckets[-1].labels == {"le": "+Inf"} and len(buckets) == 10

    # a pop acknowledged 120 ms after its AMI event lands in the 0.25 s bucket and after
    served.app[SERVICE].hub.stats.pop_acked(120.0)
    text = await (await anonymous.session.get(served.url + "/metrics")).text()
    samples = {
        (s.name, s.labels.get("le")): s.value
        for f in text_string_to_metric_families(text)
        if f.name == "gps_pop_latency_seconds"
        for s in f.samples
    }
    assert samples[("gps_pop_latency_seconds_bucket", "0.1")] == 0
    assert samples[("gps_pop_latency_seconds_bucket", "0.25")] == 1
    assert samples[("gps_pop_latency_seconds_count", None)] == 1
    assert samples[("gps_pop_latency_seconds_sum", None)] == pytest.approx(0.12)

    # a store away is told as 0, within the probe's bound
    away = aioredis.from_url(f"redis://127.0.0.1:{free_loopback_port()}", socket_connect_timeout=1)
    try:
        assert await metrics._redis_up(away) is False
    finally:
        await away.aclose()


async def test_through_a_proxy_only_a_supervisor_or_an_admin_reads_the_metrics(served: Served) -> None:
    anonymous, agnes, sam = await served.client(), await served.client(AGNES), await served.client(SAM)
    for client in (anonymous, agnes):
        response = await client.session.get(served.url + "/metrics", headers=PROXIED)
        assert response.status == 403
        assert (await response.json())["error"] == "metrics-forbidden"
    response = await sam.session.get(served.url + "/metrics", headers=PROXIED)
    assert response.status == 200
    assert "gps_ami_up 1.0" in await response.text()
