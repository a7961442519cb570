"""Desk authentication over HTTP: the login page and form, logout, `/api/me`, and the middleware that requires a
session (and its CSRF token on state changes) everywhere but the public routes.

- The browser holds the session token in the `gps_session` cookie (HttpOnly, SameSite=Strict, Secure unless
  `secure_cookies` is off). Every login makes a new token (no fixation); logout deletes it.
- Every state-changing request (POST/PUT/PATCH/DELETE) past the login carries the session's CSRF token
  (header `X-CSRF-Token` or form field `csrf`). The login form has its own token, signed by the server with an
  expiry (`screenpop.auth.tokens`), in a cookie (`gps_login_csrf`) and a hidden field: both must carry it, so a
  forged login, or a cookie and a field merely equal, is refused.
- `request[USER]` (a `storage.users.User`), `request[CSRF]` (keys of `screenpop.web.keys`) and `request[SESSION]`
  are set for every protected handler, and for the routes a session may see more of (`OPTIONAL_PATHS`: the
  health check's details) when the request carries a valid session.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiohttp import hdrs, web
from yarl import URL

from config.settings import DeskSettings
from screenpop.auth.errors import AuthUnavailable, CsrfRefused, LoginCsrfRefused
from screenpop.auth.models import LoginForm, LogoutForm, Me
from screenpop.auth.service import AuthService, SessionEnding
from screenpop.web.body import read_form
from screenpop.web.errors import Unauthenticated, WebError
from screenpop.web.keys import CSRF, USER
from screenpop.web.middleware import Handler
from screenpop.web.openapi import Operations, declare, operation
from screenpop.web.pages import STATIC_ROUTE, render
from storage.redis.sessions import Session, SessionStore
from storage.redis.signing import SigningKeys
from storage.redis.throttle import LoginThrottle
from storage.users import Role, UserRepository

log = logging.getLogger(__name__)

SESSION_COOKIE = "gps_session"
LOGIN_CSRF_COOKIE = "gps_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
DEFAULT_NEXT = "/desk"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
PUBLIC_PATHS = frozenset({"/healthz", "/metrics", "/openapi.json", STATIC_ROUTE})
OPTIONAL_PATHS = frozenset({"/healthz", "/metrics"})  # public, with more for some sessions (metrics: see its module)


@dataclass(frozen=True)
class AuthDeps:
    users: UserRepository
    sessions: SessionStore
    throttle: LoginThrottle
    signing: SigningKeys
    settings: DeskSettings
    session_ending: Sequence[SessionEnding] = ()  # e.g. the desk's advisor leaving the queue
    landing: Mapping[Role, str] = field(default_factory=dict)  # where a role lands after login (default: the desk)


@dataclass(frozen=True)
class Auth:
    service: AuthService
    settings: DeskSettings
    landing: Mapping[Role, str] = field(default_factory=dict)


AUTH = web.AppKey("auth", Auth)
SESSION = web.RequestKey("session", Session)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let public routes through; elsewhere require a session, and its CSRF token on state changes."""
    if _is_public(request):
        if _route(request) in OPTIONAL_PATHS and SESSION_COOKIE in request.cookies:
            with contextlib.suppress(AuthUnavailable):  # Redis or PostgreSQL away: seen as anonymous
                signed_in = await request.app[AUTH].service.signed_in(request.cookies[SESSION_COOKIE])
                if signed_in is not None:
                    request[USER] = signed_in.user
        return await handler(request)
    signed_in = await request.app[AUTH].service.signed_in(request.cookies.get(SESSION_COOKIE))
    if signed_in is None:
        return _unauthenticated(request)
    if request.method not in SAFE_METHODS and not await _csrf_ok(request, signed_in.session.csrf):
        log.warning("CSRF token refused: %s %s (user %s)", request.method, request.path, signed_in.user.login)
        raise CsrfRefused()
    request[USER] = signed_in.user
    request[CSRF] = signed_in.session.csrf
    request[SESSION] = signed_in.session
    return await handler(request)


def _route(request: web.Request) -> str | None:
    """The route the router matched (its canonical path), None when none did."""
    resource = request.match_info.route.resource
    return None if resource is None else resource.canonical


def _is_public(request: web.Request) -> bool:
    """Decided on the route the router matched, not on the raw path (no `/static/../` games)."""
    route = _route(request)
    if route is None:  # no route: 404 or 405 only once logged in (routes are not discoverable)
        return False
    if route == "/login":
        return request.method in {"GET", "HEAD", "POST"}
    return route in PUBLIC_PATHS


async def _csrf_ok(request: web.Request, expected: str) -> bool:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        field = (await read_form(request)).get(CSRF_FIELD)
        given = field if isinstance(field, str) else None
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _unauthenticated(request: web.Request) -> web.StreamResponse:
    wants_html = "text/html" in request.headers.get(hdrs.ACCEPT, "")
    is_websocket = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
    is_api = request.path == "/api" or request.path.startswith("/api/")
    if request.method in {"GET", "HEAD"} and wants_html and not is_websocket and not is_api:
        location = URL("/login").with_query(next=safe_next(request.rel_url.path_qs))
        return web.Response(status=303, headers={hdrs.LOCATION: str(location), hdrs.CACHE_CONTROL: "no-store"})
    raise Unauthenticated()


def safe_next(value: str | None, default: str = DEFAULT_NEXT) -> str:
    """`value` if it is a path of this site, else `default`: never an absolute or scheme-relative URL."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return default
    try:
        url = URL(value)
    except ValueError:
        return default
    if url.is_absolute() or url.scheme or url.path == "/login":
        return default
    return value


def asked_page(value: str | None) -> str:
    """The page a login was asked for, "" when none (the site's root is none): the user then lands on their role's
    page (`AuthDeps.landing`: a supervisor's wallboard), else the desk."""
    page = safe_next(value, default="")
    return "" if page == "/" else page


# -- handlers ----------------------------------------------------------------------------------------


async def login_page(request: web.Request) -> web.StreamResponse:
    return await _login_page(request, asked_page(request.query.get("next")))


async def login(request: web.Request) -> web.StreamResponse:
    auth = request.app[AUTH]
    form = await read_form(request)
    next_url = asked_page(_field(form, "next"))
    if not await auth.service.login_token_ok(request.cookies.get(LOGIN_CSRF_COOKIE), _field(form, CSRF_FIELD)):
        log.warning("login refused: missing, forged or expired login form token (from %s)", request.remote)
        return await _login_page(request, next_url, error=LoginCsrfRefused(), new_token=True)
    name = _field(form, "login").strip().lower()
    try:
        signed_in = await auth.service.log_in(
            name, _field(form, "password"), request.remote or "unknown", request.cookies.get(SESSION_COOKIE)
        )
    except WebError as exc:  # the login page again, with the French reason
        return await _login_page(request, next_url, error=exc, login=name[:40])
    landing = next_url or auth.landing.get(signed_in.user.role, DEFAULT_NEXT)  # no page asked: the role's own
    response = web.Response(status=303, headers={hdrs.LOCATION: landing, hdrs.CACHE_CONTROL: "no-store"})
    secure = auth.settings.secure_cookies
    response.set_cookie(
        SESSION_COOKIE, signed_in.session.token, path="/", httponly=True, samesite="Strict", secure=secure
    )
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login", httponly=True, samesite="Strict", secure=secure)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    auth = request.app[AUTH]
    await auth.service.log_out(request[SESSION], request[USER])
    response = web.Response(status=303, headers={hdrs.LOCATION: "/login", hdrs.CACHE_CONTROL: "no-store"})
    response.del_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict", secure=auth.settings.secure_cookies)
    return response


async def me(request: web.Request) -> web.StreamResponse:
    body = Me(**request[USER].model_dump(), csrf=request[CSRF])
    return web.json_response(body.model_dump(mode="json"), headers={hdrs.CACHE_CONTROL: "no-store"})


def _field(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _login_page(
    request: web.Request, next_url: str, *, error: WebError | None = None, login: str = "", new_token: bool = False
) -> web.Response:
    token = await request.app[AUTH].service.login_token(None if new_token else request.cookies.get(LOGIN_CSRF_COOKIE))
    context = {"login_csrf": token, "next_url": next_url, "login": login, "error": error.message if error else ""}
    response = render(request, "auth/login.html", context, status=error.status if error else 200)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        path="/login",
        httponly=True,
        samesite="Strict",
        secure=request.app[AUTH].settings.secure_cookies,
    )
    return response


OPERATIONS: Operations = {
    "/login": {
        "get": operation("Login page (HTML, French)", auth=False),
        "post": operation(
            "Log in; 303 to `next` (the desk by default)", form=LoginForm, auth=False, errors=(400, 401, 403, 429, 503)
        ),
    },
    "/logout": {"post": operation("Log out; 303 to /login", form=LogoutForm, errors=(400, 403))},
    "/api/me": {"get": operation("Who is logged in, and the CSRF token for state-changing calls")},
}


def setup(app: web.Application, deps: AuthDeps) -> None:
    """The auth middleware (after the web layer's) and the login/logout/me routes."""
    service = AuthService(deps.users, deps.sessions, deps.throttle, deps.signing, session_ending=deps.session_ending)
    app[AUTH] = Auth(service, deps.settings, deps.landing)
    app.middlewares.append(auth_middleware)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/api/me", me)
    declare(app, OPERATIONS)
