"""The département's services an advisor transfers calls to (table `services` of migration 0004).

Managed with `gps-admin services`; read by the desk (`GET /api/services`, with `open_now`) and by the
qualification (a transfer names one). Opening hours are weekly spans in the line's time zone, NULL: always open;
whether a service is open is `screenpop.directory.service.service_open` (its spans with the line's calendar:
public holidays included, `telephony.hours`).
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Iterable, Mapping
from datetime import time
from typing import Any, Final

import asyncpg
from pydantic import BaseModel, ConfigDict

from config.settings import WEEKDAYS

EXTENSION = re.compile(r"[0-9]{2,10}")
TOPIC_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?|24:00")

Hours = dict[str, tuple[tuple[str, str], ...]]


class ServiceError(Exception):
    """A service change refused; the message (English) says why, `error_id` is stable."""

    error_id = "service-error"


class InvalidServiceName(ServiceError):
    error_id = "invalid-service-name"


class InvalidExtension(ServiceError):
    error_id = "invalid-extension"


class InvalidHours(ServiceError):
    error_id = "invalid-hours"


class UnknownServiceTopic(ServiceError):
    error_id = "unknown-service-topic"


class DuplicateServiceName(ServiceError):
    error_id = "duplicate-service-name"


class UnknownServiceId(ServiceError):
    error_id = "unknown-service-id"


class Service(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    extension: str
    topics: tuple[str, ...]
    hours: Hours | None  # {"mon": (("08:30", "17:00"),), …}; None: always open
    active: bool


def _clock(value: str) -> time:
    if value == "24:00":
        return time.max
    return time.fromisoformat(value)


def parse_hours(value: Any) -> Hours | None:
    """Check weekly hours ({"mon": [["08:30", "17:00"]], …}, days optional); every day present in the
    result (missing days: closed). None stays None (always open). Raises `InvalidHours`."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidHours('hours must be an object like {"mon": [["08:30", "17:00"]]} (or null: always open)')
    unknown = sorted(set(map(str, value)) - set(WEEKDAYS))
    if unknown:
        raise InvalidHours(f"unknown day(s) {', '.join(unknown)} in hours; use {', '.join(WEEKDAYS)}")
    week: Hours = {}
    for day in WEEKDAYS:
        spans = value.get(day, [])
        if not isinstance(spans, list | tuple):
            raise InvalidHours(f"hours of {day} must be a list of [start, end] pairs")
        checked: list[tuple[str, str]] = []
        for span in spans:
            if (
                not isinstance(span, list | tuple)
                or len(span) != 2
                or not all(isinstance(t, str) and _TIME.fullmatch(t) for t in span)
            ):
                raise InvalidHours(f'hours of {day}: {span!r} is not a ["HH:MM", "HH:MM"] pair')
            start, end = span
            if _clock(end) <= _clock(start):
                raise InvalidHours(f"hours of {day}: {end} must be after {start}")
            checked.append((start, end))
        week[day] = tuple(sorted(checked))
    return week


class _Unset:
    pass


UNSET: Final = _Unset()

_COLUMNS = "id, name, extension, topics, hours::text AS hours, active"
_INSERT = f"""
INSERT INTO services (name, extension, topics, hours) VALUES ($1, $2, $3, $4::text::jsonb) RETURNING {_COLUMNS}
"""  # noqa: S608 - fixed column names
_UPDATE = f"""
UPDATE services AS s SET
    name = COALESCE($2, s.name),
    extension = COALESCE($3, s.extension),
    topics = COALESCE($4::text[], s.topics),
    hours = CASE WHEN $5 THEN $6::text::jsonb ELSE s.hours END,
    active = COALESCE($7, s.active),
    updated_at = now()
WHERE s.id = $1
RETURNING {_COLUMNS}
"""  # noqa: S608


def service_from_row(row: asyncpg.Record) -> Service:
    hours = None if row["hours"] is None else json.loads(row["hours"])
    return Service(
        id=row["id"],
        name=row["name"],
        extension=row["extension"],
        topics=tuple(row["topics"]),
        hours=parse_hours(hours),
        active=row["active"],
    )


class ServiceRepository:
    def __init__(self, pool: asyncpg.Pool, known_topics: Iterable[str] | None = None) -> None:
        """`known_topics`: the keys of `settings.desk.topics`; when given, a service's topics must be among them."""
        self._pool = pool
        self._known_topics = None if known_topics is None else frozenset(known_topics)

    async def add(
        self, name: str, extension: str, topics: Iterable[str] = (), hours: Mapping[str, Any] | None = None
    ) -> Service:
        """Create an active service. Raises a `ServiceError` (nothing written) when a value is refused."""
        row = await self._write(
            _INSERT, self._name(name), self._extension(extension), self._topics(topics), self._hours(hours)
        )
        assert row is not None
        return service_from_row(row)

    async def update(
        self,
        service_id: int,
        *,
        name: str | None = None,
        extension: str | None = None,
        topics: Iterable[str] | None = None,
        hours: Mapping[str, Any] | _Unset | None = UNSET,
        active: bool | None = None,
    ) -> Service:
        """Change the given fields (None, or UNSET for `hours`: unchanged; `hours=None`: always open)."""
        row = await self._write(
            _UPDATE,
            service_id,
            None if name is None else self._name(name),
            None if extension is None else self._extension(extension),
            None if topics is None else self._topics(topics),
            not isinstance(hours, _Unset),
            None if isinstance(hours, _Unset) else self._hours(hours),
            active,
        )
        if row is None:
            raise UnknownServiceId(f"no service #{service_id}")
        return service_from_row(row)

    async def get(self, service_id: int) -> Service | None:
        row = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM services WHERE id = $1", service_id)  # noqa: S608
        return None if row is None else service_from_row(row)

    async def list(self, active_only: bool = False) -> builtins.list[Service]:
        """Services by name."""
        where = "WHERE active" if active_only else ""
        rows = await self._pool.fetch(f"SELECT {_COLUMNS} FROM services {where} ORDER BY name, id")  # noqa: S608
        return [service_from_row(r) for r in rows]

    # -- helpers ---------------------------------------------------------------------------------

    def _name(self, name: str) -> str:
        cleaned = " ".join(name.split())
        if not 1 <= len(cleaned) <= 100:
            raise InvalidServiceName(f"invalid service name {name!r}: 1 to 100 characters, not blank")
        return cleaned

    def _extension(self, extension: str) -> str:
        if not EXTENSION.fullmatch(extension):
            raise InvalidExtension(f"invalid extension {extension!r}: 2 to 10 digits")
        return extension

    def _topics(self, topics: Iterable[str]) -> builtins.list[str]:
        wanted = sorted(set(topics))
        bad = [t for t in wanted if not TOPIC_KEY.fullmatch(t)]
        if self._known_topics is not None:
            bad = [t for t in wanted if t not in self._known_topics]
        if bad:
            known = ", ".join(sorted(self._known_topics or ())) or "lowercase keys"
            raise UnknownServiceTopic(f"unknown topic(s) {', '.join(bad)}; expected: {known}")
        return wanted

    def _hours(self, hours: Mapping[str, Any] | None) -> str | None:
        week = parse_hours(hours)
        return None if week is None else json.dumps(week)

    async def _write(self, sql: str, *params: Any) -> asyncpg.Record | None:
        try:
            return await self._pool.fetchrow(sql, *params)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "services_name_key":
                raise DuplicateServiceName(f"a service named {params[0 if sql is _INSERT else 1]!r} exists") from None
            raise
