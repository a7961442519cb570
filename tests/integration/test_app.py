"""Start-up checks of the composition root, on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from gps_admin.app import StartupError, prepare_database
from storage.migrate import load_migrations
from tests.fixtures_db import fresh_database
from tests.rig.asterisk import free_loopback_port
from tests.servers import redis_url

__all__ = ["fresh_database"]


async def test_a_schema_that_is_behind_stops_the_start_until_migrated(fresh_database: str) -> None:
    with pytest.raises(StartupError, match="gps-admin migrate"):
        await prepare_database(fresh_database, apply=False)
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("gps-admin")),
        "migrate",
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("GPS_ADMIN_")},
            "GPS_ADMIN_DATABASE_URL": fresh_database,
            "GPS_ADMIN_REDIS_URL": redis_url(0),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out
    assert "migrations applied: " + ", ".join(m.name for m in load_migrations()) in out.decode()
    await prepare_database(fresh_database, apply=False)  # now up to date: no error


async def test_an_unreachable_database_does_not_stop_the_start() -> None:
    """Records wait in the spool; the writer connects when PostgreSQL comes."""
    await prepare_database(f"postgresql://postgres@127.0.0.1:{free_loopback_port()}/x", apply=False)
