"""Desk authentication end to end: a real aiohttp server on 127.0.0.1, real PostgreSQL, real Redis (db 11)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from http.cookies import SimpleCookie

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp import CookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from multidict import CIMultiDictProxy

from config.settings import DeskSettings
from screenpop.auth import http as auth_http
from screenpop.auth.http import LOGIN_CSRF_COOKIE, SESSION_COOKIE, safe_next
from screenpop.web import http as web_http
from screenpop.web.keys import USER
from screenpop.web.middleware import SECURITY_HEADERS
from storage.advisors import AdvisorRepository
from storage.redis.sessions import SessionStore
from storage.redis.signing import SigningKeys
from storage.redis.throttle import LoginThrottle
from storage.users import InvalidRole, Role, User, UserRepository, WeakPassword
from tests.fixtures_db import fresh_database, migrated_pool
from tests.servers import redis_url

__all__ = ["fresh_database", "migrated_pool"]  # fixtures used by name below

REDIS_URL = redis_url(11)
PASSWORD = "correct horse battery"
ATTEMPTS = 3
HTML = {"Accept": "text/html,application/xhtml+xml"}
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def redis() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(REDIS_URL)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


class CountingUsers(UserRepository):
    """The accounts, counting the password checks (each one costs ~140 ms of CPU and 64 MiB)."""

    verified = 0
    changed: asyncio.Event | None = None

    async def verify(self, login: str, password: str) -> User | None:
        self.verified += 1
        self.signal()
        return await super().verify(login, password)

    def signal(self) -> None:
        if self.changed is not None:
            self.changed.set()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait until `condition()` holds, checked at each password check started (and each `signal`)."""
        while not condition():
            self.changed = asyncio.Event()
            await self.changed.wait()


@pytest.fixture
async def users(migrated_pool: asyncpg.Pool) -> CountingUsers:
    await migrated_pool.execute("TRUNCATE users, advisor_events, advisors RESTART IDENTITY CASCADE")
    return CountingUsers(migrated_pool)


@pytest.fixture
async def alice(users: UserRepository, migrated_pool: asyncpg.Pool) -> User:
    advisor = await AdvisorRepository(migrated_pool, {}).add("alice", "Alice Martin", "PJSIP/101")
    return await users.add("alice", "Alice Martin", Role.ADVISOR, PASSWORD, advisor_id=advisor.id)


async def desk(request: web.Request) -> web.Response:
    return web.Response(text=f"bureau de {request[USER].name}")


async def echo(request: web.Request) -> web.Response:
    return web.json_response({"user": request[USER].login, "body": await request.json()})


@pytest.fixture
async def client(users: UserRepository, redis: aioredis.Redis) -> AsyncIterator[Client]:
    app = web.Application()
    settings = DeskSettings(login_attempts=ATTEMPTS, login_window=60, secure_cookies=True)
    web_http.setup(app, web_http.WebDeps())
    sessions = SessionStore(redis, settings.session_hours * 3600)
    throttle = LoginThrottle(redis, settings.login_attempts, settings.login_window)
    deps = auth_http.AuthDeps(users, sessions, throttle, SigningKeys(redis), settings)
    auth_http.setup(app, deps)
    app.router.add_get("/desk", desk)
    app.router.add_post("/api/echo", echo)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    # a browser treats http://127.0.0.1 as a secure origin: so does this jar (Secure cookies are sent back)
    jar = CookieJar(unsafe=True, treat_as_secure_origin=[str(server.make_url("/"))])
    async with TestClient(server, cookie_jar=jar) as test_client:
        yield test_client


def set_cookies(response_headers: CIMultiDictProxy[str]) -> dict[str, SimpleCookie]:
    found: dict[str, SimpleCookie] = {}
    for raw in response_headers.getall("Set-Cookie", []):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(raw)
        found.update(dict.fromkeys(cookie, cookie))
    return found


def session_token(client: Client) -> str | None:
    cookies = client.session.cookie_jar.filter_cookies(client.make_url("/desk"))
    morsel = cookies.get(SESSION_COOKIE)
    return None if morsel is None else morsel.value


async def login(
    client: Client, name: str, password: str, next_url: str | None = None
) -> tuple[int, str, dict[str, str]]:
    """Fill the login form as a browser does: GET the page (token cookie + hidden field), then POST it."""
    page = await client.get("/login", params={} if next_url is None else {"next": next_url}, headers=HTML)
    text = await page.text()
    token = re.search(r'name="csrf" value="([^"]+)"', text)
    hidden_next = re.search(r'name="next" value="([^"]*)"', text)
    assert token is not None and hidden_next is not None
    form = {"csrf": token[1], "next": hidden_next[1], "login": name, "password": password}
    response = await client.post("/login", data=form, allow_redirects=False)
    return response.status, await response.text(), dict(response.headers)


async def test_login_sets_a_strict_session_cookie_and_redirects(client: Client, alice: User) -> None:
    page = await client.get("/login", headers=HTML)
    assert page.status == 200
    assert LOGIN_CSRF_COOKIE in set_cookies(page.headers)
    token = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert token is not None
    response = await client.post(
        "/login", data={"csrf": token[1], "login": "alice", "password": PASSWORD}, allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == "/desk"
    morsel = set_cookies(response.headers)[SESSION_COOKIE][SESSION_COOKIE]
    assert morsel["httponly"] is True and morsel["secure"] is True
    assert morsel["samesite"] == "Strict" and morsel["path"] == "/"

    desk_page = await client.get("/desk", headers=HTML)
    assert (desk_page.status, await desk_page.text()) == (200, "bureau de Alice Martin")
    me = await client.get("/api/me")
    body = await me.json()
    assert body["csrf"] and {k: v for k, v in body.items() if k != "csrf"} == {
        "id": alice.id,
        "login": "alice",
        "name": "Alice Martin",
        "role": "advisor",
        "advisor_id": alice.advisor_id,
        "service_id": None,
    }


async def test_login_page_is_french_accessible_and_script_free(
    client: Client,
) -> None:
    page = await client.get("/login", headers=HTML)
    text = await page.text()
    assert page.content_type == "text/html"
    assert '<html lang="fr">' in text and "<h1>Connexion</h1>" in text
    assert '<label for="login">Identifiant</label>' in text and 'id="login"' in text
    assert '<label for="password">Mot de passe</label>' in text and 'id="password"' in text
    assert "<script" not in text and "style=" not in text and "<style" not in text
    hostile = await client.get("/login", params={"next": '/desk"><script>alert(1)</script>'}, headers=HTML)
    assert "<script>" not in await hostile.text()


async def test_wrong_password_and_unknown_login_get_the_same_french_answer(client: Client, alice: User) -> None:
    wrong = await login(client, "alice", "not the password")
    unknown = await login(client, "nobody", "not the password")
    assert wrong[0] == unknown[0] == 401
    assert "Identifiant ou mot de passe incorrect." in wrong[1]
    assert wrong[1].replace('value="alice"', 'value="nobody"') == unknown[1]  # nothing tells them apart
    assert SESSION_COOKIE not in wrong[2].get("Set-Cookie", "")
    assert session_token(client) is None
    assert (await client.get("/api/me")).status == 401


async def test_throttling_refuses_even_the_right_password_and_a_success_resets(
    client: Client, alice: User, redis: aioredis.Redis
) -> None:
    for _ in range(ATTEMPTS - 1):
        assert (await login(client, "alice", "wrong password"))[0] == 401
    assert (await login(client, "alice", PASSWORD))[0] == 303  # a success resets the login's counter
    for _ in range(ATTEMPTS):
        assert (await login(client, "alice", "wrong password"))[0] == 401
    status, text, _ = await login(client, "alice", PASSWORD)
    assert status == 429
    assert "Trop de tentatives" in text
    await redis.delete("gps:login-failures:login:alice")  # the window ends (as its expiry would)
    assert (await login(client, "alice", PASSWORD))[0] == 303


async def login_token(client: Client) -> str:
    page = await client.get("/login", headers=HTML)
    token = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert token is not None
    return token[1]


async def post_login(client: Client, token: str, name: str, password: str) -> int:
    form = {"csrf": token, "next": "/desk", "login": name, "password": password}
    return (await client.post("/login", data=form, allow_redirects=False)).status


async def test_parallel_wrong_passwords_are_counted_before_any_password_is_checked(
    client: Client, alice: User, users: CountingUsers
) -> None:
    token = await login_token(client)
    users.verified = 0
    statuses = await asyncio.gather(*(post_login(client, token, "alice", f"wrong {i}") for i in range(40)))
    assert users.verified <= ATTEMPTS, users.verified  # the others were refused before hashing anything
    assert sorted(set(statuses)) == [401, 429] and statuses.count(401) <= ATTEMPTS, statuses
    assert await post_login(client, token, "alice", PASSWORD) == 429


async def test_thirty_nine_wrong_then_the_right_password_from_one_address_does_not_log_in(
    client: Client, alice: User, users: CountingUsers
) -> None:
    """The right password comes while the 39 wrong ones are still being checked (argon2 takes ~140 ms each)."""
    token = await login_token(client)
    users.verified = 0
    wrong = [asyncio.create_task(post_login(client, token, "alice", f"wrong {i}")) for i in range(39)]
    for task in wrong:
        task.add_done_callback(lambda _: users.signal())
    # every wrong one has been checked (or refused) or is being checked
    await asyncio.wait_for(users.until(lambda: users.verified + sum(t.done() for t in wrong) >= 39), 60)
    right = await post_login(client, token, "alice", PASSWORD)
    await asyncio.gather(*wrong)
    assert right == 429
    assert session_token(client) is None


async def test_parallel_guesses_over_many_logins_are_bounded_by_the_address(
    client: Client, alice: User, users: CountingUsers
) -> None:
    token = await login_token(client)
    users.verified = 0
    await asyncio.gather(*(post_login(client, token, f"guess{i}", "wrong password") for i in range(60)))
    assert users.verified <= ATTEMPTS * 5, users.verified


async def test_a_self_made_login_token_pair_is_refused(client: Client, alice: User) -> None:
    """A login form token is the server's (signed, with an expiry), not any value the cookie and the field share."""
    for made_up in ("A" * 43, "v1.AAAAAAAAAAAAAAAAAAAAAA.9999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"):
        client.session.cookie_jar.update_cookies({LOGIN_CSRF_COOKIE: made_up}, client.make_url("/login"))
        assert await post_login(client, made_up, "alice", PASSWORD) == 403
        assert session_token(client) is None
    token = await login_token(client)
    tampered = token[:-1] + ("B" if token[-1] == "A" else "A")
    client.session.cookie_jar.update_cookies({LOGIN_CSRF_COOKIE: tampered}, client.make_url("/login"))
    assert await post_login(client, tampered, "alice", PASSWORD) == 403
    assert await post_login(client, await login_token(client), "alice", PASSWORD) == 303


async def test_one_address_is_throttled_across_logins(client: Client, alice: User) -> None:
    statuses = [(await login(client, f"guess{i}", "wrong password"))[0] for i in range(ATTEMPTS * 5)]
    assert statuses == [401] * (ATTEMPTS * 5)
    assert (await login(client, "alice", PASSWORD))[0] == 429


async def test_protected_routes_redirect_html_and_answer_401_to_the_api(
    client: Client,
) -> None:
    page = await client.get("/desk", headers=HTML, allow_redirects=False)
    assert page.status == 303
    assert page.headers["Location"] == "/login?next=/desk"
    api = await client.get("/api/me", headers=HTML)
    assert api.status == 401
    assert (await api.json())["error"] == "unauthenticated"
    ws = await client.get("/desk", headers={**HTML, "Connection": "Upgrade", "Upgrade": "websocket"})
    assert ws.status == 401
    assert (await client.get("/healthz-nope")).status == 401  # routes are not discoverable before login


async def test_state_changes_need_the_session_csrf_token(client: Client, alice: User) -> None:
    assert (await login(client, "alice", PASSWORD))[0] == 303
    csrf = (await (await client.get("/api/me")).json())["csrf"]
    missing = await client.post("/api/echo", json={"x": 1})
    assert missing.status == 403
    body = await missing.json()
    assert body["error"] == "csrf" and "rechargez la page" in body["message"]
    wrong = await client.post(
        "/api/echo", json={"x": 1}, headers={"X-CSRF-Token": csrf[:-1] + ("B" if csrf.endswith("A") else "A")}
    )
    assert wrong.status == 403
    right = await client.post("/api/echo", json={"x": 1}, headers={"X-CSRF-Token": csrf})
    assert (right.status, await right.json()) == (200, {"user": "alice", "body": {"x": 1}})


async def test_a_forged_login_form_is_refused(client: Client, alice: User) -> None:
    response = await client.post("/login", data={"login": "alice", "password": PASSWORD}, allow_redirects=False)
    assert response.status == 403
    assert "a expiré" in await response.text()
    assert session_token(client) is None


async def test_logout_kills_the_session(client: Client, alice: User) -> None:
    assert (await login(client, "alice", PASSWORD))[0] == 303
    token = session_token(client)
    csrf = (await (await client.get("/api/me")).json())["csrf"]
    assert (await client.post("/logout", allow_redirects=False)).status == 403  # CSRF-protected
    out = await client.post("/logout", data={"csrf": csrf}, allow_redirects=False)
    assert (out.status, out.headers["Location"]) == (303, "/login")
    assert session_token(client) is None
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: token or ""}, client.make_url("/"))
    assert (await client.get("/api/me")).status == 401  # the old cookie is refused afterwards


async def test_next_must_stay_on_this_site(client: Client, alice: User) -> None:
    status, _, headers = await login(client, "alice", PASSWORD, next_url="https://evil.example/")
    assert (status, headers["Location"]) == (303, "/desk")
    status, _, headers = await login(client, "alice", PASSWORD, next_url="/desk?call=42")
    assert (status, headers["Location"]) == (303, "/desk?call=42")
    for hostile in ("//evil.example", "/\\evil.example", "https:evil.example", "/\tevil", "javascript:alert(1)"):
        assert safe_next(hostile) == "/desk", hostile


async def test_security_headers_on_every_response(client: Client, alice: User) -> None:
    for response in (
        await client.get("/login"),
        await client.get("/desk", headers=HTML, allow_redirects=False),
        await client.get("/api/me"),
    ):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
    assert "frame-ancestors 'none'" in SECURITY_HEADERS["Content-Security-Policy"]


async def test_a_password_changed_ends_the_sessions_begun_before(
    client: Client, alice: User, users: CountingUsers
) -> None:
    assert (await login(client, "alice", PASSWORD))[0] == 303
    assert (await client.get("/api/me")).status == 200
    await users.set_password(alice.id, "another long password")  # gps-admin users passwd
    assert (await client.get("/api/me")).status == 401
    assert (await login(client, "alice", "another long password"))[0] == 303
    assert (await client.get("/api/me")).status == 200
    await users.set_active(alice.id, False)
    assert (await client.get("/api/me")).status == 401


async def test_login_rotates_the_session_token(client: Client, alice: User, redis: aioredis.Redis) -> None:
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: "A" * 43}, client.make_url("/"))  # planted
    assert (await login(client, "alice", PASSWORD))[0] == 303
    first = session_token(client)
    assert first is not None and first != "A" * 43
    assert (await login(client, "alice", PASSWORD))[0] == 303
    second = session_token(client)
    assert second is not None and second != first
    assert await redis.exists(f"gps:session:{first}") == 0
    assert await redis.ttl(f"gps:session:{second}") > 11 * 3600


async def test_passwords_are_stored_as_argon2id_hashes(users: UserRepository, migrated_pool: asyncpg.Pool) -> None:
    user = await users.add("bob", "Bob", Role.SUPERVISOR, PASSWORD)
    stored = await migrated_pool.fetchval("SELECT password_hash FROM users WHERE id = $1", user.id)
    assert stored.startswith("$argon2id$") and stored != PASSWORD and PASSWORD not in stored
    assert PASSWORD not in repr(user) and PASSWORD not in repr(users)
    assert await users.verify("bob", PASSWORD) == user
    assert await users.verify("bob", PASSWORD + "!") is None
    await users.set_active(user.id, False)
    assert await users.verify("bob", PASSWORD) is None


async def test_old_hash_parameters_are_upgraded_at_login(users: UserRepository, migrated_pool: asyncpg.Pool) -> None:
    weak = UserRepository(migrated_pool, PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1))
    user = await weak.add("carl", "Carl", "admin", PASSWORD)
    before = await migrated_pool.fetchval("SELECT password_hash FROM users WHERE id = $1", user.id)
    assert await users.verify("carl", PASSWORD) == user
    after = await migrated_pool.fetchval("SELECT password_hash FROM users WHERE id = $1", user.id)
    assert before.startswith("$argon2id$v=19$m=8192,t=1,p=1$") and after.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    with pytest.raises(WeakPassword):
        await users.add("dora", "Dora", "admin", "short")
    with pytest.raises(InvalidRole):
        await users.add("dora", "Dora", "root", PASSWORD)
