"""The advisor desk in a real browser (Debian's chromium driven by Playwright) against the real service:
`gps-admin serve` on real PostgreSQL and Redis, real calls through the real Asterisk."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from playwright.async_api import Browser, Route, expect

from storage.callbacks import request_in
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

REDIS = redis_url(14)


@pytest.fixture
async def served(asterisk_rig: AsteriskRig, fresh_database: str, tmp_path: Path) -> AsyncIterator[Process]:
    """`gps-admin serve` with an advisor (agnes), a supervisor (sam) and two services."""
    env = await serve_env(asterisk_rig, fresh_database, REDIS, tmp_path / "data")
    await seed_agnes(env)
    await cli(env, "services", "add", "--name", "Service des routes", "--extension", "2001")
    await cli(env, "services", "add", "--name", "Archives départementales", "--extension", "2002", "--hours", "{}")
    async with serving(env) as process:
        yield process


async def row(dsn: str, linkedid: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        record = await conn.fetchrow("SELECT * FROM call_records WHERE linkedid = $1", linkedid)
    finally:
        await conn.close()
    assert record is not None
    return dict(record)


async def call_ended(served: Process, number: str) -> str:
    ended = await served.expect(rf"call ended linkedid=(\S+) status=\w+ caller={re.escape(number)}", within=60)
    linkedid = ended.group(1)
    await served.expect(rf"record written linkedid={re.escape(linkedid)} ", within=60)
    return linkedid


async def test_pop_qualify_transfer_and_replay_in_the_browser(
    served: Process, browser: Browser, asterisk_rig: AsteriskRig, fresh_database: str, tmp_path: Path
) -> None:
    url = served.env["URL"]
    # a previous, qualified call of this number: the pop must show it
    pool = await create_pool(fresh_database)
    earlier = datetime.now(UTC) - timedelta(days=3)
    await CallRecordRepository(pool).upsert(
        make_record(
            "earlier.1",
            caller_number="+33321000301",
            advisor_interface="Local/adv1@advisors",
            arrived_at=earlier,
            ended_at=earlier + timedelta(minutes=4),
        )
    )
    await pool.execute(
        "UPDATE call_records SET topic = 'taxes', outcome = 'advice', note = 'Échéancier expliqué',"
        " commune_insee = '62041', callback_requested = true, callback_slot = 'le matin <i>tôt</i>',"
        " qualified_at = now() WHERE linkedid = 'earlier.1'"
    )
    async with pool.acquire() as conn:  # its callback, as the qualification's save makes it
        await request_in(
            conn,
            "earlier.1",
            requested=True,
            commune_insee="62041",
            topic="taxes",
            subtopic=None,
            slot="le matin <i>tôt</i>",
            by="agnes",
        )
    callback_id = await pool.fetchval("SELECT id FROM callbacks WHERE linkedid = 'earlier.1'")
    await pool.close()

    page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await log_in(page, url)
    await page.get_by_role("button", name="Disponible").click()
    await expect(page.locator("#state")).to_have_text(re.compile("^Disponible"), timeout=STEP)
    await assert_accessible(page, "desk, available")

    driver = await Driver.connect(asterisk_rig)
    try:
        # 1. a real call with an accented name: the pop, with the history of this number
        await driver.call("0321000301", "Hélène Lefèvre", __ADVISOR_TALK="3", __GPS_TOPIC="taxes")
        await expect(page.locator("#caller-name")).to_have_text("Hélène Lefèvre", timeout=STEP)
        await assert_accessible(page, "pop with history and callbacks")
        await expect(page.locator("#pop .number")).to_have_text("03 21 00 03 01")
        await expect(page.locator("#menu-topic")).to_have_text("Choix au menu : Impôts et fiscalité")
        await expect(page.get_by_label("Thème", exact=True)).to_have_value("taxes")  # the qualification starts there
        # the whole desk fits a 1366×768 screen: the call, its transfer buttons and the qualification's button
        for element in ("#pop", "#q-save", "#q-note"):
            box = await page.locator(element).bounding_box()
            assert box is not None and box["y"] + box["height"] <= 768, (element, box)
        await expect(page.locator("#pop")).to_contain_text("Arras (62000)")  # by name and postal code
        await expect(page.locator("#history")).to_contain_text("Impôts et fiscalité")
        await expect(page.locator("#history")).to_contain_text("Échéancier expliqué")
        await expect(page.locator("#callbacks")).to_contain_text(
            "Impôts et fiscalité — créneau souhaité : le matin <i>tôt</i>"
        )
        link = page.locator("#callbacks").get_by_role("link", name=re.compile("^Voir le rappel du "))
        await expect(link).to_have_attribute("href", f"/rappels#rappel-{callback_id}")  # closing it is done there
        await expect(page.locator("#call-status")).to_have_text("Appel terminé — à qualifier", timeout=STEP)
        # the tab's title says it too, for an advisor working in another window
        await expect(page).to_have_title("À qualifier : 03 21 00 03 01 — Poste conseiller — GPS administration")
        await assert_accessible(page, "to qualify")
        linkedid = await call_ended(served, "+33321000301")

        # 2. the advisor qualifies by keyboard and pointer; the record holds it; the advisor is available again
        await page.get_by_label("Thème", exact=True).select_option("taxes")
        await page.get_by_label("Issue").select_option("advice")
        await page.get_by_label("Commune de résidence").fill("arras")
        await assert_accessible(page, "commune suggestions open")
        await page.locator("#q-communes li", has_text="Arras (62000)").click()
        await page.get_by_label(re.compile("^Note")).fill("Rappel de l'échéance <b>important</b>")
        await page.get_by_role("button", name="Enregistrer la qualification").click()
        await expect(page.locator("#q-msg")).to_have_text("Qualification enregistrée.", timeout=STEP)
        await expect(page).to_have_title("Poste conseiller — GPS administration")
        await expect(page.locator("#call-status")).to_have_text("Appel terminé — qualifié")
        await assert_accessible(page, "qualified")
        saved = await row(fresh_database, linkedid)
        assert (saved["topic"], saved["outcome"], saved["commune_insee"]) == ("taxes", "advice", "62041")
        assert saved["note"] == "Rappel de l'échéance <b>important</b>"
        await expect(page.locator("#state")).to_have_text(re.compile("^Disponible"), timeout=STEP)

        # 3. a blind transfer from the page to the département's road service
        await driver.call("0321000302", "Jean-Noël Dupré", __ADVISOR_TALK="60", __SERVICE_TALK="1")
        await expect(page.locator("#call-status")).to_have_text("En communication", timeout=STEP)
        # the page is opened again during the call (its messages all acknowledged): the call is shown as it stands
        await page.reload()
        await expect(page.locator("#link")).to_have_text("connecté", timeout=STEP)
        await expect(page.locator("#caller-name")).to_have_text("Jean-Noël Dupré")
        await expect(page.locator("#call-status")).to_have_text("En communication")
        await expect(page.get_by_role("button", name="Transfert direct")).to_be_visible()
        # a closed service is refused with a message (the advisor can record a callback instead)
        await page.get_by_label("Transférer vers un service").select_option(
            label="Archives départementales (2002) — fermé"
        )
        await page.get_by_role("button", name="Transfert direct").click()
        await expect(page.locator("#transfer-msg")).to_have_text(re.compile("fermé en ce moment"), timeout=STEP)
        await assert_accessible(page, "transfer refused: service closed")
        await page.get_by_role("button", name="Noter un rappel à la place").click()  # one click: the callback
        await expect(page.get_by_label("Issue")).to_have_value("callback_needed")
        await expect(page.get_by_label("Rappel demandé")).to_be_checked()
        await expect(page.get_by_label("Créneau de rappel souhaité")).to_be_focused()
        await expect(page.get_by_role("button", name="Noter un rappel à la place")).to_be_hidden()
        await page.get_by_label("Transférer vers un service").select_option(label="Service des routes (2001)")
        await page.get_by_role("button", name="Transfert direct").click()
        await expect(page.locator("#transfer-msg")).to_have_text("Transfert demandé.", timeout=STEP)
        transferred = await row(fresh_database, await call_ended(served, "+33321000302"))
        assert (transferred["transfer_kind"], transferred["transfer_target"]) == ("blind", "2001")

        # 4. the websocket is cut; a call rings meanwhile; once it is back, the pop is replayed
        await expect(page.locator("#state")).to_have_text(re.compile("^Disponible"), timeout=STEP)  # wrap-up over
        await page.evaluate("window.__reconnect = connect; connect = () => {}; socket.close();")
        await expect(page.locator("#link")).to_have_text("reconnexion…", timeout=STEP)
        await driver.call("0321000303", "Zoé <script>alert(1)</script>", __ADVISOR_TALK="1")
        await call_ended(served, "+33321000303")
        await assert_accessible(page, "websocket cut")
        await page.evaluate("window.__reconnect()")
        await expect(page.locator("#caller-name")).to_have_text("Zoé <script>alert(1)</script>", timeout=STEP)
        assert await page.locator("#pop script").count() == 0  # shown as text, never as markup
        await assert_accessible(page, "pop replayed after the websocket came back")
    finally:
        await driver.clear_queue()
        await driver.close()
    # no session, no websocket
    async with aiohttp.ClientSession() as anonymous:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await anonymous.ws_connect(url + "/ws")
    assert refused.value.status == 401
    shot = tmp_path / "desk.png"
    await page.screenshot(path=str(shot), full_page=True)


async def test_attended_transfer_from_the_page(
    served: Process, browser: Browser, asterisk_rig: AsteriskRig, fresh_database: str
) -> None:
    """The advisor consults the road service with the caller on hold, cancels (back to the caller), consults
    again and completes: the caller ends up bridged with the service and the record says attended, 2001."""
    url = served.env["URL"]
    page = await (await browser.new_context()).new_page()
    await log_in(page, url)
    await page.get_by_role("button", name="Disponible").click()
    await expect(page.locator("#state")).to_have_text(re.compile("^Disponible"), timeout=STEP)
    status, consultation = page.locator("#call-status"), page.locator("#consultation")

    driver = await Driver.connect(asterisk_rig)
    try:
        # the advisor's phone and the service's phone keep the line: only the page ends the consultation
        await driver.call("0321000304", "Mathilde Caron", __ADVISOR_TALK="120", __SERVICE_TALK="120")
        await expect(status).to_have_text("En communication", timeout=STEP)
        await assert_accessible(page, "in call")
        # nothing to complete or cancel before a consultation
        refused = await page.evaluate(
            "fetch('/api/calls/' + currentCall + '/transfer/complete', {method: 'POST',"
            " headers: {'X-CSRF-Token': csrf}}).then(async r => [r.status, (await r.json()).error])"
        )
        assert refused == [409, "no-consultation"]

        # 1. consultation, then cancelled: back with the caller
        await page.get_by_label("Transférer vers un service").select_option(label="Service des routes (2001)")
        await page.get_by_role("button", name="Transfert avec présentation").click()
        await expect(status).to_have_text(
            "Consultation avec Service des routes — l'usager est en attente", timeout=STEP
        )
        await expect(consultation).to_be_visible()
        await expect(page.locator("#transfer")).to_be_hidden()
        await assert_accessible(page, "consultation")
        await page.get_by_role("button", name="Annuler le transfert (reprendre l'usager)").click()
        await expect(status).to_have_text("En communication — retour avec l'usager", timeout=STEP)
        await expect(consultation).to_be_hidden()
        await expect(page.get_by_label("Transférer vers un service")).to_be_focused()  # the cancel button hid
        await assert_accessible(page, "back with the caller after a consultation")
        assert not any(c["Channel"].startswith("Local/2001@services-") for c in await driver.channels())

        # 2. consultation again, then completed: the caller is handed to the service
        await page.get_by_role("button", name="Transfert avec présentation").click()
        await expect(consultation).to_be_visible(timeout=STEP)
        await page.get_by_role("button", name="Terminer le transfert").click()
        await expect(status).to_have_text("Appel transféré vers Service des routes — à qualifier", timeout=STEP)
        await expect(consultation).to_be_hidden()
        await expect(status).to_be_focused()  # « Terminer le transfert » hid: the focus is on the call's status
        await expect(page.get_by_label("Issue")).to_have_value("transfer")
        await assert_accessible(page, "transferred, to qualify")
        channels = await driver.channels()
        bridge_of = {c["Channel"]: c.get("BridgeId", "") for c in channels}
        caller = [b for ch, b in bridge_of.items() if re.fullmatch(r"Local/0800123456@public-\w+;2", ch)]
        service = [b for ch, b in bridge_of.items() if re.fullmatch(r"Local/2001@services-\w+;1", ch)]
        assert len(caller) == 1 and caller == service and caller[0]  # one bridge: the caller and the service

        # 3. the qualification, filled in with the transfer, is saved while the service still talks with the
        # caller (the call's record is written only when the call ends): it waits for the record, and the
        # advisor's wrap-up ends at once
        await page.get_by_label("Thème", exact=True).select_option("roads")
        await page.get_by_role("button", name="Enregistrer la qualification").click()
        await expect(page.locator("#q-msg")).to_have_text(
            "Qualification enregistrée : elle rejoindra la fiche de l'appel dès sa fin.", timeout=STEP
        )
        await expect(status).to_have_text("Appel transféré vers Service des routes — qualifié")
        await expect(page.locator("#state")).to_have_text(re.compile("^Disponible"), timeout=STEP)
        await expect(page).to_have_title("Poste conseiller — GPS administration")
        await assert_accessible(page, "transferred and qualified")
        # the service ends the conversation: the record is written, with the qualification
        for channel in bridge_of:
            if re.fullmatch(r"Local/svc2001@service-phones-\w+;2", channel):
                await driver.hangup(channel)
        linkedid = await call_ended(served, "+33321000304")
        record = await row(fresh_database, linkedid)
        assert (record["transfer_kind"], record["transfer_target"]) == ("attended", "2001")
        assert (record["status"], record["hangup_by"]) == ("answered", "transfer_target")
        assert record["advisor_interface"] == "Local/adv1@advisors"
        assert (record["topic"], record["outcome"], record["transfer_service"]) == (
            "roads",
            "transfer",
            "Service des routes",
        )
        assert record["qualified_by"] == "agnes"
        await expect(status).to_have_text("Appel transféré vers Service des routes — qualifié", timeout=STEP)
    finally:
        await driver.clear_queue()
        await driver.close()


async def test_desk_buttons_wait_for_the_page_and_its_state_is_asked_one_request_at_a_time(
    served: Process, browser: Browser
) -> None:
    """Before the page has wired its buttons they are disabled (a click used to do nothing). The page asks its
    state (`/api/desk`) again after every desk message: one request at a time, so an older answer can never
    overwrite a newer one, and a burst of messages costs two requests, not one each."""
    url = served.env["URL"]
    page = await (await browser.new_context()).new_page()
    release = asyncio.Event()

    async def held_me(route: Route) -> None:  # the page's first request at start
        await release.wait()
        await route.continue_()

    await page.route("**/api/me", held_me)
    await log_in(page, url, started=False)
    for name in ("Disponible", "Pause", "Enregistrer la qualification"):
        await expect(page.get_by_role("button", name=name)).to_be_disabled()
    await assert_accessible(page, "desk starting (buttons not wired yet)")
    release.set()
    await expect(page.locator("#link")).to_have_text("connecté", timeout=STEP)
    for name in ("Disponible", "Pause", "Enregistrer la qualification"):
        await expect(page.get_by_role("button", name=name)).to_be_enabled()
    await assert_accessible(page, "desk started")

    asked = in_flight = most = 0

    async def desk(route: Route) -> None:
        nonlocal asked, in_flight, most
        asked += 1
        in_flight += 1
        most = max(most, in_flight)
        response = await route.fetch()
        in_flight -= 1  # before the answer reaches the page: only then may it ask again
        await route.fulfill(response=response)

    await page.route("**/api/desk", desk)
    await page.evaluate("Promise.all(Array.from({length: 20}, () => refreshState()))")  # a burst of 20 messages
    assert (asked, most) == (2, 1)
    await expect(page.locator("#state")).to_have_text("Déconnecté", timeout=STEP)


async def test_a_supervisor_has_no_desk_and_every_account_can_end_its_session(
    served: Process, browser: Browser
) -> None:
    url = served.env["URL"]
    page = await (await browser.new_context()).new_page()
    await page.goto(url + "/login")
    await assert_accessible(page, "login page")
    await log_in(page, url, "sam", started=False)
    await expect(page.get_by_role("heading", name="Pas de poste conseiller pour ce compte")).to_be_visible()
    assert await page.locator("script").count() == 0  # no desk to start: no websocket refused in a loop
    await assert_accessible(page, "no desk for a supervisor")
    await page.get_by_role("button", name="Fermer la session").click()
    await expect(page).to_have_url(re.compile(r"/login$"), timeout=STEP)
    await log_in(page, url)  # the advisor: the desk, and the same button
    await assert_accessible(page, "desk, no call")
    await page.get_by_role("button", name="Fermer la session").click()
    await expect(page).to_have_url(re.compile(r"/login$"), timeout=STEP)
    await page.goto(url + "/desk")  # the session is gone
    await expect(page).to_have_url(re.compile(r"/login\?next=/desk$"), timeout=STEP)
