"""Storage test helpers: throw-away PostgreSQL databases (real server on 127.0.0.1:5432), call records.

Import the fixtures into a test module (`from tests.fixtures_db import fresh_database, migrated_pool`).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from storage.migrate import migrate
from storage.pool import create_pool
from telephony.records import CallRecord, CallStatus, HangupBy, RingAttempt, RingResult

SERVER = "postgresql://postgres@127.0.0.1:5432"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def throwaway_database() -> Iterator[str]:
    """DSN of an empty database, dropped on exit (call from sync code: it runs its own loop)."""
    name = f"gps_test_{secrets.token_hex(6)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{SERVER}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def fresh_database() -> Iterator[str]:
    """DSN of an empty database created for this test module and dropped after it."""
    with throwaway_database() as dsn:
        yield dsn


@pytest.fixture
async def migrated_pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the module's database, migrated, with `call_records` emptied for this test."""
    pool = await create_pool(fresh_database)
    try:
        await migrate(pool)
        await pool.execute("TRUNCATE call_records")
        yield pool
    finally:
        await pool.close()


T0 = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def make_record(linkedid: str = "1710408600.101", **changes: Any) -> CallRecord:
    base: dict[str, Any] = {
        "linkedid": linkedid,
        "caller_number": "+33612345678",
        "caller_number_raw": "0612345678",
        "caller_name": "Dupont",
        "called_number": "3900",
        "arrived_at": T0,
        "line_open": True,
        "queue": "public",
        "queue_entered_at": T0 + timedelta(seconds=2),
        "queue_left_at": T0 + timedelta(seconds=20),
        "rings": (
            RingAttempt(
                interface="PJSIP/adv1",
                member_name="Advisor One",
                started_at=T0 + timedelta(seconds=5),
                ended_at=T0 + timedelta(seconds=20),
                result=RingResult.ANSWERED,
            ),
        ),
        "answered_at": T0 + timedelta(seconds=20),
        "advisor_interface": "PJSIP/adv1",
        "advisor_name": "Advisor One",
        "ended_at": T0 + timedelta(seconds=200),
        "hangup_by": HangupBy.CALLER,
        "hangup_cause": 16,
        "hangup_cause_text": "Normal Clearing",
        "wait_seconds": 18.0,
        "talk_seconds": 180.0,
        "status": CallStatus.ANSWERED,
    }
    base.update(changes)
    return CallRecord.model_validate(base)
