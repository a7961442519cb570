"""Desk accounts in PostgreSQL (table `users`, migration 0005), with argon2id password hashes.

Passwords only pass through: they are hashed (argon2id, argon2-cffi's RFC 9106 low-memory profile) off the
event loop, never stored, logged nor shown in a repr. `verify` costs about the same whether the login exists
or not (a dummy hash is checked for unknown or deactivated logins), so its timing does not tell which
logins exist; hashes made with older parameters are upgraded on the next successful login.
"""

from __future__ import annotations

import asyncio
import builtins
import re
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

import asyncpg
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field

LOGIN = re.compile(r"[a-z][a-z0-9._-]{1,39}")
PASSWORD_MIN = 10
PASSWORD_MAX = 1024  # longer inputs are refused before hashing (no free CPU for the asker)


class Role(StrEnum):
    ADVISOR = "advisor"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    EDITOR = "editor"  # writes the knowledge base for one service (`User.service_id`)


class User(BaseModel):
    """A desk account: who is logged in (set on `request[USER]` by the auth middleware, `screenpop.web.keys`)."""

    model_config = ConfigDict(frozen=True)

    id: int
    login: str = Field(max_length=40)
    name: str = Field(max_length=80)
    role: Role
    advisor_id: int | None = None  # the advisor this user is, for role advisor
    service_id: int | None = None  # the service an editor writes for (role editor only)


# -- errors ------------------------------------------------------------------------------------------


class UserError(Exception):
    """An account change refused; the message (English) says why, `error_id` is stable."""

    error_id = "user-error"


class InvalidLogin(UserError):
    error_id = "invalid-login"


class InvalidName(UserError):
    error_id = "invalid-name"


class InvalidRole(UserError):
    error_id = "invalid-role"


class WeakPassword(UserError):
    error_id = "weak-password"


class UnknownAdvisor(UserError):
    error_id = "unknown-advisor"


class UnknownService(UserError):
    error_id = "unknown-service"


class UnknownUser(UserError):
    error_id = "unknown-user"


class DuplicateLogin(UserError):
    error_id = "duplicate-login"


class DuplicateAdvisor(UserError):
    error_id = "duplicate-advisor"


# -- SQL ---------------------------------------------------------------------------------------------

_COLUMNS = "id, login, name, role, advisor_id, service_id"
_INSERT = f"""
INSERT INTO users (login, name, role, advisor_id, password_hash, service_id) VALUES ($1, $2, $3, $4, $5, $6)
RETURNING {_COLUMNS}
"""  # noqa: S608
_SET_PASSWORD = "UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1"  # noqa: S105
# an upgrade of the hash's parameters, unless the password was changed meanwhile
_REHASH = "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2"


def _user(row: asyncpg.Record) -> User:
    return User(
        id=row["id"],
        login=row["login"],
        name=row["name"],
        role=Role(row["role"]),
        advisor_id=row["advisor_id"],
        service_id=row["service_id"],
    )


def default_hasher() -> PasswordHasher:
    """argon2id, t=3, m=64 MiB, p=4 (RFC 9106's second recommended option, argon2-cffi's default)."""
    return PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4, hash_len=32, salt_len=16, type=Type.ID)


class UserRepository:
    def __init__(self, pool: asyncpg.Pool, hasher: PasswordHasher | None = None) -> None:
        self._pool = pool
        self._hasher = hasher or default_hasher()
        self._dummy_hash: str | None = None  # made on first need: nothing is computed at construction

    def __repr__(self) -> str:
        return f"<UserRepository {self._hasher.type.name.lower()} t={self._hasher.time_cost}>"

    # -- accounts --------------------------------------------------------------------------------

    async def add(
        self,
        login: str,
        name: str,
        role: Role | str,
        password: str,
        advisor_id: int | None = None,
        service_id: int | None = None,
    ) -> User:
        """Create an active account. Raises a `UserError` (nothing written) when a value is refused."""
        if not LOGIN.fullmatch(login):
            raise InvalidLogin(
                f"invalid login {login!r}: 2 to 40 characters, lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter"
            )
        cleaned = _name(name)
        checked_role = _role(role)
        if checked_role is Role.ADVISOR and advisor_id is None:
            raise InvalidRole("role advisor needs the advisor this account is (--advisor)")
        if (checked_role is Role.EDITOR) != (service_id is not None):
            raise InvalidRole("role editor needs the service it writes for (--service), and only that role has one")
        password_hash = await self._hash(password)
        try:
            row = await self._pool.fetchrow(
                _INSERT, login, cleaned, checked_role.value, advisor_id, password_hash, service_id
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "users_login_key":
                raise DuplicateLogin(f"login {login!r} is already taken") from None
            if exc.constraint_name == "users_advisor_id_key":
                other = await self._pool.fetchval("SELECT login FROM users WHERE advisor_id = $1", advisor_id)
                raise DuplicateAdvisor(f"advisor #{advisor_id} already has an account ({other!r})") from None
            raise
        except asyncpg.ForeignKeyViolationError as exc:
            if exc.constraint_name == "users_service_id_fkey":
                raise UnknownService(f"no service #{service_id}") from None
            raise UnknownAdvisor(f"no advisor #{advisor_id}") from None
        assert row is not None
        return _user(row)

    async def get(self, user_id: int, *, active_only: bool = False, stamp: str | None = None) -> User | None:
        """The user; with `stamp`, only while their password is still the one of that stamp (`stamp`)."""
        where = "id = $1 AND active" if active_only else "id = $1"
        if stamp is None:
            row = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE {where}", user_id)  # noqa: S608
        else:
            try:
                changed = datetime.fromisoformat(stamp)
            except ValueError:
                return None
            row = await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM users WHERE {where} AND password_changed_at = $2",  # noqa: S608
                user_id,
                changed,
            )
        return None if row is None else _user(row)

    async def stamp(self, user_id: int) -> str:
        """When the user's password was last set (ISO 8601, to the microsecond): sessions keep it, and end when it
        changes (`get(…, stamp=…)`)."""
        changed = await self._pool.fetchval("SELECT password_changed_at FROM users WHERE id = $1", user_id)
        if changed is None:
            raise UnknownUser(f"no user #{user_id}")
        return str(changed.isoformat())

    async def by_login(self, login: str) -> User | None:
        row = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE login = $1", login)  # noqa: S608
        return None if row is None else _user(row)

    async def list(self) -> builtins.list[User]:
        """Every account, by login."""
        rows = await self._pool.fetch(f"SELECT {_COLUMNS} FROM users ORDER BY login")  # noqa: S608
        return [_user(r) for r in rows]

    async def set_password(self, user_id: int, password: str) -> None:
        """Replace the password (refused when weak); raises `UnknownUser` if there is no such account."""
        status = await self._pool.execute(_SET_PASSWORD, user_id, await self._hash(password))
        if status != "UPDATE 1":
            raise UnknownUser(f"no user #{user_id}")

    async def set_active(self, user_id: int, active: bool) -> None:
        """Deactivate (or reactivate) an account: a deactivated one can neither log in nor use a session."""
        status = await self._pool.execute("UPDATE users SET active = $2 WHERE id = $1", user_id, active)
        if status != "UPDATE 1":
            raise UnknownUser(f"no user #{user_id}")

    # -- authentication --------------------------------------------------------------------------

    async def verify(self, login: str, password: str) -> User | None:
        """The active user with this login and password, else None (same work either way). A login that cannot
        exist (not the format `add` takes: a NUL, 5,000 characters…) is not even looked up."""
        if not LOGIN.fullmatch(login):
            await self._check(await self._dummy(), password[:PASSWORD_MAX])
            return None
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS}, password_hash, active FROM users WHERE login = $1",  # noqa: S608
            login,
        )
        if row is None or not row["active"] or len(password) > PASSWORD_MAX:
            await self._check(await self._dummy(), password[:PASSWORD_MAX])
            return None
        stored: str = row["password_hash"]
        if not await self._check(stored, password):
            return None
        if self._hasher.check_needs_rehash(stored):
            await self._pool.execute(_REHASH, row["id"], stored, await self._hash(password))
        return _user(row)

    # -- helpers ---------------------------------------------------------------------------------

    async def _hash(self, password: str) -> str:
        if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
            raise WeakPassword(f"password refused: {PASSWORD_MIN} to {PASSWORD_MAX} characters")
        return await asyncio.to_thread(self._hasher.hash, password)

    async def _check(self, password_hash: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self._hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await asyncio.to_thread(self._hasher.hash, secrets.token_urlsafe(24))
        return self._dummy_hash


def _name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not 1 <= len(cleaned) <= 80:
        raise InvalidName(f"invalid name {name!r}: 1 to 80 characters, not blank")
    return cleaned


def _role(role: Any) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidRole(f"unknown role {role!r}: one of {', '.join(r.value for r in Role)}") from None
