"""Typed request keys set by the auth middleware (aiohttp wants typed keys): `request[USER]`, `request[CSRF]`."""

from __future__ import annotations

from aiohttp import web

from screenpop.web.errors import Unauthenticated
from storage.users import User

USER = web.RequestKey("user", User)
CSRF = web.RequestKey("csrf", str)


def user_of(request: web.Request) -> User:
    """The logged-in user (set by the auth middleware); `Unauthenticated` (401) without one."""
    user: User | None = request.get(USER)
    if user is None:
        raise Unauthenticated()
    return user
