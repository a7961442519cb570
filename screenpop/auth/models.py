"""The auth slice's wire models."""

from __future__ import annotations

from storage.users import User


class Me(User):
    """`GET /api/me`: who is logged in, and the CSRF token of their session for state-changing requests."""

    csrf: str
