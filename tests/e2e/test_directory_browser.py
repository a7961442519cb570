"""The directory in a real browser (Debian's chromium driven by Playwright) against the real service (`gps-admin
serve` on real PostgreSQL and Redis, real calls through the real Asterisk 22): a town hall's call pops « Mairie
de … » with its commune's recent calls and partners; one key records the partner given; the directory search; the
commune field by keyboard (WAI-ARIA combobox); a name typed and not picked is refused, never dropped; the
administration pages (create, edit, deactivate, history, import report). axe-core at every state."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from playwright.async_api import Browser, Locator, expect

from storage.calls import CallRecordRepository
from storage.pool import create_pool
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import STEP, log_in, seed_agnes, serve_env, serving
from tests.fixtures_db import make_record
from tests.integration.harness import Driver
from tests.rig.asterisk import AsteriskRig
from tests.serve import Process, cli
from tests.servers import redis_url

pytestmark = pytest.mark.asterisk

REDIS = redis_url(10)
TODAY = datetime.now(ZoneInfo("Europe/Paris")).date()
HEADER = "type;nom;téléphones;code postal;ville;commune (code INSEE);horaires;fermetures exceptionnelles;" \
         "départements servis;à dire à l'usager;contact réservé aux agents"  # fmt: skip
DIRECTORY = [
    "town_hall;Mairie de Lens (exemple);03 53 01 00 10 (accueil);62300;Lens;62498;lun-dim 00:00-24:00;;;;",
    "ccas;CCAS de Lens (exemple);03 53 01 00 11;62300;Lens;62498;lun-ven 08:30-17:00;;;;",
    "caf;CAF du Pas-de-Calais (exemple);3230 (numéro national) | 03 53 01 00 02 (ligne partenaires) [agents];"
    "62000;Arras;62041;;;62;Munissez-vous de votre numéro d'allocataire.;Mme Exemple",
    f"mdph;MDPH du Pas-de-Calais (exemple);03 53 01 00 07;62000;Arras;62041;lun-dim 00:00-24:00;{TODAY.isoformat()};"
    "62;;",
]


@pytest.fixture
async def served(asterisk_rig: AsteriskRig, fresh_database: str, tmp_path: Path) -> AsyncIterator[Process]:
    """`gps-admin serve` with an advisor (agnes), a supervisor (sam), an admin (ada), a service, and a small
    directory imported with the command (a town hall whose number calls, its CCAS, the CAF, a closed MDPH)."""
    env = await serve_env(asterisk_rig, fresh_database, REDIS, tmp_path / "data")
    await seed_agnes(env, ("ada", "Ada Deprez", "admin", []))
    await cli(env, "services", "add", "--name", "Service des routes", "--extension", "2001")
    directory = tmp_path / "annuaire.csv"
    directory.write_text("\n".join([HEADER, *DIRECTORY]) + "\n", encoding="utf-8")
    await cli(env, "communes", "load")  # before the directory: an import leaves out the communes it does not know
    imported = await cli(env, "directory", "import", "--format", "csv", str(directory))
    assert "4 créés" in imported and "averti" not in imported, imported
    async with serving(env) as process:
        yield process


async def record(dsn: str, linkedid: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow("SELECT * FROM call_records WHERE linkedid = $1", linkedid)
    finally:
        await conn.close()
    assert row is not None
    return dict(row)


async def organisation_id(dsn: str, name: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT id FROM organisations WHERE name = $1", name))
    finally:
        await conn.close()


async def combobox_state(field: Locator) -> tuple[str | None, str | None]:
    """(aria-expanded, the text of the option aria-activedescendant names, with aria-selected=true)."""
    active = await field.get_attribute("aria-activedescendant")
    text = None
    if active:
        option = field.page.locator(f"#{active}")
        await expect(option).to_have_attribute("aria-selected", "true")
        text = await option.text_content()
    return await field.get_attribute("aria-expanded"), text


async def test_a_town_hall_s_call_pops_as_the_town_hall_with_its_partners_and_the_partner_given_is_recorded(
    served: Process, browser: Browser, asterisk_rig: AsteriskRig, fresh_database: str
) -> None:
    """The rig test of a town hall's call: a real call from the number of « Mairie de Lens » on the real Asterisk
    pops it as the town hall, with its commune (by name and postal code), the commune's recent calls (its CCAS
    called earlier) and the partners serving Lens with what to read. The advisor gives the CAF's contact (one key),
    searches the directory, sets the commune by keyboard; the record keeps the partner and the caller's kind."""
    url = served.env["URL"]
    pool = await create_pool(fresh_database)
    earlier = datetime.now(UTC) - timedelta(days=2)
    await CallRecordRepository(pool).upsert(  # the commune's CCAS called two days ago (classified on insert)
        make_record(
            "earlier.ccas",
            caller_number="+33353010011",
            caller_name="CCAS LENS",
            arrived_at=earlier,
            ended_at=earlier + timedelta(minutes=3),
            advisor_interface="Local/adv1@advisors",
        )
    )
    await pool.execute("UPDATE call_records SET topic = 'social_aid', outcome = 'advice', qualified_at = now()")
    await pool.close()
    caf = await organisation_id(fresh_database, "CAF du Pas-de-Calais (exemple)")

    page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await log_in(page, url, "agnes")
    await page.get_by_role("button", name="Disponible").click()
    await expect(page.locator("#state")).to_have_text(re.compile("^Disponible"), timeout=STEP)

    driver = await Driver.connect(asterisk_rig)
    try:
        await driver.call("0353010010", "MAIRIE LENS", __ADVISOR_TALK="2")
        # the pop: the town hall, recognised by its number
        await expect(page.locator("#pop .number")).to_have_text("03 53 01 00 10", timeout=STEP)
        caller = page.locator("#dir-caller")
        await expect(caller).to_be_visible(timeout=STEP)
        await expect(page.locator("#dir-caller-kind")).to_have_text("Mairie :")
        await expect(page.locator("#dir-caller-name")).to_have_text("Mairie de Lens (exemple)")
        await expect(page.locator("#pop")).to_contain_text("Commune : Lens (62300)")  # not the INSEE code alone
        await expect(page.locator("#h-dir-recent")).to_have_text("Appels récents de la commune (Lens (62300))")
        await expect(page.locator("#dir-recent")).to_contain_text("CCAS de Lens (exemple) — Aide sociale, RSA")
        # the partners serving Lens, in the order a caller needs them, with their opening now
        partners = page.locator("#dir-partners-list > li")
        await expect(page.locator("#h-dir-partners")).to_have_text("Partenaires de Lens (62300)", timeout=STEP)
        await expect(partners).to_have_count(4)
        names = [n.strip() for n in await page.locator("#dir-partners-list .listing-head strong").all_text_contents()]
        assert names == ["Mairie de Lens (exemple)", "CCAS de Lens (exemple)", "CAF du Pas-de-Calais (exemple)",
                         "MDPH du Pas-de-Calais (exemple)"]  # fmt: skip
        await expect(partners.nth(0)).to_contain_text(re.compile(r"Ouvert maintenant|Fermé"))  # by the exact hours
        await expect(partners.nth(3)).to_contain_text(re.compile(r"Fermé — ouvre"))  # closed today (exceptional)
        caf_item = page.locator("#dir-partners-list > li", has_text="CAF du Pas-de-Calais")
        await expect(caf_item).to_contain_text("Réservé aux agents : 03 53 01 00 02 (ligne partenaires) ; Mme Exemple")
        await caf_item.get_by_text("À lire à l'usager").click()
        await expect(caf_item.locator(".read-out")).to_contain_text("Téléphone : 3230 (numéro national).")
        await expect(caf_item.locator(".read-out")).not_to_contain_text("03 53 01 00 02")  # staff-only: never read
        await assert_accessible(page, "pop of a town hall, its commune's calls and partners")

        # one key records the partner given (and the outcome), announced
        await caf_item.get_by_role("button", name="Contact donné à l'usager").focus()
        await page.keyboard.press("Enter")
        await expect(page.get_by_label("Partenaire (contact donné)")).to_have_value(str(caf))
        await expect(page.get_by_label("Issue")).to_have_value("partner_contact")
        await expect(page.locator("#dir-partners-status")).to_have_text(
            "« CAF du Pas-de-Calais (exemple) » noté dans la qualification comme partenaire donné à l'usager."
        )

        # the directory search: accents ignored, the results announced, the opening from the exact hours
        search = page.get_by_role("searchbox", name="Rechercher")
        await search.fill("MDPH arras")
        await page.keyboard.press("Enter")
        await expect(page.locator("#dir-count")).to_have_text("1 résultat pour « MDPH arras ».", timeout=STEP)
        await expect(page.locator("#dir-results")).to_contain_text("MDPH du Pas-de-Calais (exemple)")
        await expect(page.locator("#dir-results")).to_contain_text(re.compile(r"Fermé — ouvre"))
        await search.fill("mairie lèns")
        await expect(page.locator("#dir-count")).to_have_text("1 résultat pour « mairie lèns ».", timeout=STEP)
        await assert_accessible(page, "directory search results")

        await expect(page.locator("#call-status")).to_have_text("Appel terminé — à qualifier", timeout=STEP)
        ended = await served.expect(r"call ended linkedid=(\S+) status=\w+ caller=\+33353010010", within=60)
        linkedid = ended.group(1)
        await served.expect(rf"record written linkedid={re.escape(linkedid)} ", within=60)

        # the commune field by keyboard: a WAI-ARIA combobox
        commune = page.get_by_role("combobox", name="Commune de résidence")
        await page.get_by_label("Thème", exact=True).select_option("social_aid")
        await commune.focus()
        await page.keyboard.type("liev")
        listbox = page.get_by_role("listbox", name="Communes proposées")
        await expect(listbox).to_be_visible(timeout=STEP)
        await expect(page.locator("#q-commune-status")).to_contain_text("proposée")  # the list is announced
        await assert_accessible(page, "commune list open")
        await page.keyboard.press("ArrowDown")
        assert await combobox_state(commune) == ("true", "Liévin (62800)")
        await page.keyboard.press("ArrowDown")
        second = (await combobox_state(commune))[1]
        assert second is not None and second != "Liévin (62800)"
        await page.keyboard.press("ArrowUp")
        assert await combobox_state(commune) == ("true", "Liévin (62800)")
        await page.keyboard.press("Escape")  # closes, the focus stays
        await expect(listbox).to_be_hidden()
        assert await combobox_state(commune) == ("false", None)
        await expect(commune).to_be_focused()
        await page.keyboard.press("ArrowDown")  # opens again on the first
        assert await combobox_state(commune) == ("true", "Liévin (62800)")
        await page.keyboard.press("Enter")  # picks; the form is not sent
        await expect(commune).to_have_value("Liévin")
        await expect(commune).to_be_focused()
        assert await combobox_state(commune) == ("false", None)
        await expect(page.locator("#q-commune-status")).to_have_text("Commune choisie : Liévin (62800).")
        await expect(page.locator("#q-msg")).to_have_text("")
        await expect(page.locator("#h-dir-partners")).to_have_text("Partenaires de Liévin (62800)", timeout=STEP)
        await expect(page.get_by_label("Partenaire (contact donné)")).to_have_value(str(caf))  # still given
        # Tab away closes the list
        await commune.fill("")
        await page.keyboard.type("bethu")
        await expect(listbox).to_be_visible(timeout=STEP)
        await page.keyboard.press("Tab")
        await expect(listbox).to_be_hidden()
        assert (await combobox_state(commune))[0] == "false"

        # a name typed in full and not picked: several communes bear it, the save is refused, nothing dropped
        await commune.fill("Saint-Martin")
        await page.get_by_role("button", name="Enregistrer la qualification").click()
        await expect(page.locator("#q-msg")).to_have_text(re.compile("« Saint-Martin » désigne plusieurs communes"),
                                                         timeout=STEP)  # fmt: skip
        await assert_accessible(page, "qualification refused: commune to pick")
        assert (await record(fresh_database, linkedid))["qualified_at"] is None
        # typed in full, one commune of that name: kept when the field is left
        await commune.fill("Béthune")
        await expect(listbox).to_be_visible(timeout=STEP)
        await page.keyboard.press("Tab")
        await expect(page.locator("#q-commune-status")).to_have_text("Commune retenue : Béthune (62400).")
        await page.get_by_role("button", name="Enregistrer la qualification").click()
        await expect(page.locator("#q-msg")).to_have_text("Qualification enregistrée.", timeout=STEP)
        saved = await record(fresh_database, linkedid)
        assert (saved["outcome"], saved["partner_id"], saved["partner"], saved["commune_insee"]) == (
            "partner_contact",
            caf,
            "CAF du Pas-de-Calais (exemple)",
            "62119",
        )
        assert saved["caller_kind"] == "town_hall"  # kept with the record, for the statistics
    finally:
        await driver.clear_queue()
        await driver.close()


async def test_the_administration_pages(served: Process, browser: Browser, fresh_database: str, tmp_path: Path) -> None:
    """An admin creates an entry (refused first, the reasons by field, then the commune picked by keyboard), edits
    it, deactivates it, reads its history, imports a file (the dry run reports the refused line, then the import);
    a supervisor sees the directory, not the import. axe-core at every page and state."""
    url = served.env["URL"]
    page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await log_in(page, url, "ada", lands_on="/annuaire")
    await expect(page.get_by_role("link", name="Annuaire", exact=True)).to_have_attribute("aria-current", "page")
    await expect(page.locator("#count")).to_have_text(re.compile(r"5 fiches"))  # 4 imported, 1 service
    await assert_accessible(page, "directory list")
    await page.get_by_label("Rechercher", exact=True).fill("caf")
    await page.get_by_role("button", name="Filtrer").click()
    await expect(page.locator("#count")).to_have_text("1 fiche.")
    await assert_accessible(page, "directory list searched")

    # create: refused with the reasons by field, what was typed kept
    await page.get_by_role("link", name="Nouvelle fiche").click()
    await assert_accessible(page, "new entry form")
    await page.get_by_label(re.compile(r"^Type")).select_option("france_services")
    await page.get_by_role("textbox", name=re.compile(r"^Nom")).fill("France Services de Béthune (exemple)")
    await page.get_by_label("Téléphones").fill("03 53 01 00 60 (accueil)\n03 53 01 00 69 [agents]")
    await page.get_by_label("Horaires de la semaine").fill("lun-ven 9h-12h; sam 9h-11h")
    await page.get_by_label("Commune où elle se trouve").fill("Saint-Martin")
    await page.get_by_label("Horaires de la semaine").focus()  # leaves the field without picking
    await page.get_by_role("button", name="Créer la fiche").click()
    summary = page.get_by_role("alert")
    await expect(summary).to_contain_text("La fiche n'est pas enregistrée")
    await expect(summary).to_contain_text("désigne plusieurs communes")
    await expect(page.get_by_label("Commune où elle se trouve")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Téléphones")).to_have_value("03 53 01 00 60 (accueil)\n03 53 01 00 69 [agents]")
    await assert_accessible(page, "new entry refused")
    # the commune picked by keyboard in the same combobox as the desk's
    commune = page.get_by_role("combobox", name="Commune où elle se trouve")
    await commune.fill("")
    await commune.focus()
    await page.keyboard.type("béthu")
    await expect(page.get_by_role("listbox")).to_be_visible(timeout=STEP)
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Enter")
    await expect(commune).to_have_value("Béthune")
    await page.get_by_role("button", name="Créer la fiche").click()
    await expect(page.get_by_role("status").first).to_have_text("Fiche créée.", timeout=STEP)
    await expect(page.locator("dl.details")).to_contain_text("Béthune (62400) — INSEE 62119")
    await expect(page.locator("dl.details")).to_contain_text("lun-ven 09:00-12:00; sam 09:00-11:00")
    await assert_accessible(page, "entry created")

    # edit, then deactivate: the history, latest first
    await page.get_by_role("link", name="Modifier la fiche").click()
    await page.get_by_role("textbox", name=re.compile(r"^Nom")).fill("France Services de Béthune-centre (exemple)")
    await page.get_by_role("button", name="Enregistrer la fiche").click()
    await expect(page.get_by_role("status").first).to_have_text("Fiche enregistrée.", timeout=STEP)
    await page.get_by_role("button", name="Désactiver la fiche").click()
    await expect(page.get_by_role("status").first).to_contain_text("Fiche désactivée", timeout=STEP)
    history = page.locator("table.history tbody tr td:nth-child(3)")
    await expect(history).to_have_text(["Désactivation", "Modification", "Création"])
    await expect(page.locator("table.history")).to_contain_text(
        "France Services de Béthune (exemple) → France Services de Béthune-centre (exemple)"
    )
    await assert_accessible(page, "entry history")

    # import: the dry run reports the refused line and writes nothing; then the import
    upload = tmp_path / "ajouts.csv"
    upload.write_text(
        "type;nom;téléphones;commune (code INSEE)\n"
        "ccas;CCAS de Béthune (exemple);03 53 01 00 70;62119\n"
        "nasa;Agence spatiale;;\n",
        encoding="utf-8",
    )
    await page.goto(url + "/annuaire/import")
    await assert_accessible(page, "import form")
    await page.get_by_label("Fichier").set_input_files(str(upload))
    await page.get_by_role("button", name="Vérifier le fichier (essai à blanc)").click()
    report = page.locator("section.report")
    await expect(report).to_contain_text("Essai à blanc de « ajouts.csv » : rien n'a encore été écrit", timeout=STEP)
    await expect(report.locator("table.refused")).to_contain_text("type « nasa » inconnu")
    await assert_accessible(page, "import dry run report")
    conn = await asyncpg.connect(fresh_database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM organisations WHERE name LIKE 'CCAS de Béthune%'") == 0
    finally:
        await conn.close()
    await page.get_by_role("button", name=re.compile(r"^Importer ce fichier \(1 créations")).click()
    await expect(page.locator("section.report h2")).to_have_text("Import de « ajouts.csv » terminé", timeout=STEP)
    await assert_accessible(page, "import done")

    # a supervisor: the directory, not the import
    other = await (await browser.new_context()).new_page()
    await log_in(other, url, "sam", lands_on="/annuaire")
    await expect(other.get_by_role("link", name=re.compile("Importer"))).to_have_count(0)
    body = html.unescape(await other.content())
    assert "CCAS de Béthune (exemple)" in body
    await other.goto(url + "/annuaire/import")
    await expect(other.get_by_role("alert")).to_contain_text("administrateur")
    await assert_accessible(other, "import refused to a supervisor")
