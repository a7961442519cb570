"""The directory over HTTP: the services (`/api/services`, open now or not) and the communes' autocomplete."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from screenpop.directory.errors import BadDepartement, BadLimit
from screenpop.directory.service import DirectoryService
from screenpop.web.keys import user_of
from screenpop.web.openapi import Operations, declare, operation
from storage.communes import CREDIT

DEPARTEMENT = re.compile(r"[0-9][0-9AB][0-9]?")


@dataclass(frozen=True)
class DirectoryDeps:
    service: DirectoryService
    departement: str | None = None  # its communes come first in the autocomplete


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


def _int(value: str, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise BadLimit(f"{name} : un entier de {low} à {high} est attendu")
    return number


OPERATIONS: Operations = {
    "/api/communes": {
        "get": operation("Autocomplete over the official list of communes (query parameter q)", errors=(400,))
    },
    "/api/services": {"get": operation("The directory of the département's services, with open_now")},
}


def setup(app: web.Application, deps: DirectoryDeps) -> None:
    app[DIRECTORY] = deps
    app.router.add_get("/api/communes", communes_search)
    app.router.add_get("/api/services", services_list)
    declare(app, OPERATIONS)
