"""The advisor desk: the page, the advisor's presence, transfers of the live call.

The page is a static skeleton (French); `static/desk.js` fills it from the JSON API and the websocket, always as
text (never HTML), under a strict Content-Security-Policy.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.settings import Settings
from screenpop.pops import call_done, current_call
from screenpop.web.keys import CSRF, USER
from storage.advisors import AdvisorRepository
from storage.services import ServiceRepository, is_open
from storage.users import User
from telephony.live import LiveCall, LiveView
from telephony.ports import ActionSender, RouterCommands, RouterUnavailable
from telephony.presence import PresenceError

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")

STATE_LABELS = {
    "logged_out": "Déconnecté",
    "available": "Disponible",
    "ringing": "Appel entrant",
    "on_call": "En communication",
    "wrap_up": "Fin d'appel",
    "paused": "En pause",
}


class PresenceRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    state: Literal["login", "available", "pause", "logout"]
    reason: str | None = Field(default=None, max_length=40)


class TransferRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    service_id: int = Field(ge=1)
    kind: Literal["blind", "attended"] = "blind"


@dataclass(frozen=True)
class DeskDeps:
    settings: Settings
    redis: aioredis.Redis
    pool: asyncpg.Pool
    ami: ActionSender
    commands: RouterCommands
    live: LiveView
    demo: bool = False


DESK = web.AppKey("desk", DeskDeps)


def _user(request: web.Request) -> User:
    try:
        return request[USER]
    except KeyError:
        raise web.HTTPUnauthorized(text='{"error":"unauthenticated"}', content_type="application/json") from None


def _error(status: type[web.HTTPException], code: str, message: str) -> web.HTTPException:
    body = json.dumps({"error": code, "message": message}, ensure_ascii=False)
    return status(text=body, content_type="application/json")


def _session_end(request: web.Request) -> str:
    """The form that ends the session (POST /logout with the session's CSRF token)."""
    token = html.escape(str(request.get(CSRF, "")), quote=True)
    return (
        '<form method="post" action="/logout" class="session-end">'
        f'<input type="hidden" name="csrf" value="{token}">'
        '<button type="submit">Fermer la session</button></form>'
    )


async def desk_page(request: web.Request) -> web.Response:
    deps = request.app[DESK]
    user = _user(request)
    demo = '<span class="demo" role="status">DÉMONSTRATION — appels simulés</span>' if deps.demo else ""
    page = NOT_AN_ADVISOR if user.advisor_id is None else PAGE  # a supervisor or admin without a phone: no desk
    body = page.format(name=html.escape(user.name), demo=demo, session_end=_session_end(request))
    return web.Response(text=body, content_type="text/html", charset="utf-8")


async def desk_state(request: web.Request) -> web.Response:
    deps = request.app[DESK]
    user = _user(request)
    state, reason = "logged_out", None
    if user.advisor_id is not None:
        last = await AdvisorRepository(deps.pool, deps.settings.routing.skills).last_state(user.advisor_id)
        if last is not None:
            state, reason = last.state.value, last.reason
    current = [] if user.advisor_id is None else await current_call(deps.redis, user.advisor_id)
    return web.json_response(
        {
            "user": {"name": user.name, "role": user.role.value, "advisor_id": user.advisor_id},
            "presence": {"state": state, "label": STATE_LABELS[state], "reason": reason},
            "pause_reasons": deps.settings.routing.pause_reasons,
            "demo": deps.demo,
            # the latest call not yet qualified (pop first): a page opened again shows it
            "current_call": [m.model_dump(mode="json") for m in current],
        }
    )


async def set_presence(request: web.Request) -> web.Response:
    deps = request.app[DESK]
    user = _user(request)
    if user.advisor_id is None:
        raise _error(web.HTTPForbidden, "not-an-advisor", "Seuls les conseillers ont une présence.")
    try:
        body = PresenceRequest.model_validate(await request.json())
    except (ValidationError, ValueError):
        raise _error(web.HTTPBadRequest, "invalid", "Demande invalide.") from None
    try:
        await deps.commands.send(user.advisor_id, body.state, body.reason)
    except PresenceError as exc:
        raise _error(web.HTTPConflict, "presence-refused", str(exc)) from None
    except RouterUnavailable:
        raise _error(web.HTTPServiceUnavailable, "router-unavailable", "Le routage ne répond pas. Réessayez.") from None
    return web.json_response({"ok": True})


async def _own_live_call(request: web.Request) -> tuple[DeskDeps, User, str, LiveCall]:
    """The live call named in the path, if it is the logged-in advisor's."""
    deps = request.app[DESK]
    user = _user(request)
    linkedid = request.match_info["linkedid"]
    live = deps.live.call(linkedid)
    advisor = None
    if user.advisor_id is not None:
        advisor = await AdvisorRepository(deps.pool, deps.settings.routing.skills).get(user.advisor_id)
    if live is None or not live.with_advisor or live.advisor_channel is None:
        raise _error(web.HTTPNotFound, "no-live-call", "Cet appel n'est plus en cours.")
    if advisor is None or live.advisor != advisor.interface:
        raise _error(web.HTTPForbidden, "not-your-call", "Cet appel n'est pas le vôtre.")
    return deps, user, linkedid, live


async def _send(deps: DeskDeps, action: dict[str, str], linkedid: str, message: str) -> None:
    try:
        await deps.ami.send(action)
    except Exception as exc:
        log.error("%s refused linkedid=%s: %s", action["Action"], linkedid, exc)
        raise _error(web.HTTPBadGateway, "transfer-failed", message) from None


async def transfer(request: web.Request) -> web.Response:
    try:
        body = TransferRequest.model_validate(await request.json())
    except (ValidationError, ValueError):
        raise _error(web.HTTPBadRequest, "invalid", "Demande de transfert invalide.") from None
    deps, user, linkedid, live = await _own_live_call(request)
    if live.consulting is not None:
        raise _error(
            web.HTTPConflict,
            "consultation-in-progress",
            "Une consultation est en cours : terminez ou annulez d'abord ce transfert.",
        )
    service = await ServiceRepository(deps.pool).get(body.service_id)
    if service is None or not service.active:
        raise _error(web.HTTPUnprocessableEntity, "unknown-service", "Service inconnu dans l'annuaire.")
    if not is_open(service, datetime.now(UTC), deps.settings.hours.timezone):
        raise _error(
            web.HTTPConflict, "service-closed", "Ce service est fermé en ce moment : proposez un rappel à l'usager."
        )
    action = {
        "Action": "BlindTransfer" if body.kind == "blind" else "Atxfer",
        "Channel": live.advisor_channel or "",
        "Exten": service.extension,
        "Context": "services",
    }
    await _send(deps, action, linkedid, "Le transfert a échoué.")
    log.info("transfer linkedid=%s to %s (%s) by %s", linkedid, service.extension, body.kind, user.login)
    return web.json_response({"ok": True})


async def complete_transfer(request: web.Request) -> web.Response:
    """End the consultation by handing the caller to the service: the advisor's leg (the transferer) hangs up,
    which is how Asterisk completes an attended transfer (the caller's bridge and the consultation's merge)."""
    deps, user, linkedid, live = await _own_live_call(request)
    if live.consulting is None:
        raise _error(web.HTTPConflict, "no-consultation", "Aucune consultation en cours pour cet appel.")
    # Only while the desk sees the advisor in the consultation: hanging up the advisor's leg once back with the
    # caller would end the caller's call instead.
    await _send(deps, {"Action": "Hangup", "Channel": live.advisor_channel or ""}, linkedid, "Le transfert a échoué.")
    log.info("attended transfer completed linkedid=%s to %s by %s", linkedid, live.consulting, user.login)
    return web.json_response({"ok": True})


async def cancel_transfer(request: web.Request) -> web.Response:
    """Give up the consultation and return to the caller (AMI CancelAtxfer: Asterisk's atxferabort)."""
    deps, user, linkedid, live = await _own_live_call(request)
    if live.consulting is None:
        raise _error(web.HTTPConflict, "no-consultation", "Aucune consultation en cours pour cet appel.")
    action = {"Action": "CancelAtxfer", "Channel": live.advisor_channel or ""}
    await _send(deps, action, linkedid, "L'annulation du transfert a échoué.")
    log.info("attended transfer cancelled linkedid=%s (%s) by %s", linkedid, live.consulting, user.login)
    return web.json_response({"ok": True})


@web.middleware
async def wrapup_after_qualification(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Saving the qualification ends the advisor's wrap-up (a pause asked meanwhile still applies)."""
    response = await handler(request)
    if (
        request.method == "POST"
        and request.path.endswith("/qualification")
        and response.status in (200, 202)  # 202: saved during the call, whose wrap-up is then already done
        and USER in request
        and request[USER].advisor_id is not None
    ):
        deps = request.app[DESK]
        advisor_id = request[USER].advisor_id
        assert advisor_id is not None
        try:
            await call_done(deps.redis, advisor_id, request.match_info.get("linkedid", ""))
        except (aioredis.RedisError, OSError) as exc:  # the page then shows that call again at a reload
            log.warning("current call of advisor %s not cleared after qualification: %s", advisor_id, exc)
        try:
            await deps.commands.send(advisor_id, "wrapup_done")
        except (PresenceError, RouterUnavailable) as exc:  # the wrap-up then ends at its maximum
            log.warning("wrap-up not ended after qualification (advisor %s): %s", advisor_id, exc)
    return response


def setup_desk(app: web.Application, deps: DeskDeps) -> None:
    app[DESK] = deps
    app.middlewares.append(wrapup_after_qualification)
    app.router.add_get("/desk", desk_page)
    app.router.add_get("/api/desk", desk_state)
    app.router.add_post("/api/presence", set_presence)
    app.router.add_post(r"/api/calls/{linkedid:[0-9.]{1,64}}/transfer", transfer)
    app.router.add_post(r"/api/calls/{linkedid:[0-9.]{1,64}}/transfer/complete", complete_transfer)
    app.router.add_post(r"/api/calls/{linkedid:[0-9.]{1,64}}/transfer/cancel", cancel_transfer)
    app.router.add_static("/static/", STATIC, show_index=False)


# The two pages' common start; `{head}` is what else the <head> holds (the desk's script).
_TOP = """<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Poste conseiller — GPS administration</title>
<link rel="stylesheet" href="/static/desk.css">
{head}</head>
<body>
<header>
  <h1>GPS administration — poste conseiller {demo}</h1>
"""

PAGE = (
    _TOP.replace("{head}", '<script src="/static/desk.js" defer></script>\n')
    + """  <div class="row">
    <span>{name}</span>
    <span>État : <span id="state" class="state" aria-live="polite">…</span></span>
    <span id="link" class="muted" aria-live="polite"></span>
    {session_end}
  </div>
</header>
<main>
  <section aria-labelledby="h-presence" class="presence">
    <h2 id="h-presence">Présence</h2>
    <div class="row">
      <button type="button" id="btn-available" class="primary" data-wired disabled>Disponible</button>
      <label for="pause-reason" class="muted">Motif de pause</label>
      <select id="pause-reason"></select>
      <button type="button" id="btn-pause" data-wired disabled>Pause</button>
      <button type="button" id="btn-logout" data-wired disabled>Se déconnecter du poste</button>
      <p id="presence-msg" role="status"></p>
    </div>
  </section>
  <div class="column">
  <section aria-labelledby="h-call" id="call">
    <h2 id="h-call">Appel</h2>
    <div id="pop" class="pop" aria-live="assertive"><p class="muted">Aucun appel en cours.</p></div>
    <div id="transfer" hidden>
      <label for="transfer-service">Transférer vers un service</label>
      <select id="transfer-service"></select>
      <div class="row">
        <button type="button" id="btn-blind" data-wired disabled>Transfert direct</button>
        <button type="button" id="btn-attended" data-wired disabled>Transfert avec présentation</button>
      </div>
      <p id="transfer-msg" role="status"></p>
      <button type="button" id="btn-callback" data-wired disabled hidden>Noter un rappel à la place</button>
    </div>
    <div id="consultation" hidden>
      <p>L'usager est en attente pendant que vous parlez au service.</p>
      <div class="row">
        <button type="button" id="btn-complete" class="primary" data-wired disabled>Terminer le transfert</button>
        <button type="button" id="btn-cancel" data-wired disabled>Annuler le transfert (reprendre l'usager)</button>
      </div>
      <p id="consultation-msg" role="status"></p>
    </div>
  </section>
  <section aria-labelledby="h-history">
    <h2 id="h-history">Historique de ce numéro</h2>
    <table><thead><tr><th>Date</th><th>Thème</th><th>Issue</th><th>Conseiller</th><th>Note</th></tr></thead>
    <tbody id="history"><tr><td colspan="5" class="muted">—</td></tr></tbody></table>
  </section>
  <section aria-labelledby="h-callbacks">
    <h2 id="h-callbacks">Rappels en attente pour ce numéro</h2>
    <ul id="callbacks"><li class="muted">—</li></ul>
  </section>
  </div>
  <section aria-labelledby="h-qualif" class="qualification">
    <h2 id="h-qualif">Qualification de l'appel</h2>
    <form id="qualification" novalidate>
      <div class="fields">
        <div><label for="q-topic">Thème</label><select id="q-topic" required></select></div>
        <div><label for="q-subtopic">Sous-thème</label><select id="q-subtopic"></select></div>
        <div><label for="q-outcome">Issue</label><select id="q-outcome" required></select></div>
        <div><label for="q-service">Service (si transfert)</label><select id="q-service"></select></div>
        <div><label for="q-partner">Partenaire (contact donné)</label><select id="q-partner"></select></div>
        <div>
          <label for="q-commune">Commune de résidence</label>
          <input id="q-commune" role="combobox" aria-autocomplete="list" aria-expanded="false"
                 aria-controls="q-communes" autocomplete="off" maxlength="60">
          <ul id="q-communes" class="suggestions" role="listbox" hidden></ul>
        </div>
        <div class="check"><label><input type="checkbox" id="q-callback"> Rappel demandé</label></div>
        <div><label for="q-slot">Créneau de rappel souhaité</label><input id="q-slot" maxlength="80"></div>
        <div class="wide">
          <label for="q-note">Note <span id="q-note-count" class="muted"></span></label>
          <textarea id="q-note" maxlength="2000"></textarea>
        </div>
      </div>
      <p><button type="submit" class="primary" id="q-save" data-wired disabled>Enregistrer la qualification</button></p>
      <p id="q-msg" role="status"></p>
    </form>
  </section>
</main>
<footer>Liste des communes : Etalab — découpage administratif (Licence Ouverte).</footer>
</body>
</html>
"""
)

NOT_AN_ADVISOR = (
    _TOP.replace("{head}", "")
    + """  <div class="row"><span>{name}</span>{session_end}</div>
</header>
<main class="single">
  <section aria-labelledby="h-none">
    <h2 id="h-none">Pas de poste conseiller pour ce compte</h2>
    <p>Ce compte n'est rattaché à aucun conseiller : il ne reçoit pas d'appels. Le poste conseiller s'ouvre avec
    le compte d'un conseiller (un administrateur rattache un compte à un conseiller avec
    <code>gps-admin users add --advisor</code>).</p>
  </section>
</main>
</body>
</html>
"""
)
