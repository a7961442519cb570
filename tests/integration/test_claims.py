"""The routing claims in Redis, fenced by the lease (real Redis): only the lease holder claims, a claim counts in its
leader's epoch only, and an earlier leader's claims are replaced by the next leader's at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from storage.redis.claims import RedisClaims
from storage.redis.lease import RedisLease
from storage.redis.rounds import Rounds
from telephony.ports import Claim
from tests.servers import redis_url

REDIS = redis_url(6)
TTL = 60.0


@pytest.fixture
async def redis() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(REDIS)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


async def test_claims_are_fenced_by_the_lease_and_its_epoch(redis: aioredis.Redis) -> None:
    rounds = Rounds(redis)
    lease, claims = RedisLease(redis, "gps", rounds), RedisClaims(redis, "gps", rounds)
    assert await claims.claim("1.1", 7, "one", TTL) is Claim.NOT_LEADER  # nobody leads: nobody claims
    assert await lease.hold("one", 0.2)
    assert await claims.claim("1.1", 7, "one", TTL) is Claim.CLAIMED
    assert await claims.claim("1.1", 8, "one", TTL) is Claim.HELD  # the call is offered already
    assert await claims.claim("1.2", 7, "one", TTL) is Claim.HELD  # and so is the advisor
    assert await claims.claim("1.2", 8, "two", TTL) is Claim.NOT_LEADER  # a follower cannot claim
    # "one" dies; its lease lapses (its claims would live 60 s more); "two" leads in a new epoch
    await redis.delete("gps:router:gps:lease")
    assert await lease.hold("two", 3.0)
    assert await claims.claim("1.1", 7, "two", TTL) is Claim.TAKEN_OVER
    assert await claims.claim("1.1", 7, "two", TTL) is Claim.HELD
    assert await claims.claim("1.1", 7, "one", TTL) is Claim.NOT_LEADER  # the old leader, back, is refused
    claims.release("1.1", 7, "one")  # another's release leaves the claim alone
    await rounds.drained()
    assert await claims.claim("1.3", 7, "two", TTL) is Claim.HELD
    claims.release("1.1", 7, "two")
    await rounds.drained()
    assert await redis.keys("gps:claim:*") == []
    # the same instance leading again later is a new epoch too: its own claims of before do not count
    assert await claims.claim("1.4", 9, "two", TTL) is Claim.CLAIMED
    await lease.release("two")
    assert await lease.hold("two", 3.0)
    assert await claims.claim("1.5", 9, "two", TTL) is Claim.TAKEN_OVER
