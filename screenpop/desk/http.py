"""The desk over HTTP: the page (`/desk`), its state (`/api/desk`) and the advisor's presence (`/api/presence`).

The page is a skeleton (French, from `templates/desk.html`); `web/static/desk.js` fills it from the JSON API and
the websocket, always as text (never HTML), under a strict Content-Security-Policy.

« Fermer la session » (`POST /logout`, the auth slice's route, in every page's header) first takes the advisor out
of the queue: the auth slice calls `DeskService.leave_queue` before it ends a session (wired in `gps_admin/app.py`);
refused while a call is up, the session stays open and the page says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from pydantic import ValidationError

from screenpop.desk.errors import InvalidPresence
from screenpop.desk.models import DeskDay, PresenceRequest
from screenpop.desk.service import DeskService
from screenpop.web import nav
from screenpop.web.body import read_json
from screenpop.web.keys import USER, user_of
from screenpop.web.openapi import Operations, declare, declare_errors, operation
from screenpop.web.pages import render
from storage.users import Role


@dataclass(frozen=True)
class DeskDeps:
    service: DeskService
    note_max: int


DESK = web.AppKey("desk", DeskDeps)


async def desk_page(request: web.Request) -> web.Response:
    user = user_of(request)
    if user.advisor_id is None:  # a supervisor or admin without a phone: no desk
        return render(request, "desk/no_desk.html")
    return render(request, "desk/desk.html", {"note_max": request.app[DESK].note_max})


async def desk_state(request: web.Request) -> web.Response:
    state = await request.app[DESK].service.state(user_of(request))
    return web.json_response(state.model_dump(mode="json"))


async def desk_day(request: web.Request) -> web.Response:
    day = await request.app[DESK].service.day(user_of(request))
    return web.json_response(day.model_dump(mode="json"))


async def set_presence(request: web.Request) -> web.Response:
    user = user_of(request)
    try:
        body = PresenceRequest.model_validate(await read_json(request))
    except ValidationError:
        raise InvalidPresence() from None
    await request.app[DESK].service.set_presence(user, body.state, body.reason)
    return web.json_response({"ok": True})


async def to_desk(request: web.Request) -> web.Response:
    """The site's root: the page the user's role starts on (`web.nav.HOMES`, the same as after a login)."""
    raise web.HTTPSeeOther(nav.home(request.app, request.get(USER)))


OPERATIONS: Operations = {
    "/desk": {"get": operation("The advisor desk page (HTML, French)")},
    "/api/desk": {"get": operation("The advisor's presence, the pause reasons and the call not yet qualified")},
    "/api/desk/day": {
        "get": operation(
            "« Ma journée »: the advisor's own calls taken today, average handling time and time in pause",
            response=DeskDay,
            errors=(403,),
        )
    },
    "/api/presence": {
        "post": operation(
            "Change presence: login, available, pause (reason), logout",
            body=PresenceRequest,
            errors=(400, 403, 409, 503),
        )
    },
    "/": {"get": operation("Redirects to the desk, an editor to the knowledge base (to the login page first)")},
}


def setup(app: web.Application, deps: DeskDeps) -> None:
    app[DESK] = deps
    app.router.add_get("/desk", desk_page)
    app.router.add_get("/api/desk", desk_state)
    app.router.add_get("/api/desk/day", desk_day)
    app.router.add_post("/api/presence", set_presence)
    app.router.add_get("/", to_desk)
    declare(app, OPERATIONS)
    declare_errors(app, "/logout", "post", (409, 503))  # DeskService.leave_queue's refusals, told by the auth slice
    nav.register(app, nav.item("Poste conseiller", "/desk", Role, order=10))
