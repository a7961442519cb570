"""The routing lease in Redis (`telephony.ports.Lease`): one instance routes a queue at a time."""

from __future__ import annotations

import redis.asyncio as aioredis

from storage.redis import names, scripts
from storage.redis.rounds import Rounds
from telephony.ports import Unavailable


class RedisLease:
    def __init__(self, redis: aioredis.Redis, queue: str, rounds: Rounds | None = None) -> None:
        rounds = rounds or Rounds(redis)
        self._key = names.lease_key(queue)
        self._lease = rounds.script(scripts.LEASE)
        self._release = rounds.script(scripts.RELEASE)

    async def hold(self, holder: str, ttl: float) -> bool:
        try:
            return bool(await self._lease(keys=[self._key], args=[holder, int(ttl * 1000)]))
        except (aioredis.RedisError, OSError) as exc:
            raise Unavailable(str(exc)) from exc

    async def release(self, holder: str) -> None:
        try:
            await self._release(keys=[self._key], args=[holder])
        except (aioredis.RedisError, OSError) as exc:
            raise Unavailable(str(exc)) from exc
