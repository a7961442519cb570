"""The wallboard over HTTP, for supervisors and administrators: the page (`/supervision`, rendered on the server so
it works without scripts; `web/static/supervision.js` refreshes it live), its JSON snapshot (`/api/supervision`),
the supervisor's action on an advisor (`POST /supervision/action`, a plain form with the session's CSRF token) and
the wallboard's websocket (`/ws/supervision`: "changed" messages from the hub, Origin checked as the desk's)."""

from __future__ import annotations

import logging
from collections.abc import Set
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web
from pydantic import ValidationError

from screenpop.pops.errors import ForeignOrigin
from screenpop.supervision.errors import InvalidAction, NotASupervisor
from screenpop.supervision.models import ACTION_LABELS, ActionForm, Snapshot
from screenpop.supervision.service import DEFINITIONS_URL, SupervisionService
from screenpop.web import nav
from screenpop.web.body import read_form
from screenpop.web.errors import WebError
from screenpop.web.hub import Hub
from screenpop.web.keys import user_of
from screenpop.web.openapi import Operations, declare, operation
from screenpop.web.pages import render
from storage.users import Role, User

log = logging.getLogger(__name__)

ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
DONE = {"pause": "Le conseiller a été mis en pause.", "logout": "Le conseiller a été déconnecté du poste."}


@dataclass(frozen=True)
class SupervisionDeps:
    service: SupervisionService
    hub: Hub
    origins: Set[str]


SUPERVISION = web.AppKey("supervision", SupervisionDeps)


def _supervisor(request: web.Request) -> User:
    user = user_of(request)
    if user.role not in ROLES:
        raise NotASupervisor()
    return user


async def _page(
    request: web.Request, *, error: WebError | None = None, form: dict[str, str] | None = None
) -> web.Response:
    deps = request.app[SUPERVISION]
    snapshot = await deps.service.snapshot()
    context: dict[str, Any] = {
        "s": snapshot,
        "pause_reasons": deps.service.pause_reasons,
        "actions": ACTION_LABELS,
        "definitions": DEFINITIONS_URL,
        "done": DONE.get(request.query.get("fait", "")),
        "error": error.message if error else None,
        "form": form or {},
    }
    return render(request, "supervision/wallboard.html", context, status=error.status if error else 200)


async def wallboard(request: web.Request) -> web.Response:
    _supervisor(request)
    return await _page(request)


async def snapshot(request: web.Request) -> web.Response:
    _supervisor(request)
    found: Snapshot = await request.app[SUPERVISION].service.snapshot()
    return web.json_response(text=found.model_dump_json())


async def action(request: web.Request) -> web.Response:
    user = _supervisor(request)
    form = await read_form(request)
    typed = {k: v for k in ("advisor_id", "action", "pause_reason", "note") if isinstance(v := form.get(k), str)}
    typed = {k: v[:400] for k, v in typed.items()}
    try:
        parsed = ActionForm.model_validate({k: v for k, v in typed.items() if v != "" or k == "note"})
    except ValidationError:
        return await _page(request, error=InvalidAction(), form=typed)
    try:
        await request.app[SUPERVISION].service.act(user, parsed)
    except WebError as exc:
        return await _page(request, error=exc, form=typed)
    log.info("supervisor %s: %s advisor #%d (%s)", user.login, parsed.action, parsed.advisor_id, parsed.note[:80])
    raise web.HTTPSeeOther(f"/supervision?fait={parsed.action}")


async def websocket(request: web.Request) -> web.StreamResponse:
    deps = request.app[SUPERVISION]
    user = _supervisor(request)
    origin = request.headers.get(hdrs.ORIGIN, "")
    if origin.rstrip("/").lower() not in deps.origins:
        log.warning("wallboard websocket refused: origin %r (from %s)", origin[:200], request.remote)
        raise ForeignOrigin()
    return await deps.hub.watch(request, user)


OPERATIONS: Operations = {
    "/supervision": {
        "get": operation(
            "The live wallboard (HTML, French): calls waiting, advisors' states, today's figures; supervisors and"
            " admins",
            errors=(403,),
        )
    },
    "/api/supervision": {
        "get": operation(
            "The wallboard's snapshot (JSON): calls waiting (longest first), advisors with their state and time in"
            " state, today's figures with their targets and definitions; supervisors and admins",
            errors=(403,),
        )
    },
    "/supervision/action": {
        "post": operation(
            "Pause an advisor or log them out, with a reason (form: advisor_id, action pause|logout, pause_reason,"
            " note; 303 to the wallboard, or the wallboard again with the French reason)",
            form=ActionForm,
            csrf=True,
            errors=(400, 403, 404, 409, 503),
        )
    },
    "/ws/supervision": {
        "get": operation(
            "Websocket of the wallboard: {type: wallboard} whenever what it shows changed (read /api/supervision"
            " again); supervisors and admins, only from the service's own pages (Origin checked)",
            errors=(403,),
        )
    },
}


def setup(app: web.Application, deps: SupervisionDeps) -> None:
    app[SUPERVISION] = deps
    app.router.add_get("/supervision", wallboard)
    app.router.add_get("/api/supervision", snapshot)
    app.router.add_post("/supervision/action", action)
    app.router.add_get("/ws/supervision", websocket)
    declare(app, OPERATIONS)
    nav.register(app, nav.item("Tableau de bord", "/supervision", ROLES, order=20))
