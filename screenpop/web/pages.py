"""Pages from Jinja2 templates (autoescaped) and the static files they use, with cache headers and no CDN.

Each slice keeps its templates in `screenpop/<slice>/templates/`, named `<slice>/<file>` (e.g. `desk/desk.html`);
they extend `web/base.html` (the shared chrome: header, navigation, end of session, demo banner, skip link, footer
credits). Static files are served from
`web/static/` at `/static/<name>?v=<content hash>`: a page always names the current version, so the browser
may keep each file for a year (`immutable`); a URL without the current hash is served `no-cache`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import hdrs, web

from screenpop.web.keys import CSRF, USER
from screenpop.web.nav import navigation

ROOT = Path(__file__).resolve().parent.parent  # screenpop/
STATIC = Path(__file__).with_name("static")
LONG_CACHE = "public, max-age=31536000, immutable"
STATIC_ROUTE = "/static/{name}"  # the route's canonical path (its name is checked by a pattern)


@dataclass(frozen=True)
class StaticFile:
    path: Path
    version: str  # the first 12 hex digits of its SHA-256
    content_type: str


def _static_files() -> dict[str, StaticFile]:
    types = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".png": "image/png"}
    found = {}
    for path in sorted(STATIC.iterdir()):
        if path.is_file() and path.suffix in types:
            version = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            found[path.name] = StaticFile(path, version, types[path.suffix])
    return found


@dataclass(frozen=True)
class Pages:
    """The template environment and the static files of one application."""

    files: Mapping[str, StaticFile]
    demo: bool = False

    def url(self, name: str) -> str:
        return f"/static/{name}?v={self.files[name].version}"


PAGES = web.AppKey("pages", Pages)


def setup_pages(app: web.Application, *, demo: bool = False) -> None:
    """The Jinja2 environment (autoescape on for every template) and the `/static/{name}` route."""
    pages = Pages(_static_files(), demo)
    app[PAGES] = pages
    # every slice's templates/, each under its slice's name: "desk/desk.html", "web/base.html"
    loader = jinja2.PrefixLoader(
        {d.parent.name: jinja2.FileSystemLoader(str(d)) for d in sorted(ROOT.glob("*/templates")) if d.is_dir()}
    )
    env = aiohttp_jinja2.setup(
        app,
        loader=loader,
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = pages.url
    app.router.add_get(STATIC_ROUTE.replace("{name}", r"{name:[A-Za-z0-9_.-]{1,64}}"), static)


async def static(request: web.Request) -> web.StreamResponse:
    pages = request.app[PAGES]
    found = pages.files.get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    current = request.query.get("v") == found.version
    headers = {
        hdrs.CACHE_CONTROL: LONG_CACHE if current else "no-cache",
        hdrs.CONTENT_TYPE: f"{found.content_type}; charset=utf-8",
        hdrs.ETAG: f'"{found.version}"',
    }
    if request.headers.get(hdrs.IF_NONE_MATCH) == headers[hdrs.ETAG]:
        return web.Response(status=304, headers={k: v for k, v in headers.items() if k != hdrs.CONTENT_TYPE})
    return web.Response(body=found.path.read_bytes(), headers=headers)


def render(
    request: web.Request, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    """A page: `template` with the chrome's context (the user, the session's CSRF token, the demo flag)."""
    user = request.get(USER)
    chrome = {
        "user": user,
        "csrf": request.get(CSRF, ""),
        "demo": request.app[PAGES].demo,
        "nav": navigation(request.app, user, request.path),
    }
    response = aiohttp_jinja2.render_template(template, request, {**chrome, **(context or {})}, status=status)
    response.headers[hdrs.CACHE_CONTROL] = "no-store"
    return response
