"""Login attempts per login and per client address, counted in Redis over a window that starts at the first attempt,
before any password is checked (one script: count, then check both limits), so that parallel attempts cannot slip
past a check made before any of them was counted. A success ends its login's count and gives its attempt back to
the address. The per-address limit is `address_factor` times the per-login one: a whole office (or a reverse proxy)
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

    @staticmethod
    def _keys(login: str, address: str) -> list[str]:
        return [names.login_failures_key("login", login), names.login_failures_key("addr", address)]

    async def attempt(self, login: str, address: str) -> bool:
        """Count an attempt for `login` from `address`; False when it is refused (either is past its limit)."""
        keys = self._keys(login, address)
        limits = [self._attempts, self._attempts * self._address_factor]
        refused = await self._redis.eval(scripts.LOGIN_ATTEMPT, len(keys), *keys, self._window_ms, *limits)
        return not int(refused)

    async def succeeded(self, login: str, address: str) -> None:
        keys = self._keys(login, address)
        await self._redis.eval(scripts.LOGIN_SUCCEEDED, len(keys), *keys)
