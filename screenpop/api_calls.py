"""The desk's JSON API for calls: commune autocomplete, qualification lists, services, qualification, history.

Handlers read `request[USER]` (a `screenpop.models.User`, set by the auth middleware) and answer in
JSON with French messages: `{"error": <stable id>, "message": <French text>}` on refusals, with status
400 (malformed request), 401 (no user), 403 (not yours), 404 (unknown call), 422 (refused content).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import ValidationError

from config.settings import DeskSettings
from screenpop.models import OUTCOME_LABELS, USER, User
from storage.communes import CREDIT, CommuneRepository
from storage.qualification import (
    NOTE_DB_MAX,
    MissingTransferService,
    NoteTooLong,
    NotYourCall,
    PendingQualification,
    Qualification,
    QualificationError,
    QualificationRepository,
    UnknownCall,
    UnknownCommune,
    UnknownPartner,
    UnknownService,
    UnknownSubtopic,
    UnknownTopic,
)
from storage.services import ServiceRepository, is_open

LINKEDID = re.compile(r"[0-9.]{1,64}")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
DEPARTEMENT = re.compile(r"[0-9][0-9AB][0-9]?")

_STATUS: dict[type[QualificationError], int] = {
    UnknownCall: 404,
    NotYourCall: 403,
    UnknownTopic: 422,
    UnknownSubtopic: 422,
    UnknownCommune: 422,
    UnknownService: 422,
    MissingTransferService: 422,
    UnknownPartner: 422,
    NoteTooLong: 422,
}

_FIELDS = {
    "topic": "thème",
    "subtopic": "sous-thème",
    "outcome": "issue de l'appel",
    "transfer_service_id": "service de transfert",
    "partner": "partenaire",
    "callback_requested": "demande de rappel",
    "callback_slot": "créneau de rappel",
    "commune_insee": "commune",
    "note": "note",
    "articles_used": "articles utilisés",
    "no_answer_question": "question sans réponse",
}


class _Api:
    def __init__(
        self,
        pool: asyncpg.Pool,
        desk: DeskSettings,
        departement: str | None,
        taken_by: Callable[[str], str | None],
    ) -> None:
        self.taken_by = taken_by
        self.pool = pool
        self.desk = desk
        self.departement = departement
        self.communes = CommuneRepository(pool)
        self.services = ServiceRepository(pool, desk.topics)
        self.qualifications = QualificationRepository(pool, desk)

    async def communes_search(self, request: web.Request) -> web.Response:
        _user(request)
        q = request.query.get("q", "")
        departement = request.query.get("departement") or self.departement
        if departement is not None and not DEPARTEMENT.fullmatch(departement):
            raise _error(400, "bad-departement", "département invalide (par exemple 62, 2A ou 971)")
        limit = _int(request.query.get("limit", "10"), "limit", 1, 50)
        found = await self.communes.search(q, limit=limit, departement=departement)
        return web.json_response({"communes": [c.model_dump(mode="json") for c in found], "credit": CREDIT})

    async def topics(self, request: web.Request) -> web.Response:
        _user(request)
        body = {
            "topics": [
                {
                    "key": key,
                    "label": topic.label,
                    "subtopics": [{"key": k, "label": v} for k, v in topic.subtopics.items()],
                }
                for key, topic in self.desk.topics.items()
            ],
            "outcomes": [{"key": o.value, "label": label} for o, label in OUTCOME_LABELS.items()],
            "partners": [{"key": k, "label": v} for k, v in self.desk.partners.items()],
            "note_max": min(self.desk.note_max, NOTE_DB_MAX),
        }
        return web.json_response(body)

    async def services_list(self, request: web.Request) -> web.Response:
        _user(request)
        now = datetime.now(UTC)
        services = await self.services.list(active_only=True)
        body = [{**s.model_dump(mode="json"), "open_now": is_open(s, now)} for s in services]
        return web.json_response({"services": body})

    async def qualify(self, request: web.Request) -> web.Response:
        user = _user(request)
        linkedid = request.match_info["linkedid"]
        if not LINKEDID.fullmatch(linkedid):
            raise _error(400, "bad-linkedid", "identifiant d'appel invalide")
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _error(400, "bad-json", "le corps de la requête doit être un objet JSON") from None
        if not isinstance(data, dict):
            raise _error(400, "bad-json", "le corps de la requête doit être un objet JSON")
        try:
            qualification = Qualification.model_validate(data)
        except ValidationError as exc:
            raise _error(422, "invalid-qualification", _french(exc)) from None
        interface = await self._advisor_interface(user)
        try:
            saved = await self.qualifications.save(linkedid, qualification, user, interface, self.taken_by(linkedid))
        except QualificationError as exc:
            raise _error(_STATUS.get(type(exc), 422), exc.error_id, str(exc)) from None
        if isinstance(saved, PendingQualification):  # the call is in progress: joined to its record at its end
            return web.json_response({"call": None, "changed": True, "pending": True}, status=202)
        body = {"call": saved.model_dump(mode="json", exclude={"changed"}), "changed": saved.changed, "pending": False}
        return web.json_response(body)

    async def history(self, request: web.Request) -> web.Response:
        _user(request)
        number = request.match_info["e164"]
        if not E164.fullmatch(number):
            raise _error(400, "bad-number", "numéro invalide : format international attendu, par exemple +33612345678")
        items = await self.qualifications.history(number)
        code = await self.qualifications.last_commune(number)
        commune = None if code is None else await self.communes.get(code)
        return web.json_response(
            {
                "history": [i.model_dump(mode="json") for i in items],
                "last_commune": None if commune is None else commune.model_dump(mode="json"),
            }
        )

    async def _advisor_interface(self, user: User) -> str | None:
        if user.advisor_id is None:
            return None
        value = await self.pool.fetchval("SELECT interface FROM advisors WHERE id = $1", user.advisor_id)
        return None if value is None else str(value)


def setup_calls_api(
    app: web.Application,
    *,
    pool: asyncpg.Pool,
    desk: DeskSettings,
    departement: str | None = None,
    taken_by: Callable[[str], str | None] = lambda _: None,
) -> None:
    """Register the routes. `departement` (e.g. "62"): its communes come first in the autocomplete.
    `taken_by`: linkedid → the interface of the advisor who answered that call while it is in progress
    (`LiveCalls.taken_by`): a qualification saved then waits for the call's record (HTTP 202)."""
    api = _Api(pool, desk, departement, taken_by)
    app.router.add_get("/api/communes", api.communes_search)
    app.router.add_get("/api/topics", api.topics)
    app.router.add_get("/api/services", api.services_list)
    app.router.add_post("/api/calls/{linkedid}/qualification", api.qualify)
    app.router.add_get("/api/callers/{e164}/history", api.history)


# -- helpers -----------------------------------------------------------------------------------------


def _error(status: int, error_id: str, message: str) -> web.HTTPException:
    body = json.dumps({"error": error_id, "message": message}, ensure_ascii=False)
    kinds: dict[int, type[web.HTTPException]] = {
        400: web.HTTPBadRequest,
        401: web.HTTPUnauthorized,
        403: web.HTTPForbidden,
        404: web.HTTPNotFound,
        409: web.HTTPConflict,
        422: web.HTTPUnprocessableEntity,
    }
    return kinds[status](text=body, content_type="application/json")


def _user(request: web.Request) -> User:
    if USER not in request:
        raise _error(401, "not-authenticated", "connexion requise")
    return request[USER]


def _int(value: str, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise _error(400, f"bad-{name}", f"{name} : un entier de {low} à {high} est attendu")
    return number


def _french(exc: ValidationError) -> str:
    """One line per refused field, in French."""
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"])
        label = _FIELDS.get(field, field)
        kind = err["type"]
        ctx: dict[str, Any] = err.get("ctx") or {}
        if kind == "missing":
            text = "obligatoire"
        elif kind == "extra_forbidden":
            text = "champ inconnu"
        elif kind == "string_too_long":
            text = f"trop long ({ctx.get('max_length')} caractères au plus)"
        elif kind == "string_too_short":
            text = "obligatoire"
        elif kind == "enum":
            text = "valeur inconnue ; possibles : " + ", ".join(o.value for o in OUTCOME_LABELS)
        elif kind == "string_pattern_mismatch":
            text = "format invalide"
        elif kind == "value_error":
            text = str(ctx.get("error", "valeur refusée"))
        elif kind.startswith(("int", "bool", "string_type")):
            text = "type de valeur incorrect"
        else:
            text = "valeur refusée"
        lines.append(text if not field else f"{label} : {text}")
    return " ; ".join(lines)
