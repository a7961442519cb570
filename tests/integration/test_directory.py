"""The directory against a real PostgreSQL: the services of 0004 folded in, ownership and history, search,
the partners of a commune, callers recognised and the kind kept with their call records."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from config.settings import DeskSettings, OpeningHours
from screenpop.calls.models import CallRecordView, Qualification
from screenpop.calls.service import QualificationService
from screenpop.directory.errors import EditConflict, InvalidEntry, NotAllowed, UnknownOrganisation
from screenpop.directory.models import Actor, Draft, Kind
from screenpop.directory.service import DirectoryService
from storage.calls import CallRecordRepository
from storage.communes import ensure_communes
from storage.migrate import migrate
from storage.services import ServiceRepository
from storage.users import Role, User
from tests.fixtures_db import SERVER, fresh_database, make_record, migrated_pool

__all__ = ["fresh_database", "migrated_pool"]

ADMIN = Actor(login="admin", role="admin")
SAM = Actor(login="sam", role="supervisor")
ALICE = Actor(login="alice", role="advisor")
WEDNESDAY_10 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # 10:00 in Paris
DESK = DeskSettings()
WEEK = {d: [["08:30", "12:00"], ["13:30", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture
async def pool(migrated_pool: asyncpg.Pool) -> asyncpg.Pool:
    await ensure_communes(migrated_pool)  # once per module database
    await migrated_pool.execute("TRUNCATE organisations RESTART IDENTITY CASCADE")
    return migrated_pool


@pytest.fixture
def directory(pool: asyncpg.Pool) -> DirectoryService:
    return DirectoryService(pool, OpeningHours(), topics=DESK.topics, departement="62", clock=lambda: WEDNESDAY_10)


def draft(**values: Any) -> Draft:
    return Draft.model_validate({"owner": "admin", **values})


async def seed(directory: DirectoryService) -> dict[str, int]:
    """A small directory: who serves whom, by commune list, EPCI, département, or by being there."""
    entries = {
        "mairie_lens": draft(kind="town_hall", name="Mairie de Lens", commune_insee="62498", city="Lens",
                             postal_code="62300", phones=[{"number": "03 53 01 00 10"}], hours=WEEK),
        "ccas_lens": draft(kind="ccas", name="CCAS de Lens", commune_insee="62498", city="Lens",
                           phones=[{"number": "03 53 01 00 10", "label": "standard de la mairie"}]),
        "caf": draft(kind="caf", name="CAF du Pas-de-Calais", departements=["62"], city="Arras", postal_code="62000",
                     commune_insee="62041", phones=[{"number": "3230"}, {"number": "03 53 01 00 20"}]),
        "caf_lens": draft(kind="caf", name="CAF — accueil de Lens", communes=["62498", "62510"], city="Lens",
                          commune_insee="62498"),
        "cpam": draft(kind="cpam", name="CPAM de l'Artois", epcis=["246200364"], city="Arras",
                      commune_insee="62041"),
        "fs_henin": draft(kind="france_services", name="France Services d'Hénin-Beaumont", commune_insee="62427",
                          city="Hénin-Beaumont", postal_code="62110"),
        "fs_lens": draft(kind="france_services", name="France Services de Lens", commune_insee="62498",
                         epcis=["246200364"]),
        "mdph_old": draft(kind="mdph", name="MDPH (ancienne adresse)", departements=["62"], active=False),
        "roads": draft(kind="service", name="Service des routes", extension="2001", topics=["roads"],
                       phones=[{"number": "03 53 01 00 30", "public": False}]),
        "beaumont": draft(kind="town_hall", name="Mairie de Beaumont (Puy-de-Dôme)", commune_insee="63032",
                          city="Beaumont"),
    }  # fmt: skip
    return {key: (await directory.create(d, ADMIN)).id for key, d in entries.items()}


# -- the services of 0004 ------------------------------------------------------------------------------------


@pytest.fixture
async def database() -> AsyncIterator[str]:
    name = f"gps_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{SERVER}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_the_services_of_0004_fold_into_the_directory_keeping_their_ids(database: str, tmp_path: Path) -> None:
    migrations = Path(__file__).parents[2] / "storage" / "migrations"
    for file in sorted(migrations.glob("000[1-6]_*.sql")):
        shutil.copy(file, tmp_path)
    conn = await asyncpg.connect(database)
    try:
        await migrate(conn, directory=tmp_path)  # a database of the release before the directory
        rows = await conn.fetch(
            "INSERT INTO services (name, extension, topics, hours, active) VALUES "
            "('Routes', '2001', '{roads}', NULL, true), ('Supprimé', '2009', '{}', NULL, true), "
            """('MDPH', '2003', '{disability}', '{"mon": [["08:30", "12:00"]]}', false) RETURNING id"""
        )
        routes, gone, mdph = (r["id"] for r in rows)
        await conn.execute("DELETE FROM services WHERE id = $1", gone)
        await conn.execute(
            "INSERT INTO call_records (linkedid, arrived_at, line_open, ended_at, hangup_by, status, "
            "transfer_service_id, transfer_service) VALUES ('1.1', now(), true, now(), 'caller', 'answered', $1, "
            "'MDPH')",
            mdph,
        )
        shutil.copy(migrations / "0010_directory.sql", tmp_path)
        assert await migrate(conn, directory=tmp_path) == ["0010_directory"]
        await migrate(conn)  # and the later ones apply over it
        kept = await conn.fetch("SELECT id, kind, name, extension, topics, hours::text, active FROM organisations")
        assert sorted(tuple(r) for r in kept) == [
            (routes, "service", "Routes", "2001", ["roads"], None, True),
            (mdph, "service", "MDPH", "2003", ["disability"], '{"mon": [["08:30", "12:00"]]}', False),
        ]
        assert [tuple(r) for r in await conn.fetch("SELECT id, name FROM services ORDER BY id")] == [
            (routes, "Routes"),
            (mdph, "MDPH"),
        ]  # 0004's columns, as a view
        history = await conn.fetch("SELECT organisation_id, actor, action FROM organisation_changes ORDER BY 1")
        assert [tuple(r) for r in history] == [(routes, "migration", "create"), (mdph, "migration", "create")]
        record = await conn.fetchrow("SELECT transfer_service_id, caller_kind FROM call_records")
        assert tuple(record) == (mdph, None)  # the transfer still names it; not classified (before the directory)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
    assert pool is not None
    try:
        services = ServiceRepository(pool)
        found = await services.get(mdph)
        assert found is not None and found.name == "MDPH" and found.hours is not None
        created = await services.add("Archives", "2005")
        assert created.id > mdph  # the sequence goes on after the ids kept
        history = await pool.fetch(
            "SELECT actor, action FROM organisation_changes WHERE organisation_id = $1", created.id
        )
        assert [tuple(r) for r in history] == [("cli", "create")]
    finally:
        await pool.close()


# -- writing: rules, ownership, history ----------------------------------------------------------------------


async def test_an_entry_s_history_says_who_changed_what(directory: DirectoryService, pool: asyncpg.Pool) -> None:
    created = await directory.create(draft(kind="caf", name="CAF", phones=[{"number": "03 53 01 00 01"}]), ADMIN)
    assert (created.version, created.source, created.owner) == (1, "manual", "admin")
    stored = await directory.store.get(created.id)
    assert stored is not None
    edited = Draft.of(stored).model_copy(update={"name": "CAF du Pas-de-Calais", "city": "Arras"})
    updated = await directory.update(created.id, edited, ADMIN, expected_version=1)
    assert (updated.version, updated.name, updated.city) == (2, "CAF du Pas-de-Calais", "Arras")
    same = await directory.update(created.id, edited, ADMIN, expected_version=2)
    assert same.version == 2  # nothing changed, nothing written
    off = await directory.set_active(created.id, False, ADMIN)
    assert not off.active and off.opening.summary == "Désactivé"
    await directory.set_active(created.id, True, Actor(login="root", role="admin"))

    history = await directory.history(created.id)
    assert [(c.actor, c.action) for c in history] == [
        ("admin", "create"),
        ("admin", "update"),
        ("admin", "deactivate"),
        ("root", "reactivate"),
    ]
    assert history[0].changes["name"] == {"before": None, "after": "CAF"}
    assert history[0].changes["phones"]["after"] == [{"number": "+33353010001", "label": None, "public": True}]
    assert history[1].changes == {
        "name": {"before": "CAF", "after": "CAF du Pas-de-Calais"},
        "city": {"before": None, "after": "Arras"},
    }
    assert history[2].changes == {"active": {"before": True, "after": False}}
    with pytest.raises(UnknownOrganisation):
        await directory.history(999)


async def test_who_may_change_what(directory: DirectoryService) -> None:
    with pytest.raises(NotAllowed, match="superviseurs et les administrateurs"):
        await directory.create(draft(kind="caf", name="CAF"), ALICE)
    with pytest.raises(NotAllowed, match="confier une fiche"):
        await directory.create(draft(kind="caf", name="CAF"), SAM)  # owner admin: not theirs
    own = await directory.create(draft(kind="caf", name="CAF", owner="sam"), SAM)
    stored = await directory.store.get(own.id)
    assert stored is not None
    await directory.update(own.id, Draft.of(stored).model_copy(update={"city": "Lens"}), SAM, own.version)
    with pytest.raises(NotAllowed, match="confier une fiche"):
        await directory.update(own.id, Draft.of(stored).model_copy(update={"owner": "bob"}), SAM, None)
    theirs = await directory.create(draft(kind="caf", name="CAF 2"), ADMIN)
    with pytest.raises(NotAllowed, match="tenue par admin"):
        await directory.set_active(theirs.id, False, SAM)
    given = await directory.update(own.id, Draft.of(stored).model_copy(update={"owner": "bob"}), ADMIN, None)
    assert given.owner == "bob"


async def test_bad_entries_are_refused_and_edits_do_not_cross(directory: DirectoryService) -> None:
    await directory.create(draft(kind="service", name="Routes", extension="2001"), ADMIN)
    with pytest.raises(InvalidEntry, match="porte déjà ce nom"):
        await directory.create(draft(kind="service", name="Routes", extension="2002"), ADMIN)
    with pytest.raises(InvalidEntry, match="thème"):
        await directory.create(draft(kind="service", name="X", extension="2003", topics=["astrology"]), ADMIN)
    with pytest.raises(InvalidEntry, match=r"commune.*99999"):
        await directory.create(draft(kind="caf", name="X", communes=["99999"]), ADMIN)
    with pytest.raises(InvalidEntry, match="référence"):
        await directory.create(draft(kind="caf", name="A", ref="x:1"), ADMIN)
        await directory.create(draft(kind="caf", name="B", ref="x:1"), ADMIN)
    entry = await directory.create(draft(kind="caf", name="CAF"), ADMIN)
    stored = await directory.store.get(entry.id)
    assert stored is not None
    await directory.update(entry.id, Draft.of(stored).model_copy(update={"city": "Lens"}), ADMIN, 1)
    with pytest.raises(EditConflict, match="modifiée entre-temps"):  # an editor who read version 1
        await directory.update(entry.id, Draft.of(stored).model_copy(update={"city": "Liévin"}), ADMIN, 1)
    assert (await directory.get(entry.id)).city == "Lens"


# -- reading: search, partners, opening ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("henin", ["fs_henin"]),  # accents and case ignored
        ("HÉNIN-beaumont", ["fs_henin", "caf"]),  # a commune named: what is there, then what serves it
        ("caf", ["caf", "caf_lens"]),  # by kind
        ("allocations", ["caf", "caf_lens"]),  # by the kind's label
        ("caf lens", ["caf_lens", "caf"]),  # a kind and a commune: those serving it, those in it first
        (
            "62300",
            ["caf_lens", "ccas_lens", "fs_lens", "mairie_lens", "caf", "cpam"],
        ),  # postal code: in it, then serving it
        ("liévin", ["caf", "caf_lens", "cpam", "fs_lens"]),  # a commune: what serves it
        ("mairie beaumont", ["beaumont"]),  # not Beaumont-in-62 (none): found by name
        ("03 53 01 00 10", ["ccas_lens", "mairie_lens"]),  # a phone number
        ("2001", ["roads"]),  # an extension
        ("mdph", []),  # deactivated
        ("de la", []),
        ("zzz", []),
    ],
)
async def test_search(directory: DirectoryService, query: str, expected: list[str]) -> None:
    ids = await seed(directory)
    names = {v: k for k, v in ids.items()}
    found = [names[e.id] for e in await directory.search(query)]
    ordered = "lens" in query or query.isdigit() or "beaumont" in query
    assert found == expected if ordered else sorted(found) == sorted(expected), found


async def test_search_of_deactivated_entries_and_by_kind(directory: DirectoryService) -> None:
    ids = await seed(directory)
    assert [e.id for e in await directory.search("mdph", active_only=False)] == [ids["mdph_old"]]
    assert [e.id for e in await directory.search("lens", kind=Kind.CCAS)] == [ids["ccas_lens"]]


async def test_partners_of_a_commune(directory: DirectoryService) -> None:
    ids = await seed(directory)
    names = {v: k for k, v in ids.items()}

    lens = await directory.partners_of("62498")
    assert (lens.commune_name, lens.epci_name) == ("Lens", "CA de Lens - Liévin")
    assert [(names[p.entry.id], p.reach) for p in lens.partners] == [
        ("mairie_lens", "commune"),  # no territory: serves where it is
        ("ccas_lens", "commune"),
        ("fs_lens", "commune"),
        ("caf_lens", "commune"),
        ("caf", "departement"),
        ("cpam", "epci"),
    ]
    mairie = lens.partners[0]
    assert mairie.entry.opening.summary == "Ouvert maintenant, jusqu'à 12:00"
    assert mairie.read_out == (
        "Mairie de Lens. Téléphone : 03 53 01 00 10. Adresse : 62300 Lens. Ouvert maintenant, jusqu'à 12:00. "
        "Horaires : lun-ven 08:30-12:00 13:30-17:00."
    )

    carvin = await directory.partners_of("62215")  # same EPCI as Hénin-Beaumont, no France Services of its own
    assert [(names[p.entry.id], p.reach) for p in carvin.partners] == [
        ("fs_henin", "nearby"),
        ("caf", "departement"),
    ]
    assert carvin.partners[0].reach_label == "le plus proche (même intercommunalité)"
    henin = await directory.partners_of("62427")
    assert [(names[p.entry.id], p.reach) for p in henin.partners] == [
        ("fs_henin", "commune"),  # serves it: not also "nearby"
        ("caf", "departement"),
    ]
    with pytest.raises(UnknownOrganisation):
        await directory.partners_of("99999")


# -- callers recognised --------------------------------------------------------------------------------------


async def test_a_known_number_is_recognised_and_the_record_keeps_the_caller_s_kind(
    directory: DirectoryService, pool: asyncpg.Pool
) -> None:
    ids = await seed(directory)
    who = await directory.identify("+33353010010")
    assert (who.kind, who.kind_label) == ("town_hall", "Mairie")  # its CCAS shares the number: the town hall
    assert who.organisation is not None and who.organisation.id == ids["mairie_lens"]
    assert (await directory.identify("+33353010020")).kind == "partner"
    internal = await directory.identify("+33353010030")  # a staff-only line is recognised too
    assert internal.kind == "internal" and internal.organisation and internal.organisation.name == "Service des routes"
    assert (await directory.identify(None, "2001")).kind == "internal"  # an extension, not a full number
    assert (await directory.identify("+33612345678")).kind == "citizen"
    assert (await directory.identify(None, "")).kind == "citizen"

    records = CallRecordRepository(pool)
    await records.upsert(make_record("1.1", caller_number="+33353010010"))
    await records.upsert(make_record("1.2", caller_number=None, caller_number_raw="2001"))
    await records.upsert(make_record("1.3", caller_number="+33612345678"))
    await records.upsert_many(
        [make_record("1.4", caller_number="+33353010020"), make_record("1.5", caller_number=None)]
    )
    kinds = await pool.fetch("SELECT linkedid, caller_kind, caller_organisation_id FROM call_records ORDER BY 1")
    assert [tuple(r) for r in kinds] == [
        ("1.1", "town_hall", ids["mairie_lens"]),
        ("1.2", "internal", ids["roads"]),
        ("1.3", "citizen", None),
        ("1.4", "partner", ids["caf"]),
        ("1.5", "citizen", None),
    ]

    # the directory learns the number later: the record keeps what was known when it was written…
    stored = await directory.store.get(ids["cpam"])
    assert stored is not None
    await directory.update(
        ids["cpam"], Draft.of(stored).model_copy(update={"phones": (*Draft.of(stored).phones, *draft(
            kind="cpam", name="x", phones=[{"number": "06 12 34 56 78"}]).phones)}), ADMIN, None,
    )  # fmt: skip
    await records.upsert(make_record("1.3", caller_number="+33612345678", talk_seconds=181.0))  # a later version
    assert await pool.fetchval("SELECT caller_kind FROM call_records WHERE linkedid = '1.3'") == "citizen"
    # …until classified again on demand
    assert await directory.store.reclassify(datetime(2020, 1, 1, tzinfo=UTC)) == 1
    assert await directory.store.reclassify(datetime(2020, 1, 1, tzinfo=UTC)) == 0
    assert tuple(await pool.fetchrow("SELECT caller_kind, caller_organisation_id FROM call_records "
                                     "WHERE linkedid = '1.3'")) == ("partner", ids["cpam"])  # fmt: skip
    # a deactivated organisation is no longer recognised
    await directory.set_active(ids["mairie_lens"], False, ADMIN)
    assert (await directory.identify("+33353010010")).kind == "partner"  # its CCAS still is


# -- transfers ------------------------------------------------------------------------------------------------


async def test_services_stay_transferable(directory: DirectoryService, pool: asyncpg.Pool) -> None:
    roads = await directory.create(
        draft(kind="service", name="Routes", extension="2001", topics=["roads"], hours=WEEK,
              closed_dates=[date(2026, 12, 3)]), ADMIN,
    )  # fmt: skip
    legacy = await ServiceRepository(pool, DESK.topics).add("Archives", "2005")
    services = ServiceRepository(pool)
    assert [s.name for s in await services.list(active_only=True)] == ["Archives", "Routes"]
    found = await services.get(roads.id)
    assert found is not None and found.extension == "2001" and found.closed_dates == (date(2026, 12, 3),)
    assert directory.is_open(found, WEDNESDAY_10)
    assert not directory.is_open(found, WEDNESDAY_10 + timedelta(days=1))  # its exceptional closure
    assert not directory.is_open(found, datetime(2026, 12, 25, 9, tzinfo=UTC))  # Christmas: the line's calendar
    assert await services.get((await directory.create(draft(kind="caf", name="CAF"), ADMIN)).id) is None

    await pool.execute("TRUNCATE advisors RESTART IDENTITY CASCADE")
    await pool.execute("INSERT INTO advisors (login, name, interface) VALUES ('alice', 'Alice', 'PJSIP/adv1')")
    await CallRecordRepository(pool).upsert(make_record("2.1"))
    qualification = Qualification.model_validate(
        {"topic": "roads", "outcome": "transfer", "transfer_service_id": roads.id}
    )
    view = await QualificationService(pool, DESK).save(
        "2.1", qualification, User(id=1, login="alice", name="Alice", role=Role.ADVISOR), "PJSIP/adv1"
    )
    assert isinstance(view, CallRecordView)
    row = await pool.fetchrow("SELECT transfer_service_id, transfer_service FROM call_records WHERE linkedid = '2.1'")
    assert tuple(row) == (roads.id, "Routes")
    await directory.set_active(legacy.id, False, ADMIN)  # deactivated in the directory: no longer offered
    assert [s.name for s in await services.list(active_only=True)] == ["Routes"]
