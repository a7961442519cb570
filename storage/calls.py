"""Call records in PostgreSQL, idempotent on `linkedid`.

`upsert` writes the PBX facts only. A replay of the same record changes nothing; a later version of the
same call replaces the facts, except that a reconstructed record (ended while the AMI link was down)
never overwrites a real one. The qualification columns (topic, outcome, note, …) belong to the advisor
desk and are written by storage.qualification; a qualification saved while the call was still in progress
waits in `pending_qualifications` and joins its record once both exist (`APPLY_PENDING`).
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

import asyncpg

from telephony.records import CallRecord

# Column order = CallRecord field order, then its derived durations (stored for reports); `rings` travels as JSON
# text, cast in SQL, so this works on any connection, whatever codecs it has.
_FACTS: tuple[str, ...] = (*CallRecord.model_fields, *CallRecord.model_computed_fields)
_UPDATABLE = tuple(c for c in _FACTS if c != "linkedid")


def _placeholder(column: str, index: int) -> str:
    return f"${index}::text::jsonb" if column == "rings" else f"${index}"


_UPSERT = f"""
INSERT INTO call_records AS cr ({", ".join(_FACTS)})
VALUES ({", ".join(_placeholder(c, i) for i, c in enumerate(_FACTS, start=1))})
ON CONFLICT (linkedid) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATABLE)},
    updated_at = now()
WHERE (NOT EXCLUDED.reconstructed OR cr.reconstructed)
  AND ({", ".join(f"cr.{c}" for c in _UPDATABLE)})
      IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in _UPDATABLE)})
RETURNING 1
"""  # noqa: S608 - column names come from the CallRecord model, values are parameters

# The qualification's columns (the desk's, storage.qualification).
QUALIFICATION_COLUMNS = (
    "topic",
    "subtopic",
    "outcome",
    "transfer_service_id",
    "transfer_service",
    "partner",
    "partner_id",
    "callback_requested",
    "callback_slot",
    "commune_insee",
    "note",
)
# The qualifications saved while these calls ($1) were in progress join their records, once both exist
# (migration 0006). Run by the record's writer after it committed the records, and by the saver after it
# committed the pending qualification: each writes its own row first, then looks for the other's, so whichever
# comes second finds both (no lock needed); the statement is idempotent. A crash between the two steps leaves
# the pending row for `apply_all_pending` (the writer's first drain after its start).
_JOINED = ", ".join(f"{c} = p.{c}" for c in (*QUALIFICATION_COLUMNS, "qualified_at", "qualified_by"))
_APPLY_OF = f"""
WITH p AS (
    DELETE FROM pending_qualifications AS pq
    WHERE {{where}} AND EXISTS (SELECT 1 FROM call_records AS r WHERE r.linkedid = pq.linkedid)
    RETURNING pq.*
)
UPDATE call_records AS cr SET {_JOINED}, updated_at = now()
FROM p WHERE cr.linkedid = p.linkedid
"""  # noqa: S608 - fixed column names; `where` is one of the two below
APPLY_PENDING = _APPLY_OF.format(where="pq.linkedid = ANY ($1::text[])")
_APPLY_ALL = _APPLY_OF.format(where="true")

_SELECT = f"""
SELECT {", ".join("rings::text AS rings" if c == "rings" else c for c in _FACTS)}
FROM call_records WHERE linkedid = $1
"""  # noqa: S608 - same: fixed column names


def _scrub(value: Any) -> Any:
    """PostgreSQL text and jsonb cannot hold U+0000; replace it rather than lose the record."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    return value


def _parameters(record: CallRecord) -> list[Any]:
    params: list[Any] = []
    for column in _FACTS:
        if column == "rings":
            rings = [_scrub(r.model_dump(mode="json")) for r in record.rings]
            params.append(json.dumps(rings))
        else:
            value = getattr(record, column)
            params.append(_scrub(value.value if isinstance(value, Enum) else value))
    return params


class CallRecordRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def upsert(self, record: CallRecord) -> bool:
        """Insert or update the PBX facts (and join a pending qualification); True when the facts were inserted
        or changed."""
        async with self._pool.acquire() as conn:
            changed = await conn.fetchval(_UPSERT, *_parameters(record))
            await conn.execute(APPLY_PENDING, [record.linkedid])  # after the record's commit: see APPLY_PENDING
        return changed is not None

    async def upsert_many(self, records: list[CallRecord]) -> None:
        """`upsert` for several records, all or none, in one transaction (asyncpg's executemany). The same
        ON CONFLICT rules apply to each, in the list's order."""
        async with self._pool.acquire() as conn:
            await conn.executemany(_UPSERT, [_parameters(r) for r in records])  # one transaction
            await conn.execute(APPLY_PENDING, [r.linkedid for r in records])  # after its commit: see APPLY_PENDING

    async def apply_all_pending(self) -> int:
        """Join every waiting qualification whose record exists (left by a crash between a write and its
        look-up of the other side). Returns how many joined."""
        status = await self._pool.execute(_APPLY_ALL)
        return int(status.split()[-1])

    async def get(self, linkedid: str) -> CallRecord | None:
        row = await self._pool.fetchrow(_SELECT, linkedid)
        if row is None:
            return None
        data = dict(row)
        data["rings"] = json.loads(data["rings"])
        return CallRecord.model_validate(data)

    async def count(self) -> int:
        return int(await self._pool.fetchval("SELECT count(*) FROM call_records"))
