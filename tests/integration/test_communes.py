"""Communes: the CSV loaded into a real PostgreSQL, and the desk's autocomplete."""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg
import pytest

from storage.communes import DEFAULT_CSV, CommuneRepository, ensure_communes, load_communes, normalise
from tests.fixtures_db import fresh_database, migrated_pool

__all__ = ["fresh_database", "migrated_pool"]

ALL = 34_969
IN_62 = 887


@pytest.fixture
async def communes(migrated_pool: asyncpg.Pool) -> CommuneRepository:
    await ensure_communes(migrated_pool)  # once per module database
    return CommuneRepository(migrated_pool)


def test_csv_is_the_shared_reference_file() -> None:
    shared = Path("/work/shared/data/communes-france.csv")
    if shared.exists():
        assert DEFAULT_CSV.read_bytes() == shared.read_bytes()


async def test_load_all_rows_then_reload_is_idempotent(migrated_pool: asyncpg.Pool) -> None:
    started = time.perf_counter()
    assert await load_communes(migrated_pool) == ALL
    first = time.perf_counter() - started
    assert first < 10, f"load took {first:.1f} s"
    assert await migrated_pool.fetchval("SELECT count(*) FROM communes") == ALL
    assert await migrated_pool.fetchval("SELECT count(*) FROM communes WHERE departement = '62'") == IN_62
    snapshot = await migrated_pool.fetch("SELECT * FROM communes ORDER BY code_insee")
    xmin = await migrated_pool.fetchval("SELECT max(xmin::text::bigint) FROM communes")

    assert await load_communes(migrated_pool) == ALL
    assert await migrated_pool.fetch("SELECT * FROM communes ORDER BY code_insee") == snapshot
    # unchanged rows are not rewritten
    assert await migrated_pool.fetchval("SELECT max(xmin::text::bigint) FROM communes") == xmin
    assert await ensure_communes(migrated_pool) == 0


async def test_reload_from_a_newer_file_updates_and_removes(migrated_pool: asyncpg.Pool, tmp_path: Path) -> None:
    await ensure_communes(migrated_pool)
    lines = DEFAULT_CSV.read_text("utf-8").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    arras = next(i for i, line in enumerate(rows) if line.startswith("62041,"))
    rows[arras] = rows[arras].replace(",42875\n", ",43000\n")
    newer = tmp_path / "newer.csv"
    newer.write_text(header + "".join(r for r in rows if not r.startswith("62002,")), "utf-8")
    try:
        assert await load_communes(migrated_pool, newer) == ALL - 1
        assert await migrated_pool.fetchval("SELECT population FROM communes WHERE code_insee = '62041'") == 43000
        assert await migrated_pool.fetchval("SELECT count(*) FROM communes WHERE code_insee = '62002'") == 0
    finally:
        assert await load_communes(migrated_pool) == ALL


async def test_arras_first(communes: CommuneRepository) -> None:
    found = await communes.search("arras", departement="62")
    assert found[0].code == "62041"
    assert found[0].name == "Arras"
    assert found[0].departement == "62"
    assert found[0].postal_codes == ("62000",)
    assert found[0].epci_name == "CU d'Arras"
    assert (await communes.search("Arras"))[0].code == "62041"  # exact name first, even without a preference


@pytest.mark.parametrize("q", ["saint omer", "Saint-Omer", "st omer", "ST-OMER", "omer"])
async def test_saint_omer(communes: CommuneRepository, q: str) -> None:
    assert (await communes.search(q, departement="62"))[0].code == "62765"


@pytest.mark.parametrize("q", ["béthune", "bethune", "BÉTHUNE", "Béth"])
async def test_accents_do_not_matter(communes: CommuneRepository, q: str) -> None:
    assert (await communes.search(q, departement="62"))[0].code == "62119"


async def test_preferred_departement_comes_first(communes: CommuneRepository) -> None:
    found = await communes.search("saint", limit=20, departement="62")
    assert len(found) == 20
    assert {c.departement for c in found} == {"62"}
    assert {c.departement for c in await communes.search("saint omer", limit=5)} >= {"62", "14"}


async def test_ligatures(communes: CommuneRepository) -> None:
    assert (await communes.search("oeuf en t"))[0].code == "62633"
    assert (await communes.search("Œuf"))[0].code == "62633"


async def test_postal_code(communes: CommuneRepository) -> None:
    found = await communes.search("62000", departement="62")
    assert found[0].code == "62041"
    assert all(any(p.startswith("62000") for p in c.postal_codes) for c in found)
    assert all(c.departement == "62" for c in await communes.search("621", limit=50))


@pytest.mark.parametrize(
    "q", ["%", "_", "'", "\\", "%%%", "'; DROP TABLE communes; --", "", "   ", "\x00", "x" * 10_000]
)
async def test_hostile_queries_are_safe(communes: CommuneRepository, migrated_pool: asyncpg.Pool, q: str) -> None:
    assert await communes.search(q) == []
    assert await migrated_pool.fetchval("SELECT count(*) FROM communes") == ALL


async def test_long_query_is_cut_not_refused(communes: CommuneRepository) -> None:
    assert (await communes.search("arras" + " " * 55 + "zzzz"))[0].code == "62041"
    assert await communes.search("a", limit=10_000) != []
    assert len(await communes.search("a", limit=10_000)) == 50


async def test_get(communes: CommuneRepository) -> None:
    commune = await communes.get("62119")
    assert commune is not None and commune.name == "Béthune"
    assert await communes.get("99999") is None
    assert await communes.get("'") is None
    assert (await communes.get("2A004")) is not None  # Corse: letters in INSEE codes
    assert await communes.count("62") == IN_62


def test_normalise() -> None:
    assert normalise("L'Abergement-Clémenciat") == "l abergement clemenciat"
    assert normalise("  Œuf-en-Ternois ") == "oeuf en ternois"
    assert normalise("%_'") == ""
