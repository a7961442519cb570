"""Typed request keys set by the auth middleware (aiohttp wants typed keys): `request[USER]`, `request[CSRF]`."""

from __future__ import annotations

from aiohttp import web

from storage.users import User

USER = web.RequestKey("user", User)
CSRF = web.RequestKey("csrf", str)
