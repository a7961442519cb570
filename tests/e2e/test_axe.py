"""The accessibility check itself can fail: axe-core finds what the rules forbid, under our strict CSP too."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser

from tests.e2e.axe import assert_accessible, violations

BAD = """<!DOCTYPE html><html><head><title>t</title></head><body><main><input id="x"></main></body></html>"""
GOOD = """<!DOCTYPE html><html lang="fr"><head><title>t</title></head><body><main><h1>Titre</h1>
<label for="x">Nom</label><input id="x"></main></body></html>"""
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'"


async def test_axe_fails_on_a_page_that_breaks_the_rules_and_passes_one_that_keeps_them(browser: Browser) -> None:
    async def page(request: web.Request) -> web.Response:
        body = BAD if request.path == "/bad" else GOOD
        return web.Response(text=body, content_type="text/html", headers={"Content-Security-Policy": CSP})

    app = web.Application()
    app.router.add_get("/bad", page)
    app.router.add_get("/good", page)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        tab = await browser.new_page()
        await tab.goto(str(server.make_url("/bad")))
        found = {v["id"] for v in await violations(tab)}
        assert {"label", "html-has-lang"} <= found
        with pytest.raises(AssertionError, match="label"):
            await assert_accessible(tab, "a page without a label")
        await tab.goto(str(server.make_url("/good")))
        await assert_accessible(tab, "a page that keeps the rules")
    finally:
        await server.close()
