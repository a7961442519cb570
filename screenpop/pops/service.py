"""The desk messages read back (pending, the advisor's current call, acknowledgements) and the caller's context a
pop carries (history, commune, open callbacks, from the calls slice). No aiohttp here."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime

import asyncpg
import redis.asyncio as aioredis

from config.settings import DeskSettings
from screenpop.calls.models import CallerFacts, OrganisationCallItem
from screenpop.calls.service import QualificationService
from screenpop.directory.models import CALLER_KIND_LABELS
from screenpop.directory.service import commune_label
from screenpop.pops.models import CallerContext, DeskMessage, KnownCaller
from screenpop.pops.notifier import ContextOf
from storage.communes import Commune
from storage.directory import CallerOrganisation, DirectoryStore
from storage.redis.desk import DeskMessages
from storage.redis.rounds import Rounds
from telephony.aio import bounded

log = logging.getLogger(__name__)

_EXTENSION = re.compile(r"[0-9]{2,10}")  # an internal extension, as the directory keeps them
CONTEXT_WITHIN = 0.2  # seconds: a pop goes without history rather than wait longer


def _oldest_first(raw: list[bytes | str]) -> list[DeskMessage]:
    messages = [DeskMessage.model_validate_json(v) for v in raw]
    return sorted(messages, key=lambda m: (m.event_at, m.id))


class DeskMessageStore:
    """The desk messages kept in Redis, typed."""

    def __init__(self, redis: aioredis.Redis, rounds: Rounds | None = None) -> None:
        self._messages = DeskMessages(redis, rounds)

    @property
    def rounds(self) -> int:
        """Round trips of the rounds the acknowledgements go in."""
        return self._messages.rounds.rounds

    async def pending(self, advisor_id: int) -> list[DeskMessage]:
        """Messages not yet acknowledged by the advisor's browser, oldest first."""
        return _oldest_first(await self._messages.pending(advisor_id))

    async def current_call(self, advisor_id: int) -> list[DeskMessage]:
        """The advisor's latest call not yet qualified: its pop and the latest message of each kind, oldest first
        (empty when there is none)."""
        return _oldest_first(await self._messages.current(advisor_id))

    async def current_caller(self, advisor_id: int) -> str | None:
        """The number of the advisor's call not yet qualified (None: none, or withheld)."""
        return next((m.caller_number for m in await self.current_call(advisor_id) if m.type == "pop"), None)

    async def call_done(self, advisor_id: int, linkedid: str) -> None:
        """The advisor qualified `linkedid`: if it is their current call, the page no longer shows it at a reload."""
        await self._messages.call_done(advisor_id, linkedid)

    async def acknowledge(self, advisor_id: int, message_id: str) -> DeskMessage | None:
        """Remove an acknowledged message; None when it is not one of this advisor's pending messages. In the
        instance's rounds: acknowledgements that arrive together cost one round trip."""
        raw = await self._messages.acknowledge(advisor_id, message_id)
        return None if raw is None else DeskMessage.model_validate_json(raw)


class Acknowledger(DeskMessageStore):
    """Called with (advisor, message id): `DeskMessageStore.acknowledge` (the demo's simulated advisors, tests)."""

    async def __call__(self, advisor_id: int, message_id: str) -> DeskMessage | None:
        return await self.acknowledge(advisor_id, message_id)


async def pending(redis: aioredis.Redis, advisor_id: int) -> list[DeskMessage]:
    return await DeskMessageStore(redis).pending(advisor_id)


async def current_call(redis: aioredis.Redis, advisor_id: int) -> list[DeskMessage]:
    return await DeskMessageStore(redis).current_call(advisor_id)


async def call_done(redis: aioredis.Redis, advisor_id: int, linkedid: str) -> None:
    await DeskMessageStore(redis).call_done(advisor_id, linkedid)


async def acknowledge(redis: aioredis.Redis, advisor_id: int, message_id: str) -> DeskMessage | None:
    """One acknowledgement on its own (the demo's simulated advisors); the hub keeps its own rounds."""
    return await DeskMessageStore(redis).acknowledge(advisor_id, message_id)


def age_ms(message: DeskMessage, now: datetime | None = None) -> float:
    """Time since the AMI event that caused the message (the pop latency once acknowledged)."""
    return ((now or datetime.now(UTC)) - message.event_at).total_seconds() * 1000


def context_lookup(pool: asyncpg.Pool, desk: DeskSettings) -> ContextOf:
    """The caller's context for a pop, from PostgreSQL: the number's history, commune and open callbacks, and who
    the number is by the directory (a town hall: its commune and the commune's recent calls). Bounded, and never
    in the way of the pop."""
    calls = QualificationService(pool, desk)
    directory = DirectoryStore(pool)

    async def known(number: str | None, raw: str) -> tuple[CallerOrganisation | None, list[OrganisationCallItem]]:
        found = await directory.caller_organisation(number, raw)
        if found is None:
            return None, []
        commune = found.commune_insee if found.caller_kind == "town_hall" else None
        return found, await calls.organisation_history(found.id, commune, number or "")

    async def lookup(number: str | None, raw: str) -> CallerContext:
        if number is None:  # an internal extension: who it is by the directory, no history of a number
            organisation, recent = await known(None, raw)
            return _context(CallerFacts(history=[], commune=None, open_callbacks=[]), organisation, recent)
        facts, (organisation, recent) = await asyncio.gather(
            calls.caller_facts(number, desk.history_size), known(number, "")
        )
        return _context(facts, organisation, recent)

    async def context_of(number: str | None, raw: str = "") -> CallerContext:
        """`raw` is looked at only when the number has no E.164 form (an internal extension)."""
        if number is None and not _EXTENSION.fullmatch(raw.strip()):
            return CallerContext()
        try:
            return await bounded(lookup(number, raw.strip()), CONTEXT_WITHIN)
        except Exception as exc:
            log.warning("pop without history (%s)", exc)
            return CallerContext()

    return context_of


def _context(
    facts: CallerFacts, organisation: CallerOrganisation | None, recent: list[OrganisationCallItem]
) -> CallerContext:
    code: str | None = None
    name: str | None = None
    postal_codes: tuple[str, ...] = ()
    if facts.commune is not None:
        (code, name), postal_codes = facts.commune, facts.postal_codes
    caller = None
    if organisation is not None:
        caller = KnownCaller(
            kind=organisation.caller_kind,
            kind_label=CALLER_KIND_LABELS[organisation.caller_kind],
            organisation_id=organisation.id,
            name=organisation.name,
            organisation_kind=organisation.kind,
        )
        if organisation.caller_kind == "town_hall" and organisation.commune_insee and organisation.commune_name:
            # a town hall calls for its commune
            code, name, postal_codes = organisation.commune_insee, organisation.commune_name, organisation.postal_codes
    commune = None
    if code is not None and name is not None:
        commune = commune_label(
            Commune(code=code, name=name, departement="", postal_codes=postal_codes, epci_name=None)
        )
    return CallerContext(
        commune=commune,
        commune_code=code,
        history=tuple(facts.history),
        open_callbacks=tuple(facts.open_callbacks),
        caller=caller,
        organisation_history=tuple(recent),
    )
