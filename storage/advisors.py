"""Advisors and their presence log in PostgreSQL (tables of migration 0002).

The configuration (`advisors`) is validated here before it is written, with errors that say what to fix;
the database constraints back the same rules up, so two concurrent `add`s cannot both take one login or
one phone. The presence log (`advisor_events`) is append-only: the KPIs (login, pause, talk and wrap-up
times) are computed from it, and `last_states()` rebuilds who-is-doing-what after a restart.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import asyncpg

from telephony.advisors import INTERFACE, LOGIN, Advisor, AdvisorState, StateChange

# -- errors ------------------------------------------------------------------------------------------


class AdvisorError(Exception):
    """An advisor change refused; the message (English) says why, `error_id` is stable."""

    error_id = "advisor-error"


class InvalidLogin(AdvisorError):
    error_id = "invalid-login"


class InvalidName(AdvisorError):
    error_id = "invalid-name"


class InvalidInterface(AdvisorError):
    error_id = "invalid-interface"


class UnknownSkill(AdvisorError):
    error_id = "unknown-skill"


class UnknownAdvisor(AdvisorError):
    error_id = "unknown-advisor"


class DuplicateLogin(AdvisorError):
    error_id = "duplicate-login"


class DuplicateInterface(AdvisorError):
    error_id = "duplicate-interface"


# -- SQL ---------------------------------------------------------------------------------------------

_COLUMNS = "id, login, name, interface, skills, active"
_EVENT_COLUMNS = "advisor_id, state, at, reason, linkedid, by_login, note"

_INSERT = f"INSERT INTO advisors (login, name, interface, skills) VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}"  # noqa: S608

_UPDATE = f"""
UPDATE advisors AS a SET
    name = COALESCE($2, a.name),
    interface = COALESCE($3, a.interface),
    skills = COALESCE($4::text[], a.skills),
    active = COALESCE($5, a.active),
    updated_at = CASE
        WHEN (COALESCE($2, a.name), COALESCE($3, a.interface), COALESCE($4::text[], a.skills), COALESCE($5, a.active))
             IS DISTINCT FROM (a.name, a.interface, a.skills, a.active)
        THEN now() ELSE a.updated_at END
WHERE a.id = $1
RETURNING {_COLUMNS}
"""  # noqa: S608 - fixed column names, values are parameters

_RECORD = """
INSERT INTO advisor_events (advisor_id, state, at, reason, linkedid, by_login, note) VALUES ($1, $2, $3, $4, $5, $6, $7)
"""

_LAST_STATES = f"""
SELECT DISTINCT ON (advisor_id) {_EVENT_COLUMNS}
FROM advisor_events ORDER BY advisor_id, at DESC, id DESC
"""  # noqa: S608

_LAST_STATE = f"""
SELECT {_EVENT_COLUMNS} FROM advisor_events WHERE advisor_id = $1 ORDER BY at DESC, id DESC LIMIT 1
"""  # noqa: S608

_HISTORY = f"""
SELECT {_EVENT_COLUMNS} FROM advisor_events
WHERE advisor_id = $1 AND at >= $2 AND at < $3 ORDER BY at, id
"""  # noqa: S608

# The latest answered call of the number first, then its advisor: when that call's phone is no longer
# anyone's, the answer is None rather than the advisor of an older call.
_LAST_ADVISOR = """
SELECT a.id
FROM (
    SELECT advisor_interface FROM call_records
    WHERE caller_number = $1 AND arrived_at >= $2 AND status = 'answered' AND advisor_interface IS NOT NULL
    ORDER BY arrived_at DESC LIMIT 1
) AS last_call
JOIN advisors AS a ON a.interface = last_call.advisor_interface
"""


def _advisor(row: asyncpg.Record) -> Advisor:
    return Advisor(
        id=row["id"],
        login=row["login"],
        name=row["name"],
        interface=row["interface"],
        skills=frozenset(row["skills"]),
        active=row["active"],
    )


def _change(row: asyncpg.Record) -> StateChange:
    return StateChange(
        advisor_id=row["advisor_id"],
        state=AdvisorState(row["state"]),
        at=row["at"],
        reason=row["reason"],
        linkedid=row["linkedid"],
        by=row["by_login"],
        note=row["note"],
    )


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value


class AdvisorRepository:
    def __init__(self, pool: asyncpg.Pool, known_skills: Mapping[str, str]) -> None:
        """`known_skills`: `settings.routing.skills` (key → label); advisors may only have these."""
        self._pool = pool
        self._known_skills = dict(known_skills)

    # -- configuration ---------------------------------------------------------------------------

    async def add(self, login: str, name: str, interface: str, skills: Iterable[str] = ()) -> Advisor:
        """Create an active advisor. Raises an `AdvisorError` (nothing written) when a value is refused."""
        if not LOGIN.fullmatch(login):
            raise InvalidLogin(
                f"invalid login {login!r}: 2 to 40 characters, lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter"
            )
        params = (login, self._name(name), self._interface(interface), self._skills(skills))
        row = await self._write(_INSERT, *params, login=login, interface=params[2])
        assert row is not None
        return _advisor(row)

    async def update(
        self,
        advisor_id: int,
        *,
        name: str | None = None,
        interface: str | None = None,
        skills: Iterable[str] | None = None,
        active: bool | None = None,
    ) -> Advisor:
        """Change the given fields (None: unchanged; `skills` replaces the whole set)."""
        row = await self._write(
            _UPDATE,
            advisor_id,
            None if name is None else self._name(name),
            None if interface is None else self._interface(interface),
            None if skills is None else self._skills(skills),
            active,
            login=None,
            interface=interface,
        )
        if row is None:
            raise UnknownAdvisor(f"no advisor #{advisor_id}")
        return _advisor(row)

    async def get(self, advisor_id: int) -> Advisor | None:
        return await self._one("id", advisor_id)

    async def by_login(self, login: str) -> Advisor | None:
        return await self._one("login", login)

    async def by_interface(self, interface: str) -> Advisor | None:
        return await self._one("interface", interface)

    async def list(self, active_only: bool = False) -> builtins.list[Advisor]:
        """Advisors by login."""
        where = "WHERE active" if active_only else ""
        rows = await self._pool.fetch(f"SELECT {_COLUMNS} FROM advisors {where} ORDER BY login")  # noqa: S608
        return [_advisor(r) for r in rows]

    # -- presence log ----------------------------------------------------------------------------

    async def record(self, change: StateChange) -> None:
        """Append one presence change. Raises `UnknownAdvisor` if the advisor does not exist."""
        await self.record_many((change,))

    async def record_many(self, changes: Iterable[StateChange]) -> None:
        """Append several changes, all of them or none: asyncpg's executemany is one implicit transaction (since
        0.22), so no BEGIN/COMMIT round trips (the router logs every step's changes)."""
        rows = [(c.advisor_id, c.state.value, c.at, c.reason, c.linkedid, c.by, c.note) for c in changes]
        if not rows:
            return
        try:
            await self._pool.executemany(_RECORD, rows)
        except asyncpg.ForeignKeyViolationError:
            unknown = sorted({r[0] for r in rows} - set(await self._ids({r[0] for r in rows})))
            raise UnknownAdvisor(f"no advisor #{', #'.join(map(str, unknown))}: state change(s) refused") from None

    async def last_states(self) -> dict[int, StateChange]:
        """The latest change of every advisor who has one (latest `at`; ties: latest recorded)."""
        return {c.advisor_id: c for c in map(_change, await self._pool.fetch(_LAST_STATES))}

    async def last_state(self, advisor_id: int) -> StateChange | None:
        """One advisor's latest change (same order as `last_states`), or None."""
        row = await self._pool.fetchrow(_LAST_STATE, advisor_id)
        return None if row is None else _change(row)

    async def history(self, advisor_id: int, since: datetime, until: datetime) -> builtins.list[StateChange]:
        """The changes with `since <= at < until`, oldest first (ties in recording order)."""
        rows = await self._pool.fetch(_HISTORY, advisor_id, _aware(since, "since"), _aware(until, "until"))
        return [_change(r) for r in rows]

    # -- continuity ------------------------------------------------------------------------------

    async def last_advisor_for(self, caller_number: str, since: datetime) -> int | None:
        """The advisor (by the interface that answered) of this number's latest answered call since `since`.

        Active or not: whether they can take the call now is the router's business.
        """
        value = await self._pool.fetchval(_LAST_ADVISOR, caller_number, _aware(since, "since"))
        return None if value is None else int(value)

    # -- helpers ---------------------------------------------------------------------------------

    def _name(self, name: str) -> str:
        cleaned = " ".join(name.split())
        if not 1 <= len(cleaned) <= 80:
            raise InvalidName(f"invalid name {name!r}: 1 to 80 characters, not blank")
        return cleaned

    def _interface(self, interface: str) -> str:
        if not INTERFACE.fullmatch(interface):
            raise InvalidInterface(
                f"invalid interface {interface!r}: expected e.g. PJSIP/101 or Local/101@advisors "
                "(technology PJSIP, SIP, IAX2 or Local)"
            )
        return interface

    def _skills(self, skills: Iterable[str]) -> builtins.list[str]:
        wanted = set(skills)
        unknown = sorted(wanted - set(self._known_skills))
        if unknown:
            known = ", ".join(sorted(self._known_skills)) or "none configured"
            raise UnknownSkill(f"unknown skill(s) {', '.join(unknown)}; configured skills: {known}")
        return sorted(wanted)

    async def _one(self, column: str, value: Any) -> Advisor | None:
        row = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM advisors WHERE {column} = $1", value)  # noqa: S608
        return None if row is None else _advisor(row)

    async def _ids(self, ids: Iterable[int]) -> builtins.list[int]:
        rows = await self._pool.fetch("SELECT id FROM advisors WHERE id = ANY($1::bigint[])", builtins.list(ids))
        return [int(r["id"]) for r in rows]

    async def _write(self, sql: str, *params: Any, login: str | None, interface: str | None) -> asyncpg.Record | None:
        """Run an INSERT/UPDATE of `advisors`, turning unique violations into errors naming the other advisor."""
        try:
            return await self._pool.fetchrow(sql, *params)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "advisors_login_key":
                other = await self.by_login(login or "")
                raise DuplicateLogin(f"login {login!r} is already taken{_by(other)}") from None
            if exc.constraint_name == "advisors_interface_key":
                other = await self.by_interface(interface or "")
                raise DuplicateInterface(f"interface {interface} is already the phone{_of(other)}") from None
            raise


def _by(other: Advisor | None) -> str:
    return "" if other is None else f" by advisor #{other.id} ({other.name}, {other.interface})"


def _of(other: Advisor | None) -> str:
    return "" if other is None else f" of advisor {other.login!r} (#{other.id}, {other.name})"
