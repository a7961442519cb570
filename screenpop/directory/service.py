"""The directory's rules: a service is open when it is active and its weekly hours, with the line's calendar (time
zone, public holidays), are open (`telephony.hours`); a service without hours is always open. No aiohttp here."""

from __future__ import annotations

import builtins
from datetime import datetime

import asyncpg

from config.settings import DeskSettings, OpeningHours
from screenpop.directory.models import ServiceView
from storage.communes import Commune, CommuneRepository
from storage.services import Service, ServiceRepository
from telephony.hours import is_open, next_opening, weekly


def service_hours(service: Service, calendar: OpeningHours) -> OpeningHours | None:
    """The service's weekly spans with `calendar`'s time zone and public holidays; None: always open."""
    return None if service.hours is None else weekly(calendar, service.hours)


def service_open(service: Service, at: datetime, calendar: OpeningHours) -> bool:
    """Whether the service takes calls at `at` (timezone-aware): active, and always open or open by its hours."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"at must be timezone-aware, got {at!r}")
    if not service.active:
        return False
    hours = service_hours(service, calendar)
    return hours is None or is_open(at, hours)


def service_next_opening(service: Service, at: datetime, calendar: OpeningHours) -> datetime | None:
    """When the service opens next, at or after `at` (None: inactive, or not within a year)."""
    if not service.active:
        return None
    hours = service_hours(service, calendar)
    return at if hours is None else next_opening(at, hours)


class DirectoryService:
    def __init__(self, pool: asyncpg.Pool, desk: DeskSettings, calendar: OpeningHours) -> None:
        """`calendar`: the line's opening hours, whose time zone and public holidays a service's hours follow."""
        self._services = ServiceRepository(pool, desk.topics)
        self._communes = CommuneRepository(pool)
        self._calendar = calendar

    def is_open(self, service: Service, at: datetime) -> bool:
        return service_open(service, at, self._calendar)

    def next_opening(self, service: Service, at: datetime) -> datetime | None:
        return service_next_opening(service, at, self._calendar)

    async def service(self, service_id: int) -> Service | None:
        return await self._services.get(service_id)

    async def services(self, at: datetime) -> builtins.list[ServiceView]:
        """The active services by name, open at `at` or not."""
        return [
            ServiceView(
                **s.model_dump(),
                open_now=self.is_open(s, at),
                next_opening=self.next_opening(s, at),
            )
            for s in await self._services.list(active_only=True)
        ]

    async def communes(self, q: str, limit: int, departement: str | None) -> builtins.list[Commune]:
        return await self._communes.search(q, limit=limit, departement=departement)

    async def commune(self, code: str) -> Commune | None:
        return await self._communes.get(code)
