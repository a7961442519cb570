"""Import into the directory (the DILA's JSON, our CSV) and export, on a real PostgreSQL; the commands."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from config.settings import DeskSettings, OpeningHours
from screenpop.directory.errors import NotAllowed, UnreadableFile
from screenpop.directory.files import export_file, import_file
from screenpop.directory.models import Actor, Draft, ImportReport
from screenpop.directory.service import DirectoryService
from storage.communes import ensure_communes
from tests.fixtures_db import fresh_database, migrated_pool
from tests.servers import redis_url

__all__ = ["fresh_database", "migrated_pool"]

FIXTURE = Path(__file__).parents[1] / "data" / "dila-locales-extrait.json"
DEMO = Path(__file__).parents[2] / "gps_admin" / "data" / "annuaire-demo-62.csv"
ADMIN = Actor(login="cli:test", role="admin")
ARRAS = "dila:00000000-0000-4000-8000-000000000001"


@pytest.fixture
async def pool(migrated_pool: asyncpg.Pool) -> asyncpg.Pool:
    await ensure_communes(migrated_pool)
    await migrated_pool.execute("TRUNCATE organisations RESTART IDENTITY CASCADE")
    return migrated_pool


@pytest.fixture
def directory(pool: asyncpg.Pool) -> DirectoryService:
    clock = datetime(2026, 12, 2, 9, tzinfo=UTC)
    return DirectoryService(pool, OpeningHours(), topics=DeskSettings().topics, clock=lambda: clock)


async def dila(directory: DirectoryService, path: Path = FIXTURE, **options: object) -> ImportReport:
    return await import_file(directory, path, "dila", actor=ADMIN, owner="admin", departement="62", **options)  # type: ignore[arg-type]


async def snapshot(pool: asyncpg.Pool) -> list[tuple[object, ...]]:
    rows = await pool.fetch(
        "SELECT o.*, (SELECT count(*) FROM organisation_changes c WHERE c.organisation_id = o.id) AS changes "
        "FROM organisations o ORDER BY id"
    )
    return [tuple(r) for r in rows]


async def test_the_dila_fixture_is_imported_with_every_refusal_reported(
    directory: DirectoryService, pool: asyncpg.Pool
) -> None:
    report = await dila(directory)
    assert (report.read, report.created, report.updated, report.unchanged) == (12, 5, 0, 0)
    assert report.committed and not report.dry_run
    assert report.skipped == {"type gendarmerie": 1, "hors du département": 1}
    assert [(r.line, r.reason) for r in report.refused] == [
        (7, "téléphones : numéro de téléphone illisible : « appeler la mairie »"),
        (8, "heure illisible « 9h »"),
        (9, "pas d'identifiant (id)"),
        (10, "l'enregistrement n'est pas un objet JSON"),
        (11, "courriel : adresse électronique invalide : « pas-une-adresse »"),
    ]
    assert report.refused[0].name == "Centre communal d'action sociale (CCAS) - Liévin (exemple)"
    assert [(w.line, w.reason) for w in report.warnings] == [(2, "commune(s) inconnue(s) laissée(s) de côté : 99999")]
    arras = await directory.store.by_ref(ARRAS)
    assert arras is not None and (arras.kind, arras.owner, arras.source) == ("town_hall", "admin", "dila")
    history = await directory.history(arras.id)
    assert [(c.actor, c.action) for c in history] == [("cli:test", "import")]
    caf = await directory.store.by_ref("dila:00000000-0000-4000-8000-000000000002")
    assert caf is not None and caf.communes == ("62065", "62413", "62498", "62510")
    # what the desk then finds: the CAF serving Liévin, the town hall calling
    assert (await directory.search("caf liévin"))[0].name.startswith("Caisse d'allocations familiales")
    assert (await directory.identify("+33353019001")).kind == "town_hall"


async def test_a_second_import_changes_only_what_the_dila_changed_and_keeps_the_staff_s_fields(
    directory: DirectoryService, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await dila(directory)
    arras = await directory.store.by_ref(ARRAS)
    assert arras is not None
    curated = Draft.of(arras).model_copy(
        update={"owner": "sam", "staff_contact": "Mme X, secrétariat", "public_note": "Dites : état civil au 1er."}
    )
    await directory.update(arras.id, curated, ADMIN, None)
    await directory.set_active(arras.id, False, ADMIN)

    again = await dila(directory)
    assert (again.created, again.updated, again.unchanged, len(again.refused)) == (0, 0, 5, 5)

    data = json.loads(FIXTURE.read_text("utf-8"))
    data["service"][0]["telephone"] = [{"valeur": "03 53 01 90 99", "description": "standard"}]
    data["service"][0]["nom"] = "Mairie d'Arras (exemple)"
    changed = tmp_path / "dila.json"
    changed.write_text(json.dumps(data), "utf-8")
    third = await dila(directory, changed)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 4)
    after = await directory.store.by_ref(ARRAS)
    assert after is not None
    assert (after.name, [p.number for p in after.phones]) == ("Mairie d'Arras (exemple)", ["+33353019099"])
    assert (after.owner, after.staff_contact, after.public_note, after.active) == (
        "sam", "Mme X, secrétariat", "Dites : état civil au 1er.", False
    )  # fmt: skip
    last = (await directory.history(arras.id))[-1]
    assert (last.action, sorted(last.changes)) == ("import", ["name", "phones"])


async def test_a_dry_run_reports_and_changes_nothing(directory: DirectoryService, pool: asyncpg.Pool) -> None:
    report = await dila(directory, dry_run=True)
    assert (report.created, len(report.refused), report.committed, report.dry_run) == (5, 5, False, True)
    assert await snapshot(pool) == []


async def test_strict_changes_nothing_when_a_line_is_refused(directory: DirectoryService, pool: asyncpg.Pool) -> None:
    report = await dila(directory, strict=True)
    assert (report.created, len(report.refused), report.committed) == (5, 5, False)
    assert await snapshot(pool) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda text: text[: len(text) * 2 // 3], "illisible"),  # cut in the middle: 5 records were readable
        (lambda text: text.replace('"service"', '"services"'), "pas de liste « service »"),
    ],
)
async def test_a_file_that_cannot_be_read_changes_nothing(
    directory: DirectoryService, pool: asyncpg.Pool, tmp_path: Path, content: object, message: str
) -> None:
    await dila(directory)
    before = await snapshot(pool)
    broken = tmp_path / "broken.json"
    data = json.loads(FIXTURE.read_text("utf-8"))
    for record in data["service"][:4]:  # what was read before the fault would have changed these
        record["nom"] = f"{record['nom']} (modifié)"
    broken.write_text(content(json.dumps(data, indent=1)), "utf-8")  # type: ignore[operator]
    with pytest.raises(UnreadableFile, match=message):
        await dila(directory, broken)
    assert await snapshot(pool) == before


async def test_files_that_are_not_utf8_or_missing_change_nothing(
    directory: DirectoryService, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("type;nom\ncaf;CAF\nccas;CCAS de Liévin\n".encode("latin-1"))
    with pytest.raises(UnreadableFile, match="UTF-8"):
        await import_file(directory, latin, "csv", actor=ADMIN, owner="admin")
    with pytest.raises(UnreadableFile, match="impossible"):
        await import_file(directory, tmp_path / "absent.csv", "csv", actor=ADMIN, owner="admin")
    assert await snapshot(pool) == []
    with pytest.raises(NotAllowed):
        await import_file(directory, FIXTURE, "dila", actor=Actor(login="sam", role="supervisor"), owner="sam")


async def test_the_demo_directory_gives_every_commune_of_the_departement_its_caf_cpam_and_mdph(
    directory: DirectoryService, pool: asyncpg.Pool
) -> None:
    """The demo's pop shows these partners whatever commune a caller gives (CI once drew one no CPAM served)."""
    await import_file(directory, DEMO, "csv", actor=ADMIN, owner="admin", source="demo")
    codes = [
        r["code_insee"]
        for r in await pool.fetch("SELECT code_insee FROM communes WHERE departement = '62' ORDER BY code_insee")
    ]
    assert len(codes) >= 880
    missing = {}
    for code in codes:
        kinds = {p.entry.kind for p in (await directory.partners_of(code)).partners}
        if lacking := {"caf", "cpam", "mdph"} - kinds:
            missing[code] = sorted(lacking)
    assert missing == {}


async def test_an_export_imports_back_unchanged_and_an_edited_copy_updates(
    directory: DirectoryService, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    demo = await import_file(directory, DEMO, "csv", actor=ADMIN, owner="admin", source="demo")
    assert (demo.created, demo.refused, demo.warnings) == (52, (), ())
    await dila(directory)
    exported = tmp_path / "annuaire.csv"
    assert await export_file(directory, exported) == 57
    raw = exported.read_bytes()
    assert raw.startswith("\ufeffid;référence;type;nom;".encode()) and b"\r\n" in raw
    before = await snapshot(pool)
    again = await import_file(directory, exported, "csv", actor=ADMIN, owner="admin")
    assert (again.read, again.created, again.updated, again.unchanged, again.refused) == (57, 0, 0, 57, ())
    assert await snapshot(pool) == before

    rows = list(csv.reader(io.StringIO(exported.read_text("utf-8-sig")), delimiter=";"))
    header = rows[0]
    name, phones = header.index("nom"), header.index("téléphones")
    cells = rows[1]
    cells[name] = cells[name].replace("(exemple)", "(exemple, renommée)")
    cells[phones] = "03 53 01 99 99 (nouveau)"
    blank = [""] * len(header)
    rows[2:2] = [
        ["12345", "", "caf", "Fiche inconnue", *blank[4:]],
        ["", "", "caf", "Sans id ni référence", *blank[4:]],
        ["", "", "caf", "", "", ""],
    ]
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(rows)
    edited = tmp_path / "edited.csv"
    edited.write_text(out.getvalue(), "utf-8")
    report = await import_file(directory, edited, "csv", actor=ADMIN, owner="sam")
    assert (report.created, report.updated, report.unchanged) == (1, 1, 56)
    assert [(r.line, r.reason) for r in report.refused] == [
        (3, "fiche n° 12345 inconnue (id)"),
        (5, f"6 cellules pour {len(header)} colonnes"),
    ]
    first = await directory.get(int(cells[0]))
    assert first.name.endswith("(exemple, renommée)") and [p.display for p in first.phones] == ["03 53 01 99 99"]
    assert [(c.actor, c.action) for c in await directory.history(first.id)][-1] == ("cli:test", "import")
    new = [e for e in await directory.search("sans id ni reference")]
    assert [(e.name, e.owner, e.source) for e in new] == [("Sans id ni référence", "sam", "csv")]


async def test_a_csv_with_some_columns_updates_only_those(
    directory: DirectoryService, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await dila(directory)
    arras = await directory.store.by_ref(ARRAS)
    assert arras is not None
    partial = tmp_path / "partial.csv"
    partial.write_text(f"référence,type,nom,horaires\n{ARRAS},mairie,Mairie d'Arras,lun-ven 9h-12h\n", "utf-8")
    report = await import_file(directory, partial, "csv", actor=ADMIN, owner="admin")
    assert (report.updated, report.refused) == (1, ())
    after = await directory.store.by_ref(ARRAS)
    assert after is not None and after.name == "Mairie d'Arras" and after.phones == arras.phones
    assert after.hours is not None and after.hours["sat"] == () and after.hours["mon"] == (("09:00", "12:00"),)


# -- the commands ----------------------------------------------------------------------------------------------

GPS_ADMIN = str(Path(sys.executable).with_name("gps-admin"))


async def gps_admin(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPS_ADMIN_")}
    env |= {"GPS_ADMIN_DATABASE_URL": database_url, "GPS_ADMIN_REDIS_URL": redis_url(0)}
    proc = await asyncio.create_subprocess_exec(
        GPS_ADMIN, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60.0)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_directory_commands(pool: asyncpg.Pool, fresh_database: str, tmp_path: Path) -> None:
    code, out, err = await gps_admin(fresh_database, "directory", "import", "--format", "dila", str(FIXTURE),
                                     "--departement", "62", "--dry-run")  # fmt: skip
    assert code == 1, err  # lines refused
    assert "12 lus, 5 créés, 0 mis à jour, 0 inchangés, 2 ignorés, 5 refusés" in out
    assert "refusé ligne 8 (dila:00000000-0000-4000-8000-000000000008, « France services - Carvin (exemple) ») : " \
           "heure illisible « 9h »" in out  # fmt: skip
    assert "essai à blanc : rien n'a été écrit" in out
    assert await pool.fetchval("SELECT count(*) FROM organisations") == 0

    code, out, err = await gps_admin(fresh_database, "directory", "import", "--format", "csv", str(DEMO))
    assert (code, err) == (0, "") and "52 créés" in out
    code, out, err = await gps_admin(fresh_database, "directory", "search", "caf lens")
    assert code == 0 and "CAF du Pas-de-Calais (exemple)" in out
    code, out, err = await gps_admin(fresh_database, "directory", "partners", "62215")
    assert code == 0 and out.startswith("Carvin (62215), CA d'Hénin-Carvin")
    assert "[France Services — le plus proche (même intercommunalité)] France Services d'Hénin-Beaumont" in out
    code, out, err = await gps_admin(fresh_database, "directory", "identify", "03 53 01 00 40")
    assert code == 0 and out.startswith("Mairie : Mairie")
    first = await pool.fetchval("SELECT min(id) FROM organisations")
    code, out, err = await gps_admin(fresh_database, "directory", "show", str(first))
    assert code == 0 and "import" in out and "contact agents" in out
    exported = tmp_path / "out.csv"
    code, out, err = await gps_admin(fresh_database, "directory", "export", str(exported))
    assert (code, out.strip()) == (0, f"52 fiches exportées dans {exported}")
    code, out, err = await gps_admin(fresh_database, "directory", "import", "--format", "csv", str(tmp_path / "x"))
    assert code == 2 and "impossible" in err
    code, out, err = await gps_admin(fresh_database, "directory", "reclassify", "--since", "2020-01-01")
    assert (code, out.strip()) == (0, "appels reclassés : 0")

    # the services' commands still work, over the directory
    code, out, err = await gps_admin(fresh_database, "services", "add", "--name", "Routes", "--extension", "2001",
                                     "--topic", "roads", "--hours", '{"mon": [["22:00", "02:00"]]}')  # fmt: skip
    assert code == 0, err
    code, out, err = await gps_admin(fresh_database, "services", "list")
    assert code == 0 and "Routes" in out and "22:00" in out
    code, out, err = await gps_admin(fresh_database, "directory", "search", "routes")
    assert code == 0 and "\tservice\tRoutes\t" in out
