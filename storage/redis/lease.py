"""The routing lease in Redis (`telephony.ports.Lease`): one instance routes a queue at a time. Each time the lease
is taken anew, its epoch goes up: the claims (`storage.redis.claims`) of an earlier epoch no longer count."""

from __future__ import annotations

import redis.asyncio as aioredis

from storage.redis import names, scripts
from storage.redis.rounds import Rounds
from telephony.ports import Unavailable


class RedisLease:
    def __init__(self, redis: aioredis.Redis, queue: str, rounds: Rounds | None = None) -> None:
        rounds = rounds or Rounds(redis)
        self._keys = [names.lease_key(queue), names.lease_epoch_key(queue)]
        self._lease = rounds.script(scripts.LEASE)
        self._release = rounds.script(scripts.RELEASE)

    async def hold(self, holder: str, ttl: float) -> bool:
        try:
            return bool(await self._lease(keys=self._keys, args=[holder, int(ttl * 1000)]))
        except (aioredis.RedisError, OSError) as exc:
            raise Unavailable(str(exc)) from exc

    async def release(self, holder: str) -> None:
        try:
            await self._release(keys=self._keys[:1], args=[holder])
        except (aioredis.RedisError, OSError) as exc:
            raise Unavailable(str(exc)) from exc
