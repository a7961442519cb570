"""Claims on a call and an advisor together, in Redis (`telephony.ports.Claims`): even two instances that both
believe they lead cannot offer one call twice or one advisor twice.

Claims are fenced by the routing lease (`storage.redis.lease`): only the lease holder may claim, and a claim counts
only in the lease's current epoch. A leader killed right after an offer leaves its claims behind for `claim_ttl`;
the next leader (a new epoch) claims over them at once instead of waiting for them to expire (`scripts.CLAIM`).
"""

from __future__ import annotations

import redis.asyncio as aioredis

from storage.redis import names, scripts
from storage.redis.rounds import Rounds
from telephony.ports import Claim, Unavailable

OUTCOMES = {-1: Claim.NOT_LEADER, 0: Claim.HELD, 1: Claim.CLAIMED, 2: Claim.TAKEN_OVER}


class RedisClaims:
    def __init__(self, redis: aioredis.Redis, queue: str, rounds: Rounds | None = None) -> None:
        rounds = rounds or Rounds(redis)
        self._queue = queue
        self._fence = [names.lease_key(queue), names.lease_epoch_key(queue)]
        self._claim = rounds.script(scripts.CLAIM)
        self._release = rounds.script(scripts.RELEASE_CLAIM)

    def _keys(self, linkedid: str, advisor_id: int) -> list[str]:
        return [names.claim_call_key(self._queue, linkedid), names.claim_advisor_key(self._queue, advisor_id)]

    async def claim(self, linkedid: str, advisor_id: int, holder: str, ttl: float) -> Claim:
        keys = self._keys(linkedid, advisor_id) + self._fence
        try:
            return OUTCOMES[int(await self._claim(keys=keys, args=[holder, int(ttl * 1000)]))]
        except (aioredis.RedisError, OSError) as exc:
            raise Unavailable(str(exc)) from exc

    def release(self, linkedid: str, advisor_id: int, holder: str) -> None:
        """Sent with the next round, not waited for: a claim taken later leaves after it (rounds keep order)."""
        self._release.send(self._keys(linkedid, advisor_id), [holder], f"claim release {linkedid}")
