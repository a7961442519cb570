"""`gps-admin simulate` against a running `gps-admin serve`: the service connects to the simulator as to Asterisk,
routes the simulated calls to the simulated advisors, and writes one record per call placed."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from gps_admin.demo import free_port
from tests.fixtures_db import fresh_database
from tests.serve import GPS_ADMIN, Process, clean_env, cli
from tests.servers import redis_url

__all__ = ["fresh_database"]

SUPERVISOR_PASSWORD = "mot-de-passe-" + secrets.token_hex(6)


@pytest.fixture
async def served(fresh_database: str, tmp_path: Path) -> AsyncIterator[Process]:
    env = clean_env(
        GPS_ADMIN_DATABASE_URL=fresh_database,
        GPS_ADMIN_REDIS_URL=redis_url(13),
        GPS_ADMIN_DATA_DIR=str(tmp_path),
        GPS_ADMIN_HTTP_PORT=str(free_port()),
        GPS_ADMIN_AMI_PORT=str(free_port()),
        GPS_ADMIN_AMI_SECRET=secrets.token_hex(8),
        GPS_ADMIN_AMI_RECONNECT_MAX="0.5",
    )
    import redis.asyncio as aioredis

    flush = aioredis.from_url(redis_url(13))
    await flush.flushdb()
    await flush.aclose()
    await cli(env, "migrate")
    await cli(env, "users", "add", "--login", "sam", "--name", "Sam", "--role", "supervisor", "--password-stdin",
              stdin=SUPERVISOR_PASSWORD + "\n")  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        GPS_ADMIN, "serve", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    process = Process(proc, env)
    try:
        await process.expect(r"gps-admin ready on")
        yield process
    finally:
        if proc.returncode is None:
            proc.send_signal(2)
            await asyncio.wait_for(proc.wait(), 30)


async def test_simulate_loads_a_running_service(served: Process, fresh_database: str) -> None:
    args = ("--rate", "5", "--duration", "4", "--advisors", "3", "--talk", "0.2", "0.6", "--seed", "7",
            "--abandon", "0.2", "--transfer", "0.2")  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        GPS_ADMIN, "simulate", *args, env=served.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 180)
    text = out.decode()
    assert proc.returncode == 0, text
    assert re.search(r"^\s+\d+\.\d s\s+placed\s+\d+", text, re.M), "a live summary line"
    table = dict(re.findall(r"^  (\S[^\n]*?)  +(\S[^\n]*)$", text.split("final table", 1)[1], re.M))
    placed, answered = int(table["calls placed"]), int(table["answered"])
    assert placed >= 5 and answered >= 1, text
    assert int(table["answered"]) + int(table["abandoned"]) == placed, text

    # one record per call placed, written by the service; answered ones by simulated advisors
    await served.count(r"record written linkedid=", placed, within=60)
    conn = await asyncpg.connect(fresh_database)
    try:
        rows = await conn.fetch("SELECT status, advisor_name FROM call_records")
    finally:
        await conn.close()
    assert len(rows) == placed
    assert sum(1 for r in rows if r["status"] == "answered") == answered
    assert {r["advisor_name"] for r in rows if r["status"] == "answered"} <= {"sim01", "sim02", "sim03"} | {
        f"Conseiller simulé {n}" for n in (1, 2, 3)
    }

    # the service's own account (its health details, for a supervisor): every record written, every Redis call of
    # the instance answered
    url = f"http://127.0.0.1:{served.env['GPS_ADMIN_HTTP_PORT']}"
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[url])
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        page = await (await session.get(f"{url}/login")).text()
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token is not None
        form = {"csrf": token[1], "login": "sam", "password": SUPERVISOR_PASSWORD}
        assert (await session.post(f"{url}/login", data=form, allow_redirects=False)).status == 303
        health = await (await session.get(f"{url}/healthz")).json()
    assert health["calls"]["records"] == placed and health["calls"]["effect_errors"] == 0, health
    assert health["redis"]["failed"] == 0 and 0 < health["redis"]["rounds"] <= health["redis"]["calls"], health
    database = health["database"]  # PostgreSQL's status, from the writer's probe (issue 11, item 15)
    assert database["up"] is True and database["records_waiting"] == 0 and database["checked_at"], health
