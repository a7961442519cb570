"""The record writer: spool first, then PostgreSQL, retried until it is back.

One drain task does every database write, oldest spool file first, so two versions of the same call are
always applied in arrival order. `submit()` spools (fsync'd) and wakes the drain, then waits a bounded
time for the commit: when it returns, the record is durable whatever PostgreSQL does.

PostgreSQL down (refused, closed pool, restart, timeout): the pool is dropped, the drain sleeps with
capped exponential backoff and asks the pool factory for a new pool on the next try; a submit wakes it
at once. A record PostgreSQL refuses for good (data or constraint error) goes to `rejected/` so that
one bad record never blocks the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

import asyncpg
from pydantic import BaseModel, ConfigDict

from storage.calls import CallRecordRepository
from storage.spool import CorruptSpoolFileError, Spool
from telephony.aio import bounded
from telephony.records import CallRecord

_log = logging.getLogger(__name__)

PoolFactory = Callable[[], Awaitable[asyncpg.Pool]]

# Errors that no retry will fix: the record itself is refused, by PostgreSQL (SQLSTATE 22, 23) or by
# asyncpg while encoding it (its client-side DataError is a ValueError, e.g. an int out of int4 range).
_PERMANENT = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, ValueError)
_MEMORY_MAX = 10_000  # spooled records also kept in memory (beyond: read back from the spool)


class WriterStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    written: int  # records committed (including replays that changed nothing)
    pending: int  # files waiting in the spool
    failures: int  # failed drain attempts (PostgreSQL unreachable or erroring)
    rejected: int  # records PostgreSQL refused for good, set aside in rejected/
    corrupt: int  # unreadable spool files, set aside in corrupt/


class RecordWriter:
    def __init__(
        self,
        spool: Spool,
        pool_factory: PoolFactory,
        *,
        submit_timeout: float = 2.0,
        write_timeout: float = 5.0,
        backoff_initial: float = 0.2,
        backoff_max: float = 30.0,
    ) -> None:
        self._spool = spool
        self._pool_factory = pool_factory
        self._submit_timeout = submit_timeout
        self._write_timeout = write_timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._pool: asyncpg.Pool | None = None
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._waiters: dict[Path, asyncio.Future[bool]] = {}
        self._spooled: dict[Path, CallRecord] = {}  # records this process spooled, so the drain need not read them
        self._task: asyncio.Task[None] | None = None
        self._submitting = 0  # submits between clearing `_drained` and waking the drain
        self.written = 0
        self.failures = 0
        self.rejected = 0
        self.corrupt = 0

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("RecordWriter already started")
        self._task = asyncio.create_task(self.run(), name="record-writer-drain")

    async def stop(self) -> None:
        """Cancel the drain and close the pool; what is still spooled stays for the next start."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop_pool()

    async def __aenter__(self) -> RecordWriter:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- API -------------------------------------------------------------------------------------

    async def submit(self, record: CallRecord) -> bool:
        """Spool `record`, then wait up to `submit_timeout` for its commit.

        True: committed to PostgreSQL. False: still spooled (PostgreSQL down or slow; the drain will
        write it) or set aside as corrupt/rejected (see `stats()`).
        Raises only if the record cannot be spooled (disk full, permissions): then it is NOT durable.
        """
        self._drained.clear()
        self._submitting += 1
        try:
            path = await asyncio.to_thread(self._spool.put, record)
            if len(self._spooled) < _MEMORY_MAX:
                self._spooled[path] = record
        finally:
            self._submitting -= 1
            self._wake.set()
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters[path] = done
        try:
            return await bounded(asyncio.shield(done), self._submit_timeout)
        except TimeoutError:
            return False
        finally:
            self._waiters.pop(path, None)

    async def wait_drained(self) -> None:
        """Return once the drain has found the spool empty (after the last submit)."""
        await self._drained.wait()

    def stats(self) -> WriterStats:
        return WriterStats(
            written=self.written,
            pending=len(self._spool.pending()),
            failures=self.failures,
            rejected=self.rejected,
            corrupt=self.corrupt,
        )

    # -- drain -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Drain the spool until cancelled. Use `start()`/`stop()` or own this coroutine's task."""
        await asyncio.to_thread(self._spool.recover)
        backoff = self._backoff_initial
        while True:
            self._wake.clear()
            try:
                await self._drain_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                _log.warning(
                    "record writer: PostgreSQL write failed (%s: %s); %d pending, retry in %.1fs",
                    type(exc).__name__,
                    exc,
                    len(self._spool.pending()),
                    backoff,
                )
                await self._drop_pool()
                with contextlib.suppress(TimeoutError):
                    await bounded(self._wake.wait(), backoff)
                backoff = min(backoff * 2, self._backoff_max)
                continue
            backoff = self._backoff_initial
            await self._wake.wait()

    async def _drain_once(self) -> None:
        """Write every pending file, oldest first; set `_drained` when the spool is found empty."""
        while paths := await asyncio.to_thread(self._spool.pending):
            repository = await self._repository()
            for path in paths:
                await self._write_one(repository, path)
        if not self._wake.is_set() and self._submitting == 0:  # no submit since the last listing
            self._spooled.clear()  # a record the drain read from disk before its submit had noted it
            self._drained.set()

    async def _write_one(self, repository: CallRecordRepository, path: Path) -> None:
        try:
            kept = self._spooled.pop(path, None)
            record = kept if kept is not None else await asyncio.to_thread(self._spool.load, path)
        except CorruptSpoolFileError as exc:
            self.corrupt += 1
            _log.error("record writer: %s", exc)
            self._settle(path, False)
            return
        except FileNotFoundError:
            return
        try:
            await bounded(repository.upsert(record), self._write_timeout)
        except _PERMANENT as exc:
            self.rejected += 1
            await asyncio.to_thread(self._spool.reject, path, f"{type(exc).__name__}: {exc}")
            self._settle(path, False)
            return
        await asyncio.to_thread(self._spool.remove, path)
        self.written += 1
        _log.info("record written linkedid=%s status=%s", record.linkedid, record.status.value)
        self._settle(path, True)

    def _settle(self, path: Path, written: bool) -> None:
        waiter = self._waiters.get(path)
        if waiter is not None and not waiter.done():
            waiter.set_result(written)

    async def _repository(self) -> CallRecordRepository:
        if self._pool is None:
            self._pool = await bounded(self._pool_factory(), self._write_timeout)
        return CallRecordRepository(self._pool)

    async def _drop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await bounded(pool.close(), 2.0)
            except Exception:  # a broken pool may not close cleanly; make sure it is gone
                pool.terminate()
