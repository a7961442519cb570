"""The statistics report's light page, its full breakdowns, its questions without an answer and the drill-down's
cursor pages in a real browser (Debian's chromium driven by Playwright) over the real slice and a real PostgreSQL (an
aiohttp test server with the shared web layer, a test middleware sets the supervisor; fixtures as in
test_statistics_browser.py): 20 communes, the 15 most offered shown and a link to all of them; the questions' table
with a question's markup shown as text; « Appels suivants » then « Appels précédents » by keyboard; axe-core at every
state (0 serious or critical)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from screenpop.statistics import http as statistics_http
from tests.e2e.axe import assert_accessible
from tests.e2e.test_statistics_browser import statistics_server
from tests.fixtures_db import fresh_database, migrated_pool
from tests.integration.test_statistics_api import DAY, _many_communes, store_records

__all__ = ["fresh_database", "migrated_pool"]

STEP = 30_000  # ms, Playwright's unit: an upper bound for one step, never a pause
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
COMMUNES = statistics_http.TOP_ROWS + 5


@pytest.fixture
async def server(migrated_pool: asyncpg.Pool) -> AsyncIterator[TestServer]:
    await store_records(migrated_pool)
    await _many_communes(migrated_pool, COMMUNES)  # 210 calls on 12 March
    await migrated_pool.execute("TRUNCATE knowledge_unanswered")
    await migrated_pool.execute(
        "INSERT INTO knowledge_unanswered (linkedid, question, topic, asked_by, asked_at) "
        "VALUES ('1773000000.1', 'Aide <b>quotient</b> familial ?', 'taxes', 'agnes', $1)",
        DAY,
    )

    async with statistics_server(migrated_pool) as s:
        yield s


async def test_a_light_report_its_full_breakdown_and_its_questions(browser: Browser, server: TestServer) -> None:
    page = await browser.new_page()
    page.set_default_timeout(STEP)
    await page.goto(str(server.make_url("/statistiques/rapport?start=2026-03-10&end=2026-03-12")))
    await expect(page.get_by_role("heading", name="Statistiques du 10/03/2026 au 12/03/2026")).to_be_visible()
    communes = page.get_by_role("table", name=f"les {statistics_http.TOP_ROWS} plus demandés (appels reçus) sur")
    await expect(communes.locator("tbody tr")).to_have_count(statistics_http.TOP_ROWS)
    questions = page.get_by_role("table", name="Questions sans réponse par thème et par semaine")
    row = questions.get_by_role("row", name="Impôts et fiscalité")
    await expect(row).to_contain_text("Aide <b>quotient</b> familial ?")  # shown as text, not markup
    await expect(
        row.get_by_role("link", name="Questions sans réponse, Impôts et fiscalité : 1, voir les appels")
    ).to_be_visible()
    await assert_accessible(page, "the light report")

    link = page.get_by_role("link", name=f"Voir les {COMMUNES + 3} groupes « commune »")
    await link.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name=f"Par commune : {COMMUNES + 3} groupes")).to_be_visible()
    full = page.get_by_role("table", name="Commune — du 10/03/2026 au 12/03/2026")
    await expect(full.locator("tbody tr")).to_have_count(COMMUNES + 3)  # and the 10th's two, and « Non renseigné »
    await assert_accessible(page, "a full breakdown")


async def test_the_calls_page_after_page_by_keyboard(browser: Browser, server: TestServer) -> None:
    page = await browser.new_page()
    page.set_default_timeout(STEP)
    await page.goto(str(server.make_url("/statistiques/appels?start=2026-03-12&end=2026-03-12&figure=calls")))
    await expect(page.get_by_role("status")).to_have_text("210 appels — page 1 sur 5.")
    calls = page.get_by_role("table", name="Appels : Appels reçus, par heure d'arrivée")
    await expect(calls.locator("tbody tr")).to_have_count(50)
    await expect(calls.locator("tbody tr").first).to_contain_text("12/03/2026 09:00:00")
    await assert_accessible(page, "the first page of calls")
    following = page.get_by_role("link", name="Appels suivants")
    await following.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_contain_text("210 appels — à partir du 12/03/2026")
    await expect(calls.locator("tbody tr")).to_have_count(50)
    await assert_accessible(page, "a page reached by « Appels suivants »")
    await page.get_by_role("link", name="Appels précédents").click()
    await expect(calls.locator("tbody tr").first).to_contain_text("12/03/2026 09:00:00")
    await expect(page.get_by_role("link", name="Appels précédents")).to_have_count(0)
