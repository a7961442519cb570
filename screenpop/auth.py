"""Desk authentication: login page, Redis sessions, CSRF protection, login throttling, security headers.

- A session is `gps:session:<token>` in Redis ({user_id, csrf, created}, expiring after `session_hours`);
  the browser holds only the token, in the `gps_session` cookie (HttpOnly, SameSite=Strict, Secure unless
  `secure_cookies` is off). Every login makes a new token (no fixation); logout deletes it.
- Every state-changing request (POST/PUT/PATCH/DELETE) past the login carries the session's CSRF token
  (header `X-CSRF-Token` or form field `csrf`). The login form has its own double-submit token
  (cookie `gps_login_csrf` + hidden field), so a forged login is refused too.
- Failed logins are counted in Redis per login and per client address over `login_window`; past the limit
  the password is not even checked. The per-address limit is `ADDRESS_FACTOR` times `login_attempts`: a
  whole office (or a reverse proxy) shares one address, and one person's typos must not lock everyone out.
- `request[USER]` (a `User`) and `request[CSRF]` (keys of `screenpop.models`) are set for every protected
  handler, and `request[SESSION]`.
"""

from __future__ import annotations

import hmac
import html
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis
from aiohttp import hdrs, web
from redis.exceptions import RedisError
from yarl import URL

from config.settings import DeskSettings
from screenpop.web.keys import CSRF, USER
from storage.redis.sessions import TOKEN as _TOKEN
from storage.redis.sessions import Session, SessionStore
from storage.redis.throttle import LoginThrottle
from storage.users import UserRepository

log = logging.getLogger(__name__)

SESSION_COOKIE = "gps_session"
LOGIN_CSRF_COOKIE = "gps_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
DEFAULT_NEXT = "/desk"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json"})

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

MSG_BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect."
MSG_THROTTLED = "Trop de tentatives de connexion échouées. Réessayez dans quelques minutes."
MSG_LOGIN_CSRF = "Le formulaire de connexion a expiré. Veuillez réessayer."
MSG_CSRF = "Jeton de sécurité (CSRF) absent ou invalide : rechargez la page puis réessayez."
MSG_UNAUTHENTICATED = "Vous n'êtes pas connecté(e) ou votre session a expiré. Veuillez vous connecter."
MSG_UNAVAILABLE = "Service momentanément indisponible. Réessayez dans un instant."

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Auth:
    users: UserRepository
    sessions: SessionStore
    throttle: LoginThrottle
    settings: DeskSettings
    demo: bool = False


AUTH = web.AppKey("auth", Auth)
SESSION = web.RequestKey("session", Session)


# -- middlewares -------------------------------------------------------------------------------------


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Strict headers on every response, errors included (a handler may set its own CSP)."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _secure(exc)
        raise
    _secure(response)
    return response


def _secure(response: web.StreamResponse) -> None:
    if not response.prepared:  # a websocket or stream already sent its headers
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let public routes through; elsewhere require a session, and its CSRF token on state changes."""
    if _is_public(request):
        return await handler(request)
    auth = request.app[AUTH]
    try:
        session = await auth.sessions.load(request.cookies.get(SESSION_COOKIE))
        user = None if session is None else await auth.users.get(session.user_id, active_only=True)
    except (RedisError, OSError, TimeoutError, asyncpg.PostgresError) as exc:
        log.error("cannot check the session: %s", exc)
        return _error(503, "unavailable", MSG_UNAVAILABLE)
    if session is None or user is None:
        return _unauthenticated(request)
    if request.method not in SAFE_METHODS and not await _csrf_ok(request, session.csrf):
        log.warning("CSRF token refused: %s %s (user %s)", request.method, request.path, user.login)
        return _error(403, "csrf", MSG_CSRF)
    request[USER] = user
    request[CSRF] = session.csrf
    request[SESSION] = session
    return await handler(request)


def _is_public(request: web.Request) -> bool:
    """Decided on the route the router matched, not on the raw path (no `/static/../` games)."""
    resource = request.match_info.route.resource
    if resource is None:  # no route: 404 or 405 only once logged in (routes are not discoverable)
        return False
    if isinstance(resource, web.StaticResource):
        return resource.canonical == "/static" or resource.canonical.startswith("/static/")
    if resource.canonical == "/login":
        return request.method in {"GET", "HEAD", "POST"}
    return resource.canonical in PUBLIC_PATHS


async def _csrf_ok(request: web.Request, expected: str) -> bool:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        field = (await request.post()).get(CSRF_FIELD)
        given = field if isinstance(field, str) else None
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _unauthenticated(request: web.Request) -> web.StreamResponse:
    wants_html = "text/html" in request.headers.get(hdrs.ACCEPT, "")
    is_websocket = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
    is_api = request.path == "/api" or request.path.startswith("/api/")
    if request.method in {"GET", "HEAD"} and wants_html and not is_websocket and not is_api:
        location = URL("/login").with_query(next=safe_next(request.rel_url.path_qs))
        return web.Response(status=303, headers={hdrs.LOCATION: str(location), hdrs.CACHE_CONTROL: "no-store"})
    return _error(401, "unauthenticated", MSG_UNAUTHENTICATED)


def _error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status, headers={"Cache-Control": "no-store"})


def safe_next(value: str | None) -> str:
    """`value` if it is a path of this site, else `/desk`: never an absolute or scheme-relative URL."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith("//"):
        return DEFAULT_NEXT
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return DEFAULT_NEXT
    try:
        url = URL(value)
    except ValueError:
        return DEFAULT_NEXT
    if url.is_absolute() or url.scheme or url.path == "/login":
        return DEFAULT_NEXT
    return value


# -- handlers ----------------------------------------------------------------------------------------


async def login_page(request: web.Request) -> web.StreamResponse:
    return _login_response(request, safe_next(request.query.get("next")))


async def login(request: web.Request) -> web.StreamResponse:
    auth = request.app[AUTH]
    form = await request.post()
    next_url = safe_next(_field(form, "next"))
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    form_token = _field(form, CSRF_FIELD)
    if not (_TOKEN.fullmatch(cookie_token) and hmac.compare_digest(cookie_token.encode(), form_token.encode())):
        log.warning("login refused: missing or wrong login CSRF token (from %s)", request.remote)
        return _login_response(request, next_url, error=MSG_LOGIN_CSRF, status=403, new_token=True)
    name = _field(form, "login").strip().lower()
    password = _field(form, "password")
    address = request.remote or "unknown"
    try:
        if await auth.throttle.refused(name, address):
            log.warning("login throttled: %r from %s", name[:40], address)
            return _login_response(request, next_url, error=MSG_THROTTLED, status=429, login=name)
        user = await auth.users.verify(name, password) if name and password else None
        if user is None:
            await auth.throttle.failed(name, address)
            log.info("login failed: %r from %s", name[:40], address)
            return _login_response(request, next_url, error=MSG_BAD_CREDENTIALS, status=401, login=name)
        await auth.throttle.succeeded(name)
        await auth.sessions.delete(request.cookies.get(SESSION_COOKIE))  # the old session dies with the login
        session = await auth.sessions.create(user.id)
    except (RedisError, OSError, TimeoutError, asyncpg.PostgresError) as exc:
        log.error("login impossible: %s", exc)
        return _login_response(request, next_url, error=MSG_UNAVAILABLE, status=503, login=name)
    log.info("login: %s (#%d) from %s", user.login, user.id, address)
    response = web.Response(status=303, headers={hdrs.LOCATION: next_url, hdrs.CACHE_CONTROL: "no-store"})
    secure = auth.settings.secure_cookies
    response.set_cookie(SESSION_COOKIE, session.token, path="/", httponly=True, samesite="Strict", secure=secure)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login", httponly=True, samesite="Strict", secure=secure)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    auth = request.app[AUTH]
    await auth.sessions.delete(request[SESSION].token)
    log.info("logout: %s", request[USER].login)
    response = web.Response(status=303, headers={hdrs.LOCATION: "/login", hdrs.CACHE_CONTROL: "no-store"})
    response.del_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict", secure=auth.settings.secure_cookies)
    return response


async def me(request: web.Request) -> web.StreamResponse:
    body = {**request[USER].model_dump(mode="json"), "csrf": request[CSRF]}
    return web.json_response(body, headers={hdrs.CACHE_CONTROL: "no-store"})


def _field(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _login_response(
    request: web.Request, next_url: str, *, error: str = "", status: int = 200, login: str = "", new_token: bool = False
) -> web.Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if new_token or not _TOKEN.fullmatch(token):
        token = secrets.token_urlsafe(32)
    response = web.Response(
        status=status,
        text=render_login(token, next_url, error=error, login=login, demo=request.app[AUTH].demo),
        content_type="text/html",
        charset="utf-8",
        headers={hdrs.CACHE_CONTROL: "no-store"},
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        path="/login",
        httponly=True,
        samesite="Strict",
        secure=request.app[AUTH].settings.secure_cookies,
    )
    return response


DEMO_BANNER = (
    '\n      <p class="demo" role="status">DÉMONSTRATION — appels simulés, données fictives ; '
    "les comptes de démonstration sont affichés sur la console.</p>"
)


def render_login(csrf: str, next_url: str, *, error: str = "", login: str = "", demo: bool = False) -> str:
    """The login page: plain HTML (no script, no inline style), every value escaped."""
    e = html.escape
    described = ' aria-describedby="login-error" aria-invalid="true"' if error else ""
    alert = f'\n      <p id="login-error" class="error" role="alert">{e(error)}</p>' if error else ""
    return f"""<!DOCTYPE html>
<html lang="fr">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Connexion — Plateforme téléphonique</title>
  </head>
  <body>
    <main>
      <h1>Connexion</h1>{DEMO_BANNER if demo else ""}{alert}
      <form method="post" action="/login">
        <input type="hidden" name="{CSRF_FIELD}" value="{e(csrf)}">
        <input type="hidden" name="next" value="{e(next_url)}">
        <p>
          <label for="login">Identifiant</label>
          <input id="login" name="login" type="text" value="{e(login)}" autocomplete="username"
                 autocapitalize="none" spellcheck="false" maxlength="40" required autofocus{described}>
        </p>
        <p>
          <label for="password">Mot de passe</label>
          <input id="password" name="password" type="password" autocomplete="current-password"
                 maxlength="1024" required{described}>
        </p>
        <p><button type="submit">Se connecter</button></p>
      </form>
    </main>
  </body>
</html>
"""


# -- wiring ------------------------------------------------------------------------------------------


def setup_auth(
    app: web.Application,
    *,
    users: UserRepository,
    redis: aioredis.Redis,
    settings: DeskSettings,
    demo: bool = False,
) -> None:
    """Add the security-headers and auth middlewares (outermost first) and the login/logout/me routes."""
    app[AUTH] = Auth(
        users=users,
        sessions=SessionStore(redis, settings.session_hours * 3600),
        throttle=LoginThrottle(redis, settings.login_attempts, settings.login_window),
        settings=settings,
        demo=demo,
    )
    app.middlewares.append(security_headers)
    app.middlewares.append(auth_middleware)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/api/me", me)
