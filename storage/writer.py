"""The record writer: spool first, then PostgreSQL, retried until it is back.

One drain task does every database write, oldest spool file first, so two versions of the same call are
always applied in arrival order. `submit()` spools (fsync'd) and wakes the drain, then waits a bounded
time for the commit: when it returns, the record is durable whatever PostgreSQL does.

`accept()` is the service loop's sink: it hands the record over and returns at once; a spooler task writes the
accepted records to the spool in arrival order (several per thread hop under load), then wakes the drain. The
loop used to wait for each fsync (3.8 ms median, up to 15 ms, on bench.screenpop's machine: 72 % of the loop's
time at 100 calls/s). A crash loses what was accepted and not yet spooled, a few milliseconds' worth, as it loses
the AMI events received and not yet applied. A spool that fails (disk full) keeps the records in memory and is
tried again with backoff; `stop()` spools what is left.

PostgreSQL down (refused, closed pool, restart, timeout): the pool is dropped, the drain sleeps with
capped exponential backoff and asks the pool factory for a new pool on the next try; a submit wakes it
at once, and so does the database's probe (`storage.probe.DatabaseProbe`, a `SELECT 1` every second while
PostgreSQL is away) when it sees PostgreSQL back: records are written within about a second of its return
(they came back 23–27 s after it with the 30 s backoff alone). A record PostgreSQL refuses for good (data or
constraint error) goes to `rejected/` so that one bad record never blocks the others.

`stats()` and `database_status()` are cheap (read by `/healthz`): the spool's files are counted as they come and
go, the directory listed only when the drain lists it anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

import asyncpg
from pydantic import BaseModel, ConfigDict

from storage.calls import CallRecordRepository
from storage.probe import DatabaseProbe, DatabaseStatus
from storage.spool import CorruptSpoolFileError, Spool
from telephony.aio import bounded
from telephony.records import CallRecord

_log = logging.getLogger(__name__)

PoolFactory = Callable[[], Awaitable[asyncpg.Pool]]

# Errors that no retry will fix: the record itself is refused, by PostgreSQL (SQLSTATE 22, 23) or by
# asyncpg while encoding it (its client-side DataError is a ValueError, e.g. an int out of int4 range).
_PERMANENT = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, ValueError)
_MEMORY_MAX = 10_000  # spooled records also kept in memory (beyond: read back from the spool)
_BATCH = 50  # records written to PostgreSQL in one exchange


class WriterStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    written: int  # records committed (including replays that changed nothing)
    pending: int  # files waiting in the spool
    failures: int  # failed drain attempts (PostgreSQL unreachable or erroring)
    rejected: int  # records PostgreSQL refused for good, set aside in rejected/
    corrupt: int  # unreadable spool files, set aside in corrupt/
    spool_failures: int = 0  # failed attempts to spool accepted records (kept in memory, tried again)
    spooled: int = 0  # records spooled since the start (every record goes through the spool)


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
        probe: DatabaseProbe | None = None,
    ) -> None:
        self._spool = spool
        self._probe = probe
        self._probe_task: asyncio.Task[None] | None = None
        self._files: int | None = None  # spool files: listed at start, then counted as they come and go
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
        self._scan = True  # list the spool directory at the next drain (at start, after a failure or an overflow)
        self._sweep = True  # join the waiting qualifications a crash left behind, at the first drain
        self._task: asyncio.Task[None] | None = None
        self._spooler: asyncio.Task[None] | None = None
        self._accepted: deque[CallRecord] = deque()  # handed over by `accept`, not yet spooled (oldest first)
        self._accepting = asyncio.Event()
        self._all_spooled = asyncio.Event()  # set while nothing accepted waits to be spooled
        self._all_spooled.set()
        self._submitting = 0  # submits between clearing `_drained` and waking the drain
        self.written = 0
        self.failures = 0
        self.rejected = 0
        self.corrupt = 0
        self.spool_failures = 0  # failed attempts to spool accepted records (kept in memory, tried again)
        self.spooled = 0  # records spooled since the start
        # told of each record once committed (e.g. the wallboard, whose figures are read from PostgreSQL)
        self.written_listeners: list[Callable[[CallRecord], None]] = []

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("RecordWriter already started")
        await asyncio.to_thread(self._spool.recover)
        self._files = len(await asyncio.to_thread(self._spool.pending))  # before anything is spooled: exact
        self._task = asyncio.create_task(self.run(), name="record-writer-drain")
        self._spooler = asyncio.create_task(self._spool_accepted(), name="record-writer-spooler")
        if self._probe is not None:
            self._probe_task = asyncio.create_task(self._probe.run(), name="database-probe")

    async def stop(self) -> None:
        """Spool what was accepted, cancel the drain and close the pool; what is spooled stays for the next start."""
        spooler, self._spooler = self._spooler, None
        if spooler is not None:
            with contextlib.suppress(TimeoutError):  # a failing disk: what is left is tried once more below
                await bounded(self._all_spooled.wait(), self._write_timeout)
            spooler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await spooler
        if self._accepted:
            try:
                await self._put_accepted()
            except OSError as exc:
                _log.error("record writer: %d accepted record(s) lost at stop: %s", len(self._accepted), exc)
        for task in (self._task, self._probe_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._probe_task = None
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
            self.spooled += 1
            self._count_files(1)
            if len(self._spooled) < _MEMORY_MAX:
                self._spooled[path] = record
            else:
                self._scan = True
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

    async def accept(self, record: CallRecord) -> None:
        """Hand `record` over to be spooled then written, without waiting (see the module's docstring)."""
        self._drained.clear()
        self._all_spooled.clear()
        self._accepted.append(record)
        self._accepting.set()

    async def _spool_accepted(self) -> None:
        backoff = self._backoff_initial
        while True:
            await self._accepting.wait()
            self._accepting.clear()
            while self._accepted:
                try:
                    await self._put_accepted()
                except OSError as exc:
                    self.spool_failures += 1
                    _log.error(
                        "record writer: cannot spool (%s); %d record(s) kept in memory, retry in %.1fs",
                        exc,
                        len(self._accepted),
                        backoff,
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._backoff_max)
                    continue
                backoff = self._backoff_initial
            self._all_spooled.set()

    async def _put_accepted(self) -> None:
        """Spool the accepted records, oldest first, in one thread hop; each leaves `_accepted` once on disk."""
        batch = list(self._accepted)
        spooled: list[Path] = []

        def put_all() -> None:
            for record in batch:
                spooled.append(self._spool.put(record))

        try:
            await asyncio.to_thread(put_all)
        finally:  # what reached the disk, even if a later one failed
            self._count_files(len(spooled))
            self.spooled += len(spooled)
            for path in spooled:
                record = self._accepted.popleft()
                if len(self._spooled) < _MEMORY_MAX:
                    self._spooled[path] = record
                else:
                    self._scan = True
            if spooled:
                self._wake.set()

    async def wait_drained(self) -> None:
        """Return once the drain has found the spool empty (after the last submit)."""
        await self._drained.wait()

    def _count_files(self, delta: int) -> None:
        # may dip below zero for a moment: the drain can write a file before its submit has counted it
        if self._files is not None:
            self._files += delta

    @property
    def waiting(self) -> int:
        """Records accepted and not yet committed (spooled or about to be)."""
        if self._files is None:  # not started with start(): listed here, once
            self._files = len(self._spool.pending())
        return max(0, self._files) + len(self._accepted)

    def database_status(self) -> DatabaseStatus | None:
        """PostgreSQL's status as the probe sees it, with the records waiting for it (None: no probe)."""
        return self._probe.status(self.waiting) if self._probe is not None else None

    def stats(self) -> WriterStats:
        return WriterStats(
            written=self.written,
            pending=self.waiting,
            failures=self.failures,
            rejected=self.rejected,
            corrupt=self.corrupt,
            spool_failures=self.spool_failures,
            spooled=self.spooled,
        )

    # -- drain -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Drain the spool until cancelled. Use `start()`/`stop()` or own this coroutine's task."""
        await asyncio.to_thread(self._spool.recover)
        backoff = self._backoff_initial
        while True:
            self._wake.clear()
            recovery = self._probe.recovery() if self._probe is not None else None
            try:
                await self._drain_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                self._scan = True  # what failed may be known from its file only
                _log.warning(
                    "record writer: PostgreSQL write failed (%s: %s); %d pending, retry in %.1fs%s",
                    type(exc).__name__,
                    exc,
                    self.waiting,
                    backoff,
                    " or as soon as the probe sees PostgreSQL back" if recovery is not None else "",
                )
                if self._probe is not None:
                    self._probe.failed(exc)
                await self._drop_pool()
                await _first(backoff, self._wake, *(() if recovery is None else (recovery,)))
                backoff = min(backoff * 2, self._backoff_max)
                continue
            backoff = self._backoff_initial
            await self._wake.wait()

    async def _drain_once(self) -> None:
        """Write every pending file, oldest first; set `_drained` when the spool is found empty. The records this
        process spooled (kept in memory) go in batches: one exchange with PostgreSQL and one thread hop for their
        files; a batch PostgreSQL refuses is written again one record at a time, to set the bad one aside. The
        directory is listed only when some pending file may not be in memory (at start, after a failure or an
        overflow): otherwise the drain takes the records it was handed, with no thread hop to list them."""
        if self._sweep:
            joined = await bounded((await self._repository()).apply_all_pending(), self._write_timeout)
            self._sweep = False
            if joined:
                _log.warning("record writer: %d qualification(s) saved during a call joined their record late", joined)
        while True:
            if self._scan:
                self._scan = False
                paths = await asyncio.to_thread(self._spool.pending)
            else:
                paths = sorted(self._spooled)  # spool names sort in spooling order
            if not paths:
                break
            repository = await self._repository()
            i = 0
            while i < len(paths):
                batch: list[tuple[Path, CallRecord]] = []
                while i < len(paths) and len(batch) < _BATCH and paths[i] in self._spooled:
                    batch.append((paths[i], self._spooled[paths[i]]))
                    i += 1
                if len(batch) > 1 and await self._write_batch(repository, batch):
                    continue
                for path, _ in batch:
                    await self._write_one(repository, path)
                if not batch:  # not in memory: read back from its file
                    await self._write_one(repository, paths[i])
                    i += 1
        if not self._wake.is_set() and self._submitting == 0 and not self._accepted:  # nothing since the listing
            self._spooled.clear()  # a record the drain read from disk before its submit had noted it
            self._drained.set()

    async def _write_batch(self, repository: CallRecordRepository, batch: list[tuple[Path, CallRecord]]) -> bool:
        """True when the batch is committed and its files removed; False when PostgreSQL refused a record of it
        (nothing written: the caller writes them one at a time). Other errors propagate (PostgreSQL away)."""
        try:
            await bounded(repository.upsert_many([record for _, record in batch]), self._write_timeout)
        except _PERMANENT:
            return False
        paths = [path for path, _ in batch]
        await asyncio.to_thread(self._spool.remove_many, paths)
        self._count_files(-len(paths))
        for path, record in batch:
            self._spooled.pop(path, None)
            self._written(path, record)
        return True

    async def _write_one(self, repository: CallRecordRepository, path: Path) -> None:
        try:
            kept = self._spooled.pop(path, None)
            record = kept if kept is not None else await asyncio.to_thread(self._spool.load, path)
        except CorruptSpoolFileError as exc:
            self.corrupt += 1
            self._count_files(-1)
            _log.error("record writer: %s", exc)
            self._settle(path, False)
            return
        except FileNotFoundError:
            self._count_files(-1)
            return
        try:
            await bounded(repository.upsert(record), self._write_timeout)
        except _PERMANENT as exc:
            self.rejected += 1
            await asyncio.to_thread(self._spool.reject, path, f"{type(exc).__name__}: {exc}")
            self._count_files(-1)
            self._settle(path, False)
            return
        await asyncio.to_thread(self._spool.remove, path)
        self._count_files(-1)
        self._written(path, record)

    def _written(self, path: Path, record: CallRecord) -> None:
        """Committed and its file removed: counted, logged (the line bench.screenpop times), its submit told."""
        self.written += 1
        if self._probe is not None:
            self._probe.up()  # a commit says PostgreSQL is there
        _log.info("record written linkedid=%s status=%s", record.linkedid, record.status.value)
        self._settle(path, True)
        for listener in self.written_listeners:
            try:
                listener(record)
            except Exception:  # a listener is told best-effort; the record is written
                _log.exception("record listener failed")

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


async def _first(timeout: float, *events: asyncio.Event) -> None:
    """Return when one of `events` is set, or after `timeout` seconds."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
