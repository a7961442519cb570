"""Failed logins per login and per client address, counted in Redis over a window that starts at the first
failure. The per-address limit is `address_factor` times the per-login one: a whole office (or a reverse proxy)
shares one address, and one person's typos must not lock everyone out."""

from __future__ import annotations

import redis.asyncio as aioredis

from storage.redis import names, scripts

ADDRESS_FACTOR = 5


class LoginThrottle:
    def __init__(self, redis: aioredis.Redis, attempts: int, window: float, address_factor: int = ADDRESS_FACTOR):
        self._redis = redis
        self._attempts = attempts
        self._address_factor = address_factor
        self._window_ms = max(1, int(window * 1000))

    async def refused(self, login: str, address: str) -> bool:
        by_login, by_address = await self._redis.mget(
            names.login_failures_key("login", login), names.login_failures_key("addr", address)
        )
        limit = self._attempts
        return int(by_login or 0) >= limit or int(by_address or 0) >= limit * self._address_factor

    async def failed(self, login: str, address: str) -> None:
        keys = [names.login_failures_key("login", login), names.login_failures_key("addr", address)]
        await self._redis.eval(scripts.FAILED_LOGIN, len(keys), *keys, self._window_ms)

    async def succeeded(self, login: str) -> None:
        await self._redis.delete(names.login_failures_key("login", login))
