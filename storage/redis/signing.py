"""Secret keys the instances share in Redis to sign tokens (`gps:signing-key:<purpose>`, made by the first instance
that needs one, kept until Redis forgets it: then tokens signed before are refused and new ones are made)."""

from __future__ import annotations

import secrets

import redis.asyncio as aioredis

from storage.redis import names, scripts


class SigningKeys:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def key(self, purpose: str) -> bytes:
        """The key for `purpose` (32 random bytes, as URL-safe base64). Raises RedisError, OSError."""
        key = await self._redis.eval(scripts.SIGNING_KEY, 1, names.signing_key(purpose), secrets.token_urlsafe(32))
        return key if isinstance(key, bytes) else str(key).encode()
