"""The directory's SQL (migration 0010): organisations with their phones and territory, and their history.

What is stored is `OrganisationData` (plain values, already checked by `screenpop.directory`); each write
replaces the entry's phones and territory and appends its history row in the same transaction. Nothing
here decides: the rules (validation, ownership, what goes in the history) are `screenpop.directory.service`'s.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict

Hours = dict[str, tuple[tuple[str, str], ...]]  # {"mon": (("08:30", "12:00"),), …}: the jsonb form
Action = Literal["create", "update", "deactivate", "reactivate", "import"]
CallerKind = Literal["citizen", "town_hall", "partner", "internal"]


class StaleVersion(Exception):
    """The entry changed since it was read (its version moved on)."""

    error_id = "stale-version"


class Phone(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: str  # E.164, or a French short number (3230)
    label: str | None = None
    public: bool = True  # may be given to callers


class OrganisationData(BaseModel):
    """An entry as stored: every field but its id, version and times."""

    model_config = ConfigDict(frozen=True)

    kind: str
    name: str
    owner: str
    source: str = "manual"
    ref: str | None = None
    active: bool = True
    extension: str | None = None
    topics: tuple[str, ...] = ()
    escalation_contact: str | None = None
    street: str | None = None
    postal_code: str | None = None
    city: str | None = None
    commune_insee: str | None = None
    email: str | None = None
    website: str | None = None
    hours: Hours | None = None
    closed_dates: tuple[date, ...] = ()
    open_dates: tuple[date, ...] = ()
    public_note: str | None = None
    staff_contact: str | None = None
    verified_on: date | None = None
    phones: tuple[Phone, ...] = ()
    communes: tuple[str, ...] = ()  # territory served: INSEE codes
    epcis: tuple[str, ...] = ()  # SIREN of EPCI
    departements: tuple[str, ...] = ()

    def changes_from(self, before: OrganisationData | None) -> dict[str, Any]:
        """The fields that differ from `before` (all the set ones when None), as {field: {"before", "after"}}
        in JSON values: the history's `changes`."""
        now = self.model_dump(mode="json")
        then = {} if before is None else OrganisationData.model_dump(before, mode="json")
        return {
            field: {"before": then.get(field), "after": value}
            for field, value in now.items()
            if (before is not None and then.get(field) != value) or (before is None and value not in (None, [], ""))
        }


class StoredOrganisation(OrganisationData):
    id: int
    version: int
    created_at: datetime
    updated_at: datetime

    def data(self) -> OrganisationData:
        return OrganisationData.model_validate(self.model_dump(include=set(OrganisationData.model_fields)))


class Change(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    organisation_id: int
    at: datetime
    actor: str
    action: Action
    changes: dict[str, Any]


class CommuneKeys(BaseModel):
    """What a commune is served through."""

    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    departement: str
    epci_siren: str | None
    epci_name: str | None
    postal_codes: tuple[str, ...]


class CallerOrganisation(BaseModel):
    """The organisation a caller's number belongs to, as a pop shows it, with the commune where it is."""

    model_config = ConfigDict(frozen=True)

    caller_kind: CallerKind
    id: int
    name: str
    kind: str
    commune_insee: str | None
    commune_name: str | None
    postal_codes: tuple[str, ...]


# -- SQL -----------------------------------------------------------------------------------------------------

_SCALARS = tuple(
    f for f in OrganisationData.model_fields if f not in ("phones", "communes", "epcis", "departements", "hours")
)
_SELECT = f"""
SELECT o.id, o.version, o.created_at, o.updated_at, o.search_text, {", ".join(f"o.{c}" for c in _SCALARS)},
       o.hours::text AS hours,
       coalesce((SELECT json_agg(json_build_object('number', p.number, 'label', p.label, 'public', p.public)
                                 ORDER BY p.position)
                 FROM organisation_phones AS p WHERE p.organisation_id = o.id), '[]')::text AS phones,
       ARRAY(SELECT t.code FROM organisation_territory AS t
             WHERE t.organisation_id = o.id AND t.scope = 'commune' ORDER BY t.code) AS communes,
       ARRAY(SELECT t.code FROM organisation_territory AS t
             WHERE t.organisation_id = o.id AND t.scope = 'epci' ORDER BY t.code) AS epcis,
       ARRAY(SELECT t.code FROM organisation_territory AS t
             WHERE t.organisation_id = o.id AND t.scope = 'departement' ORDER BY t.code) AS departements
FROM organisations AS o
"""  # noqa: S608 - fixed column names

_PARAMS = ", ".join(f"${i}" for i in range(1, len(_SCALARS) + 1))
_HOURS_PARAM = f"${len(_SCALARS) + 1}::text::jsonb"
_INSERT = f"""
INSERT INTO organisations ({", ".join(_SCALARS)}, hours) VALUES ({_PARAMS}, {_HOURS_PARAM}) RETURNING id
"""  # noqa: S608
_UPDATE = f"""
UPDATE organisations SET ({", ".join(_SCALARS)}, hours) = ({_PARAMS}, {_HOURS_PARAM}),
    version = version + 1, updated_at = now()
WHERE id = ${len(_SCALARS) + 2} AND (${len(_SCALARS) + 3}::integer IS NULL OR version = ${len(_SCALARS) + 3})
RETURNING id
"""  # noqa: S608
_PHONES = """
INSERT INTO organisation_phones (organisation_id, position, number, label, public)
SELECT $1::bigint, p.position - 1, p.number, p.label, p.public
FROM unnest($2::text[], $3::text[], $4::boolean[]) WITH ORDINALITY AS p (number, label, public, position)
"""
_TERRITORY = """
INSERT INTO organisation_territory (organisation_id, scope, code)
SELECT DISTINCT $1::bigint, t.scope, t.code FROM unnest($2::text[], $3::text[]) AS t (scope, code)
"""
_CHANGE = """
INSERT INTO organisation_changes (organisation_id, actor, action, changes) VALUES ($1, $2, $3, $4::text::jsonb)
"""

# Partners of a commune ($1): through the commune itself, its EPCI, its département; an organisation with no
# territory serves the commune where it is. `reach`: 0 commune (served by name, or served and there), 1 EPCI,
# 2 département; 3 for a France Services of the same EPCI that does not serve the commune (the nearest one).
_SERVING = f"""
WITH c AS (SELECT code_insee, epci_siren, departement FROM communes WHERE code_insee = $1),
reach AS (
    SELECT t.organisation_id AS id,
           min(CASE t.scope WHEN 'commune' THEN 0 WHEN 'epci' THEN 1 ELSE 2 END) AS reach
    FROM organisation_territory AS t, c
    WHERE (t.scope = 'commune' AND t.code = c.code_insee)
       OR (t.scope = 'epci' AND t.code = c.epci_siren)
       OR (t.scope = 'departement' AND t.code = c.departement)
    GROUP BY t.organisation_id
    UNION ALL
    SELECT o.id, 0 FROM organisations AS o, c
    WHERE o.commune_insee = c.code_insee AND o.kind <> 'service'
      AND NOT EXISTS (SELECT 1 FROM organisation_territory AS t WHERE t.organisation_id = o.id)
    UNION ALL
    SELECT o.id, 3 FROM organisations AS o JOIN communes AS oc ON oc.code_insee = o.commune_insee, c
    WHERE o.kind = 'france_services' AND oc.epci_siren = c.epci_siren
),
best AS (SELECT id, min(reach) AS reach FROM reach GROUP BY id)
SELECT CASE WHEN best.reach < 3 AND sel.commune_insee = $1 THEN 0 ELSE best.reach END AS reach, sel.*
FROM best JOIN ({_SELECT} WHERE o.active) AS sel ON sel.id = best.id
ORDER BY sel.kind, reach, sel.name, sel.id
"""  # noqa: S608

# Search. $1 the query's words (only [a-z0-9] once folded: nothing for LIKE to escape), $2 for each word the
# kinds it names (space-separated), $3 the communes the query names, $4 a kind or NULL, $5 active only, $6 limit.
# Every word must start a word of the entry's name, city, postal code or extension, or name its kind; when the
# query names communes, the entry serves one of them or is in one. Entries of those communes come first.
_SEARCH = f"""
WITH q AS MATERIALIZED (SELECT directory_fold(w) AS w, ks FROM unnest($1::text[], $2::text[]) AS u (w, ks)),
named AS (SELECT code_insee, epci_siren, departement FROM communes WHERE code_insee = ANY ($3::bpchar[])),
near AS (
    SELECT t.organisation_id AS id FROM organisation_territory AS t, named AS n
    WHERE (t.scope = 'commune' AND t.code = n.code_insee) OR (t.scope = 'epci' AND t.code = n.epci_siren)
       OR (t.scope = 'departement' AND t.code = n.departement)
    UNION
    SELECT o.id FROM organisations AS o JOIN named AS n ON o.commune_insee = n.code_insee
)
SELECT sel.* FROM ({_SELECT}) AS sel
WHERE ($4::text IS NULL OR sel.kind = $4) AND (NOT $5 OR sel.active)
  AND (cardinality($3::text[]) = 0 OR sel.id IN (SELECT id FROM near))
  AND NOT EXISTS (
      SELECT 1 FROM q
      WHERE NOT ((' ' || sel.search_text) LIKE '% ' || q.w || '%' OR sel.kind = ANY (string_to_array(q.ks, ' '))))
ORDER BY sel.commune_insee = ANY ($3::text[]) DESC, sel.active DESC, sel.kind, sel.name, sel.id
LIMIT $6
"""  # noqa: S608

_HISTORY = """
SELECT id, organisation_id, at, actor, action, changes::text AS changes
FROM organisation_changes WHERE organisation_id = $1 ORDER BY id
"""

_RECLASSIFY = """
WITH k AS (
    SELECT r.linkedid, coalesce(d.caller_kind, 'citizen') AS kind, d.organisation_id
    FROM call_records AS r LEFT JOIN LATERAL directory_caller(r.caller_number, r.caller_number_raw) AS d ON true
    WHERE r.arrived_at >= $1
)
UPDATE call_records AS cr SET caller_kind = k.kind, caller_organisation_id = k.organisation_id
FROM k
WHERE cr.linkedid = k.linkedid
  AND (cr.caller_kind, cr.caller_organisation_id) IS DISTINCT FROM (k.kind, k.organisation_id)
"""


def _organisation(row: asyncpg.Record) -> StoredOrganisation:
    data = {key: row[key] for key in ("id", "version", "created_at", "updated_at", *_SCALARS)}
    data["hours"] = None if row["hours"] is None else json.loads(row["hours"])
    data["phones"] = json.loads(row["phones"])
    for scope in ("communes", "epcis", "departements", "topics", "closed_dates", "open_dates"):
        data[scope] = tuple(row[scope])
    return StoredOrganisation.model_validate(data)


def _scalars(data: OrganisationData) -> list[Any]:
    values = [getattr(data, column) for column in _SCALARS]
    return [list(v) if isinstance(v, tuple) else v for v in values]


class DirectoryStore:
    """Reads and writes of the directory. Writes take the connection of a transaction (`transaction()`), so
    that an import is one transaction; the others use the pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn

    # -- writes --------------------------------------------------------------------------------------------

    async def create(
        self, conn: asyncpg.Connection, data: OrganisationData, *, actor: str, action: Action, changes: dict[str, Any]
    ) -> int:
        """Insert the entry with its phones, territory and first history row; its id."""
        organisation_id = int(await conn.fetchval(_INSERT, *_scalars(data), _hours_json(data.hours)))
        await self._children(conn, organisation_id, data)
        await conn.execute(_CHANGE, organisation_id, actor, action, json.dumps(changes))
        return organisation_id

    async def replace(
        self,
        conn: asyncpg.Connection,
        organisation_id: int,
        data: OrganisationData,
        *,
        expected_version: int | None,
        actor: str,
        action: Action,
        changes: dict[str, Any],
    ) -> None:
        """Replace the entry (phones and territory too) and append its history row. Raises `StaleVersion` when
        `expected_version` is given and is not the stored one (or the entry is gone)."""
        found = await conn.fetchval(
            _UPDATE, *_scalars(data), _hours_json(data.hours), organisation_id, expected_version
        )
        if found is None:
            raise StaleVersion(f"organisation #{organisation_id} changed or is unknown")
        await conn.execute("DELETE FROM organisation_phones WHERE organisation_id = $1", organisation_id)
        await conn.execute("DELETE FROM organisation_territory WHERE organisation_id = $1", organisation_id)
        await self._children(conn, organisation_id, data)
        await conn.execute(_CHANGE, organisation_id, actor, action, json.dumps(changes))

    @staticmethod
    async def _children(conn: asyncpg.Connection, organisation_id: int, data: OrganisationData) -> None:
        if data.phones:
            await conn.execute(
                _PHONES,
                organisation_id,
                [p.number for p in data.phones],
                [p.label for p in data.phones],
                [p.public for p in data.phones],
            )
        scopes = [
            *(("commune", c) for c in data.communes),
            *(("epci", e) for e in data.epcis),
            *(("departement", d) for d in data.departements),
        ]
        if scopes:
            await conn.execute(_TERRITORY, organisation_id, [s for s, _ in scopes], [c for _, c in scopes])

    # -- reads ---------------------------------------------------------------------------------------------

    async def get(self, organisation_id: int, conn: asyncpg.Connection | None = None) -> StoredOrganisation | None:
        row = await (conn or self._pool).fetchrow(f"{_SELECT} WHERE o.id = $1", organisation_id)
        return None if row is None else _organisation(row)

    async def by_ref(self, ref: str, conn: asyncpg.Connection | None = None) -> StoredOrganisation | None:
        row = await (conn or self._pool).fetchrow(f"{_SELECT} WHERE o.ref = $1", ref)
        return None if row is None else _organisation(row)

    async def with_phone(self, number: str) -> builtins.list[StoredOrganisation]:
        """Entries with this phone number (E.164 or short), by kind and name."""
        rows = await self._pool.fetch(
            f"{_SELECT} WHERE o.id IN (SELECT organisation_id FROM organisation_phones WHERE number = $1) "  # noqa: S608
            "ORDER BY o.kind, o.name, o.id",
            number,
        )
        return [_organisation(r) for r in rows]

    async def service_named(self, name: str, conn: asyncpg.Connection | None = None) -> StoredOrganisation | None:
        row = await (conn or self._pool).fetchrow(f"{_SELECT} WHERE o.kind = 'service' AND o.name = $1", name)
        return None if row is None else _organisation(row)

    async def list(
        self, *, kind: str | None = None, active_only: bool = False, conn: asyncpg.Connection | None = None
    ) -> builtins.list[StoredOrganisation]:
        """Entries by kind and name."""
        rows = await (conn or self._pool).fetch(
            f"{_SELECT} WHERE ($1::text IS NULL OR o.kind = $1) AND (NOT $2 OR o.active) ORDER BY o.kind, o.name, o.id",
            kind,
            active_only,
        )
        return [_organisation(r) for r in rows]

    async def search(
        self,
        words: Sequence[str],
        kinds_per_word: Sequence[Sequence[str]],
        communes: Sequence[str],
        *,
        kind: str | None,
        active_only: bool,
        limit: int,
    ) -> builtins.list[StoredOrganisation]:
        rows = await self._pool.fetch(
            _SEARCH,
            list(words),
            [" ".join(k) for k in kinds_per_word],
            list(communes),
            kind,
            active_only,
            limit,
        )
        return [_organisation(r) for r in rows]

    async def communes_named(self, names: Sequence[str], postal_codes: Sequence[str]) -> builtins.list[CommuneKeys]:
        """Communes whose normalised name is one of `names`, or with one of `postal_codes`."""
        rows = await self._pool.fetch(
            "SELECT code_insee, name, departement, epci_siren, epci_name, postal_codes, population FROM communes "
            "WHERE search_name = ANY ($1::text[]) "
            "UNION SELECT code_insee, name, departement, epci_siren, epci_name, postal_codes, population FROM communes "
            "WHERE postal_codes && $2::text[] "  # GIN index of migration 0010
            "ORDER BY population DESC NULLS LAST",
            list(names),
            list(postal_codes),
        )
        return [_commune(r) for r in rows]

    async def commune(self, code: str) -> CommuneKeys | None:
        row = await self._pool.fetchrow(
            "SELECT code_insee, name, departement, epci_siren, epci_name, postal_codes FROM communes "
            "WHERE code_insee = $1",
            code,
        )
        return None if row is None else _commune(row)

    async def known_communes(self, codes: Sequence[str], conn: asyncpg.Connection | None = None) -> set[str]:
        rows = await (conn or self._pool).fetch(
            "SELECT code_insee FROM communes WHERE code_insee = ANY ($1::bpchar[])",  # bpchar: the primary key's type
            list(codes),
        )
        return {r["code_insee"] for r in rows}

    async def serving(self, commune: str) -> builtins.list[tuple[int, StoredOrganisation]]:
        """Active organisations serving `commune` (INSEE), with their reach (see `_SERVING`)."""
        rows = await self._pool.fetch(_SERVING, commune)
        return [(int(r["reach"]), _organisation(r)) for r in rows]

    async def caller(self, number: str | None, raw: str = "") -> tuple[CallerKind, int] | None:
        """The kind of caller a number is and the organisation it belongs to; None for a number not known."""
        row = await self._pool.fetchrow("SELECT * FROM directory_caller($1, $2)", number, raw)
        return None if row is None else (row["caller_kind"], int(row["organisation_id"]))

    async def caller_organisation(self, number: str | None, raw: str = "") -> CallerOrganisation | None:
        """Who a caller's number (E.164; or, when it has none, the internal extension `raw`) is by the directory
        (`directory_caller`), with its commune; None for a number not known."""
        row = await self._pool.fetchrow(
            "SELECT d.caller_kind, o.id, o.name, o.kind, o.commune_insee, c.name AS commune_name, c.postal_codes "
            "FROM directory_caller($1, $2) AS d JOIN organisations AS o ON o.id = d.organisation_id "
            "LEFT JOIN communes AS c ON c.code_insee = o.commune_insee",
            number,
            raw,
        )
        if row is None:
            return None
        return CallerOrganisation.model_validate({**dict(row), "postal_codes": tuple(row["postal_codes"] or ())})

    async def partner_numbers(self, source: str | None = None) -> builtins.list[tuple[str, str]]:
        """(number, name) of every phone of the active partners and town halls (of `source` only, if given)."""
        rows = await self._pool.fetch(
            "SELECT p.number, o.name FROM organisation_phones AS p JOIN organisations AS o ON o.id = p.organisation_id "
            "WHERE o.active AND o.kind <> 'service' AND ($1::text IS NULL OR o.source = $1) ORDER BY o.id, p.position",
            source,
        )
        return [(r["number"], r["name"]) for r in rows]

    async def history(self, organisation_id: int) -> builtins.list[Change]:
        rows = await self._pool.fetch(_HISTORY, organisation_id)
        return [
            Change(
                id=r["id"],
                organisation_id=r["organisation_id"],
                at=r["at"],
                actor=r["actor"],
                action=r["action"],
                changes=json.loads(r["changes"]),
            )
            for r in rows
        ]

    async def analyze(self) -> None:
        """Refresh the planner's statistics of the directory's tables (after a bulk import: autovacuum would
        otherwise leave the callers' look-up planned for an empty directory, a scan per call record)."""
        await self._pool.execute("ANALYZE organisations, organisation_phones, organisation_territory")

    async def reclassify(self, since: datetime) -> int:
        """Classify again the callers of the records that arrived since `since`; how many changed."""
        status = await self._pool.execute(_RECLASSIFY, since)
        return int(status.split()[-1])


def _hours_json(hours: Hours | None) -> str | None:
    return None if hours is None else json.dumps(hours)


def _commune(row: asyncpg.Record) -> CommuneKeys:
    return CommuneKeys(
        code=row["code_insee"],
        name=row["name"],
        departement=row["departement"],
        epci_siren=row["epci_siren"],
        epci_name=row["epci_name"],
        postal_codes=tuple(row["postal_codes"]),
    )
