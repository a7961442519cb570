"""Communes of France (reference data, table of migration 0004): load from the CSV, search for the desk.

The CSV (`storage/data/communes-france.csv`, Etalab — découpage administratif, Licence Ouverte) is loaded
by `load_communes` — in one transaction, the table then mirrors the file — and `ensure_communes` loads it
at start when the table is empty. The search matches a name prefix or a word prefix ("omer" finds
Saint-Omer) on a normalised name (lowercase, no accents, one space between words), or a postal-code
prefix when the query is digits.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

import asyncpg
from pydantic import BaseModel, ConfigDict

DEFAULT_CSV = Path(__file__).with_name("data") / "communes-france.csv"
CREDIT = "Etalab — découpage administratif"
QUERY_MAX = 60
LIMIT_MAX = 50

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})
# What people type for the usual abbreviations of commune names.
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
_COLUMNS = ("code_insee", "name", "search_name", "departement", "departement_name", "epci_siren", "epci_name")
_ALL_COLUMNS = (*_COLUMNS, "postal_codes", "population")


class Commune(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    departement: str
    postal_codes: tuple[str, ...]
    epci_name: str | None


def normalise(text: str) -> str:
    """Lowercase, accents and ligatures removed, every run of other characters one space."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(_NON_ALNUM.sub(" ", bare).split())


def query_words(q: str) -> str:
    """What a user typed, as the search compares it: `normalise`d, cut to 60 characters, "st" read "saint"."""
    words = normalise(q[:QUERY_MAX]).split()
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words)


def read_csv(path: Path | None = None) -> list[tuple[object, ...]]:
    """The rows of the CSV, as records for the `communes` table (column order `_ALL_COLUMNS`)."""
    rows: list[tuple[object, ...]] = []
    with (DEFAULT_CSV if path is None else path).open(encoding="utf-8", newline="") as handle:
        for line in csv.DictReader(handle):
            population = line["population"].strip()
            rows.append(
                (
                    line["code_insee"],
                    line["nom"],
                    normalise(line["nom"]),
                    line["departement"],
                    line["departement_nom"],
                    line["epci_siren"] or None,
                    line["epci_nom"] or None,
                    line["codes_postaux"].split(),
                    int(population) if population else None,
                )
            )
    return rows


_UPSERT = f"""
INSERT INTO communes AS c ({", ".join(_ALL_COLUMNS)})
SELECT {", ".join(_ALL_COLUMNS)} FROM communes_load
ON CONFLICT (code_insee) DO UPDATE SET
    {", ".join(f"{col} = EXCLUDED.{col}" for col in _ALL_COLUMNS[1:])}
WHERE ({", ".join(f"c.{col}" for col in _ALL_COLUMNS[1:])})
      IS DISTINCT FROM ({", ".join(f"EXCLUDED.{col}" for col in _ALL_COLUMNS[1:])})
"""  # noqa: S608 - fixed column names


async def load_communes(pool: asyncpg.Pool, path: Path | None = None) -> int:
    """Load the CSV (the package's copy by default); return its number of communes.

    Idempotent: unchanged rows are not rewritten. Communes no longer in the file (merged into a new
    commune) are removed, so the table mirrors the file. All in one transaction."""
    rows = read_csv(path)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE communes_load (LIKE communes INCLUDING DEFAULTS) ON COMMIT DROP"  # no constraints
        )
        await conn.copy_records_to_table("communes_load", records=rows, columns=list(_ALL_COLUMNS))
        await conn.execute(_UPSERT)
        await conn.execute("DELETE FROM communes WHERE code_insee NOT IN (SELECT code_insee FROM communes_load)")
    return len(rows)


async def ensure_communes(pool: asyncpg.Pool, path: Path | None = None) -> int:
    """Load the communes if the table is empty (at service start); return how many were loaded (0: none)."""
    if await pool.fetchval("SELECT EXISTS (SELECT 1 FROM communes)"):
        return 0
    return await load_communes(pool, path)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_SELECT = "SELECT code_insee, name, departement, postal_codes, epci_name FROM communes"

# $1 query (normalised, LIKE-escaped), $2 limit, $3 preferred département (or NULL)
_SEARCH_NAME = f"""
{_SELECT}
WHERE search_name LIKE $1 || '%' OR search_name LIKE '% ' || $1 || '%'
ORDER BY (departement = $3) IS TRUE DESC,
         search_name = $1 DESC,
         search_name LIKE $1 || '%' DESC,
         population DESC NULLS LAST, name, code_insee
LIMIT $2
"""

_SEARCH_POSTAL = f"""
{_SELECT}
WHERE EXISTS (SELECT 1 FROM unnest(postal_codes) AS p WHERE p LIKE $1 || '%')
ORDER BY (departement = $3) IS TRUE DESC,
         $1 = ANY(postal_codes) DESC,
         population DESC NULLS LAST, name, code_insee
LIMIT $2
"""  # noqa: S608


def _commune(row: asyncpg.Record) -> Commune:
    return Commune(
        code=row["code_insee"],
        name=row["name"],
        departement=row["departement"],
        postal_codes=tuple(row["postal_codes"]),
        epci_name=row["epci_name"],
    )


class CommuneRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def search(self, q: str, limit: int = 10, departement: str | None = None) -> list[Commune]:
        """Communes whose name (or a word of it) starts with `q`, or whose postal code does when `q` is
        digits. `departement` comes first; then exact names, name prefixes, the most populated.
        `q` is cut to 60 characters; nothing to search for gives []."""
        words = query_words(q)
        limit = max(1, min(limit, LIMIT_MAX))
        if not words:
            return []
        sql = _SEARCH_POSTAL if words.isdigit() else _SEARCH_NAME
        rows = await self._pool.fetch(sql, _escape_like(words), limit, departement)
        return [_commune(r) for r in rows]

    async def named(self, q: str, limit: int = 20) -> list[Commune]:
        """Communes named exactly `q` (accents, case and punctuation ignored, « st » read « saint »), or with the
        postal code `q`: the most populated first."""
        words = query_words(q)
        if not words:
            return []
        if words.isdigit():
            sql = f"{_SELECT} WHERE $1 = ANY (postal_codes) ORDER BY population DESC NULLS LAST, code_insee LIMIT $2"
        else:
            sql = f"{_SELECT} WHERE search_name = $1 ORDER BY population DESC NULLS LAST, code_insee LIMIT $2"
        rows = await self._pool.fetch(sql, words, max(1, min(limit, LIMIT_MAX)))
        return [_commune(r) for r in rows]

    async def by_codes(self, codes: list[str]) -> dict[str, Commune]:
        """The communes of these INSEE codes (those that exist), by code."""
        rows = await self._pool.fetch(f"{_SELECT} WHERE code_insee = ANY ($1::bpchar[])", codes)
        return {r["code_insee"]: _commune(r) for r in rows}

    async def get(self, code: str) -> Commune | None:
        if not re.fullmatch(r"[0-9][0-9AB][0-9]{3}", code):
            return None
        row = await self._pool.fetchrow(f"{_SELECT} WHERE code_insee = $1", code)
        return None if row is None else _commune(row)

    async def count(self, departement: str | None = None) -> int:
        return int(
            await self._pool.fetchval(
                "SELECT count(*) FROM communes WHERE $1::text IS NULL OR departement = $1", departement
            )
        )
