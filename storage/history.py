"""Example history in bulk: what a synthetic history needs from the database, and its rows written with COPY.

The rows come from `simulator.history` (through `gps_admin.history`); here only reads of the reference data and the
binary COPY into `call_records` and `advisor_events`. The caller kind of each row is given, so the classifying
trigger of `call_records` (0010) does no look-up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

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
