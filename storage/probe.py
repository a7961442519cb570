"""Is PostgreSQL there? A cheap probe, and the database's status for `/healthz`.

`DatabaseProbe` runs `SELECT 1` on a connection of its own: every `interval` seconds while the database answers (so
an outage shows in `/healthz` even when no record is waiting), every `retry` seconds while it does not. The record
writer tells it of its failures (`failed`: the probe checks at once and records the error) and successes (`up`),
and after a failure waits for the probe to see the database come back (`recovery()`) rather than for its backoff:
records used to come back 23–27 s after an outage ended (the drain's backoff was capped at 30 s), now within
about `retry` seconds. Up or down is the probe's verdict: a write refused while `SELECT 1` answers (a schema
behind the code) leaves the database up and the writer on its backoff, not retrying at the probe's pace.

`status(waiting)` is the snapshot `/healthz` reports: up or down, since when, the last error, when it was last
checked, and how many records wait for it (the writer's count).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
from pydantic import AwareDatetime, BaseModel, ConfigDict

from telephony.aio import bounded

_log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[asyncpg.Connection]]
Clock = Callable[[], datetime]


class DatabaseStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    up: bool | None  # None: not known yet (no probe, no write so far)
    since: AwareDatetime | None  # when the current state began
    checked_at: AwareDatetime | None  # the last probe or write that told
    last_error: str | None  # the latest failure (kept after the database is back, with `since`)
    records_waiting: int  # records spooled and not yet committed


class DatabaseProbe:
    def __init__(
        self,
        connect: Connect,
        *,
        interval: float = 5.0,
        retry: float = 1.0,
        timeout: float = 2.0,
        clock: Clock | None = None,
    ) -> None:
        self._connect = connect
        self.interval = interval  # between probes while the database answers
        self.retry = retry  # between probes while it does not
        self.timeout = timeout  # bound on one probe (connecting included)
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._conn: asyncpg.Connection | None = None
        self._up: bool | None = None
        self._since: datetime | None = None
        self._checked_at: datetime | None = None
        self._last_error: str | None = None
        self._recovered = asyncio.Event()  # set (then replaced) at each down → up transition
        self._poke = asyncio.Event()  # probe now (the writer just failed)
        self._changed = asyncio.Event()
        self.probes = 0
        self.failures = 0

    # -- what the writer and /healthz use ------------------------------------------------------

    @property
    def is_up(self) -> bool | None:
        return self._up

    def status(self, waiting: int) -> DatabaseStatus:
        return DatabaseStatus(
            up=self._up,
            since=self._since,
            checked_at=self._checked_at,
            last_error=self._last_error,
            records_waiting=waiting,
        )

    def up(self) -> None:
        """PostgreSQL answered (a probe, or a write)."""
        self._checked_at = self._clock()
        if self._up is not True:
            if self._up is False:
                _log.warning("PostgreSQL is back (down since %s)", self._since.isoformat() if self._since else "?")
                self._recovered.set()
                self._recovered = asyncio.Event()
            self._up, self._since = True, self._checked_at
        self._notify()

    def down(self, error: BaseException | str) -> None:
        """PostgreSQL did not answer a probe; it is then probed every `retry` seconds."""
        self._checked_at = self._clock()
        self._last_error = _text(error)
        if self._up is not False:
            _log.warning("PostgreSQL is down: %s", self._last_error)
            self._up, self._since = False, self._checked_at
        self._notify()

    def failed(self, error: BaseException | str) -> None:
        """A write failed: the error is kept and the probe checks now whether PostgreSQL is there."""
        self._last_error = _text(error)
        self._poke.set()
        self._notify()

    def recovery(self) -> asyncio.Event:
        """Set at the next down → up transition. Take it before reporting a failure (`failed`), so a recovery
        between the two is not missed."""
        return self._recovered

    async def changed(self) -> None:
        """Return at the next news: a probe's result, a write's success or failure (bound it with a timeout)."""
        await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- the probe --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Probe until cancelled."""
        try:
            while True:
                await self.probe()
                self._poke.clear()
                with contextlib.suppress(TimeoutError):
                    await bounded(self._poke.wait(), self.interval if self._up else self.retry)
        finally:
            await self._close()

    async def probe(self) -> bool:
        """One `SELECT 1` (connecting first if needed); updates the status. True when PostgreSQL answered."""
        self.probes += 1
        try:
            await bounded(self._select_one(), self.timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # refused, reset, timed out, shutting down: all mean "not there now"
            self.failures += 1
            await self._close()
            self.down(exc if str(exc) else type(exc).__name__)
            return False
        self.up()
        return True

    async def _select_one(self) -> None:
        if self._conn is None or self._conn.is_closed():
            self._conn = await self._connect()
        await self._conn.fetchval("SELECT 1")

    async def close(self) -> None:
        await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()


def _text(error: BaseException | str) -> str:
    return (error if isinstance(error, str) else f"{type(error).__name__}: {error}")[:300]
