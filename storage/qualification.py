"""Call qualification in PostgreSQL (the qualification columns of `call_records`, and `pending_qualifications`
for a call still in progress) and the caller's history: SQL only. The rules (the lists, who may qualify a call,
the French messages) are `screenpop.calls.service`'s; the PBX facts of a record belong to `storage.calls`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import astuple, dataclass
from typing import Any

import asyncpg

from storage.callbacks import request_in
from storage.calls import APPLY_PENDING, QUALIFICATION_COLUMNS
from storage.knowledge.loop import LoopRepository
from storage.services import Service, service_from_row

NOTE_DB_MAX = 2000  # call_records.note's CHECK (migration 0001): a larger note_max is capped to it

Row = Mapping[str, Any]


@dataclass(frozen=True)
class QualificationValues:
    """The qualification columns of one save, in `QUALIFICATION_COLUMNS` order."""

    topic: str
    subtopic: str | None
    outcome: str
    transfer_service_id: int | None
    transfer_service: str | None
    partner: str | None  # the partner's name as given (a key of settings.desk.partners before migration 0012)
    partner_id: int | None  # the directory's organisation (0012)
    callback_requested: bool
    callback_slot: str | None
    commune_insee: str | None
    note: str | None


_VIEW = (
    "linkedid, caller_number, arrived_at, status, advisor_interface, advisor_name, "
    + ", ".join(QUALIFICATION_COLUMNS)
    + ", qualified_at, qualified_by"
)
_LOCK = f"SELECT {_VIEW} FROM call_records WHERE linkedid = $1 FOR UPDATE"  # noqa: S608
_TYPES = ("text", "text", "text", "bigint", "text", "text", "bigint", "boolean", "text", "bpchar", "text")
_SAVE = f"""
UPDATE call_records AS cr SET
    {", ".join(f"{c} = ${i}" for i, c in enumerate(QUALIFICATION_COLUMNS, start=2))},
    qualified_at = now(), qualified_by = ${len(QUALIFICATION_COLUMNS) + 2}, updated_at = now()
WHERE linkedid = $1
  AND ({", ".join(f"cr.{c}" for c in QUALIFICATION_COLUMNS)})
      IS DISTINCT FROM ({", ".join(f"${i}::{t}" for i, t in enumerate(_TYPES, start=2))})
RETURNING {_VIEW}
"""  # noqa: S608 - fixed column names, values are parameters

_PENDING = f"""
INSERT INTO pending_qualifications (linkedid, advisor_interface, {", ".join(QUALIFICATION_COLUMNS)}, qualified_by)
VALUES ($1, $2, {", ".join(f"${i}" for i in range(3, len(QUALIFICATION_COLUMNS) + 4))})
ON CONFLICT (linkedid) DO UPDATE SET
    advisor_interface = EXCLUDED.advisor_interface,
    {", ".join(f"{c} = EXCLUDED.{c}" for c in QUALIFICATION_COLUMNS)},
    qualified_at = now(), qualified_by = EXCLUDED.qualified_by
"""  # noqa: S608 - fixed column names, values are parameters

_HISTORY = """
SELECT cr.linkedid, cr.arrived_at, cr.status, cr.topic, cr.subtopic, cr.outcome, cr.commune_insee, cr.note,
       cr.partner, cr.partner_id, COALESCE(a.name, cr.advisor_name) AS advisor_name
FROM call_records AS cr
LEFT JOIN advisors AS a ON a.interface = cr.advisor_interface
WHERE cr.caller_number = $1 AND (cr.qualified_at IS NOT NULL OR cr.status = 'answered')
ORDER BY cr.arrived_at DESC, cr.linkedid DESC
LIMIT $2
"""

# The callbacks still open (migration 0020: until an attempt reaches the citizen or an advisor cancels it, on
# /rappels) of the calls from a number, latest call first: the record's number is the truth (the callback's own is
# NULL until its record exists). $1 caller number, then the limit: $2 here, $3 in _CALLER. From the number's records
# (index on caller_number) to their callback (linkedid UNIQUE): as many probes as the number has calls.
_OPEN_CALLBACKS_OF = """
SELECT cb.id, cr.linkedid, cr.arrived_at, cb.topic, cb.slot AS callback_slot
FROM call_records AS cr
JOIN callbacks AS cb ON cb.linkedid = cr.linkedid
WHERE cr.caller_number = $1 AND cb.status = 'open'
ORDER BY cr.arrived_at DESC, cr.linkedid DESC
LIMIT ${limit}
"""
_OPEN_CALLBACKS = _OPEN_CALLBACKS_OF.format(limit=2)

_LAST_COMMUNE = """
SELECT commune_insee FROM call_records
WHERE caller_number = $1 AND commune_insee IS NOT NULL
ORDER BY arrived_at DESC LIMIT 1
"""

# A screen pop's facts in one round trip: the caller's history ($1 number, $2 limit), their latest commune with
# its name, and the open callbacks ($3 limit; as JSON, latest first): one row even without history (history
# columns NULL then).
_CALLER = f"""
SELECT l.commune_insee AS last_commune, c.name AS last_commune_name, c.postal_codes AS last_commune_postal_codes,
       (SELECT json_agg(json_build_object('id', cb.id, 'linkedid', cb.linkedid, 'arrived_at', cb.arrived_at,
                                          'topic', cb.topic, 'callback_slot', cb.callback_slot)
                        ORDER BY cb.arrived_at DESC, cb.linkedid DESC)
        FROM ({_OPEN_CALLBACKS_OF.format(limit=3)}) AS cb) AS open_callbacks,
       h.*
FROM (SELECT 1) AS one
LEFT JOIN LATERAL ({_LAST_COMMUNE}) AS l ON true
LEFT JOIN communes AS c ON c.code_insee = l.commune_insee
LEFT JOIN LATERAL ({_HISTORY}) AS h ON true
ORDER BY h.arrived_at DESC, h.linkedid DESC
"""  # noqa: S608 (constants only)


# The recent calls of a recognised caller's organisation ($1), or of its commune ($2: the town hall's and CCAS's
# of that commune, migration 0010's classification), and of its number ($3) from before it was known; $4 limit.
_ORGANISATION_HISTORY = """
WITH orgs AS (
    SELECT id, name FROM organisations
    WHERE id = $1 OR ($2::bpchar IS NOT NULL AND commune_insee = $2 AND kind IN ('town_hall', 'ccas'))
),
found AS (
    (SELECT cr.* FROM call_records AS cr
     WHERE cr.caller_organisation_id IN (SELECT id FROM orgs)
       AND (cr.qualified_at IS NOT NULL OR cr.status = 'answered')
     ORDER BY cr.arrived_at DESC LIMIT $4)
    UNION
    (SELECT cr.* FROM call_records AS cr
     WHERE cr.caller_number = $3 AND (cr.qualified_at IS NOT NULL OR cr.status = 'answered')
     ORDER BY cr.arrived_at DESC LIMIT $4)
)
SELECT f.linkedid, f.arrived_at, f.status, f.topic, f.subtopic, f.outcome, f.commune_insee, f.note, f.partner,
       f.partner_id, COALESCE(a.name, f.advisor_name) AS advisor_name, f.caller_number, f.caller_name,
       o.name AS caller_organisation
FROM found AS f
LEFT JOIN advisors AS a ON a.interface = f.advisor_interface
LEFT JOIN orgs AS o ON o.id = f.caller_organisation_id
ORDER BY f.arrived_at DESC, f.linkedid DESC
LIMIT $4
"""


@dataclass(frozen=True)
class CallerRows:
    history: list[Row]  # rows of `_HISTORY`, latest first
    commune: tuple[str, str] | None  # (INSEE code, name) of the latest commune given, when it is a known one
    open_callbacks: list[Row]  # rows of `_OPEN_CALLBACKS_OF` (id, linkedid, arrived_at, topic, callback_slot)
    postal_codes: tuple[str, ...] = ()  # of that commune


class SavingQualification:
    """One save's transaction, the call's record locked (`FOR UPDATE`) when it exists."""

    def __init__(self, conn: asyncpg.Connection, linkedid: str, call: Row | None) -> None:
        self._conn = conn
        self.linkedid = linkedid
        self.call = call  # the record's view row, None while the call is in progress (no record yet)

    async def commune_exists(self, code: str) -> bool:
        return bool(await self._conn.fetchval("SELECT EXISTS (SELECT 1 FROM communes WHERE code_insee = $1)", code))

    async def service(self, service_id: int) -> Service | None:
        row = await self._conn.fetchrow(
            "SELECT id, name, extension, topics, hours::text AS hours, active FROM services WHERE id = $1", service_id
        )
        return None if row is None else service_from_row(row)

    async def record_knowledge(
        self, article_ids: Sequence[int], question: str | None, topic: str, subtopic: str | None, by: str
    ) -> None:
        """The knowledge base articles used on the call, or its question left without an answer, in this
        transaction (`storage.knowledge.loop`). Raises `UnusableArticle` for an article unknown or not published."""
        await LoopRepository.record_call(self._conn, self.linkedid, article_ids, question, topic, subtopic, by)

    async def organisation(self, organisation_id: int) -> Row | None:
        """The directory's organisation a qualification names as the partner given (id, name, kind, active)."""
        return await self._conn.fetchrow(  # type: ignore[no-any-return]
            "SELECT id, name, kind, active FROM organisations WHERE id = $1", organisation_id
        )

    async def callback(self, values: QualificationValues, by: str) -> bool:
        """The call's callback, in this transaction (migration 0020): made when the qualification asks for one (once:
        saved again, it is kept), its open one cancelled when it no longer does. Whether the open list changed."""
        return await request_in(
            self._conn,
            self.linkedid,
            requested=values.callback_requested,
            commune_insee=values.commune_insee,
            topic=values.topic,
            subtopic=values.subtopic,
            slot=values.callback_slot,
            by=by,
        )

    async def keep_pending(self, advisor_interface: str | None, values: QualificationValues, by: str) -> None:
        """The call is in progress: the qualification waits for its record."""
        await self._conn.execute(_PENDING, self.linkedid, advisor_interface, *astuple(values), by)

    async def save(self, values: QualificationValues, by: str) -> tuple[Row, bool]:
        """Into the record: its view row after the save, and whether the save changed it."""
        # an older qualification still waiting (a crash before it joined) must not overwrite this one later
        await self._conn.execute("DELETE FROM pending_qualifications WHERE linkedid = $1", self.linkedid)
        row = await self._conn.fetchrow(_SAVE, self.linkedid, *astuple(values), by)
        assert self.call is not None
        return (self.call, False) if row is None else (row, True)


class QualificationRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def saving(self, linkedid: str) -> AsyncIterator[SavingQualification]:
        """A transaction with the call's record locked; committed when the block ends without an error."""
        async with self._pool.acquire() as conn, conn.transaction():
            yield SavingQualification(conn, linkedid, await conn.fetchrow(_LOCK, linkedid))

    async def join_pending(self, linkedid: str) -> None:
        """After a pending save committed: the record may have been committed meanwhile, its writer looking for the
        pending row before it existed (`storage.calls.APPLY_PENDING`; idempotent)."""
        await self._pool.execute(APPLY_PENDING, [linkedid])

    async def history(self, caller_number: str, limit: int) -> list[Row]:
        """The caller's answered or qualified calls, latest first."""
        return list(await self._pool.fetch(_HISTORY, caller_number, limit))

    async def open_callbacks(self, caller_number: str, limit: int) -> list[Row]:
        """The open callbacks (migration 0020) of the calls from this number, latest call first."""
        return list(await self._pool.fetch(_OPEN_CALLBACKS, caller_number, limit))

    async def caller(self, caller_number: str, limit: int, callbacks: int) -> CallerRows:
        """`history`, the latest commune (with its name) and `open_callbacks` in one query, for a pop."""
        rows = await self._pool.fetch(_CALLER, caller_number, limit, callbacks)
        first = rows[0]
        commune = (first["last_commune"], first["last_commune_name"]) if first["last_commune_name"] else None
        owed = first["open_callbacks"]
        return CallerRows(
            [r for r in rows if r["linkedid"] is not None],
            commune,
            json.loads(owed) if isinstance(owed, str) else list(owed or ()),
            tuple(first["last_commune_postal_codes"] or ()) if commune else (),
        )

    async def organisation_history(
        self, organisation_id: int, commune: str | None, caller_number: str, limit: int
    ) -> list[Row]:
        """The recent calls (answered or qualified, latest first) of an organisation, or of a commune's town hall
        and CCAS when `commune` is given, and of `caller_number` (calls from before it was known)."""
        return list(await self._pool.fetch(_ORGANISATION_HISTORY, organisation_id, commune, caller_number, limit))

    async def last_commune(self, caller_number: str) -> str | None:
        """The commune given on the caller's latest call that had one."""
        value = await self._pool.fetchval(_LAST_COMMUNE, caller_number)
        return None if value is None else str(value)
