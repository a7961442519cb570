"""The callbacks page in a real browser (Debian's chromium driven by Playwright) against the real service (`gps-admin
serve` on real PostgreSQL and Redis, the real Asterisk 22): a call qualified with « rappel demandé » (by the
qualification service, over the same database) shows on `/rappels` for the advisor; she records an attempt with
the keyboard only (« messagerie », a note), then « Rappel effectué »; the supervisor's wallboard counts the open
callback and drops it without a reload once it is done. axe-core 0 serious or critical at every state."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from config.settings import DeskSettings
from screenpop.calls.models import Qualification
from screenpop.calls.service import QualificationService
from storage.calls import CallRecordRepository
from storage.pool import create_pool
from storage.users import Role, User
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import STEP, log_in, seed_agnes, serve_env, serving
from tests.e2e.keyboard import tab_to
from tests.fixtures_db import make_record
from tests.rig.asterisk import AsteriskRig
from tests.serve import Process
from tests.servers import redis_url

pytestmark = pytest.mark.asterisk

REDIS = redis_url(4)
SAM = User(id=2, login="sam", name="Sam Carpentier", role=Role.SUPERVISOR)


@pytest.fixture
async def served(asterisk_rig: AsteriskRig, fresh_database: str, tmp_path: Path) -> AsyncIterator[Process]:
    """`gps-admin serve` with an advisor (agnes) and a supervisor (sam)."""
    env = await serve_env(asterisk_rig, fresh_database, REDIS, tmp_path / "data")
    await seed_agnes(env)
    async with serving(env) as process:
        yield process


async def a_call_with_a_callback(dsn: str) -> None:
    """A past call of 03 21 00 98 76, qualified by the supervisor with « rappel demandé » (the desk's own service)."""
    pool = await create_pool(dsn)
    try:
        await CallRecordRepository(pool).upsert(
            make_record("e2e.1", caller_number="+33321009876", advisor_interface="Local/adv1@advisors")
        )
        q = Qualification.model_validate(
            {"topic": "taxes", "outcome": "callback_needed", "callback_requested": True, "commune_insee": "62041"}
        )
        await QualificationService(pool, DeskSettings()).save("e2e.1", q, SAM, None)
    finally:
        await pool.close()


async def test_an_advisor_records_an_attempt_by_keyboard_then_the_callback_done(
    served: Process, browser: Browser, fresh_database: str
) -> None:
    url = served.env["URL"]
    await a_call_with_a_callback(fresh_database)

    wallboard = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await log_in(wallboard, url, "sam", lands_on="/supervision")
    await expect(wallboard.locator("#wb-live")).to_have_text("Mis à jour en direct.", timeout=STEP)
    pending = wallboard.locator("#wb-figures tr[data-name='callbacks_open']")
    await expect(pending.locator("td").nth(0)).to_have_text("1 (dont 0 en retard)")
    await expect(pending.locator("td").nth(2)).to_have_text("aucun en retard")

    page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await log_in(page, url)
    await page.get_by_role("link", name="Rappels", exact=True).click()
    await expect(page).to_have_url(re.compile(r"/rappels$"), timeout=STEP)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Rappels en attente")
    item = page.locator("li.callback")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("03 21 00 98 76")
    await expect(item).to_contain_text("Arras")
    await expect(item).to_contain_text("Sam Carpentier")
    await assert_accessible(page, "callbacks, one open")

    # the keyboard only: to the first result, arrows to « Messagerie », a note, Enter on the form's button
    cb_id = (await item.get_attribute("id") or "").removeprefix("rappel-")
    await tab_to(page, f"#cb-{cb_id}-result-joint")
    await page.keyboard.press("ArrowDown")  # « Sans réponse » (arrows choose within a radio group)
    await page.keyboard.press("ArrowDown")  # « Messagerie »
    await expect(page.locator(f"#cb-{cb_id}-result-messagerie")).to_be_checked()
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Note (facultative)")).to_be_focused()
    await page.keyboard.type("Message laissé à 10 h")
    await page.keyboard.press("Tab")
    await expect(page.locator(f"#cb-{cb_id}-attempt")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/rappels\?fait=tentative$"), timeout=STEP)
    await expect(page.get_by_role("status")).to_have_text("Tentative enregistrée : le rappel reste en attente.")
    await expect(page.locator("li.callback")).to_contain_text("1 (dernière : messagerie)")
    await assert_accessible(page, "callbacks, after an attempt")

    await tab_to(page, f"#cb-{cb_id}-done")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/rappels\?fait=effectue$"), timeout=STEP)
    await expect(page.get_by_text("Aucun rappel en attente.")).to_be_visible()
    await assert_accessible(page, "callbacks, none open")

    # the wallboard, without a reload: the callback closed on this instance refreshes it
    await expect(pending.locator("td").nth(0)).to_have_text("0", timeout=STEP)
    await assert_accessible(wallboard, "wallboard with the open callbacks")
