"""The desk as an advisor uses it (issue 11, items 18-26), in chromium against `gps-admin serve` and real calls
through the real Asterisk: closing the session leaves the queue, no preset outcome, every message goes with its
call, the focus never lost, the keyboard alone from « Disponible » to a saved qualification, reflow at 320 CSS px
and 200 % zoom; axe-core at every state reached."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Browser, Page, Route, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import STEP, log_in
from tests.e2e.keyboard import assert_reflows, cut_select_labels, focus_ring, tab_to
from tests.e2e.test_desk_browser import call_ended, row, served
from tests.integration.harness import Driver
from tests.rig.asterisk import AsteriskRig
from tests.serve import Process

__all__ = ["served"]

AVAILABLE = re.compile("^Disponible")


async def available(page: Page) -> None:
    await page.get_by_role("button", name="Disponible").click()
    await expect(page.locator("#state")).to_have_text(AVAILABLE, timeout=STEP)


async def hang_up_advisor(driver: Driver) -> None:
    """The advisor's phone hangs up (the rig's answering advisor holds the line until then)."""
    legs = [c["Channel"] for c in await driver.channels() if re.fullmatch(r"Local/adv1@advisors-\w+;2", c["Channel"])]
    assert legs, await driver.channels()
    for channel in legs:
        await driver.hangup(channel)


async def queue_members(driver: Driver) -> list[str]:
    frames = await driver.list_action({"Action": "QueueStatus", "Queue": "gps"}, "QueueStatusComplete")
    return [f["Location"] for f in frames if f.get("Event") == "QueueMember"]


async def test_closing_the_session_takes_the_advisor_out_of_the_queue_and_is_refused_during_a_call(
    served: Process, browser: Browser, asterisk_rig: AsteriskRig, fresh_database: str
) -> None:
    """Item 18: « Fermer la session » while « Disponible » left the advisor in the queue: a call was offered 5 s later
    and the headset answered it. Now the server logs the advisor out of the queue before the session ends (from
    the page's script or the bare form alike), and refuses while a call is up, saying why."""
    url = served.env["URL"]
    page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await page.goto(url + "/login")
    await assert_accessible(page, "login page")
    await page.get_by_label("Identifiant").fill("agnes")
    await page.get_by_label("Mot de passe").fill("not-her-password")
    await page.get_by_role("button", name=re.compile("connecter", re.I)).click()
    await expect(page.get_by_role("alert")).to_have_text("Identifiant ou mot de passe incorrect.", timeout=STEP)
    await assert_accessible(page, "login refused")
    await log_in(page, url)
    await assert_accessible(page, "desk, logged out of the queue")
    await available(page)
    await assert_accessible(page, "desk, available, no call")
    driver = await Driver.connect(asterisk_rig)
    try:
        # 1. a call is up: the session stays open, the page says why
        await driver.call("0321000501", "Denise Vernay", __ADVISOR_TALK="120")
        await expect(page.locator("#call-status")).to_have_text("En communication", timeout=STEP)
        await assert_accessible(page, "in call")
        await page.get_by_role("button", name="Fermer la session").click()
        await expect(page.locator("#presence-msg")).to_have_text(
            re.compile("^Impossible de fermer la session pendant un appel"), timeout=STEP
        )
        await expect(page).to_have_url(re.compile(r"/desk$"))
        await assert_accessible(page, "session end refused during a call (message on the desk)")
        # the same form without the page's script (a page closed through the form): the same refusal, as a page
        await page.evaluate("document.querySelector('form.session-end').submit()")
        await expect(page.get_by_role("alert")).to_have_text(
            re.compile("^Impossible de fermer la session pendant un appel"), timeout=STEP
        )
        await assert_accessible(page, "session end refused during a call (error page)")
        await page.goto(url + "/desk")  # the session is still there
        await expect(page.locator("#link")).to_have_text("connecté", timeout=STEP)
        await expect(page.locator("#call-status")).to_have_text("En communication", timeout=STEP)

        # 2. the call over (and its wrap-up), « Disponible »: closing the session leaves the queue
        await hang_up_advisor(driver)
        await call_ended(served, "+33321000501")
        await expect(page.locator("#state")).to_have_text(AVAILABLE, timeout=STEP)
        assert "Local/adv1@advisors" in await queue_members(driver)
        await page.get_by_role("button", name="Fermer la session").click()
        await expect(page).to_have_url(re.compile(r"/login$"), timeout=STEP)
        await served.expect(r"session end of agnes: advisor #\d+ logged out of the queue")
        closed = len(served.lines)
        assert "Local/adv1@advisors" not in await queue_members(driver)

        # 3. a caller comes, waits past the fail-safe (3 s on the rig: every member would ring) and hangs up at 6 s:
        # nobody was offered the call, nobody's phone rang
        await driver.call("0321000502", "Lucie Aubrac", CALLER_HANGUP_AFTER="6")
        record = await row(fresh_database, await call_ended(served, "+33321000502"))
        assert (record["status"], record["advisor_interface"]) == ("abandoned", None)
        assert not [line for line in served.lines[closed:] if re.search(r"offer linkedid=\S+ advisor=", line)]

        # 4. the bare form (no script) while available: the same, on the server
        await log_in(page, url)
        await available(page)
        await page.evaluate("document.querySelector('form.session-end').submit()")
        await expect(page).to_have_url(re.compile(r"/login$"), timeout=STEP)
        assert "Local/adv1@advisors" not in await queue_members(driver)
    finally:
        await driver.clear_queue()
        await driver.close()


async def test_every_message_goes_with_its_call_and_no_outcome_is_preset(
    served: Process, browser: Browser, asterisk_rig: AsteriskRig, fresh_database: str
) -> None:
    """Items 20 and 21 through two consecutive real calls: « Issue » starts unchosen and the save is refused until it
    is chosen; the previous call's « Ce service est fermé… » and the confirmation of its save (held until the next
    call has popped) never show under the next call, which is not taken for qualified; after a transfer, a save
    says « qualifié »."""
    url = served.env["URL"]
    page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await log_in(page, url)
    await available(page)
    status, q_msg, transfer_msg = page.locator("#call-status"), page.locator("#q-msg"), page.locator("#transfer-msg")
    outcome = page.get_by_label("Issue")
    driver = await Driver.connect(asterisk_rig)
    try:
        # 1. the first call: a transfer to a closed service is refused with a message
        await driver.call("0321000511", "Germaine Tillion", __ADVISOR_TALK="120")
        await expect(page.locator("#caller-name")).to_have_text("Germaine Tillion", timeout=STEP)
        await assert_accessible(page, "pop")
        await expect(outcome).to_have_value("")  # item 20: no preset outcome
        await expect(outcome.locator("option:checked")).to_have_text("— choisir —")
        await expect(status).to_have_text("En communication", timeout=STEP)
        await page.get_by_label("Transférer vers un service").select_option(
            label="Archives départementales (2002) — fermé"
        )
        await page.get_by_role("button", name="Transfert direct").click()
        await expect(transfer_msg).to_have_text(re.compile("fermé en ce moment"), timeout=STEP)
        await assert_accessible(page, "transfer refused: service closed")
        await hang_up_advisor(driver)
        await expect(status).to_have_text("Appel terminé — à qualifier", timeout=STEP)
        await assert_accessible(page, "to qualify")

        # 2. saved without an outcome: refused on the page, the focus on « Issue »; nothing saved
        first = await call_ended(served, "+33321000511")
        await page.get_by_label("Thème", exact=True).select_option("roads")
        await page.get_by_role("button", name="Enregistrer la qualification").click()
        await expect(q_msg).to_have_text("Choisissez l'issue de l'appel, puis enregistrez.")
        await expect(outcome).to_be_focused()
        await expect(outcome).to_have_attribute("aria-invalid", "true")
        await assert_accessible(page, "qualification refused: no outcome")
        assert (await row(fresh_database, first))["qualified_at"] is None

        # 3. saved; its answer is held until the next call has popped (the race seen: the next call rang before
        # the save's answer came back, and the confirmation showed under it, the new call taken for qualified)
        seen, release, answered = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def held(route: Route) -> None:
            response = await route.fetch()
            seen.set()
            await release.wait()
            await route.fulfill(response=response)
            answered.set()

        await page.route("**/qualification", held)
        await outcome.select_option("advice")
        await expect(outcome).not_to_have_attribute("aria-invalid", "true")
        await page.get_by_role("button", name="Enregistrer la qualification").click()
        await asyncio.wait_for(seen.wait(), STEP / 1000)  # saved on the server: the wrap-up ends (its minimum)
        await driver.call("0321000512", "Marie-Claude Vaillant", __ADVISOR_TALK="120", __SERVICE_TALK="120")
        await expect(page.locator("#caller-name")).to_have_text("Marie-Claude Vaillant", timeout=STEP)
        release.set()
        await asyncio.wait_for(answered.wait(), STEP / 1000)
        await page.unroute("**/qualification")
        await expect(status).to_have_text("En communication", timeout=STEP)
        await expect(q_msg).to_have_text("")  # the first call's confirmation went with it
        await expect(page.get_by_label("Thème", exact=True)).to_have_value("")
        await expect(outcome).to_have_value("")
        assert (await row(fresh_database, first))["outcome"] == "advice"  # the first call got its qualification
        # the first call's refusal does not show in the second call's transfer panel
        await expect(page.locator("#transfer")).to_be_visible()
        await expect(transfer_msg).to_have_text("")
        await expect(page.get_by_role("button", name="Noter un rappel à la place")).to_be_hidden()
        await assert_accessible(page, "second call, in call")

        # 4. the second call transferred: to qualify (not taken for qualified by the first call's answer); saved:
        # « qualifié » (while the service still talks with the caller: pending)
        await page.get_by_label("Transférer vers un service").select_option(label="Service des routes (2001)")
        await page.get_by_role("button", name="Transfert direct").click()
        await expect(status).to_have_text("Appel transféré vers Service des routes — à qualifier", timeout=STEP)
        await expect(outcome).to_have_value("transfer")  # what happened
        await page.get_by_label("Thème", exact=True).select_option("roads")
        await page.get_by_role("button", name="Enregistrer la qualification").click()
        await expect(q_msg).to_have_text("Qualification enregistrée : elle rejoindra la fiche de l'appel dès sa fin.")
        await expect(status).to_have_text("Appel transféré vers Service des routes — qualifié")
        await assert_accessible(page, "transferred and qualified")
        for channel in [c["Channel"] for c in await driver.channels()]:
            if re.fullmatch(r"Local/svc2001@service-phones-\w+;2", channel):
                await driver.hangup(channel)
        second = await row(fresh_database, await call_ended(served, "+33321000512"))
        assert (second["topic"], second["outcome"], second["transfer_target"]) == ("roads", "transfer", "2001")
        await expect(status).to_have_text("Appel transféré vers Service des routes — qualifié", timeout=STEP)
    finally:
        await driver.clear_queue()
        await driver.close()


async def test_the_desk_by_keyboard_alone_with_the_focus_always_shown(
    served: Process, browser: Browser, asterisk_rig: AsteriskRig, fresh_database: str
) -> None:
    """From « Disponible » to a saved qualification with the keyboard only, through an attended transfer (item 24:
    the focus moves on when « Transfert avec présentation » and « Terminer le transfert » hide themselves); every
    element reached shows its focus ring, 3:1 or more against what is behind it (item 25)."""
    url = served.env["URL"]
    page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await log_in(page, url)
    rings = await tab_to(page, "#btn-available")
    assert [r.name for r in rings][:2] == ["a Aller au contenu", "a Aller à la qualification"]
    await page.keyboard.press("Enter")
    await expect(page.locator("#state")).to_have_text(AVAILABLE, timeout=STEP)
    status = page.locator("#call-status")
    driver = await Driver.connect(asterisk_rig)
    try:
        await driver.call("0321000521", "Olympe Audouard", __ADVISOR_TALK="120", __SERVICE_TALK="120")
        await expect(status).to_have_text("En communication", timeout=STEP)
        # the service to transfer to, chosen with the arrow keys, then the attended transfer
        await tab_to(page, "#transfer-service")
        await expect(page.locator("#transfer-service option:checked")).to_have_text(
            "Archives départementales (2002) — fermé"
        )
        await page.keyboard.press("ArrowDown")
        await expect(page.locator("#transfer-service option:checked")).to_have_text("Service des routes (2001)")
        await tab_to(page, "#btn-attended")
        await page.keyboard.press("Enter")
        await expect(status).to_have_text(re.compile("^Consultation avec Service des routes"), timeout=STEP)
        await expect(page.locator("#transfer")).to_be_hidden()
        # the button pressed hid itself: the focus is on the consultation's first button, shown
        await expect(page.get_by_role("button", name="Terminer le transfert")).to_be_focused()
        ring = await focus_ring(page)
        assert ring is not None
        ring.check()
        await assert_accessible(page, "consultation")
        await page.keyboard.press("Enter")
        await expect(status).to_have_text("Appel transféré vers Service des routes — à qualifier", timeout=STEP)
        await expect(page.locator("#consultation")).to_be_hidden()
        await expect(status).to_be_focused()  # the call's status, then on to the qualification
        ring = await focus_ring(page)
        assert ring is not None
        ring.check()
        # the qualification with the keyboard: a theme (arrow keys on the select), the outcome is the transfer
        await tab_to(page, "#q-topic")
        await page.keyboard.press("ArrowDown")
        await expect(page.locator("#q-topic")).to_have_value("taxes")
        await tab_to(page, "#q-outcome")
        await expect(page.locator("#q-outcome")).to_have_value("transfer")
        await tab_to(page, "#q-note")
        await page.keyboard.type("Transmis au service des routes.")
        await tab_to(page, "#q-save")
        await page.keyboard.press("Enter")
        await expect(page.locator("#q-msg")).to_have_text(
            "Qualification enregistrée : elle rejoindra la fiche de l'appel dès sa fin.", timeout=STEP
        )
        await assert_accessible(page, "qualified by keyboard")
        for channel in [c["Channel"] for c in await driver.channels()]:
            if re.fullmatch(r"Local/svc2001@service-phones-\w+;2", channel):
                await driver.hangup(channel)
        record = await row(fresh_database, await call_ended(served, "+33321000521"))
        assert (record["topic"], record["outcome"], record["note"]) == (
            "taxes",
            "transfer",
            "Transmis au service des routes.",
        )
        assert (record["transfer_kind"], record["qualified_by"]) == ("attended", "agnes")
    finally:
        await driver.clear_queue()
        await driver.close()


async def test_the_desk_reflows_at_320_css_px_and_keeps_its_select_labels_whole_at_200_percent(
    served: Process, browser: Browser, asterisk_rig: AsteriskRig
) -> None:
    """Item 25: at 320 CSS px the desk scrolls only vertically and its qualification is on screen when reached; at
    200 % zoom of 1366×768 (683×384 CSS px) no select cuts a label. The page was 611 px wide at 320."""
    url = served.env["URL"]
    context = await browser.new_context(viewport={"width": 320, "height": 640})
    page = await context.new_page()
    await log_in(page, url)
    await assert_reflows(page, 320)
    await assert_accessible(page, "desk at 320 CSS px")
    await available(page)
    driver = await Driver.connect(asterisk_rig)
    try:
        await driver.call("0321000531", "Marie-José Chombart de Lauwe", __ADVISOR_TALK="120")
        await expect(page.locator("#call-status")).to_have_text("En communication", timeout=STEP)
        await expect(page.locator("#history")).to_contain_text("Premier appel de ce numéro.")
        await assert_reflows(page, 320)
        for element in ("#pop", "#transfer", "#q-topic", "#q-note", "#q-save"):
            await page.locator(element).scroll_into_view_if_needed()
            box = await page.locator(element).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320, (element, box)
        await assert_accessible(page, "in call at 320 CSS px")
        # 200 % zoom of a 1366×768 screen: the same page at 683×384 CSS px
        await page.set_viewport_size({"width": 683, "height": 384})
        await assert_reflows(page, 683)
        assert await cut_select_labels(page) == []
        await page.set_viewport_size({"width": 1366, "height": 768})  # the layout of the advisors' screens
        assert await cut_select_labels(page) == []
    finally:
        await driver.clear_queue()
        await driver.close()
