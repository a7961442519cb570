"""RecordWriter: spool first, PostgreSQL when it is there, nothing lost, nothing duplicated.

The outage is real: the target is a private PostgreSQL 16 (pgserver, through EmbeddedServers) that the
test stops and starts again.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest

from storage.calls import CallRecordRepository
from storage.embedded import EmbeddedServers
from storage.migrate import migrate
from storage.pool import create_pool
from storage.spool import Spool
from storage.writer import RecordWriter
from telephony.records import CallRecord
from tests.fixtures_db import fresh_database, make_record, migrated_pool

__all__ = ["fresh_database", "migrated_pool"]  # fixtures used by name below

WAIT = 30.0


def factory(dsn: str) -> Callable[[], asyncio.Future[asyncpg.Pool]]:
    def make() -> asyncio.Future[asyncpg.Pool]:
        return asyncio.ensure_future(create_pool(dsn, connect_timeout=2.0))

    return make


@pytest.fixture
async def private_postgres(tmp_path: Path) -> AsyncIterator[EmbeddedServers]:
    servers = EmbeddedServers(tmp_path / "data")
    await asyncio.to_thread(servers.start)
    try:
        conn = await asyncpg.connect(servers.database_url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield servers
    finally:
        await asyncio.to_thread(servers.stop)


async def test_outage_records_wait_in_spool_then_are_written_once(
    private_postgres: EmbeddedServers, tmp_path: Path
) -> None:
    dsn = private_postgres.database_url
    spool = Spool(tmp_path / "spool")
    writer = RecordWriter(spool, factory(dsn), submit_timeout=1.0, backoff_initial=0.05, backoff_max=0.5)
    async with writer:
        assert await writer.submit(make_record("before")) is True  # the writer now holds a live pool

        await asyncio.to_thread(private_postgres._stop_postgres)  # real outage, pool connections die
        records = [make_record(f"during-{i}") for i in range(5)]
        for record in records:
            assert await writer.submit(record) is False
        assert await writer.submit(records[0]) is False  # a replay while down
        stats = writer.stats()
        assert stats.pending == 6 and stats.written == 1 and stats.failures >= 1
        assert not writer._drained.is_set()

        await asyncio.to_thread(private_postgres._start_postgres)  # same socket, same data
        await asyncio.wait_for(writer.wait_drained(), WAIT)

        pool = await create_pool(dsn)
        try:
            rows = await pool.fetch("SELECT linkedid FROM call_records ORDER BY linkedid")
            assert [r["linkedid"] for r in rows] == ["before"] + [r.linkedid for r in records]
            assert await CallRecordRepository(pool).get("during-3") == records[3]
        finally:
            await pool.close()
        assert writer.stats().pending == 0
        assert writer.written == 7


async def test_unreachable_from_the_start_then_reachable(
    migrated_pool: asyncpg.Pool, fresh_database: str, tmp_path: Path
) -> None:
    reachable = asyncio.Event()
    attempts = 0

    async def pool_factory() -> asyncpg.Pool:
        nonlocal attempts
        attempts += 1
        if not reachable.is_set():
            return await create_pool("postgresql://postgres@127.0.0.1:1/none", connect_timeout=1.0)
        return await create_pool(fresh_database)

    writer = RecordWriter(Spool(tmp_path / "spool"), pool_factory, submit_timeout=0.5, backoff_initial=0.05)
    async with writer:
        assert await writer.submit(make_record("A")) is False
        assert writer.stats().pending == 1 and attempts >= 1
        reachable.set()
        await asyncio.wait_for(writer.wait_drained(), WAIT)
    assert await CallRecordRepository(migrated_pool).count() == 1


async def test_records_left_by_a_crashed_writer_are_written_by_the_next(
    migrated_pool: asyncpg.Pool, fresh_database: str, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    left = [make_record(f"left-{i}") for i in range(3)]
    for record in left:
        spool.put(record)
    # a crash between fsync and rename leaves a complete temporary file: it must not be lost either
    done = spool.put(make_record("left-tmp"))
    done.rename(done.with_name(f".{done.name}.tmp"))
    # a version of left-0 written later must win over the earlier one (arrival order)
    newer = make_record("left-0", talk_seconds=999.0)
    spool.put(newer)

    writer = RecordWriter(Spool(tmp_path / "spool"), factory(fresh_database))
    async with writer:
        await asyncio.wait_for(writer.wait_drained(), WAIT)
    repo = CallRecordRepository(migrated_pool)
    assert await repo.count() == 4
    assert await repo.get("left-0") == newer
    assert await repo.get("left-tmp") is not None
    assert spool.pending() == []


async def test_a_qualification_a_crash_left_waiting_joins_its_record_at_the_next_start(
    migrated_pool: asyncpg.Pool, fresh_database: str, tmp_path: Path
) -> None:
    """The record was committed and the qualification saved during the call, but neither side got to join them
    (a crash between a write and its look-up of the other): the next writer joins them at its first drain."""
    await CallRecordRepository(migrated_pool).upsert(make_record("crash-1"))
    await migrated_pool.execute(
        "INSERT INTO pending_qualifications (linkedid, topic, outcome, callback_requested, note, qualified_by)"
        " VALUES ('crash-1', 'roads', 'advice', false, 'saved during the call', 'agnes'),"
        " ('crash-2', 'roads', 'advice', false, 'its call still in progress', 'agnes')"
    )
    writer = RecordWriter(Spool(tmp_path / "spool"), factory(fresh_database))
    async with writer:
        await asyncio.wait_for(writer.wait_drained(), WAIT)
    row = await migrated_pool.fetchrow("SELECT topic, note, qualified_by FROM call_records WHERE linkedid = 'crash-1'")
    assert row is not None and tuple(row) == ("roads", "saved during the call", "agnes")
    waiting = await migrated_pool.fetch("SELECT linkedid FROM pending_qualifications")
    assert [r["linkedid"] for r in waiting] == ["crash-2"]  # no record yet: it keeps waiting


async def test_corrupt_and_refused_files_are_set_aside_and_do_not_block(
    migrated_pool: asyncpg.Pool, fresh_database: str, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    spool.directory.mkdir(parents=True)
    corrupt = spool.directory / "00000000000000000001-000000-00.json"
    corrupt.write_bytes(b'{"linkedid": "trunc')
    # a rule the database enforces and the model does not know (as a later migration could add)
    await migrated_pool.execute(
        """CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
             IF NEW.linkedid = 'refused' THEN
               RAISE EXCEPTION 'record refused by a database rule' USING ERRCODE = 'check_violation';
             END IF; RETURN NEW; END $$;
           CREATE TRIGGER refuse BEFORE INSERT ON call_records FOR EACH ROW EXECUTE FUNCTION refuse();"""
    )
    refused = spool.put(make_record("refused"))
    good = spool.put(make_record("good"))

    writer = RecordWriter(spool, factory(fresh_database))
    async with writer:
        await asyncio.wait_for(writer.wait_drained(), WAIT)
        stats = writer.stats()
    assert (stats.written, stats.corrupt, stats.rejected, stats.pending) == (1, 1, 1, 0)
    assert (spool.corrupt_dir / corrupt.name).read_bytes() == b'{"linkedid": "trunc'
    assert (spool.rejected_dir / refused.name).exists()
    assert "refused by a database rule" in (spool.rejected_dir / f"{refused.name}.reason").read_text()
    assert not good.exists()
    assert await CallRecordRepository(migrated_pool).count() == 1


async def test_submit_writes_at_once_when_postgres_is_up(
    migrated_pool: asyncpg.Pool, fresh_database: str, tmp_path: Path
) -> None:
    writer = RecordWriter(Spool(tmp_path / "spool"), factory(fresh_database), submit_timeout=WAIT)
    async with writer:
        results = await asyncio.gather(*(writer.submit(make_record(f"now-{i}")) for i in range(20)))
        assert all(results)
        assert writer.stats().pending == 0
    assert await CallRecordRepository(migrated_pool).count() == 20


class HeldSpool(Spool):
    """A real spool whose writes wait for `release` (a slow disk), or fail while `failing` is set (a full one)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.release = threading.Event()
        self.release.set()
        self.failing = threading.Event()
        self.failed_twice = threading.Event()
        self.failures = 0
        self.puts = 0
        self.listings = 0

    def pending(self) -> list[Path]:
        self.listings += 1
        return super().pending()

    def put(self, record: CallRecord) -> Path:
        self.release.wait(WAIT)
        if self.failing.is_set():
            self.failures += 1
            if self.failures >= 2:
                self.failed_twice.set()
            raise OSError(28, "No space left on device")
        self.puts += 1
        return super().put(record)


async def test_accept_hands_over_without_waiting_for_the_disk_and_keeps_the_order(
    migrated_pool: asyncpg.Pool, fresh_database: str, tmp_path: Path
) -> None:
    spool = HeldSpool(tmp_path / "spool")
    spool.release.clear()  # the disk does not answer
    writer = RecordWriter(spool, factory(fresh_database))
    async with writer:
        for i in range(5):  # returns at once: nothing is on disk yet
            await asyncio.wait_for(writer.accept(make_record("same", caller_name=f"version {i}")), WAIT)
        assert spool.puts == 0 and writer.stats().pending == 5
        spool.release.set()
        await asyncio.wait_for(writer.wait_drained(), WAIT)
    stored = await CallRecordRepository(migrated_pool).get("same")
    assert stored is not None and stored.caller_name == "version 4"  # the versions applied in arrival order
    assert spool.puts == 5


async def test_a_spool_that_fails_keeps_the_accepted_records_and_tries_again(
    migrated_pool: asyncpg.Pool, fresh_database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = HeldSpool(tmp_path / "spool")
    spool.failing.set()
    writer = RecordWriter(spool, factory(fresh_database), backoff_initial=0.05, backoff_max=0.1)
    async with writer:
        await writer.accept(make_record("full-1"))
        await writer.accept(make_record("full-2"))
        assert await asyncio.to_thread(spool.failed_twice.wait, WAIT)  # tried, then tried again after a backoff
        assert writer.stats().pending == 2 and writer.spool_failures >= 2
        spool.failing.clear()  # space freed
        await asyncio.wait_for(writer.wait_drained(), WAIT)
    assert await CallRecordRepository(migrated_pool).count() == 2
    assert "cannot spool" in caplog.text and "2 record(s) kept in memory" in caplog.text


async def test_stop_spools_what_was_accepted_for_the_next_start(
    migrated_pool: asyncpg.Pool, fresh_database: str, tmp_path: Path
) -> None:
    spool = HeldSpool(tmp_path / "spool")

    async def no_database() -> asyncpg.Pool:
        raise OSError("PostgreSQL is away")

    writer = RecordWriter(spool, no_database, backoff_initial=10.0)
    await writer.start()
    spool.release.clear()
    await writer.accept(make_record("late-1"))
    await writer.accept(make_record("late-2"))
    spool.release.set()
    await asyncio.wait_for(writer.stop(), WAIT)  # Ctrl-C right after the calls ended
    assert len(Spool(tmp_path / "spool").pending()) == 2
    async with RecordWriter(Spool(tmp_path / "spool"), factory(fresh_database)) as next_writer:
        await asyncio.wait_for(next_writer.wait_drained(), WAIT)
    assert await CallRecordRepository(migrated_pool).count() == 2


async def test_accepted_records_go_in_batches_and_a_refused_one_is_set_aside_alone(
    migrated_pool: asyncpg.Pool, fresh_database: str, tmp_path: Path
) -> None:
    await migrated_pool.execute(
        """CREATE OR REPLACE FUNCTION refuse_in_batch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
             IF NEW.linkedid = 'refused' THEN
               RAISE EXCEPTION 'record refused by a database rule' USING ERRCODE = 'check_violation';
             END IF; RETURN NEW; END $$;
           CREATE OR REPLACE TRIGGER refuse_in_batch BEFORE INSERT ON call_records
             FOR EACH ROW EXECUTE FUNCTION refuse_in_batch();"""
    )
    spool = HeldSpool(tmp_path / "spool")

    async def pool() -> asyncpg.Pool:
        return await create_pool(fresh_database)

    writer = RecordWriter(spool, pool)
    upserts: list[int] = []
    original = CallRecordRepository.upsert_many

    async def counted(self: CallRecordRepository, records: list[CallRecord]) -> None:
        upserts.append(len(records))
        await original(self, records)

    CallRecordRepository.upsert_many = counted  # type: ignore[method-assign]
    try:
        async with writer:
            await asyncio.wait_for(writer.wait_drained(), WAIT)  # its first pass over the empty spool is done
            spool.release.clear()  # the disk holds them: they reach the drain together
            for name in ("first", "refused", "last"):
                await writer.accept(make_record(name))
            spool.release.set()
            await asyncio.wait_for(writer.wait_drained(), WAIT)
            stats = writer.stats()
    finally:
        CallRecordRepository.upsert_many = original  # type: ignore[method-assign]
        await migrated_pool.execute("DROP TRIGGER refuse_in_batch ON call_records; DROP FUNCTION refuse_in_batch()")
    assert upserts == [3]  # one exchange for the three; refused whole, then one at a time
    assert (stats.written, stats.rejected, stats.pending) == (2, 1, 0)
    assert {r["linkedid"] for r in await migrated_pool.fetch("SELECT linkedid FROM call_records")} == {"first", "last"}
    assert len(list(spool.rejected_dir.glob("*.json"))) == 1


async def test_the_drain_lists_the_spool_only_when_a_file_may_not_be_in_memory(
    migrated_pool: asyncpg.Pool, fresh_database: str, tmp_path: Path
) -> None:
    spool = HeldSpool(tmp_path / "spool")
    spool.put(make_record("left-by-a-crash"))  # a file from an earlier run: only a listing finds it
    async with RecordWriter(spool, factory(fresh_database)) as writer:
        await asyncio.wait_for(writer.wait_drained(), WAIT)
        listings = spool.listings
        for i in range(3):
            await writer.accept(make_record(f"handed-{i}"))
            await asyncio.wait_for(writer.wait_drained(), WAIT)
        assert spool.listings == listings  # the records handed over were taken from memory
    assert await CallRecordRepository(migrated_pool).count() == 4
