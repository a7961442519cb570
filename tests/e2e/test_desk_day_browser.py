"""« Ma journée » and the call timer on the desk (issue 12 item 6), in chromium against `gps-admin serve` and a real
call through the real Asterisk: the day's block is there from the start, the timer counts the call (a timer a
screen reader does not read every second), the day counts the call once it is qualified; axe-core at each state."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import STEP, log_in
from tests.e2e.test_desk_browser import call_ended, served
from tests.integration.harness import Driver
from tests.rig.asterisk import AsteriskRig
from tests.serve import Process

__all__ = ["served"]

DURATION = re.compile(r"^(\d+ s|\d+ min \d{2} s|\d+ h \d{2} min)$")


async def test_my_day_and_the_call_timer(served: Process, browser: Browser, asterisk_rig: AsteriskRig) -> None:
    url = served.env["URL"]
    page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await log_in(page, url)
    day = page.get_by_role("region", name="Ma journée")
    await expect(day).to_be_visible()
    await expect(page.locator("#day-calls")).to_have_text("0", timeout=STEP)
    await expect(page.locator("#day-aht")).to_have_text("—")  # no call: « — », never 0
    await expect(page.locator("#day-pause")).to_have_text(DURATION)
    await expect(page.locator("#call-duration")).to_be_hidden()
    await assert_accessible(page, "desk with « Ma journée », no call")

    await page.get_by_role("button", name="Disponible").click()
    await expect(page.locator("#state")).to_have_text(re.compile("^Disponible"), timeout=STEP)
    await page.get_by_role("button", name="Pause").click()  # a pause, then back: the presence log has it
    await expect(page.locator("#state")).to_have_text(re.compile("^En pause"), timeout=STEP)
    await page.get_by_role("button", name="Disponible").click()
    await expect(page.locator("#state")).to_have_text(re.compile("^Disponible"), timeout=STEP)

    driver = await Driver.connect(asterisk_rig)
    try:
        await driver.call("0321000401", "Inès Fournier", __ADVISOR_TALK="3")
        await expect(page.locator("#call-status")).to_have_text("En communication", timeout=STEP)
        timer = page.get_by_role("timer", name="Durée de l'appel")
        await expect(timer).to_be_visible()
        await expect(timer).to_have_attribute("aria-live", "off")  # not read out every second
        await expect(timer).to_have_text(DURATION)
        await assert_accessible(page, "in call, the timer running")
        await expect(page.locator("#call-status")).to_have_text("Appel terminé — à qualifier", timeout=STEP)
        await call_ended(served, "+33321000401")
        stopped = await timer.text_content()
        await expect(timer).to_have_text(stopped or "")  # stopped at the call's end, still shown
        assert stopped and DURATION.match(stopped)

        await page.get_by_label("Thème", exact=True).select_option("taxes")
        await page.get_by_label("Issue").select_option("advice")
        await page.get_by_role("button", name="Enregistrer la qualification").click()
        await expect(page.locator("#q-msg")).to_have_text("Qualification enregistrée.", timeout=STEP)
        await expect(page.locator("#day-calls")).to_have_text("1", timeout=STEP)
        await expect(page.locator("#day-aht")).to_have_text(DURATION)
        await expect(page.locator("#day-hold")).to_have_text("0 s")
        await assert_accessible(page, "« Ma journée » after a call")
    finally:
        await driver.clear_queue()
        await driver.close()
