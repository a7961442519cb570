"""The wallboard in a real browser (Debian's chromium driven by Playwright) against the real service (`gps-admin
serve` on real PostgreSQL and Redis, real calls through the real Asterisk 22): the supervisor lands on it after
login; a real call appears waiting within the live update, is answered when the advisor logs in, and today's
figures move as the KPI dictionary says (offered, answered, taux de décroché against its target, in colour and in
words); the live region tells the important changes only. axe-core at every state."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import STEP, log_in, seed_agnes, serve_env, serving
from tests.integration.harness import WITHIN, Driver
from tests.rig.asterisk import AmiConnection, AsteriskRig
from tests.serve import Process, cli
from tests.servers import redis_url

pytestmark = pytest.mark.asterisk

REDIS = redis_url(13)
ALWAYS = json.dumps(
    {d: [{"start": "00:00:00", "end": "24:00"}] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
)


@pytest.fixture
async def served(asterisk_rig: AsteriskRig, fresh_database: str, tmp_path: Path) -> AsyncIterator[Process]:
    """`gps-admin serve`, the line open at every hour (the test runs on any day), an advisor (agnes) and a
    supervisor (sam)."""
    env = await serve_env(
        asterisk_rig,
        fresh_database,
        REDIS,
        tmp_path / "data",
        GPS_ADMIN_HOURS__WEEK=ALWAYS,
        GPS_ADMIN_HOURS__HOLIDAYS_COUNTRY="FR",
        GPS_ADMIN_STATISTICS__SERVICE_LEVEL_SECONDS="3",  # a waiting caller passes the threshold within the test
    )
    await seed_agnes(env)
    async with serving(env) as process:
        yield process


async def log_in_as_supervisor(page: Page, url: str) -> None:
    """From the login page, no page asked: the supervisor lands on the wallboard, kept live (websocket open)."""
    await log_in(page, url, "sam", lands_on="/supervision", ask="/login")


# every text the live region takes, kept by the test (the region says one thing at a time)
RECORD_ANNOUNCEMENTS = """() => {
  window.said = [];
  const region = document.getElementById("wb-announce");
  new MutationObserver(() => window.said.push(region.textContent)).observe(
    region, { childList: true, characterData: true, subtree: true });
}"""


async def announced(page: Page, pattern: str) -> None:
    """Wait until the live region has said something matching `pattern` (a JavaScript regular expression)."""
    await page.wait_for_function("p => window.said.some((t) => new RegExp(p).test(t))", arg=pattern, timeout=STEP)


def figure(page: Page, label: str) -> tuple[Locator, Locator, Locator]:
    """The value, the « par rapport à l'objectif » cell and the row of a figure, by its label."""
    row = page.locator("#wb-figures tbody tr", has=page.get_by_role("rowheader", name=label, exact=True))
    return row.locator("td").nth(0), row.locator("td").nth(2), row


async def test_a_real_call_waits_then_is_answered_and_today_s_figures_move(
    served: Process, browser: Browser, asterisk_rig: AsteriskRig
) -> None:
    url = served.env["URL"]
    page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await log_in_as_supervisor(page, url)
    waiting = page.locator("#wb-waiting tbody")
    await expect(waiting).to_have_text("Aucun appel en attente.")
    advisors = page.locator("#wb-advisors tbody tr", has_text="Agnès Roussel")
    await expect(advisors.locator("td").nth(0)).to_have_text("Déconnecté")
    offered, _, _ = figure(page, "Appels présentés")
    await expect(offered).to_have_text("0")
    rate, rate_status, rate_row = figure(page, "Taux de décroché")
    await expect(rate).to_have_text("—")  # no call yet: never 0 % nor 100 %
    link = page.get_by_role("link", name="Taux de décroché", exact=True)
    assert await link.get_attribute("href") == "/statistiques/definitions#def-answer-rate"
    await assert_accessible(page, "wallboard, no call")
    await page.evaluate(RECORD_ANNOUNCEMENTS)

    driver = await Driver.connect(asterisk_rig)
    try:
        # nobody is logged in: the caller waits, and the wallboard shows it without a reload
        await driver.call("0321009876", "DUPONT", __ADVISOR_TALK="2")
        await expect(waiting.locator("tr")).to_have_count(1, timeout=STEP)
        await expect(waiting).to_contain_text("03 21 00 98 76")
        await expect(page.locator("#wb-waiting-count")).to_have_text("1")
        await announced(page, r"^1 appel\(s\) en attente\.$")
        # it waits beyond the threshold (3 s here): flagged in words and announced once, between two snapshots
        await expect(waiting.locator("tr")).to_have_class(re.compile("kpi-below"), timeout=STEP)
        await expect(waiting).to_contain_text("(au-delà du seuil)")
        await announced(page, r"^1 appel\(s\) attendent depuis plus de 3 s\.$")
        await assert_accessible(page, "wallboard, a call waiting")

        # the advisor logs in: the call is offered to her, answered, then ends after 2 s of talk
        await cli(served.env, "advisors", "presence", "agnes", "login")
        await expect(advisors.locator("td").nth(0)).to_have_text(
            re.compile("Appel entrant|En communication|Fin d'appel|Disponible"), timeout=STEP
        )
        await expect(waiting).to_have_text("Aucun appel en attente.", timeout=STEP)
        await announced(page, "Plus aucun appel en attente")
        said = await page.evaluate("() => window.said")
        assert len(said) <= 6, said  # the important changes only, never the clocks
        # the record written: today's figures from PostgreSQL, by the KPI dictionary
        await expect(offered).to_have_text("1", timeout=STEP)
        answered, _, _ = figure(page, "Appels décrochés")
        await expect(answered).to_have_text("1")
        await expect(rate).to_have_text("100\u00a0%")
        await expect(rate_status).to_have_text("objectif atteint")  # the colour said in words
        await expect(rate_row).to_have_class("kpi-ok")
        await assert_accessible(page, "wallboard, after an answered call")
    finally:
        await driver.close()

    # the same figures after a reload (from PostgreSQL, not from the page's memory nor the service's)
    await page.reload()
    await expect(figure(page, "Appels présentés")[0]).to_have_text("1")

    # the advisor's desk is open when the supervisor pauses her from the wallboard, with a reason
    desk = await (await browser.new_context()).new_page()
    await log_in(desk, url, "agnes")
    await expect(advisors.locator("td").nth(0)).to_have_text("Disponible", timeout=STEP)  # her wrap-up is over
    agnes_id = await page.locator("#wb-advisor option", has_text="Agnès Roussel").get_attribute("value")
    assert agnes_id is not None
    await page.get_by_label("Conseiller", exact=True).select_option(agnes_id)
    await page.get_by_label("Mettre en pause").check()
    await page.get_by_label("Motif de l'action (obligatoire)").fill("Réunion d'équipe")
    await page.get_by_role("button", name="Appliquer").click()  # no pause reason chosen: refused, form kept
    await expect(page.locator(".error-summary")).to_contain_text("Choisissez le motif de la pause", timeout=STEP)
    await expect(page.get_by_label("Motif de l'action (obligatoire)")).to_have_value("Réunion d'équipe")
    await assert_accessible(page, "wallboard, an action refused")
    await page.get_by_label("Motif de la pause (pour une pause)").select_option(label="Repas")
    await page.get_by_role("button", name="Appliquer").click()
    await expect(page).to_have_url(re.compile(r"/supervision\?fait=pause$"), timeout=STEP)
    await expect(page.get_by_text("Le conseiller a été mis en pause.")).to_be_visible()
    agnes_row = page.locator("#wb-advisors tbody tr", has_text="Agnès Roussel")
    await expect(agnes_row.locator("td").nth(0)).to_have_text("En pause", timeout=STEP)
    await expect(agnes_row.locator("td").nth(2)).to_have_text("Repas (par sam : Réunion d'équipe)")
    # her desk says who paused her, and why
    await expect(desk.locator("#state")).to_have_text(re.compile("^En pause"), timeout=STEP)
    await expect(desk.locator("#presence-by")).to_have_text("Par le superviseur sam : Réunion d'équipe")
    await assert_accessible(desk, "desk, paused by a supervisor")


async def test_a_call_on_hold_is_said_in_words_on_the_wallboard(
    served: Process, browser: Browser, asterisk_rig: AsteriskRig
) -> None:
    """agnes answers a real call, then starts an attended transfer (Asterisk holds the caller): her row says « En
    communication — appel en attente depuis m:ss » in words, the calls in progress count it, the live region tells
    it; she cancels (Unhold): back to « En communication »."""
    url = served.env["URL"]
    page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await log_in_as_supervisor(page, url)
    await page.evaluate(RECORD_ANNOUNCEMENTS)
    state = page.locator("#wb-advisors tbody tr", has_text="Agnès Roussel").locator("td").nth(0)
    watcher = await AmiConnection.login(asterisk_rig)
    driver = await Driver.connect(asterisk_rig)
    try:
        await cli(served.env, "advisors", "presence", "agnes", "login")
        await expect(state).to_have_text("Disponible", timeout=STEP)
        await driver.call("0321009877", "MARTIN", __ADVISOR_TALK="60", __SERVICE_TALK="60")
        connect = await watcher.wait_for({"Event": "AgentConnect", "Interface": "Local/adv1@advisors"}, WITHIN)
        channel = connect["DestChannel"]
        await watcher.wait_for({"Event": "BridgeEnter", "Channel": channel}, WITHIN)  # in the caller's bridge
        await expect(state).to_have_text("En communication", timeout=STEP)
        await driver.act([("Action", "Atxfer"), ("Channel", channel), ("Exten", "2001"), ("Context", "services")])
        await expect(state).to_have_text(
            re.compile(r"^En communication — appel en attente depuis \d+:\d\d$"), timeout=STEP
        )
        await expect(page.locator("#wb-on-hold")).to_have_text(", dont 1 en attente")
        await announced(page, "Agnès Roussel : appel en attente\\.")
        await assert_accessible(page, "wallboard, a call on hold")
        await driver.act({"Action": "CancelAtxfer", "Channel": channel})
        await expect(state).to_have_text("En communication", timeout=STEP)
        await expect(page.locator("#wb-on-hold")).to_have_text("")
        await announced(page, "Agnès Roussel : appel repris\\.")
    finally:
        await watcher.close()
        await driver.close()
