"""The statistics in a real browser (Debian's chromium driven by Playwright) over the real slice and a real
PostgreSQL (an aiohttp test server with the shared web layer: its CSP, headers and error pages; a test middleware
sets the supervisor): the form, the report with its tables and SVG charts and the supervisors' actions, a drill-down
to the abandoned calls and the definitions, by keyboard where it matters; axe-core at every state (0 serious or
critical)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from config.settings import Settings
from screenpop.statistics import http as statistics_http
from screenpop.statistics.service import StatisticsService
from screenpop.web import http as web_http
from screenpop.web.keys import USER
from tests.e2e.axe import assert_accessible
from tests.fixtures_db import fresh_database, migrated_pool
from tests.integration.test_statistics_api import SAM, store_records, store_supervisor_actions

__all__ = ["fresh_database", "migrated_pool"]

STEP = 30_000  # ms, Playwright's unit: an upper bound for one step, never a pause
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def server(migrated_pool: asyncpg.Pool) -> AsyncIterator[TestServer]:
    await store_records(migrated_pool)
    await store_supervisor_actions(migrated_pool)

    async with statistics_server(migrated_pool) as s:
        yield s


@contextlib.asynccontextmanager
async def statistics_server(pool: asyncpg.Pool) -> AsyncIterator[TestServer]:
    """The statistics slice on the shared web layer, served on loopback, the supervisor SAM set by a test middleware,
    the clock at 20 March 2026."""

    @web.middleware
    async def supervisor(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[USER] = SAM
        return await handler(request)

    app = web.Application()
    web_http.setup(app, web_http.WebDeps())
    app.middlewares.append(supervisor)
    service = StatisticsService(pool, Settings(), lambda: datetime(2026, 3, 20, tzinfo=UTC))
    statistics_http.setup(app, statistics_http.StatisticsDeps(service))
    s = TestServer(app, host="127.0.0.1")
    await s.start_server()
    try:
        yield s
    finally:
        await s.close()


async def test_a_report_then_the_abandoned_calls_behind_its_figure(browser: Browser, server: TestServer) -> None:
    page = await browser.new_page()
    page.set_default_timeout(STEP)
    await page.goto(str(server.make_url("/statistiques")))
    await expect(page.get_by_role("heading", name="Statistiques", exact=True)).to_be_visible()
    await assert_accessible(page, "the statistics' form")

    await page.get_by_label("Du", exact=True).fill("2026-03-10")
    await page.get_by_label("Au (inclus)", exact=True).fill("2026-03-10")
    await page.get_by_label("Comparer avec").select_option("month")
    await page.get_by_label("Au (inclus)", exact=True).press("Enter")  # the form sends by keyboard
    await expect(page.get_by_role("heading", name="Statistiques le 10/03/2026")).to_be_visible()
    table = page.get_by_role("table", name="Indicateurs le 10/03/2026, comparés à la période le 10/02/2026")
    rate = table.get_by_role("row", name="Taux de décroché")
    await expect(rate).to_contain_text("66,7\u00a0%")
    await expect(rate).to_contain_text("non atteint")
    await expect(page.get_by_role("img", name="Appels présentés et abandons par heure d'arrivée")).to_be_visible()
    imposed = page.get_by_role("table", name="Pauses et déconnexions imposées par un superviseur, par conseiller")
    await expect(imposed.get_by_role("row", name="Agnès Roussel")).to_contain_text("Formation : 1")
    actions = page.get_by_role("table", name="Chaque action d'un superviseur, par date")
    await expect(actions.get_by_role("row", name="10/03/2026 15:00:00")).to_contain_text("Formation <b>logiciel</b>")
    await assert_accessible(page, "the report")
    await page.get_by_text("Données du graphique").first.click()
    await expect(page.get_by_role("table", name="Appels présentés et abandons par heure d'arrivée")).to_be_visible()
    await assert_accessible(page, "the report with a chart's data table open")

    link = table.get_by_role("link", name="Abandons : 1, voir les appels")
    await link.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Appels — Abandons")).to_be_visible()
    calls = page.get_by_role("table", name="Appels : Abandons, par heure d'arrivée")
    await expect(calls.get_by_role("row", name="10/03/2026 11:00:00")).to_contain_text("03 21 00 00 01")
    await assert_accessible(page, "the abandoned calls")

    await page.get_by_role("link", name="Définition : Abandons").click()
    await expect(page.get_by_role("heading", name="Définitions des indicateurs")).to_be_visible()
    assert page.url.endswith("#def-abandoned")
    await expect(page.locator("#def-abandoned")).to_have_text("Abandons")
    await assert_accessible(page, "the definitions")


async def test_a_refused_period_shows_a_french_error_page(browser: Browser, server: TestServer) -> None:
    page = await browser.new_page()
    page.set_default_timeout(STEP)
    response = await page.goto(str(server.make_url("/statistiques/rapport?start=2026-03-10&end=2026-03-01")))
    assert response is not None and response.status == 400
    await expect(page.get_by_text("La date de fin est avant la date de début")).to_be_visible()
    await assert_accessible(page, "a reversed period")
