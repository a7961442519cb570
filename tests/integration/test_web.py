"""The shared web layer over HTTP: one error mapping for every route (500s included, with the security headers of
any page), static files with cache headers, pages from templates with autoescaping."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from screenpop.web import http as web_http
from screenpop.web.errors import Conflict
from screenpop.web.middleware import SECURITY_HEADERS
from screenpop.web.pages import PAGES, render

HTML = {"Accept": "text/html"}
Client = TestClient[web.Request, web.Application]


class Refused(Conflict):
    error_id = "refused-here"
    default_message = "Refusé : <b>pas maintenant</b>."


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("a bug with a secret: hunter2")


async def refused(request: web.Request) -> web.Response:
    raise Refused()


async def page(request: web.Request) -> web.Response:
    return render(request, "web/error.html", {"title": "Titre", "message": request.query.get("m", "")})


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    app = web.Application()
    web_http.setup(app, web_http.WebDeps(demo=True))
    app.router.add_get("/api/boom", boom)
    app.router.add_get("/boom", boom)
    app.router.add_post("/api/refused", refused)
    app.router.add_get("/page", page)
    async with TestClient(TestServer(app)) as c:
        yield c


def secured(headers: object) -> bool:
    return all(headers[name] == value for name, value in SECURITY_HEADERS.items())  # type: ignore[index]


async def test_an_unexpected_error_is_a_500_with_a_reference_and_the_security_headers(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    api = await client.get("/api/boom")
    assert api.status == 500 and secured(api.headers)
    body = await api.json()
    assert body["error"] == "internal" and "référence" in body["message"] and "hunter2" not in body["message"]
    reference = re.search(r"référence ([0-9a-f]{8})", body["message"])
    assert reference is not None and f"reference {reference[1]}" in caplog.text  # the log names it, with the trace
    html = await client.get("/boom", headers=HTML)
    assert html.status == 500 and secured(html.headers) and html.content_type == "text/html"
    text = await html.text()
    assert '<html lang="fr">' in text and "Erreur interne du service" in text and "hunter2" not in text


async def test_a_slice_error_and_aiohttps_own_refusals_get_their_id_status_and_french_message(client: Client) -> None:
    resp = await client.post("/api/refused")
    assert (resp.status, await resp.json()) == (409, {"error": "refused-here", "message": Refused.default_message})
    assert secured(resp.headers)
    missing = await client.get("/api/nothing-here")
    assert (missing.status, (await missing.json())["error"]) == (404, "not-found")
    wrong = await client.get("/api/refused")
    assert wrong.status == 405 and (await wrong.json())["error"] == "method-not-allowed" and "Allow" in wrong.headers
    page_404 = await client.get("/nothing-here", headers=HTML)
    assert page_404.status == 404 and "Page introuvable" in await page_404.text() and secured(page_404.headers)


async def test_pages_escape_what_they_show_and_share_the_chrome(client: Client) -> None:
    resp = await client.get("/page", params={"m": "<script>alert(1)</script>"}, headers=HTML)
    text = await resp.text()
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert 'class="skip" href="#main"' in text and "DÉMONSTRATION" in text and "Etalab" in text
    assert "style=" not in text and "<style" not in text
    stylesheet = re.search(r'<link rel="stylesheet" href="(/static/gps\.css\?v=[0-9a-f]{12})">', text)
    assert stylesheet is not None and resp.headers["Cache-Control"] == "no-store"


async def test_static_files_are_cached_by_their_content_hash(client: Client) -> None:
    version = client.app[PAGES].files["gps.css"].version
    current = await client.get(f"/static/gps.css?v={version}")
    assert current.status == 200 and current.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert current.content_type == "text/css" and "GPS administration" in await current.text()
    assert secured(current.headers)
    stale = await client.get("/static/gps.css?v=000000000000")
    assert stale.status == 200 and stale.headers["Cache-Control"] == "no-cache"
    again = await client.get(f"/static/gps.css?v={version}", headers={"If-None-Match": current.headers["ETag"]})
    assert again.status == 304
    for bad in ("/static/nothing.css", "/static/..%2Fpages.py", "/static/desk.js/x"):
        assert (await client.get(bad)).status == 404, bad
