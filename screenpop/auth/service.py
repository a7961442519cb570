"""Logging in and out, and who a session is: the rules (throttling before the password is even checked, a new
session token at every login, the old session ended with it). No aiohttp here.

- A session is `gps:session:<token>` in Redis ({user_id, csrf, created}, expiring after `session_hours`);
  the browser holds only the token (`storage.redis.sessions`).
- Failed logins are counted in Redis per login and per client address over `login_window`; past the limit
  the password is not checked (`storage.redis.throttle`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg
from redis.exceptions import RedisError

from screenpop.auth.errors import AuthUnavailable, BadCredentials, Throttled
from storage.redis.sessions import Session, SessionStore
from storage.redis.throttle import LoginThrottle
from storage.users import User, UserRepository

log = logging.getLogger(__name__)

UNAVAILABLE = (RedisError, OSError, TimeoutError, asyncpg.PostgresError)


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: Session


class AuthService:
    def __init__(self, users: UserRepository, sessions: SessionStore, throttle: LoginThrottle) -> None:
        self._users = users
        self._sessions = sessions
        self._throttle = throttle

    async def log_in(self, login: str, password: str, address: str, previous: str | None) -> SignedIn:
        """A new session for `login` (the `previous` session token ends). Raises BadCredentials, Throttled or
        AuthUnavailable."""
        try:
            if await self._throttle.refused(login, address):
                log.warning("login throttled: %r from %s", login[:40], address)
                raise Throttled()
            user = await self._users.verify(login, password) if login and password else None
            if user is None:
                await self._throttle.failed(login, address)
                log.info("login failed: %r from %s", login[:40], address)
                raise BadCredentials()
            await self._throttle.succeeded(login)
            await self._sessions.delete(previous)  # the old session dies with the login
            session = await self._sessions.create(user.id)
        except UNAVAILABLE as exc:
            log.error("login impossible: %s", exc)
            raise AuthUnavailable() from exc
        log.info("login: %s (#%d) from %s", user.login, user.id, address)
        return SignedIn(user, session)

    async def log_out(self, session: Session, user: User) -> None:
        await self._sessions.delete(session.token)
        log.info("logout: %s", user.login)

    async def signed_in(self, token: str | None) -> SignedIn | None:
        """The session of `token` and its active user, None if either is gone. Raises AuthUnavailable."""
        try:
            session = await self._sessions.load(token)
            user = None if session is None else await self._users.get(session.user_id, active_only=True)
        except UNAVAILABLE as exc:
            log.error("cannot check the session: %s", exc)
            raise AuthUnavailable() from exc
        return None if session is None or user is None else SignedIn(user, session)
