"""Files uploaded for import into the directory, kept in Redis between the dry run and the import that follows it
(`gps:directory:upload:<token>`, a hash expiring after `ttl`): any instance behind the same Redis can run the
import the user confirms. Only the user who uploaded a file may read it back."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from storage.redis import names

TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")  # secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Upload:
    token: str
    login: str  # who uploaded it
    meta: dict[str, Any]  # the import's settings (format, file name…), JSON values
    content: bytes


class UploadStore:
    def __init__(self, redis: aioredis.Redis, ttl: float = 3600.0) -> None:
        self._redis = redis
        self._ttl_ms = int(ttl * 1000)

    async def put(self, login: str, meta: dict[str, Any], content: bytes) -> str:
        token = secrets.token_urlsafe(24)
        key = names.directory_upload_key(token)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"login": login, "meta": json.dumps(meta), "content": content})
            pipe.pexpire(key, self._ttl_ms)
            await pipe.execute()
        return token

    async def get(self, token: str, login: str) -> Upload | None:
        """The upload `token` if `login` made it and it has not expired."""
        if not TOKEN.fullmatch(token):
            return None
        raw = await self._redis.hgetall(names.directory_upload_key(token))
        found = {_bytes(k): _bytes(v) for k, v in raw.items()}
        if not found or found.get(b"login", b"").decode() != login:
            return None
        return Upload(token, login, json.loads(found[b"meta"]), found[b"content"])

    async def drop(self, token: str) -> None:
        if TOKEN.fullmatch(token):
            await self._redis.delete(names.directory_upload_key(token))


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value
