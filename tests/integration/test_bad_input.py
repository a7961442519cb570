"""Bad input never gets a server error: every malformed request found by probing the running product (issue 11,
"Server errors (5xx) on bad input") is a 4xx with a French message, through the one error mapping, on the real
application (`build_app`, real PostgreSQL, Redis and Asterisk)."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_db import fresh_database
from tests.integration.webapp import AGNES, HTML, LIVE_CALL, PASSWORD, PAST_CALL, Client, Served, serve
from tests.servers import redis_url

__all__ = ["fresh_database"]

pytestmark = pytest.mark.asterisk

REDIS = redis_url(9)
DEEP = ("[" * 100_000 + "]" * 100_000).encode()
HUGE_INT = b'{"topic": "taxes", "outcome": "advice", "transfer_service_id": ' + b"9" * 5000 + b"}"
BOGUS_JSON = "application/json; charset=bogus"
BOGUS_FORM = "application/x-www-form-urlencoded; charset=bogus"
BOUNDARY = "----gps-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(fields: dict[str, bytes]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


# (who: None anonymous, else logged in as agnes), method, path, raw body, Content-Type, what it is
CASES: list[tuple[bool, str, str, bytes | None, str | None, str]] = [
    (False, "POST", "/login", b"", "multipart/form-data", "multipart login without a boundary nor a body"),
    (False, "POST", "/login", b"", MULTIPART, "multipart login without a body"),
    (False, "POST", "/login", b"login=agnes&password=x&csrf=y", BOGUS_FORM, "login form in charset=bogus"),
    (False, "POST", "/login", multipart({"login": b"\xff\xfe", "csrf": b"\xc3("}), MULTIPART, "invalid UTF-8"),
    (False, "GET", "/static/" + "a" * 5000, None, None, "a static file name of 5,000 characters"),
    (True, "POST", "/api/presence", DEEP, "application/json", "presence: JSON nested 100,000 deep"),
    (True, "POST", f"/api/calls/{LIVE_CALL}/transfer", DEEP, "application/json", "transfer: JSON 100,000 deep"),
    (True, "POST", f"/api/calls/{PAST_CALL}/qualification", DEEP, "application/json", "qualification: 100,000 deep"),
    (True, "POST", f"/api/calls/{PAST_CALL}/qualification", HUGE_INT, "application/json", "a 5,000-digit integer"),
    (True, "POST", "/api/presence", b'{"state": "login"}', BOGUS_JSON, "presence in charset=bogus"),
    (True, "POST", f"/api/calls/{LIVE_CALL}/transfer", b'{"service_id": 1}', BOGUS_JSON, "transfer, charset=bogus"),
    (True, "POST", f"/api/calls/{PAST_CALL}/qualification", b"{}", BOGUS_JSON, "qualification, charset=bogus"),
    (True, "POST", "/logout", b"csrf=x", BOGUS_FORM, "form logout in charset=bogus"),
    (
        True,
        "POST",
        f"/api/calls/{LIVE_CALL}/transfer",
        b'{"service_id": 9223372036854775808}',
        "application/json",
        "a service id past PostgreSQL's bigint, during a call",
    ),
    (
        True,
        "POST",
        f"/api/calls/{PAST_CALL}/qualification",
        b'{"topic": "taxes", "outcome": "advice", "note": "\\ud800"}',
        "application/json",
        "a note with a lone surrogate (not encodable in UTF-8)",
    ),
    (True, "POST", "/api/presence", b'{"state": "login"}' + b" " * 200_000, "application/json", "a 200 kB body"),
    (True, "POST", "/api/presence", b"\xff\xfe{}", "application/json", "JSON in invalid UTF-8"),
    (
        True,
        "POST",
        "/api/presence",
        b'{"state": "login", "reason": "' + b"x" * 2_000_000 + b'"}',
        "application/json",
        "2 MB",
    ),
    (True, "GET", "/api/callers/%2B3361234567%00/history", None, None, "a NUL in a path parameter"),
    (True, "GET", "/api/callers/" + "9" * 5000 + "/history", None, None, "a number of 5,000 digits"),
]


@pytest.fixture
async def served(asterisk_rig: Any, fresh_database: str, tmp_path: Path) -> AsyncIterator[Served]:
    async for app in serve(asterisk_rig, fresh_database, REDIS, tmp_path / "data"):
        yield app


async def send(client: Client, method: str, path: str, body: bytes | None, content_type: str | None) -> tuple[int, str]:
    headers = {**client.headers(), **({"Content-Type": content_type} if content_type else {})}
    if path == "/logout":
        headers.pop("X-CSRF-Token", None)  # the token is looked for in the (unreadable) form
    data = None if body is None else io.BytesIO(body)
    response = await client.session.request(method, client.url + path, data=data, headers=headers)
    if response.content_type == "application/json":
        payload = await response.json()
        if set(payload) != {"error", "message"}:
            return response.status, f"not an error body: {payload}"
        return response.status, str(payload["message"])
    text = await response.text()
    if '<html lang="fr">' not in text:
        return response.status, f"not a French page: {text[:200]}"
    return response.status, text


async def test_no_server_error_on_bad_input(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="screenpop.web.middleware")
    anonymous, agnes = await served.client(), await served.client(AGNES)
    wrong: list[str] = []
    for logged_in, method, path, body, content_type, what in CASES:
        status, message = await send(agnes if logged_in else anonymous, method, path, body, content_type)
        if not 400 <= status < 500 or "Erreur interne" in message or message.startswith("not a"):
            wrong.append(f"{what}: {status} {message[:200]!r}")
    for path in ("/login?next=%ff%fe%00", "/api/communes?q=%00", "/api/communes?q=%ff%fe", "/desk?x=%00"):
        status, message = await send(agnes, "GET", path, None, None)  # junk ignored or refused, never a 5xx
        if status >= 500 or message.startswith("not a French page"):
            wrong.append(f"GET {path}: {status} {message[:200]!r}")
    assert not wrong, "\n".join(wrong)
    assert "unexpected error" not in caplog.text


async def test_a_nul_in_the_login_name_is_a_wrong_login_not_an_outage(served: Served) -> None:
    client = await served.client()
    page = await (await client.session.get(served.url + "/login", headers=HTML)).text()
    token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    for name in ("ag\x00nes", "agnes\x00", "a" * 5000, "\ud800"[:0] + "é" * 50):
        response = await client.session.post(
            served.url + "/login",
            data={"csrf": token, "login": name, "password": PASSWORD},
            headers=HTML,
            allow_redirects=False,
        )
        assert response.status == 401, (name[:20], response.status)
        assert "Identifiant ou mot de passe incorrect." in await response.text()
