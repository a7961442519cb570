"""Example history in bulk: what a synthetic history needs from the database, and its rows written with COPY.

The rows come from `simulator.history` (through `gps_admin.history`); here only reads of the reference data and the
binary COPY into `call_records` and `advisor_events`. The caller kind of each row is given, so the classifying
trigger of `call_records` (0010) does no look-up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class Inputs:
    """The reference data a history is drawn from (plain tuples: the generator knows nothing of storage)."""

    advisors: list[tuple[int, str, str, str]]  # id, login, name, interface
    services: list[tuple[int, str, str, tuple[str, ...]]]  # id, name, extension, topics
    organisations: list[tuple[int, str, str, str | None, str | None]]  # id, kind, name, commune, E.164 number
    communes: list[tuple[str, int]]  # INSEE code, population


_ADVISORS = (
    "SELECT id, login, name, interface FROM advisors "
    "WHERE active AND ($1::text[] IS NULL OR login = ANY($1)) ORDER BY id"
)
_SERVICES = (
    "SELECT id, name, extension, topics FROM organisations "
    "WHERE kind = 'service' AND active AND extension IS NOT NULL ORDER BY id"
)
_ORGANISATIONS = """
SELECT o.id, o.kind, o.name, o.commune_insee,
       (SELECT p.number FROM organisation_phones AS p
        WHERE p.organisation_id = o.id AND p.number LIKE '+33%' ORDER BY p.position LIMIT 1) AS number
FROM organisations AS o WHERE o.kind <> 'service' AND o.active ORDER BY o.id
"""
_COMMUNES = "SELECT code_insee, coalesce(population, 0) AS population FROM communes WHERE departement = $1 ORDER BY 1"


async def inputs(pool: asyncpg.Pool, departement: str, logins: Sequence[str] | None = None) -> Inputs:
    """The active advisors (those of `logins` only, if given), services, partners and the département's communes."""
    async with pool.acquire() as conn:
        advisors = [tuple(r) for r in await conn.fetch(_ADVISORS, None if logins is None else list(logins))]
        services = [(r["id"], r["name"], r["extension"], tuple(r["topics"])) for r in await conn.fetch(_SERVICES)]
        organisations = [tuple(r) for r in await conn.fetch(_ORGANISATIONS)]
        communes = [(r["code_insee"], r["population"]) for r in await conn.fetch(_COMMUNES, departement)]
    return Inputs(advisors, services, organisations, communes)


async def has_examples(conn: asyncpg.Connection | asyncpg.Pool, prefix: str) -> bool:
    """Whether any call record's linkedid starts with `prefix` (an example history was loaded)."""
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM call_records WHERE linkedid LIKE $1)", pattern))


def _jsonb_binary(text: str) -> bytes:
    return b"\x01" + text.encode()  # jsonb's binary format: version 1, then the JSON text


async def copy_calls(conn: asyncpg.Connection, columns: Sequence[str], rows: Sequence[tuple[object, ...]]) -> None:
    """COPY call records; `rings` comes as JSON text. The pool's jsonb codec (text format, `storage.pool`) cannot
    serve a binary COPY: a binary one is set for the copy, and the pool's set back after it."""
    if not rows:
        return
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_binary, decoder=lambda b: json.loads(b[1:]), schema="pg_catalog", format="binary"
    )
    try:
        await conn.copy_records_to_table("call_records", records=rows, columns=list(columns))
    finally:
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def copy_events(conn: asyncpg.Connection, columns: Sequence[str], rows: Sequence[tuple[object, ...]]) -> None:
    if rows:
        await conn.copy_records_to_table("advisor_events", records=rows, columns=list(columns))


# The example history's callbacks (migration 0020), for its records qualified with « rappel demandé » ($1: the
# linkedid prefix, $2: now): made when the qualification was saved, with outcomes drawn from a hash of the linkedid
# (the same at every load): 6 % cancelled (a wrong number), most done (55 % within 4 h 20, 30 % after 15 to 30 h,
# 15 % after 30 h to 4 days), the latest ones still open (those of the last two days mostly, a few of the last ten).
_EXAMPLE_CALLBACKS = """
WITH src AS (
    SELECT linkedid, caller_number, commune_insee, topic, subtopic, callback_slot, qualified_by, qualified_at,
           abs(hashtext(linkedid)) % 100 AS h, abs(hashtext(linkedid || '/d')) AS d
    FROM call_records
    WHERE linkedid LIKE $1 AND callback_requested AND qualified_at IS NOT NULL AND qualified_by IS NOT NULL
), fate AS (
    SELECT *, qualified_at + CASE
                  WHEN d % 100 < 55 THEN interval '1 minute' * (20 + d % 240)
                  WHEN d % 100 < 85 THEN interval '1 minute' * (900 + d % 900)
                  ELSE interval '1 minute' * (1800 + d % 4000)
              END AS done_at
    FROM src
), decided AS (
    SELECT *, CASE
                  WHEN h < 6 THEN 'cancelled'
                  WHEN qualified_at > $2::timestamptz - interval '2 days' AND h < 60 THEN 'open'
                  WHEN qualified_at > $2::timestamptz - interval '10 days' AND h < 9 THEN 'open'
                  WHEN done_at > $2::timestamptz THEN 'open'
                  ELSE 'done'
              END AS status
    FROM fate
)
INSERT INTO callbacks (linkedid, caller_number, commune_insee, topic, subtopic, slot, requested_by, created_at, status,
                       done_at, cancelled_at, cancel_reason, cancelled_by)
SELECT linkedid, caller_number, commune_insee, topic, subtopic, callback_slot, qualified_by, qualified_at, status,
       CASE WHEN status = 'done' THEN done_at END,
       CASE WHEN status = 'cancelled' THEN qualified_at + interval '1 hour' END,
       CASE WHEN status = 'cancelled' THEN 'Faux numéro : impossible de joindre le citoyen' END,
       CASE WHEN status = 'cancelled' THEN qualified_by END
FROM decided
ON CONFLICT (linkedid) DO NOTHING
"""

# Their attempts: a done one took 1 to 3 (the last one reached the citizen, the others rang out or met the
# voicemail), a cancelled one a wrong number, an open one none or one without an answer.
_EXAMPLE_ATTEMPTS = """
INSERT INTO callback_attempts (callback_id, at, by_login, result)
SELECT cb.id,
       CASE WHEN cb.status = 'done' AND g = k.n THEN cb.done_at
            WHEN cb.status = 'done' THEN cb.created_at + (cb.done_at - cb.created_at) * g / k.n
            ELSE cb.created_at + interval '50 minutes' END,
       cb.requested_by,
       CASE WHEN cb.status = 'done' AND g = k.n THEN 'joint'
            WHEN cb.status = 'cancelled' THEN 'faux_numero'
            WHEN g % 2 = 1 THEN 'sans_reponse'
            ELSE 'messagerie' END
FROM callbacks AS cb
CROSS JOIN LATERAL (
    SELECT CASE WHEN cb.status = 'done' THEN 1 + abs(hashtext(cb.linkedid || '/n')) % 3
                WHEN cb.status = 'cancelled' THEN 1
                ELSE abs(hashtext(cb.linkedid || '/n')) % 2 END AS n
) AS k
CROSS JOIN LATERAL generate_series(1, k.n) AS g
WHERE cb.linkedid LIKE $1
"""


async def copy_callbacks(conn: asyncpg.Connection, prefix: str, now: datetime) -> int:
    """The example history's callbacks and their attempts (see `_EXAMPLE_CALLBACKS`); how many callbacks."""
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    status = await conn.execute(_EXAMPLE_CALLBACKS, pattern, now)
    await conn.execute(_EXAMPLE_ATTEMPTS, pattern)
    return int(status.split()[-1])
