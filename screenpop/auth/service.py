"""Logging in and out, and who a session is: the rules (throttling before the password is even checked, the hash work
bounded, a new session token at every login, the old session ended with it, the login form's signed token). No
aiohttp here.

- A session is `gps:session:<token>` in Redis ({user_id, csrf, created, stamp}, expiring after `session_hours`);
  the browser holds only the token (`storage.redis.sessions`). A deactivated account, or a password changed since
  the login (`gps-admin users passwd`), ends every session of that user.
- Each login attempt is counted in Redis per login and per client address over `login_window`, atomically and
  before the password is checked; past the limit the password is not checked (`storage.redis.throttle`). A
  success ends its login's count.
- The password hash (argon2id: ~140 ms of CPU and 64 MiB) is the expensive part: at most `PER_ADDRESS` checks run
  at once for one client address (more are refused at once, 429, their attempt counted all the same), and at most
  `AT_ONCE` for the whole instance (more wait their turn), so a burst of logins costs bounded CPU and memory.
- The login form carries a token the server signed (`tokens`, key in Redis), valid `LOGIN_TOKEN_TTL`, also set in
  a cookie: the form and the cookie must carry the same token, and it must be the server's.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg
from redis.exceptions import RedisError

from screenpop.auth import tokens
from screenpop.auth.errors import AuthUnavailable, BadCredentials, Throttled, TooManyAtOnce
from storage.redis.sessions import Session, SessionStore
from storage.redis.signing import SigningKeys
from storage.redis.throttle import LoginThrottle
from storage.users import User, UserRepository

log = logging.getLogger(__name__)

UNAVAILABLE = (RedisError, OSError, TimeoutError, asyncpg.PostgresError)
PER_ADDRESS = 2  # password checks at once for one client address
AT_ONCE = 4  # password checks at once for the instance (4 × 64 MiB)
LOGIN_FORM = "login-form"  # the purpose the login form's tokens are signed for
LOGIN_TOKEN_TTL = 2 * 3600.0  # a login page left open longer says « Le formulaire de connexion a expiré »
LOGIN_TOKEN_REUSE = 600.0  # the page reuses the browser's token while it has this long to live


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: Session


SessionEnding = Callable[[User], Awaitable[None]]  # told before a session ends; raises a WebError to keep it open


class AuthService:
    def __init__(
        self,
        users: UserRepository,
        sessions: SessionStore,
        throttle: LoginThrottle,
        signing: SigningKeys,
        clock: Callable[[], float] = time.time,
        session_ending: Sequence[SessionEnding] = (),
    ) -> None:
        self._session_ending = tuple(session_ending)
        self._users = users
        self._sessions = sessions
        self._throttle = throttle
        self._signing = signing
        self._clock = clock
        self._checking: Counter[str] = Counter()  # client address → password checks in progress
        self._hashing = asyncio.Semaphore(AT_ONCE)

    async def log_in(self, login: str, password: str, address: str, previous: str | None) -> SignedIn:
        """A new session for `login` (the `previous` session token ends). Raises BadCredentials, Throttled (or
        TooManyAtOnce) or AuthUnavailable. Every attempt counts, checked or not: a burst uses the budget up."""
        try:
            if not await self._throttle.attempt(login, address):
                log.warning("login throttled: %r from %s", login[:40], address)
                raise Throttled()
        except UNAVAILABLE as exc:
            log.error("login impossible: %s", exc)
            raise AuthUnavailable() from exc
        if self._checking[address] >= PER_ADDRESS:
            log.warning("login refused: %d already in progress from %s", self._checking[address], address)
            raise TooManyAtOnce()
        self._checking[address] += 1
        try:
            return await self._check(login, password, address, previous)
        finally:
            self._checking[address] -= 1
            if not self._checking[address]:
                del self._checking[address]

    async def _check(self, login: str, password: str, address: str, previous: str | None) -> SignedIn:
        try:
            async with self._hashing:
                user = await self._users.verify(login, password) if login and password else None
            if user is None:
                log.info("login failed: %r from %s", login[:40], address)
                raise BadCredentials()
            await self._throttle.succeeded(login, address)
            await self._sessions.delete(previous)  # the old session dies with the login
            session = await self._sessions.create(user.id, await self._users.stamp(user.id))
        except UNAVAILABLE as exc:
            log.error("login impossible: %s", exc)
            raise AuthUnavailable() from exc
        log.info("login: %s (#%d) from %s", user.login, user.id, address)
        return SignedIn(user, session)

    async def log_out(self, session: Session, user: User) -> None:
        """End the session, once each `session_ending` hook has let it end (a hook that raises keeps it open: the
        desk's advisor must first leave the queue)."""
        for ending in self._session_ending:
            await ending(user)
        await self._sessions.delete(session.token)
        log.info("logout: %s", user.login)

    async def signed_in(self, token: str | None) -> SignedIn | None:
        """The session of `token` and its active user, None if either is gone. Raises AuthUnavailable."""
        try:
            session = await self._sessions.load(token)
            user = None
            if session is not None and session.stamp:  # a password changed since the login ends the session
                user = await self._users.get(session.user_id, active_only=True, stamp=session.stamp)
        except UNAVAILABLE as exc:
            log.error("cannot check the session: %s", exc)
            raise AuthUnavailable() from exc
        return None if session is None or user is None else SignedIn(user, session)

    # ---- the login form's token ----

    async def login_token(self, current: str | None) -> str:
        """The token for a login page: the browser's `current` one while it is the server's and has a while to live,
        else a new one. Raises AuthUnavailable."""
        key = await self._key()
        expires = tokens.expiry(key, LOGIN_FORM, current)
        if current is not None and expires is not None and expires - self._clock() > LOGIN_TOKEN_REUSE:
            return current
        return tokens.make(key, LOGIN_FORM, self._clock(), LOGIN_TOKEN_TTL)

    async def login_token_ok(self, cookie: str | None, field: str | None) -> bool:
        """The login form's token: the same in the cookie and the form, signed by the server, not expired."""
        if not cookie or not field or not hmac.compare_digest(cookie.encode(), field.encode()):
            return False
        return tokens.valid(await self._key(), LOGIN_FORM, cookie, self._clock())

    async def _key(self) -> bytes:
        try:
            return await self._signing.key(LOGIN_FORM)
        except UNAVAILABLE as exc:
            log.error("login form key unavailable: %s", exc)
            raise AuthUnavailable() from exc
