"""The desk's messages in Redis: kept pending until the advisor's browser acknowledges them, published for
whichever instance holds that advisor's websocket, and the advisor's current call kept until it is qualified.

Payloads are JSON text built by `screenpop.pops.notifier` (the only producer); this module stores, publishes and
relays them without reading them. Script calls go in the instance's rounds (`storage.redis.rounds`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis.asyncio as aioredis

from storage.redis import names, scripts
from storage.redis.rounds import Rounds

log = logging.getLogger(__name__)

PENDING_TTL = 6 * 3600  # an advisor away for a whole shift still gets the pops of their last calls


class DeskMessages:
    def __init__(self, redis: aioredis.Redis, rounds: Rounds | None = None) -> None:
        self._redis = redis
        self._rounds = rounds or Rounds(redis)
        self._publish = self._rounds.script(scripts.PUBLISH)
        self._acknowledge = self._rounds.script(scripts.ACKNOWLEDGE)
        self._presence = self._rounds.script(scripts.PRESENCE)

    @property
    def rounds(self) -> Rounds:
        return self._rounds

    def _publication(
        self, advisor_id: int, message_id: str, kind: str, linkedid: str, payload: str
    ) -> tuple[list[str], list[str | int]]:
        keys = [names.pending_key(advisor_id), names.current_key(advisor_id)]
        args: list[str | int] = [
            message_id,
            payload,
            PENDING_TTL,
            names.desk_channel(self._redis, advisor_id),
            kind,
            linkedid,
        ]
        return keys, args

    def send(self, advisor_id: int, message_id: str, kind: str, linkedid: str, payload: str) -> None:
        """Keep pending and publish, with the instance's next round, nobody waiting (a failure is logged)."""
        keys, args = self._publication(advisor_id, message_id, kind, linkedid, payload)
        self._publish.send(keys, args, f"desk message {message_id}")

    async def publish(self, advisor_id: int, message_id: str, kind: str, linkedid: str, payload: str) -> None:
        """Keep pending and publish, waiting until it is in Redis (raises when Redis fails)."""
        keys, args = self._publication(advisor_id, message_id, kind, linkedid, payload)
        await self._publish(keys=keys, args=args)

    def send_presence(self, messages: list[tuple[int, str]]) -> None:
        """Publish (advisor id, payload) messages, not kept pending: one script call, nobody waiting."""
        args: list[str] = []
        for advisor_id, payload in messages:
            args += [names.desk_channel(self._redis, advisor_id), payload]
        if args:
            self._presence.send([], args, f"presence of {len(messages)} advisor(s)")

    async def drained(self) -> None:
        """Return once every message sent so far is in Redis (or failed: logged)."""
        await self._rounds.drained()

    async def pending(self, advisor_id: int) -> list[bytes | str]:
        """Payloads not yet acknowledged by the advisor's browser (unordered)."""
        return list((await self._redis.hgetall(names.pending_key(advisor_id))).values())

    async def current(self, advisor_id: int) -> list[bytes | str]:
        """Payloads of the advisor's current call (unordered; empty when there is none)."""
        raw = await self._redis.hgetall(names.current_key(advisor_id))
        return [v for k, v in raw.items() if k not in (b"linkedid", "linkedid")]

    async def call_done(self, advisor_id: int, linkedid: str) -> None:
        """`linkedid` was qualified: if it is the advisor's current call, it is forgotten."""
        await self._redis.eval(scripts.CALL_DONE, 1, names.current_key(advisor_id), linkedid)

    async def acknowledge(self, advisor_id: int, message_id: str) -> bytes | None:
        """Take an acknowledged message out of the pending ones; its payload, None if it was not pending."""
        raw: bytes | None = await self._acknowledge(keys=[names.pending_key(advisor_id)], args=[message_id])
        return raw

    async def relay(self, deliver: Callable[[int, bytes | str], None], subscribed: Callable[[], None]) -> None:
        """Subscribe to every desk channel and hand each message to `deliver(advisor id, payload)`, until cancelled;
        `subscribed()` after each (re)subscription. Raises on a Redis failure (the caller subscribes again)."""
        me = asyncio.current_task()
        async with self._redis.pubsub() as pubsub:
            await pubsub.psubscribe(names.desk_pattern(self._redis))
            subscribed()
            # Replies are read from the subscription's connection itself: redis-py's get_message adds a retry
            # layer costing ~0.1 ms of CPU a message (9 % of the service at 80 calls/s). A broken connection
            # raises here, and the caller subscribes again.
            conn = pubsub.connection
            assert conn is not None  # set by psubscribe
            while me is None or not me.cancelling():
                reply = await conn.read_response(timeout=0.5, disconnect_on_error=False, push_request=True)
                if isinstance(reply, list) and len(reply) == 4 and reply[0] in (b"pmessage", "pmessage"):
                    advisor_id = names.advisor_of_channel(reply[2])
                    if advisor_id is not None:
                        deliver(advisor_id, reply[3])
