"""Who may do what, over the real application (`build_app`, real PostgreSQL, Redis and Asterisk): one table of every
operation of /openapi.json × every kind of user, the caller's history kept to the advisor on the call, the health
check's details behind a login, the websocket refused to other origins, and no cache of anything but static files.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gps_admin.app import SERVICE
from screenpop.web.middleware import SECURITY_HEADERS
from tests.fixtures_db import fresh_database
from tests.integration.webapp import (
    ADA,
    AGNES,
    BRUNO,
    HTML,
    LIVE_CALL,
    LIVE_CALLER,
    PASSWORD,
    PAST_CALL,
    PAST_CALLER,
    SAM,
    Client,
    Served,
    serve,
)
from tests.rig.asterisk import AsteriskRig, free_loopback_port
from tests.servers import redis_url

__all__ = ["fresh_database"]

pytestmark = pytest.mark.asterisk

REDIS = redis_url(10)

# the kinds of user, in the table's column order: nobody logged in, the advisor on the live call (agnes), another
# advisor (bruno), a supervisor and an admin (neither has a phone)
WHO = ("anonymous", AGNES, BRUNO, SAM, ADA)

QUALIFICATION = {"topic": "taxes", "outcome": "advice", "note": "vu"}
GONE = "x" * 32  # an import's token that does not exist (or expired)
STATS = {"start": "2025-03-01", "end": "2025-03-31", "compare": "year"}  # the month of make_record's call
STATS_CALLS = {**STATS, "figure": "answered", "dimension": "topic"}
STATS_FULL = {**STATS, "dimension": "commune"}
PAGE_STATS = (303, 403, 403, 200, 200)
CB = "424242"  # a callback that does not exist
NO_CB = (401, 404, 404, 404, 404)

# (method, path as /openapi.json names it, the request made) → the status for each kind of user, in WHO's order.
# The caller's history: only the advisor who is in (or just finished) a call with that number, and supervisors and
# admins (until the supervisor role's rules come); the transfers act on the advisor's own live call only.
TABLE: list[tuple[str, str, dict[str, Any], tuple[int, int, int, int, int]]] = [
    ("get", "/openapi.json", {}, (200, 200, 200, 200, 200)),
    ("get", "/healthz", {}, (200, 200, 200, 200, 200)),
    ("get", "/login", {"headers": HTML}, (200, 200, 200, 200, 200)),
    ("post", "/login", {"data": {"login": "x", "password": "y"}}, (403, 403, 403, 403, 403)),  # no form token
    ("get", "/", {"headers": HTML, "allow_redirects": False}, (303, 303, 303, 303, 303)),
    ("get", "/desk", {"headers": HTML, "allow_redirects": False}, (303, 200, 200, 200, 200)),
    ("get", "/api/me", {}, (401, 200, 200, 200, 200)),
    ("get", "/api/desk", {}, (401, 200, 200, 200, 200)),
    ("get", "/api/desk/day", {}, (401, 200, 200, 403, 403)),  # « Ma journée »: an advisor's own, no one else's
    ("post", "/api/presence", {"json": {"state": "pause", "reason": "nope"}}, (401, 409, 409, 403, 403)),
    ("get", "/ws", {}, (401, 101, 101, 403, 403)),
    ("get", "/api/topics", {}, (401, 200, 200, 200, 200)),
    ("get", "/api/services", {}, (401, 200, 200, 200, 200)),
    ("get", "/api/communes", {"params": {"q": "arras"}}, (401, 200, 200, 200, 200)),
    ("get", f"/api/callers/{LIVE_CALLER}/history", {}, (401, 200, 403, 200, 200)),
    ("get", f"/api/callers/{PAST_CALLER}/history", {}, (401, 403, 403, 200, 200)),  # agnes's call of last week
    ("post", f"/api/calls/{PAST_CALL}/qualification", {"json": QUALIFICATION}, (401, 200, 403, 200, 200)),
    ("post", f"/api/calls/{LIVE_CALL}/transfer", {"json": {"service_id": 0}}, (401, 400, 400, 400, 400)),
    ("post", f"/api/calls/{LIVE_CALL}/transfer", {"json": {"service_id": "closed"}}, (401, 409, 403, 403, 403)),
    ("post", f"/api/calls/{LIVE_CALL}/transfer/complete", {}, (401, 409, 403, 403, 403)),
    ("post", f"/api/calls/{LIVE_CALL}/transfer/cancel", {}, (401, 409, 403, 403, 403)),
    # the directory on the desk (every account reads it) and its administration pages (supervisors and admins;
    # ORG is an entry owned by the admin: a supervisor reads it, only an admin changes it; a stale version is
    # refused, so no row changes the directory; only an admin imports)
    ("get", "/api/directory/search", {"params": {"q": "routes"}}, (401, 200, 200, 200, 200)),
    ("get", "/api/directory/communes/62041/partners", {}, (401, 200, 200, 200, 200)),
    ("get", "/annuaire", {"headers": HTML, "allow_redirects": False}, (303, 403, 403, 200, 200)),
    ("get", "/annuaire/nouvelle", {"headers": HTML, "allow_redirects": False}, (303, 403, 403, 200, 200)),
    ("post", "/annuaire/nouvelle", {"data": {}, "allow_redirects": False}, (401, 403, 403, 422, 422)),
    ("get", "/annuaire/ORG", {"headers": HTML, "allow_redirects": False}, (303, 403, 403, 200, 200)),
    ("get", "/annuaire/ORG/modifier", {"headers": HTML, "allow_redirects": False}, (303, 403, 403, 403, 200)),
    (
        "post",
        "/annuaire/ORG/modifier",
        {"data": {"version": "999999"}, "allow_redirects": False},
        (401, 403, 403, 403, 422),
    ),  # an empty form
    (
        "post",
        "/annuaire/ORG/desactiver",
        {"data": {"version": "999999"}, "allow_redirects": False},
        (401, 403, 403, 403, 409),
    ),
    (
        "post",
        "/annuaire/ORG/reactiver",
        {"data": {"version": "999999"}, "allow_redirects": False},
        (401, 403, 403, 403, 409),
    ),
    ("get", "/annuaire/import", {"headers": HTML, "allow_redirects": False}, (303, 403, 403, 403, 200)),
    ("post", "/annuaire/import", {"data": {}, "allow_redirects": False}, (401, 403, 403, 403, 422)),  # no file
    ("post", f"/annuaire/import/{GONE}", {"data": {}, "allow_redirects": False}, (401, 403, 403, 403, 404)),
    ("get", "/annuaire/export.csv", {}, (401, 403, 403, 200, 200)),
    # the wallboard and the supervisor's actions (an empty form: 400, the reason is required)
    ("get", "/supervision", {"headers": HTML, "allow_redirects": False}, (303, 403, 403, 200, 200)),
    ("get", "/api/supervision", {}, (401, 403, 403, 200, 200)),
    ("post", "/supervision/action", {"data": {}, "allow_redirects": False}, (401, 403, 403, 400, 400)),
    ("get", "/ws/supervision", {}, (401, 403, 403, 101, 101)),
    # Prometheus: a direct loopback client (the tests' own) reads it; through a reverse proxy, a supervisor or admin
    ("get", "/metrics", {}, (200, 200, 200, 200, 200)),
    ("get", "/metrics", {"headers": {"X-Forwarded-For": "203.0.113.9"}}, (403, 403, 403, 200, 200)),
    # the statistics: supervisors and admins only
    ("get", "/statistiques", {"headers": HTML, "allow_redirects": False}, (303, 403, 403, 200, 200)),
    ("get", "/statistiques/rapport", {"headers": HTML, "params": STATS, "allow_redirects": False}, PAGE_STATS),
    ("get", "/statistiques/rapport.csv", {"params": STATS}, (401, 403, 403, 200, 200)),
    ("get", "/statistiques/definitions", {"headers": HTML, "allow_redirects": False}, PAGE_STATS),
    ("get", "/statistiques/repartition", {"headers": HTML, "params": STATS_FULL, "allow_redirects": False}, PAGE_STATS),
    ("get", "/statistiques/appels", {"headers": HTML, "params": STATS_CALLS, "allow_redirects": False}, PAGE_STATS),
    ("get", "/statistiques/appels.csv", {"params": STATS_CALLS}, (401, 403, 403, 200, 200)),
    ("get", "/api/statistics/report", {"params": STATS}, (401, 403, 403, 200, 200)),
    ("get", "/api/statistics/calls", {"params": STATS_CALLS}, (401, 403, 403, 200, 200)),
    # the knowledge base: every account reads the published articles (ART), editors, supervisors and admins write;
    # the caller's history feeds the suggestions for who may read it; no row changes an article (a stale revision)
    ("get", "/connaissances", {"headers": HTML, "allow_redirects": False}, (303, 200, 200, 200, 200)),
    ("get", "/connaissances/nouveau", {"headers": HTML, "allow_redirects": False}, (303, 403, 403, 200, 200)),
    ("post", "/connaissances/nouveau", {"data": {}, "allow_redirects": False}, (401, 403, 403, 422, 422)),
    ("get", "/connaissances/a-faire", {"headers": HTML, "allow_redirects": False}, (303, 403, 403, 200, 200)),
    ("get", "/connaissances/sans-reponse", {"headers": HTML, "allow_redirects": False}, (303, 403, 403, 200, 200)),
    ("get", "/connaissances/ART", {"headers": HTML, "allow_redirects": False}, (303, 200, 200, 200, 200)),
    ("get", "/connaissances/ART/modifier", {"headers": HTML, "allow_redirects": False}, (303, 403, 403, 200, 200)),
    (
        "post",
        "/connaissances/ART/modifier",
        {"data": {"revision": "999999"}, "allow_redirects": False},
        (401, 403, 403, 422, 422),
    ),  # an empty form
    (
        "post",
        "/connaissances/ART/etat",
        {"data": {"action": "archive", "revision": "999999"}, "allow_redirects": False},
        (401, 403, 403, 409, 409),
    ),
    ("get", "/connaissances/ART/historique", {"headers": HTML, "allow_redirects": False}, (303, 403, 403, 200, 200)),
    (
        "post",
        f"/connaissances/questions/{PAST_CALL}/classer",
        {"data": {}, "allow_redirects": False},
        (401, 403, 403, 404, 404),
    ),  # no question without an answer on that call
    ("get", "/api/knowledge/search", {"params": {"q": "archives"}}, (401, 200, 200, 200, 200)),
    ("get", "/api/knowledge/articles/ART", {}, (401, 200, 200, 200, 200)),
    ("get", "/api/knowledge/suggestions", {"params": {"topic": "taxes"}}, (401, 200, 200, 200, 200)),
    ("get", "/api/knowledge/suggestions", {"params": {"number": LIVE_CALLER}}, (401, 200, 403, 200, 200)),
    # the callbacks: advisors, supervisors and admins (no callback CB: a well-formed request ends at 404)
    ("get", "/rappels", {"headers": HTML, "allow_redirects": False}, (303, 200, 200, 200, 200)),
    ("post", f"/rappels/{CB}/tentative", {"data": {"result": "joint"}, "allow_redirects": False}, NO_CB),
    ("post", f"/rappels/{CB}/annulation", {"data": {"reason": "x"}, "allow_redirects": False}, NO_CB),
    ("get", "/api/callbacks", {}, (401, 200, 200, 200, 200)),
    ("post", f"/api/callbacks/{CB}/attempts", {"json": {"result": "joint"}}, NO_CB),
    ("post", f"/api/callbacks/{CB}/cancel", {"json": {"reason": "x"}}, NO_CB),
    ("post", "/logout", {"data": {}, "allow_redirects": False}, (401, 303, 303, 303, 303)),  # last: it ends the session
]


def template(path: str) -> str:
    """The path as /openapi.json names it."""
    for concrete, name in ((LIVE_CALL, "{linkedid}"), (PAST_CALL, "{linkedid}"), (LIVE_CALLER, "{e164}")):
        path = path.replace(concrete, name)
    path = path.replace("/communes/62041/", "/communes/{code}/").replace(f"/{CB}/", "/{id}/")
    path = path.replace("/ART", "/{id}")
    return path.replace(PAST_CALLER, "{e164}").replace("/ORG", "/{id}").replace(f"/{GONE}", "/{token}")


@pytest.fixture
async def served(asterisk_rig: AsteriskRig, fresh_database: str, tmp_path: Path) -> AsyncIterator[Served]:
    async for app in serve(asterisk_rig, fresh_database, REDIS, tmp_path / "data"):
        yield app


async def call(served: Served, client: Client, method: str, path: str, spec: dict[str, Any]) -> aiohttp.ClientResponse:
    spec = dict(spec)
    path = path.replace("/ORG", f"/{served.closed_service}").replace("/ART", f"/{served.article}")
    if spec.get("json") == {"service_id": "closed"}:
        spec["json"] = {"service_id": served.closed_service}
    if method == "post" and "data" in spec and client.csrf and path != "/login":
        spec["data"] = {**spec["data"], "csrf": client.csrf}
    headers = {**client.headers(), **spec.pop("headers", {})} if path != "/login" else spec.pop("headers", {})
    return await client.session.request(method.upper(), served.url + path, headers=headers, **spec)


async def websocket(served: Served, client: Client, origin: str, path: str = "/ws") -> int:
    """The status of a websocket handshake on `path` with this Origin (101: opened)."""
    try:
        ws = await client.session.ws_connect(served.url.replace("http", "ws") + path, headers={"Origin": origin})
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    await ws.close()
    return 101


async def test_every_operation_for_every_kind_of_user(served: Served) -> None:
    async with aiohttp.ClientSession() as anonymous:
        document = await (await anonymous.get(served.url + "/openapi.json")).json()
    operations = {(method, path) for path, methods in document["paths"].items() for method in methods}
    assert {(method, template(path)) for method, path, _, _ in TABLE} == operations  # the table covers every one
    clients = {who: await served.client(None if who == "anonymous" else who) for who in WHO}
    wrong: dict[tuple[str, str, str], tuple[int, int]] = {}  # (method, path, who): (got, expected)
    uncached: set[tuple[str, str]] = set()  # responses without Cache-Control: no-store
    for method, path, spec, expected in TABLE:
        for who, status in zip(WHO, expected, strict=True):
            client = clients[who]
            if path.startswith("/ws"):
                got = await websocket(served, client, served.url, path)
            else:
                response = await call(served, client, method, path, spec)
                got = response.status
                if response.headers.get("Cache-Control") != "no-store":
                    uncached.add((method, path))
                assert all(response.headers.get(k) == v for k, v in SECURITY_HEADERS.items()), (method, path, who)
                if 400 <= got < 500 and response.content_type == "application/json":
                    body = await response.json()
                    assert body["error"] and body["message"], body  # a stable id and a French message
            if got != status:
                wrong[(method, path + (" " + str(spec.get("json", "")) if "json" in spec else ""), who)] = (got, status)
    assert not wrong, "\n".join(f"{k}: got {v[0]}, expected {v[1]}" for k, v in wrong.items())
    assert not uncached, sorted(uncached)


async def test_the_site_s_root_and_a_login_send_each_role_where_its_work_starts(served: Served) -> None:
    """One map (`gps_admin.app.HOME_PAGES`): a supervisor or an admin starts on the wallboard, an advisor at the
    desk, at the site's root as after a login with no page asked (a page asked wins)."""
    for who, home in ((AGNES, "/desk"), (SAM, "/supervision"), (ADA, "/supervision")):
        client = await served.client(who)
        root = await client.session.get(served.url + "/", headers=HTML, allow_redirects=False)
        assert (root.status, root.headers.get("Location")) == (303, home), who
    fresh = await served.client(None)
    page = await (await fresh.session.get(served.url + "/login", headers=HTML)).text()
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    form = {"csrf": token[1], "login": SAM, "password": PASSWORD}
    landed = await fresh.session.post(served.url + "/login", data=form, allow_redirects=False)
    assert (landed.status, landed.headers.get("Location")) == (303, "/supervision")


async def test_a_callers_history_is_for_the_advisor_on_the_call_then_until_it_is_qualified(served: Served) -> None:
    agnes, bruno = await served.client(AGNES), await served.client(BRUNO)
    url = f"{served.url}/api/callers/{LIVE_CALLER}/history"
    assert (await agnes.session.get(url)).status == 200
    refused = await bruno.session.get(url)
    assert refused.status == 403
    body = await refused.json()
    assert body["error"] == "not-your-caller" and "appel en cours" in body["message"]
    # bruno never took a call from that number: the pop he could have had is not his either
    assert (await bruno.session.get(f"{served.url}/api/callers/{PAST_CALLER}/history")).status == 403


async def test_health_tells_anonymous_clients_only_up_or_down(served: Served) -> None:
    await asyncio.wait_for(served.app[SERVICE].ami.ready.wait(), 30)
    anonymous, agnes, sam, ada = [await served.client(who) for who in (None, AGNES, SAM, ADA)]
    for client in (anonymous, agnes):
        response = await client.session.get(served.url + "/healthz")
        assert (response.status, await response.json()) == (200, {"status": "ok"})
    for client in (sam, ada):
        details = await (await client.session.get(served.url + "/healthz")).json()
        assert details["status"] == "ok" and details["ami"]["connected"] is True and "version" in details["ami"]
        assert {"calls", "records", "router", "desk", "redis"} <= set(details)
    ami = served.app[SERVICE].ami
    ami.hold_reconnect()
    ami.drop_link()  # the AMI link down: the service is down
    response = await anonymous.session.get(served.url + "/healthz")
    assert (response.status, await response.json()) == (503, {"status": "down"})


async def test_the_websocket_refuses_other_origins_before_the_upgrade(served: Served) -> None:
    agnes = await served.client(AGNES)
    port = served.url.rsplit(":", 1)[1]
    other_port = str(free_loopback_port())
    for foreign in (
        f"http://127.0.0.1:{other_port}",  # another port of the same host: another origin
        "http://evil.example",
        f"https://127.0.0.1:{port}",
        "null",
    ):
        assert await websocket(served, agnes, foreign) == 403, foreign
    assert served.app[SERVICE].hub.stats.sockets == 0
    assert await websocket(served, agnes, served.url) == 101
    assert await websocket(served, agnes, f"http://localhost:{port}") == 101  # the same listener, by its name
