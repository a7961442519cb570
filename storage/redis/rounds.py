"""Redis script calls of one instance, sent in rounds.

A Redis command costs this service far more in its client than in Redis: ~200 µs of CPU for an EVALSHA through
redis-py's asyncio client on bench.screenpop's machine, ~25 µs each in a pipeline of 50. Every script call of the
instance (claims, pops, presence, acknowledgements) goes through one `Rounds`: while a round is in flight, the
calls that arrive queue and leave together in the next round, written at once on one connection. Under load the
rounds grow by themselves; when idle a call leaves at once, alone.

Order: calls leave in the order they were made and a round leaves only when the previous one is answered, so two
calls from one task (a pop, then its "answered") reach Redis in that order. The one exception is a script Redis
has forgotten (a restart of a Redis without persistence): that call is sent again, after the others of its round.
A script goes as EVAL the first time (which loads it), as EVALSHA after.

The caller whose call starts a round drives the rounds until its own call is answered; calls left queued then go
on in a task of their own, so no caller waits for the others' traffic.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import NoScriptError, ResponseError

log = logging.getLogger(__name__)

Arg = str | int | float | bytes


@dataclass(frozen=True, eq=False)
class RoundScript:
    """A Lua script called through `Rounds`; called as redis-py's registered scripts are."""

    rounds: Rounds
    source: str
    sha: str

    async def __call__(self, keys: Sequence[str] = (), args: Sequence[Arg] = ()) -> Any:
        return await self.rounds.call(self, keys, args)

    def send(self, keys: Sequence[str], args: Sequence[Arg], what: str) -> None:
        """A call nobody waits for (`Rounds.send`)."""
        self.rounds.send(self, keys, args, what)


@dataclass(eq=False)
class _Call:
    script: RoundScript
    keys: tuple[str, ...]
    args: tuple[Arg, ...]
    future: asyncio.Future[Any]
    retried: bool = False


ROUND_WITHIN = 2.0  # seconds: a round Redis has not answered by then fails (its connection is dropped)


class Rounds:
    def __init__(self, redis: aioredis.Redis, within: float = ROUND_WITHIN) -> None:
        self._redis = redis
        self._within = within
        self._queued: list[_Call] = []
        self._driving = False
        self._loaded: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._conn: AbstractConnection | None = None  # the current driver's
        self._idle = asyncio.Event()
        self.rounds = 0
        self.calls = 0
        self.failed = 0  # `send` calls that failed (logged)

    def script(self, source: str) -> RoundScript:
        sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()  # how Redis names a script
        return RoundScript(self, source, sha)

    async def call(self, script: RoundScript, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        future = self._queue(script, keys, args)
        if not self._driving:
            self._driving = True
            await self._drive(future)
        return await future

    def send(self, script: RoundScript, keys: Sequence[str], args: Sequence[Arg], what: str) -> None:
        """A call whose answer nobody waits for (a publication, a release): queued in order, sent with the next
        round; a failure is logged with `what` (e.g. "pop linkedid=…") and counted. `drained()` waits for it."""
        self._queue(script, keys, args).add_done_callback(functools.partial(self._sent, what))
        if not self._driving:
            self._driving = True
            self._spawn()

    def _queue(self, script: RoundScript, keys: Sequence[str], args: Sequence[Arg]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queued.append(_Call(script, tuple(keys), tuple(args), future))
        self.calls += 1
        return future

    def _sent(self, what: str, future: asyncio.Future[Any]) -> None:
        error = future.exception() if not future.cancelled() else asyncio.CancelledError()
        if error is not None:
            self.failed += 1
            log.warning("%s not sent to Redis: %s", what, error)

    async def drained(self) -> None:
        """Return once every call made so far has been answered (or has failed)."""
        while self._driving:
            self._idle.clear()
            await self._idle.wait()

    async def _exchange(self, commands: list[tuple[Arg, ...]]) -> list[Any]:
        """Send the commands at once and read their replies, an error reply in its place. redis-py's own
        pipeline costs about twice as much CPU here (its retry, reset and connection checks for each round); a
        connection whose exchange is interrupted is disconnected, as its replies are out of step. Bounded by
        `within`: a Redis that stops answering without closing the connection (paused, a network cut) would
        otherwise hold every caller, the service loop included (a claim is awaited there), for ever."""
        results: list[Any] = []
        conn: AbstractConnection | None = None
        try:
            async with asyncio.timeout(self._within):
                if self._conn is None:
                    self._conn = await self._redis.connection_pool.get_connection()  # type: ignore[no-untyped-call]
                conn = self._conn
                await conn.send_packed_command(conn.pack_commands(commands), check_health=False)
                for _ in commands:
                    try:
                        results.append(await conn.read_response())
                    except ResponseError as exc:  # read whole: the connection stays in step
                        results.append(exc)
        except BaseException as exc:
            if conn is not None:
                await conn.disconnect(nowait=True)
            await self._release()
            if isinstance(exc, TimeoutError):
                raise aioredis.TimeoutError(f"Redis did not answer within {self._within:g} s") from None
            raise
        return results

    def _spawn(self) -> None:
        task = asyncio.get_running_loop().create_task(self._drive(None), name="redis-rounds")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drive(self, until: asyncio.Future[Any] | None) -> None:
        """Rounds until `until` is answered (None: until nothing is queued). `_driving` is set by the caller.
        The driver keeps one pooled connection for its rounds and gives it back when it stops."""
        try:
            while self._queued and (until is None or not until.done()):
                batch, self._queued = self._queued, []
                await self._round(batch)
        finally:
            await self._release()
            if self._queued:  # the others' calls, or this driver was cancelled: a task of their own
                self._spawn()
            else:
                self._driving = False
                self._idle.set()

    async def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._redis.connection_pool.release(conn)

    async def _round(self, batch: list[_Call]) -> None:
        self.rounds += 1
        # a script Redis may not know yet goes as EVAL (which also loads it), then as EVALSHA
        commands = [
            ("EVALSHA", c.script.sha) if c.script.sha in self._loaded else ("EVAL", c.script.source) for c in batch
        ]
        try:
            results = await self._exchange(
                [(*command, len(c.keys), *c.keys, *c.args) for c, command in zip(batch, commands, strict=True)]
            )
        except BaseException as exc:
            error = exc if isinstance(exc, Exception) else aioredis.ConnectionError("Redis round interrupted")
            for call in batch:
                if not call.future.done():
                    call.future.set_exception(error)
            if not isinstance(exc, Exception):
                raise
            return
        again: list[_Call] = []
        for call, result in zip(batch, results, strict=True):
            if not isinstance(result, NoScriptError):
                self._loaded.add(call.script.sha)
            if isinstance(result, NoScriptError) and not call.retried:
                self._loaded.discard(call.script.sha)  # Redis restarted: load it again, send the call again
                call.retried = True
                again.append(call)
            elif call.future.done():
                pass  # its caller gave up (cancelled)
            elif isinstance(result, Exception):
                call.future.set_exception(result)
            else:
                call.future.set_result(result)
        self._queued[:0] = again
