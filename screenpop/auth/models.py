"""The auth slice's wire models."""

from __future__ import annotations

from pydantic import BaseModel, Field

from storage.users import PASSWORD_MAX, User


class Me(User):
    """`GET /api/me`: who is logged in, and the CSRF token of their session for state-changing requests."""

    csrf: str


class LoginForm(BaseModel):
    """`POST /login` (a form): what the login page sends."""

    login: str = Field(max_length=40)
    password: str = Field(max_length=PASSWORD_MAX)
    csrf: str = Field(description="The login form's token, also in the gps_login_csrf cookie (signed by the server)")
    next: str | None = Field(default=None, description="Where to go once logged in: a path of this site")


class LogoutForm(BaseModel):
    """`POST /logout` (a form; or the session's token in the X-CSRF-Token header)."""

    csrf: str = Field(description="The session's CSRF token")
