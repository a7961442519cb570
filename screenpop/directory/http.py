"""The directory over HTTP: the services (`/api/services`, open now or not), the communes' autocomplete, the desk's
directory search and the partners of a commune (JSON, `/api/directory/…`), and the administration pages
(`/annuaire…`, `screenpop.directory.pages`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from screenpop.directory import pages
from screenpop.directory.errors import BadDepartement, BadLimit, BadQuery, UnknownOrganisation
from screenpop.directory.models import Kind
from screenpop.directory.pages import PagesDeps
from screenpop.directory.service import DirectoryService
from screenpop.web.keys import user_of
from screenpop.web.openapi import Operations, declare, operation
from storage.communes import CREDIT, QUERY_MAX

DEPARTEMENT = re.compile(r"[0-9][0-9AB][0-9]?")
INSEE = re.compile(r"[0-9][0-9AB][0-9]{3}")


@dataclass(frozen=True)
class DirectoryDeps:
    service: DirectoryService
    departement: str | None = None  # its communes come first in the autocomplete
    pages: PagesDeps | None = None  # the administration pages (None: not served)


DIRECTORY = web.AppKey("directory", DirectoryDeps)


async def communes_search(request: web.Request) -> web.Response:
    user_of(request)
    deps = request.app[DIRECTORY]
    departement = request.query.get("departement") or deps.departement
    if departement is not None and not DEPARTEMENT.fullmatch(departement):
        raise BadDepartement()
    limit = _int(request.query.get("limit", "10"), "limit", 1, 50)
    found = await deps.service.communes(request.query.get("q", ""), limit, departement)
    return web.json_response({"communes": [c.model_dump(mode="json") for c in found], "credit": CREDIT})


async def services_list(request: web.Request) -> web.Response:
    user_of(request)
    services = await request.app[DIRECTORY].service.services(datetime.now(UTC))
    return web.json_response({"services": [s.model_dump(mode="json") for s in services]})


async def directory_search(request: web.Request) -> web.Response:
    """The desk's directory search: active entries matching what the advisor typed, with their opening now."""
    user_of(request)
    q = request.query.get("q", "")
    if len(q) > QUERY_MAX * 4:
        raise BadQuery(f"recherche trop longue ({QUERY_MAX} caractères utiles au plus)")
    kind_value = request.query.get("kind", "")
    try:
        kind = Kind(kind_value) if kind_value else None
    except ValueError:
        raise BadQuery(f"type « {kind_value[:40]} » inconnu") from None
    limit = _int(request.query.get("limit", "20"), "limit", 1, 50)
    found = await request.app[DIRECTORY].service.desk_search(q, kind=kind, limit=limit)
    return web.json_response({"results": [r.model_dump(mode="json") for r in found]})


async def commune_partners(request: web.Request) -> web.Response:
    """The partners serving a commune (INSEE code), by kind, with what to read to the caller."""
    user_of(request)
    code = request.match_info["code"]
    if not INSEE.fullmatch(code):
        raise UnknownOrganisation("commune inconnue : code INSEE attendu (5 caractères, par exemple 62041)")
    found = await request.app[DIRECTORY].service.desk_partners(code)
    return web.json_response(found.model_dump(mode="json"))


def _int(value: str, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise BadLimit(f"{name} : un entier de {low} à {high} est attendu")
    return number


COMMUNE_CODE = {
    "name": "code",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9][0-9AB][0-9]{3}$"},
}

OPERATIONS: Operations = {
    "/api/communes": {
        "get": operation(
            "Autocomplete over the official list of communes (query parameter q: a name, or a postal code), the"
            " département's first",
            errors=(400,),
        )
    },
    "/api/services": {"get": operation("The directory of the département's services, with open_now")},
    "/api/directory/search": {
        "get": operation(
            "Search the directory's active entries (query parameters q, kind, limit): accents and case ignored, by"
            " name, kind, commune or postal code, or a phone number; each with its opening now and what to read to"
            " the caller",
            errors=(400,),
        )
    },
    "/api/directory/communes/{code}/partners": {
        "get": operation(
            "The partners serving a commune (its INSEE code), by kind in the order a caller needs them (town hall,"
            " CCAS, France Services, CAF…), the most local first, with what to read to the caller",
            errors=(404,),
            path_parameters=(COMMUNE_CODE,),
        )
    },
}


def setup(app: web.Application, deps: DirectoryDeps) -> None:
    app[DIRECTORY] = deps
    app.router.add_get("/api/communes", communes_search)
    app.router.add_get("/api/services", services_list)
    app.router.add_get("/api/directory/search", directory_search)
    app.router.add_get("/api/directory/communes/{code}/partners", commune_partners)
    declare(app, OPERATIONS)
    if deps.pages is not None:
        pages.setup(app, deps.service, deps.pages)
