"""The two middlewares every response goes through, outermost first:

- `security_headers`: a strict Content-Security-Policy (no inline script or style), `nosniff`, no referrer, no
  framing, on every response (errors and 500s included; a handler may set its own CSP); and `Cache-Control:
  no-store` on every response but the static files' (pages and API answers carry the CSRF token, the caller, notes:
  no browser or proxy keeps them), unless the handler says otherwise.
- `errors`: the one mapping from exceptions to responses. A `WebError` (and aiohttp's own refusals) becomes JSON
  `{"error": id, "message": "…"}` for the API (and any client not asking for HTML), an HTML page otherwise;
  anything unexpected becomes a 500 with a reference, logged with its traceback, and the same French message.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

import jinja2
from aiohttp import hdrs, web

from screenpop.web.errors import HTTP_MESSAGES, WebError
from screenpop.web.pages import STATIC_ROUTE, render

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

TITLES = {400: "Demande invalide", 401: "Connexion nécessaire", 403: "Accès refusé", 404: "Page introuvable"}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # a redirect, or a refusal that no middleware below turned into a response
        secure(exc, cached=False)
        raise
    secure(response, cached=is_static(request))
    return response


def is_static(request: web.Request) -> bool:
    """Whether the route matched is the static files' (which set their own cache headers)."""
    resource = request.match_info.route.resource
    return resource is not None and resource.canonical == STATIC_ROUTE


def secure(response: web.StreamResponse, *, cached: bool = False) -> None:
    if not response.prepared:  # a websocket or stream already sent its headers
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not cached:
            response.headers.setdefault(hdrs.CACHE_CONTROL, "no-store")


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except WebError as exc:
        return error_response(request, exc.status, exc.error_id, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects
        error_id, message = HTTP_MESSAGES.get(exc.status, ("http-error", "Demande refusée."))
        response = error_response(request, exc.status, error_id, message)
        for name in (hdrs.ALLOW, hdrs.WWW_AUTHENTICATE, hdrs.RETRY_AFTER):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
        raise
    except Exception:
        reference = secrets.token_hex(4)
        log.exception("unexpected error, reference %s: %s %s", reference, request.method, request.path)
        message = f"Erreur interne du service (référence {reference}). Réessayez ; si elle persiste, signalez-la."
        return error_response(request, 500, "internal", message)


def wants_json(request: web.Request) -> bool:
    path = request.path
    if path == "/api" or path.startswith("/api/") or path == "/ws":
        return True
    return "text/html" not in request.headers.get(hdrs.ACCEPT, "")


def error_response(request: web.Request, status: int, error_id: str, message: str) -> web.Response:
    if not wants_json(request):
        try:
            return render(
                request, "web/error.html", {"title": TITLES.get(status, "Erreur"), "message": message}, status=status
            )
        except (KeyError, RuntimeError, jinja2.TemplateError):  # no page environment (a bare test app): JSON
            log.warning("error page not rendered for %s", request.path)
    return web.json_response(
        {"error": error_id, "message": message}, status=status, headers={hdrs.CACHE_CONTROL: "no-store"}
    )
