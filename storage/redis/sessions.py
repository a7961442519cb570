"""Desk sessions in Redis, keyed by their random token (`gps:session:<token>`, expiring). Each session keeps the
stamp of its user's password when it began (`storage.users.UserRepository.stamp`): a password changed since ends it."""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

from storage.redis import names

TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Session:
    token: str
    user_id: int
    csrf: str
    created: float
    stamp: str = ""  # the user's password stamp at login ("": a session from before stamps, no longer valid)

    def __repr__(self) -> str:  # the token and the CSRF secret stay out of logs
        return f"<Session user={self.user_id} created={self.created:.0f}>"


class SessionStore:
    def __init__(self, redis: aioredis.Redis, ttl: float) -> None:
        self._redis = redis
        self._ttl_ms = int(ttl * 1000)

    async def create(self, user_id: int, stamp: str) -> Session:
        session = Session(secrets.token_urlsafe(32), user_id, secrets.token_urlsafe(32), time.time(), stamp)
        value = json.dumps({"user_id": user_id, "csrf": session.csrf, "created": session.created, "stamp": stamp})
        await self._redis.set(names.session_key(session.token), value, px=self._ttl_ms)
        return session

    async def load(self, token: str | None) -> Session | None:
        if token is None or not TOKEN.fullmatch(token):
            return None
        raw = await self._redis.get(names.session_key(token))
        if raw is None:
            return None
        data = json.loads(raw)
        return Session(
            token, int(data["user_id"]), str(data["csrf"]), float(data["created"]), str(data.get("stamp", ""))
        )

    async def delete(self, token: str | None) -> None:
        if token is not None and TOKEN.fullmatch(token):
            await self._redis.delete(names.session_key(token))
