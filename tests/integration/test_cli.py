"""`gps-admin` as a newcomer runs it: embedded PostgreSQL and Redis, the real Asterisk, a real call."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from tests.integration.harness import WITHIN, Driver
from tests.rig.asterisk import AsteriskRig, free_loopback_port
from tests.serve import GPS_ADMIN, Process, clean_env, cli

pytestmark = pytest.mark.asterisk


@pytest.fixture
async def serve(asterisk_rig: AsteriskRig, tmp_path: Path) -> AsyncIterator[Process]:
    env = clean_env(
        GPS_ADMIN_DATA_DIR=str(tmp_path / "data"),
        GPS_ADMIN_HTTP_PORT=str(free_loopback_port()),
        GPS_ADMIN_AMI_PORT=str(asterisk_rig.port),
        GPS_ADMIN_AMI_USERNAME=asterisk_rig.username,
        GPS_ADMIN_AMI_SECRET=asterisk_rig.secret,
    )
    proc = await asyncio.create_subprocess_exec(
        GPS_ADMIN, "serve", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    running = Process(proc, env)
    try:
        yield running
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.wait(), WITHIN)


STATES = "SELECT state FROM advisor_events ORDER BY id"


async def test_serve_on_embedded_defaults_writes_the_record_of_a_real_call(
    serve: Process, asterisk_rig: AsteriskRig
) -> None:
    db = await serve.expect(r"embedded PostgreSQL \d+ ready on (postgresql://\S+)")
    await serve.expect(r"gps-admin ready on http://")
    await serve.expect(r"AMI connected to")
    await serve.expect(r"router \S+ leads queue gps")
    driver = await Driver.connect(asterisk_rig)
    try:
        # the advisor is created and logged in with the CLI, which attaches to the running embedded servers;
        # the router then makes them a queue member and offers them the call
        add = ["advisors", "add", "--login", "agnes", "--name", "Agnès Roussel", "--interface", "Local/adv1@advisors"]
        assert "agnes" in await cli(serve.env, *add)
        assert "login done" in await cli(serve.env, "advisors", "presence", "agnes", "login")
        await driver.call("0321000201", "Hélène Lefèvre", __ADVISOR_TALK="1")
        ended = await serve.expect(r"call ended linkedid=(\S+) status=answered caller=\+33321000201")
        linkedid = ended.group(1)
        await serve.expect(rf"record written linkedid={re.escape(linkedid)} ")
    finally:
        await driver.clear_queue()
        await driver.close()
    conn = await asyncpg.connect(db.group(1))
    try:
        row = await conn.fetchrow("SELECT caller_name, status FROM call_records WHERE linkedid = $1", linkedid)
    finally:
        await conn.close()
    assert row is not None and (row["caller_name"], row["status"]) == ("Hélène Lefèvre", "answered")
    async with asyncpg.create_pool(db.group(1), min_size=1, max_size=1) as pool:

        async def logged() -> list[str]:  # the router writes its presence log in a task of its own
            while len(states := [r["state"] for r in await pool.fetch(STATES)]) < 4:
                pass
            return states

        assert (await asyncio.wait_for(logged(), WITHIN))[:4] == ["available", "ringing", "on_call", "wrap_up"]
    serve.proc.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop
    assert await asyncio.wait_for(serve.proc.wait(), WITHIN) == 0


async def test_a_wrong_setting_stops_the_start_and_is_named(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        GPS_ADMIN,
        "serve",
        env=clean_env(GPS_ADMIN_DATA_DIR=str(tmp_path), GPS_ADMIN_AMI_PORT="not-a-port"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), WITHIN)
    assert proc.returncode == 2
    assert "GPS_ADMIN_AMI_PORT" in out.decode()
    assert not (tmp_path / "postgres").exists()  # stopped before touching anything


async def test_secrets_never_reach_the_logs(serve: Process, asterisk_rig: AsteriskRig) -> None:
    await serve.expect(r"AMI connected to")
    assert not any(asterisk_rig.secret in line for line in serve.lines)
