"""`setup(app, deps)` of the shared web layer: the pages' environment and static files, the security headers and
the error mapping (outermost middlewares, in that order), and /openapi.json. Every slice's `setup` comes after."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from screenpop.web import middleware, openapi
from screenpop.web.pages import setup_pages


@dataclass(frozen=True)
class WebDeps:
    demo: bool = False  # the pages carry the « DÉMONSTRATION » banner


def setup(app: web.Application, deps: WebDeps) -> None:
    setup_pages(app, demo=deps.demo)
    app.middlewares.append(middleware.security_headers)
    app.middlewares.append(middleware.errors)
    app.router.add_get("/openapi.json", openapi.openapi_json)
    openapi.declare(app, openapi.OPERATIONS)
