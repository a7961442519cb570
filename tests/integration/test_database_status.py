"""PostgreSQL away, then back: the records come back within about a second (the probe sees it), and the database's
status says what is going on (issue 11, item 15). The outage is a TCP proxy under the test's control between the
writer and the machine's PostgreSQL (which is shared: never stopped)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest

from storage.calls import CallRecordRepository
from storage.pool import create_pool
from storage.probe import DatabaseProbe
from storage.spool import Spool
from storage.writer import RecordWriter
from tests.fixtures_db import fresh_database, make_record, migrated_pool
from tests.integration.harness import WITHIN
from tests.tcp_proxy import TcpProxy

__all__ = ["fresh_database", "migrated_pool"]


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    async with TcpProxy("127.0.0.1", 5432) as p:
        yield p


def writer_through(proxy: TcpProxy, dsn: str, spool: Path, every: float = 0.2) -> RecordWriter:
    through = proxy.dsn(dsn)

    async def pool() -> asyncpg.Pool:
        return await create_pool(through, connect_timeout=2.0)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(through, timeout=2.0)

    # The backoff alone would wait an hour: the records can only come back soon through the probe.
    return RecordWriter(
        Spool(spool),
        pool,
        submit_timeout=0.0,
        backoff_initial=3600,
        backoff_max=3600,
        probe=DatabaseProbe(connect, interval=every, retry=every, timeout=2.0),
    )


async def until(probe: DatabaseProbe, condition: Callable[[], bool]) -> None:
    async def wait() -> None:
        while not condition():
            await probe.changed()

    await asyncio.wait_for(wait(), WITHIN)


async def test_records_come_back_soon_after_an_outage_and_the_status_says_so(
    proxy: TcpProxy, fresh_database: str, migrated_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    writer = writer_through(proxy, fresh_database, tmp_path / "spool")
    probe = writer._probe
    assert probe is not None
    repo = CallRecordRepository(migrated_pool)
    async with writer:
        await writer.accept(make_record("before-outage"))
        await asyncio.wait_for(writer.wait_drained(), WITHIN)
        assert await repo.get("before-outage") is not None
        status = writer.database_status()
        assert status is not None and status.up is True and status.records_waiting == 0
        proxy.cut()  # PostgreSQL gone: every connection closed, new ones refused
        await writer.accept(make_record("during-outage"))
        await until(probe, lambda: probe.is_up is False)
        while writer.failures == 0:  # the drain tried and failed (it waits on the probe now)
            await probe.changed()
        down = writer.database_status()
        assert down is not None and down.up is False and down.since is not None
        assert down.records_waiting == 1 and down.last_error
        assert await repo.get("during-outage") is None
        proxy.restore()
        await asyncio.wait_for(writer.wait_drained(), WITHIN)  # the backoff is an hour: the probe woke the drain
        assert await repo.get("during-outage") is not None
        back = writer.database_status()
        assert back is not None and back.up is True and back.records_waiting == 0
        assert back.since is not None and back.since > down.since
        assert writer.failures >= 1 and proxy.refused >= 1


async def test_an_idle_outage_shows_in_the_status(
    proxy: TcpProxy, fresh_database: str, migrated_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """No record waiting: the probe alone sees PostgreSQL go and come back."""
    writer = writer_through(proxy, fresh_database, tmp_path / "spool")
    probe = writer._probe
    assert probe is not None
    async with writer:
        await until(probe, lambda: probe.is_up is True)
        await asyncio.wait_for(writer.wait_drained(), WITHIN)  # its first drain (joining qualifications) is done
        proxy.cut()
        await until(probe, lambda: probe.is_up is False)
        status = writer.database_status()
        assert status is not None and status.up is False and status.records_waiting == 0 and status.last_error
        proxy.restore()
        await until(probe, lambda: probe.is_up is True)
        assert writer.failures == 0


async def test_a_write_refused_while_the_database_answers_keeps_the_backoff(
    proxy: TcpProxy, fresh_database: str, migrated_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A schema behind the code: `SELECT 1` answers, the write fails. The database is up; the writer waits on its
    backoff instead of retrying at the probe's pace."""
    await migrated_pool.execute("ALTER TABLE call_records RENAME COLUMN talk_ended_at TO talk_ended_at_later")
    try:
        writer = writer_through(proxy, fresh_database, tmp_path / "spool", every=0.05)
        probe = writer._probe
        assert probe is not None
        async with writer:
            await writer.accept(make_record("schema-behind"))
            while writer.failures == 0:
                await probe.changed()
            probes = probe.probes
            await until(probe, lambda: probe.probes >= probes + 10)  # the failure's own retries settle (a submit
            failures, probes = writer.failures, probe.probes  # wakes the drain at once: at most one more)
            await until(probe, lambda: probe.probes >= probes + 20)  # the probe keeps finding PostgreSQL there…
            assert writer.failures == failures <= 2  # …and the writer does not retry at its pace
            status = writer.database_status()
            assert status is not None and status.up is True and status.records_waiting == 1
            assert status.last_error and "talk_ended_at" in status.last_error
    finally:
        await migrated_pool.execute("ALTER TABLE call_records RENAME COLUMN talk_ended_at_later TO talk_ended_at")
