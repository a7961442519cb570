"""Redis names shared by the service's instances.

Keys live in the configured database; pub/sub channels do not (Redis has one channel space per server), so every
channel is prefixed with the database number: two deployments, or two test runs, on one Redis server never hear
each other's pops or commands.
"""

from __future__ import annotations

import redis.asyncio as aioredis


def channel_prefix(redis: aioredis.Redis) -> str:
    db = redis.connection_pool.connection_kwargs.get("db", 0)
    return f"gps:{int(db)}"
