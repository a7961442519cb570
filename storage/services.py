"""The département's services an advisor transfers calls to: the directory's organisations of kind `service`
(migration 0010; the `services` table of 0004 folded into it, ids kept, and `services` is now a view of them).

Managed with `gps-admin services` (and the directory); read by the desk (`GET /api/services`, with `open_now`)
and by the qualification (a transfer names one). Opening hours are weekly spans in local time (an end before
its start runs past midnight) with the service's exceptional dates and the line's public holidays
(`telephony.hours`); NULL: always open. Every change goes in the directory's history.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Awaitable, Iterable, Mapping
from datetime import date, time
from typing import Any, Final, TypeVar

import asyncpg
from pydantic import BaseModel, ConfigDict

from config.settings import WEEKDAYS, OpeningHours, OpeningSpan
from storage.directory import Action, DirectoryStore, OrganisationData, StoredOrganisation
from storage.directory import Hours as DirectoryHours
from telephony import hours as opening

EXTENSION = re.compile(r"[0-9]{2,10}")
TOPIC_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?|24:00")

Hours = DirectoryHours  # {"mon": (("08:30", "17:00"),), …}
T = TypeVar("T")


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
    closed_dates: tuple[date, ...] = ()  # exceptional closures
    open_dates: tuple[date, ...] = ()  # exceptional openings (of a public holiday)

    def opening_hours(self, calendar: OpeningHours) -> OpeningHours | None:
        """Its hours in the one opening-hours model, with `calendar`'s time zone and holidays; None: always open."""
        if self.hours is None:
            return None
        return opening.with_calendar(calendar, week_spans(self.hours), self.closed_dates, self.open_dates)


def _clock(value: str) -> time:
    if value == "24:00":
        return time.max
    return time.fromisoformat(value)


def parse_hours(value: Any) -> Hours | None:
    """Check weekly hours ({"mon": [["08:30", "17:00"]], …}, days optional); every day present in the
    result (missing days: closed). An end before its start runs past midnight ("22:00", "02:00"); "24:00"
    is the end of the day. None stays None (always open). Raises `InvalidHours`."""
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
            if start == "24:00":
                raise InvalidHours(f"hours of {day}: a span cannot start at 24:00")
            if _clock(end) == _clock(start):
                raise InvalidHours(f"hours of {day}: {start}–{end} is empty")
            checked.append((start, end))
        week[day] = tuple(sorted(checked))
    return week


def week_spans(hours: Hours) -> dict[str, tuple[OpeningSpan, ...]]:
    """Checked weekly hours (`parse_hours`) as the opening-hours model's spans."""
    return {
        day: tuple(OpeningSpan(start=_clock(start), end=_clock(end)) for start, end in spans)
        for day, spans in hours.items()
    }


class _Unset:
    pass


UNSET: Final = _Unset()

_COLUMNS = "id, name, extension, topics, hours::text AS hours, active, closed_dates, open_dates"
SERVICE_OWNER = "admin"  # owner of the services created outside the directory's own commands


def service_from_row(row: asyncpg.Record) -> Service:
    """From a row of the `services` view (0004's columns) or of `organisations`."""
    hours = None if row["hours"] is None else json.loads(row["hours"])
    keys = row.keys()
    return Service(
        id=row["id"],
        name=row["name"],
        extension=row["extension"],
        topics=tuple(row["topics"]),
        hours=parse_hours(hours),
        active=row["active"],
        closed_dates=tuple(row["closed_dates"]) if "closed_dates" in keys else (),
        open_dates=tuple(row["open_dates"]) if "open_dates" in keys else (),
    )


def service_from_organisation(entry: StoredOrganisation) -> Service:
    return Service(
        id=entry.id,
        name=entry.name,
        extension=entry.extension or "",
        topics=entry.topics,
        hours=entry.hours,
        active=entry.active,
        closed_dates=entry.closed_dates,
        open_dates=entry.open_dates,
    )


class ServiceRepository:
    def __init__(self, pool: asyncpg.Pool, known_topics: Iterable[str] | None = None, actor: str = "cli") -> None:
        """`known_topics`: the keys of `settings.desk.topics`; when given, a service's topics must be among them.
        `actor`: who the directory's history names for the changes made here."""
        self._pool = pool
        self._store = DirectoryStore(pool)
        self._known_topics = None if known_topics is None else frozenset(known_topics)
        self._actor = actor

    async def add(
        self, name: str, extension: str, topics: Iterable[str] = (), hours: Mapping[str, Any] | None = None
    ) -> Service:
        """Create an active service. Raises a `ServiceError` (nothing written) when a value is refused."""
        data = OrganisationData(
            kind="service",
            name=self._name(name),
            owner=SERVICE_OWNER,
            extension=self._extension(extension),
            topics=tuple(self._topics(topics)),
            hours=parse_hours(hours),
        )
        async with self._store.transaction() as conn:
            if await self._store.service_named(data.name, conn) is not None:
                raise DuplicateServiceName(f"a service named {data.name!r} exists")
            organisation_id = await self._write(
                self._store.create(conn, data, actor=self._actor, action="create", changes=data.changes_from(None))
            )
        service = await self.get(organisation_id)
        assert service is not None
        return service

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
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = self._name(name)
        if extension is not None:
            changes["extension"] = self._extension(extension)
        if topics is not None:
            changes["topics"] = tuple(self._topics(topics))
        if not isinstance(hours, _Unset):
            changes["hours"] = parse_hours(hours)
        if active is not None:
            changes["active"] = active
        async with self._store.transaction() as conn:
            found = await conn.fetchrow(
                "SELECT version FROM organisations WHERE id = $1 AND kind = 'service' FOR UPDATE", service_id
            )
            before = None if found is None else await self._store.get(service_id, conn)
            if before is None:
                raise UnknownServiceId(f"no service #{service_id}")
            after = before.data().model_copy(update=changes)
            if "name" in changes and changes["name"] != before.name:
                other = await self._store.service_named(changes["name"], conn)
                if other is not None:
                    raise DuplicateServiceName(f"a service named {changes['name']!r} exists")
            diff = after.changes_from(before.data())
            if diff:
                action: Action = "update"
                if set(diff) == {"active"}:
                    action = "reactivate" if after.active else "deactivate"
                await self._write(
                    self._store.replace(
                        conn,
                        service_id,
                        after,
                        expected_version=before.version,
                        actor=self._actor,
                        action=action,
                        changes=diff,
                    )
                )
        service = await self.get(service_id)
        assert service is not None
        return service

    async def get(self, service_id: int) -> Service | None:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM organisations WHERE id = $1 AND kind = 'service'",  # noqa: S608
            service_id,
        )
        return None if row is None else service_from_row(row)

    async def list(self, active_only: bool = False) -> builtins.list[Service]:
        """Services by name."""
        where = "AND active" if active_only else ""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM organisations WHERE kind = 'service' {where} ORDER BY name, id"  # noqa: S608
        )
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

    @staticmethod
    async def _write(write: Awaitable[T]) -> T:
        try:
            return await write
        except asyncpg.UniqueViolationError as exc:  # two writers racing for one name
            if exc.constraint_name == "organisations_service_name_key":
                raise DuplicateServiceName("a service with this name exists") from None
            raise
