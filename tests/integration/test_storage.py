"""Migrations and the call record repository against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from config.settings import LineSettings
from storage.calls import CallRecordRepository
from storage.migrate import MigrationError, check, load_migrations, migrate
from storage.pool import create_pool
from telephony.calls import CallTracker
from telephony.effects import CallEnded
from telephony.records import CallRecord, CallStatus, HangupBy
from tests.fixtures_db import T0, fresh_database, make_record, migrated_pool
from tests.unit.test_calls import OPEN
from tests.unit.test_record_bounds import oversized_call, string_bounds

__all__ = ["fresh_database", "migrated_pool"]  # fixtures used by name below

ALL = [m.name for m in load_migrations()]


async def test_migrate_applies_once_then_is_idempotent(fresh_database: str) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        with pytest.raises(MigrationError, match="behind"):
            await check(conn)
        assert await migrate(conn) == ALL
        assert await migrate(conn) == []
        await check(conn)
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in load_migrations()]
        assert rows[0]["checksum"] == load_migrations()[0].checksum
    finally:
        await conn.close()


async def test_two_instances_migrating_together_do_not_race(fresh_database: str) -> None:
    pool = await create_pool(fresh_database, max_size=4)
    try:
        await pool.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")

        async def one() -> list[str]:
            async with pool.acquire() as conn:
                return await migrate(conn)

        results = await asyncio.gather(one(), one(), one())
        assert sorted(results) == [[], [], ALL]
    finally:
        await pool.close()


async def test_check_detects_missing_and_edited_migrations(migrated_pool: asyncpg.Pool, tmp_path: Path) -> None:
    migrations = load_migrations()
    shipped = migrations[0]
    newer = tmp_path / "newer"
    newer.mkdir()
    edited = tmp_path / "edited"
    edited.mkdir()
    for m in migrations:
        (newer / f"{m.name}.sql").write_text(m.sql, encoding="utf-8")
        (edited / f"{m.name}.sql").write_text(m.sql, encoding="utf-8")
    more = f"{migrations[-1].version + 1:04d}_more"
    (newer / f"{more}.sql").write_text("CREATE TABLE more (id int);", encoding="utf-8")
    (edited / f"{shipped.name}.sql").write_text(shipped.sql + "\n-- edited\n", encoding="utf-8")
    older = tmp_path / "older"
    older.mkdir()

    async with migrated_pool.acquire() as conn:
        await check(conn)
        with pytest.raises(MigrationError, match=rf"behind.*{more}.*gps-admin migrate"):
            await check(conn, directory=newer)
        with pytest.raises(MigrationError, match="edited after it was applied"):
            await check(conn, directory=edited)
        with pytest.raises(MigrationError, match="edited after it was applied"):
            await migrate(conn, directory=edited)
        with pytest.raises(MigrationError, match="does not know"):
            await check(conn, directory=older)


async def test_upsert_same_record_twice_gives_one_row(migrated_pool: asyncpg.Pool) -> None:
    repo = CallRecordRepository(migrated_pool)
    record = make_record()
    assert await repo.upsert(record) is True
    assert await repo.upsert(record) is False
    assert await repo.count() == 1
    assert await repo.get(record.linkedid) == record
    assert await repo.get("no-such-call") is None


async def test_hold_facts_are_written_and_read_back(migrated_pool: asyncpg.Pool) -> None:
    repo = CallRecordRepository(migrated_pool)
    record = make_record(hold_seconds=42.25, hold_count=3)
    assert await repo.upsert(record) is True
    row = await migrated_pool.fetchrow("SELECT hold_seconds, hold_count FROM call_records")
    assert row is not None and (row["hold_seconds"], row["hold_count"]) == (42.25, 3)
    assert await repo.get(record.linkedid) == record
    # a later version of the same call (its hold ended differently) replaces the facts
    assert await repo.upsert(record.model_copy(update={"hold_seconds": 50.0})) is True
    assert await migrated_pool.fetchval("SELECT hold_seconds FROM call_records") == 50.0
    with pytest.raises(asyncpg.CheckViolationError):
        await migrated_pool.execute("UPDATE call_records SET hold_seconds = -1")


async def test_real_record_replaces_reconstructed_but_not_the_reverse(migrated_pool: asyncpg.Pool) -> None:
    repo = CallRecordRepository(migrated_pool)
    reconstructed = make_record(
        "L-1", reconstructed=True, hangup_by=HangupBy.UNKNOWN, ended_at=T0 + timedelta(seconds=900)
    )
    real = make_record("L-1")
    assert await repo.upsert(reconstructed) is True
    assert await repo.upsert(real) is True
    assert await repo.get("L-1") == real
    assert await repo.upsert(reconstructed) is False  # a late resync must not undo the real record
    assert await repo.get("L-1") == real
    later = make_record("L-1", talk_seconds=181.5)  # a more complete real version still replaces
    assert await repo.upsert(later) is True
    assert await repo.get("L-1") == later
    assert await repo.count() == 1


async def test_qualification_survives_upsert(migrated_pool: asyncpg.Pool) -> None:
    repo = CallRecordRepository(migrated_pool)
    await repo.upsert(make_record("L-2", reconstructed=True, hangup_by=HangupBy.UNKNOWN))
    await migrated_pool.execute(
        """UPDATE call_records SET topic = 'etat-civil', outcome = 'advice', callback_requested = true,
           commune_insee = '2A004', note = 'rappeler', qualified_at = now(), qualified_by = 'adv1'
           WHERE linkedid = 'L-2'"""
    )
    assert await repo.upsert(make_record("L-2", status=CallStatus.ANSWERED)) is True
    row = await migrated_pool.fetchrow("SELECT * FROM call_records WHERE linkedid = 'L-2'")
    assert row["reconstructed"] is False
    assert (row["topic"], row["outcome"], row["callback_requested"]) == ("etat-civil", "advice", True)
    assert (row["commune_insee"], row["note"], row["qualified_by"]) == ("2A004", "rappeler", "adv1")


@pytest.mark.parametrize("code", ["2C004", "1234", "ABCDE", "75O56"])
async def test_constraint_rejects_bad_commune_code(migrated_pool: asyncpg.Pool, code: str) -> None:
    await CallRecordRepository(migrated_pool).upsert(make_record("L-3"))
    with pytest.raises(asyncpg.CheckViolationError):
        await migrated_pool.execute("UPDATE call_records SET commune_insee = $1 WHERE linkedid = 'L-3'", code)


async def test_constraint_rejects_long_note_and_unknown_status(migrated_pool: asyncpg.Pool) -> None:
    await CallRecordRepository(migrated_pool).upsert(make_record("L-4"))
    with pytest.raises(asyncpg.CheckViolationError):
        await migrated_pool.execute("UPDATE call_records SET note = $1 WHERE linkedid = 'L-4'", "x" * 2001)
    with pytest.raises(asyncpg.CheckViolationError):
        await migrated_pool.execute("UPDATE call_records SET status = 'lost' WHERE linkedid = 'L-4'")


async def test_hostile_caller_name_is_stored_verbatim(migrated_pool: asyncpg.Pool) -> None:
    repo = CallRecordRepository(migrated_pool)
    name = "<script>'); DROP TABLE call_records;--\"\t\x1b"
    record = make_record("L-5", caller_name=name, caller_number_raw="\x07'\"<b>")
    assert await repo.upsert(record) is True
    assert await repo.get("L-5") == record
    nul = make_record("L-6", caller_name="a\x00b")  # PostgreSQL text cannot hold NUL: replaced, not lost
    assert await repo.upsert(nul) is True
    stored = await repo.get("L-6")
    assert stored is not None and stored.caller_name == "a\ufffdb"
    assert await repo.upsert(nul) is False


async def test_the_record_model_bounds_every_column_as_the_table_does(migrated_pool: asyncpg.Pool) -> None:
    """One bound per field (telephony.bounds): the record's, read from the model, equal the table's CHECKs, so a
    record the model accepts is never refused by PostgreSQL for a length (issue 11, item 7)."""
    rows = await migrated_pool.fetch(
        "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint"
        " WHERE conrelid = 'call_records'::regclass AND contype = 'c'"
    )
    table: dict[str, int] = {}
    for row in rows:
        match = re.search(r"char_length\((\w+)\) (?:<= (\d+)|>= 1\) AND \(char_length\(\w+\) <= (\d+))", row["def"])
        if match:
            table[match[1]] = int(match[2] or match[3])
    model = string_bounds(CallRecord)
    assert model == {k: v for k, v in table.items() if k in CallRecord.model_fields}
    assert model["linkedid"] == 64 and len(model) == 11


async def test_a_call_with_every_field_oversized_is_written(migrated_pool: asyncpg.Pool) -> None:
    tracker = CallTracker(LineSettings(), OPEN)
    records = [fx.record for e in oversized_call() for fx in tracker.apply(e) if isinstance(fx, CallEnded)]
    repo = CallRecordRepository(migrated_pool)
    assert await repo.upsert(records[0])
    assert await repo.get(records[0].linkedid) == records[0]
