"""The only place that tells the wallboards something changed: a `{"type": "wallboard"}` message on the hub's
watcher sockets, after which each page reads its snapshot again (`GET /api/supervision`).

Where changes come from, and how each reaches every instance:
- the calls (AMI events): every instance runs its own AMI link and live view, so each tells its own wallboards
  (`on_effect`), after its live view has applied the effect;
- the call records (today's figures): every instance writes each record (idempotent), so each tells its own
  wallboards once the record is committed (`on_written`);
- the callbacks: the instance that saved a qualification or closed a callback tells its own wallboards and publishes
  "wallboard changed" on Redis for the others (`on_callbacks`);
- the advisors' presence: only the leading router decides it and writes the presence log, so the leader publishes
  "wallboard changed" on Redis (`on_presence`, `names.wallboard_channel`) and every instance, itself included,
  relays it to its wallboards (`run`).
Each of the two outputs (local sockets, Redis) is throttled: the first change goes at once, the ones after it within
`interval` go together at its end, so a storm of events costs a few messages a second, and the last change is never
lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from storage.redis import names
from telephony.advisors import StateChange
from telephony.effects import (
    AdvisorRingEnded,
    AdvisorRinging,
    AnyEffect,
    CallAnswered,
    CallEnded,
    CallHeld,
    CallLeftQueue,
    CallQueued,
    CallStarted,
    CallTransferred,
    CallUnheld,
)
from telephony.records import CallRecord

log = logging.getLogger(__name__)

INTERVAL = 0.25  # seconds: at most 4 messages a second per output
# the effects that change what the wallboard shows (a waiting call, its ring, a call answered, put on hold or taken
# off it, ended)
WATCHED = (
    CallStarted,
    CallQueued,
    CallLeftQueue,
    AdvisorRinging,
    AdvisorRingEnded,
    CallAnswered,
    CallHeld,
    CallUnheld,
    CallTransferred,
    CallEnded,
)

Broadcast = Callable[[str, str], None]  # (message id, JSON payload) → the instance's wallboard sockets


class Throttle:
    """Calls `action` at once, then at most once per `interval`: calls in between are folded into one, at the end
    of the interval (trailing edge). `monotonic` and the loop's timer only: no task."""

    def __init__(self, action: Callable[[], None], interval: float = INTERVAL) -> None:
        self._action = action
        self._interval = interval
        self._last = -interval
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self) -> None:
        if self._timer is not None:
            return  # a run is due already: it will show this change too
        wait = self._last + self._interval - time.monotonic()
        if wait <= 0:
            self._run()
        else:
            self._timer = asyncio.get_running_loop().call_later(wait, self._run)

    def _run(self) -> None:
        self._timer = None
        self._last = time.monotonic()
        try:
            self._action()
        except Exception:  # the next change tries again
            log.exception("wallboard notification failed")

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class WallboardNotifier:
    def __init__(self, redis: aioredis.Redis, broadcast: Broadcast, interval: float = INTERVAL) -> None:
        self._redis = redis
        self._broadcast = broadcast
        self._ids = itertools.count(1)
        self._local = Throttle(self._tell_local, interval)
        self._shared = Throttle(self._publish, interval)
        self._publishing: set[asyncio.Task[None]] = set()
        self.told = 0  # messages offered to this instance's wallboards
        self.published = 0  # "changed" published on Redis
        self.ready = asyncio.Event()  # the Redis subscription is live

    # ---- inputs ----

    async def on_effect(self, effect: AnyEffect) -> None:
        """A listener of the service loop (the live view has the effect already)."""
        if isinstance(effect, WATCHED):
            self._local()

    def on_written(self, record: CallRecord) -> None:
        """A listener of the record writer: today's figures changed."""
        self._local()

    def on_callbacks(self) -> None:
        """A callback was made, closed or cancelled (the open callbacks changed): this instance's wallboards at once,
        every other instance's through Redis (the one that saved it is the only one to know)."""
        self._local()
        self._shared()

    async def on_presence(self, changes: list[StateChange]) -> None:
        """A presence listener of the router (the leader, once the changes are in the presence log)."""
        if changes:
            self._shared()

    # ---- outputs ----

    def _tell_local(self) -> None:
        n = next(self._ids)
        self._broadcast(f"wallboard:{n}", json.dumps({"id": f"wallboard:{n}", "type": "wallboard"}))
        self.told += 1

    def _publish(self) -> None:
        task = asyncio.get_running_loop().create_task(self._send())
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _send(self) -> None:
        try:
            await self._redis.publish(names.wallboard_channel(self._redis), "changed")
            self.published += 1
        except (aioredis.RedisError, OSError) as exc:
            log.warning("wallboard: change not published (%s)", exc)

    # ---- the instance's subscription ----

    async def run(self) -> None:
        """Relay "changed" from Redis to this instance's wallboards, until cancelled."""
        channel = names.wallboard_channel(self._redis)
        me = asyncio.current_task()
        # as storage.redis.commands.CommandServer: poll with a timeout and check the task's own cancellation
        while me is None or not me.cancelling():
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(channel)
                    self.ready.set()
                    while me is None or not me.cancelling():
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                        if message is not None and message.get("type") == "message":
                            self._local()
            except (aioredis.RedisError, OSError) as exc:
                self.ready.clear()
                log.warning("wallboard: Redis unavailable (%s), retrying", exc)
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        self._local.cancel()
        self._shared.cancel()
        for task in list(self._publishing):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
