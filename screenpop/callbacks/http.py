"""Callbacks over HTTP, for advisors, supervisors and admins: the page `/rappels` (rendered on the server, plain
forms with the session's CSRF token: an attempt, « Rappel effectué », « Annuler ») and the JSON API
(`/api/callbacks`, an attempt, a cancellation)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from screenpop.callbacks.errors import InvalidAttempt, InvalidCancel
from screenpop.callbacks.models import RESULT_LABELS, AttemptIn, AttemptOut, CallbackList, CancelIn
from screenpop.callbacks.service import ROLES, CallbackService, check
from screenpop.web import nav
from screenpop.web.body import read_form, read_json
from screenpop.web.errors import WebError, french
from screenpop.web.keys import user_of
from screenpop.web.openapi import Operations, declare, operation
from screenpop.web.pages import render

log = logging.getLogger(__name__)

CALLBACK_ID = r"{id:[0-9]{1,18}}"
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}}
FIELDS = {"result": "résultat", "note": "note", "reason": "motif"}
DONE = {  # ?fait=… after a change: fixed texts, never the query's own
    "tentative": "Tentative enregistrée : le rappel reste en attente.",
    "effectue": "Rappel effectué : il quitte la liste.",
    "annule": "Rappel annulé.",
}
DEFINITIONS = "/statistiques/definitions#def-callback-within-day"


@dataclass(frozen=True)
class CallbacksDeps:
    service: CallbackService


CALLBACKS = web.AppKey("callbacks", CallbacksDeps)


def _id(request: web.Request) -> int:
    return int(request.match_info["id"])


def _parse(model: type[BaseModel], data: Any, error: type[WebError]) -> Any:
    if not isinstance(data, dict):
        raise error()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(f"{error.default_message} ({french(exc, FIELDS)})") from None


async def _page(
    request: web.Request, *, error: WebError | None = None, form: dict[str, str] | None = None
) -> web.Response:
    found = await request.app[CALLBACKS].service.open(user_of(request))
    context: dict[str, Any] = {
        "found": found,
        "results": RESULT_LABELS,
        "done": DONE.get(request.query.get("fait", "")),
        "error": error.message if error else None,
        "form": form or {},
        "definition": DEFINITIONS,
    }
    return render(request, "callbacks/callbacks.html", context, status=error.status if error else 200)


async def page(request: web.Request) -> web.Response:
    check(user_of(request))
    return await _page(request)


async def _form(request: web.Request, names: tuple[str, ...]) -> dict[str, str]:
    form = await read_form(request)
    return {k: v[:600] for k in names if isinstance(v := form.get(k), str)}


async def attempt_form(request: web.Request) -> web.Response:
    user = check(user_of(request))
    callback_id = _id(request)
    typed = await _form(request, ("result", "note"))
    try:
        parsed = _parse(AttemptIn, {k: v for k, v in typed.items() if v != ""}, InvalidAttempt)
        done = await request.app[CALLBACKS].service.attempt(user, callback_id, parsed)
    except WebError as exc:
        return await _page(request, error=exc, form={**typed, "id": str(callback_id)})
    log.info("callback #%d: attempt by %s (%s)", callback_id, user.login, parsed.result)
    raise web.HTTPSeeOther("/rappels?fait=" + ("effectue" if done.status == "done" else "tentative"))


async def cancel_form(request: web.Request) -> web.Response:
    user = check(user_of(request))
    callback_id = _id(request)
    typed = await _form(request, ("reason",))
    try:
        parsed = _parse(CancelIn, typed, InvalidCancel)
        await request.app[CALLBACKS].service.cancel(user, callback_id, parsed)
    except WebError as exc:
        return await _page(request, error=exc, form={**typed, "id": str(callback_id)})
    log.info("callback #%d: cancelled by %s", callback_id, user.login)
    raise web.HTTPSeeOther("/rappels?fait=annule")


async def list_api(request: web.Request) -> web.Response:
    found = await request.app[CALLBACKS].service.open(user_of(request))
    return web.json_response(text=found.model_dump_json())


async def attempt_api(request: web.Request) -> web.Response:
    user = check(user_of(request))
    parsed = _parse(AttemptIn, await read_json(request), InvalidAttempt)
    done = await request.app[CALLBACKS].service.attempt(user, _id(request), parsed)
    return web.json_response(text=done.model_dump_json())


async def cancel_api(request: web.Request) -> web.Response:
    user = check(user_of(request))
    parsed = _parse(CancelIn, await read_json(request), InvalidCancel)
    done = await request.app[CALLBACKS].service.cancel(user, _id(request), parsed)
    return web.json_response(text=done.model_dump_json())


OPERATIONS: Operations = {
    "/rappels": {
        "get": operation(
            "The open callbacks (HTML, French), oldest first, with the forms to record an attempt, mark one done or"
            " cancel it; advisors, supervisors and admins",
            errors=(403,),
        )
    },
    "/rappels/{id}/tentative": {
        "post": operation(
            "Record an attempt on a callback (form: result joint|sans_reponse|messagerie|faux_numero, note; joint"
            " marks it done): 303 to /rappels, or the page again with the French reason",
            form=AttemptIn,
            csrf=True,
            errors=(400, 403, 404, 409),
            path_parameters=(ID,),
        )
    },
    "/rappels/{id}/annulation": {
        "post": operation(
            "Cancel an open callback with a reason (form: reason): 303 to /rappels, or the page again with the French"
            " reason",
            form=CancelIn,
            csrf=True,
            errors=(400, 403, 404, 409),
            path_parameters=(ID,),
        )
    },
    "/api/callbacks": {
        "get": operation(
            "The open callbacks, oldest first (500 at most), with how many are open and past one working day",
            response=CallbackList,
            errors=(403,),
        )
    },
    "/api/callbacks/{id}/attempts": {
        "post": operation(
            "Record an attempt to call back; result joint (reached) marks the callback done",
            body=AttemptIn,
            response=AttemptOut,
            errors=(400, 403, 404, 409, 413),
            path_parameters=(ID,),
        )
    },
    "/api/callbacks/{id}/cancel": {
        "post": operation(
            "Cancel an open callback, with a reason",
            body=CancelIn,
            response=AttemptOut,
            errors=(400, 403, 404, 409, 413),
            path_parameters=(ID,),
        )
    },
}


def setup(app: web.Application, deps: CallbacksDeps) -> None:
    app[CALLBACKS] = deps
    app.router.add_get("/rappels", page)
    app.router.add_post(f"/rappels/{CALLBACK_ID}/tentative", attempt_form)
    app.router.add_post(f"/rappels/{CALLBACK_ID}/annulation", cancel_form)
    app.router.add_get("/api/callbacks", list_api)
    app.router.add_post(f"/api/callbacks/{CALLBACK_ID}/attempts", attempt_api)
    app.router.add_post(f"/api/callbacks/{CALLBACK_ID}/cancel", cancel_api)
    declare(app, OPERATIONS)
    nav.register(app, nav.item("Rappels", "/rappels", ROLES, order=25))
