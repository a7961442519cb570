"""The calls over HTTP: the qualification lists, qualifying a call, the caller's history, transfers of the live
call. Handlers read `request[USER]` (set by the auth middleware) and answer JSON; refusals are the slice's errors
(`errors.py`), mapped by `screenpop.web.middleware.errors` to `{"error": <stable id>, "message": <French>}`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web
from pydantic import ValidationError

from config.settings import DeskSettings
from screenpop.calls.errors import BadLinkedid, BadNumber, InvalidQualification, InvalidTransfer, NotAnObject
from screenpop.calls.models import PendingQualification, Qualification, QualificationSaved, TransferRequest
from screenpop.calls.service import HistoryAccess, QualificationService, TransferService
from screenpop.directory.service import DirectoryService
from screenpop.web.body import read_json
from screenpop.web.errors import french
from screenpop.web.keys import user_of
from screenpop.web.openapi import E164 as E164_PARAMETER
from screenpop.web.openapi import LINKEDID, Operations, declare, operation
from telephony.records import OUTCOME_LABELS

LINKEDID_FORMAT = re.compile(r"[0-9.]{1,64}")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
LIVE_CALL = r"/api/calls/{linkedid:[0-9.]{1,64}}"

FIELDS = {  # the qualification's fields in French, for the refusals
    "topic": "thème",
    "subtopic": "sous-thème",
    "outcome": "issue de l'appel",
    "transfer_service_id": "service de transfert",
    "partner_id": "partenaire",
    "callback_requested": "demande de rappel",
    "callback_slot": "créneau de rappel",
    "commune_insee": "commune",
    "commune": "commune",
    "note": "note",
    "articles_used": "articles utilisés",
    "no_answer_question": "question sans réponse",
}


@dataclass(frozen=True)
class CallsDeps:
    qualifications: QualificationService
    transfers: TransferService
    directory: DirectoryService
    desk: DeskSettings
    history: HistoryAccess


CALLS = web.AppKey("calls", CallsDeps)


async def topics(request: web.Request) -> web.Response:
    user_of(request)
    deps = request.app[CALLS]
    body = {
        "topics": [
            {
                "key": key,
                "label": topic.label,
                "subtopics": [{"key": k, "label": v} for k, v in topic.subtopics.items()],
            }
            for key, topic in deps.desk.topics.items()
        ],
        "outcomes": [{"key": o.value, "label": label} for o, label in OUTCOME_LABELS.items()],
        "note_max": deps.qualifications.note_max,
    }
    return web.json_response(body)


async def qualify(request: web.Request) -> web.Response:
    user = user_of(request)
    linkedid = request.match_info["linkedid"]
    if not LINKEDID_FORMAT.fullmatch(linkedid):
        raise BadLinkedid()
    data = await read_json(request)
    if not isinstance(data, dict):
        raise NotAnObject()
    try:
        qualification = Qualification.model_validate(data)
    except ValidationError as exc:
        raise InvalidQualification(french(exc, FIELDS)) from None
    saved = await request.app[CALLS].qualifications.qualify(linkedid, qualification, user)
    if isinstance(saved, PendingQualification):  # the call is in progress: joined to its record at its end
        return web.json_response(QualificationSaved(call=None, changed=True, pending=True).model_dump(), status=202)
    body = QualificationSaved(call=saved, changed=saved.changed, pending=False)
    return web.json_response(body.model_dump(mode="json", exclude={"call": {"changed"}}))


async def history(request: web.Request) -> web.Response:
    user = user_of(request)
    deps = request.app[CALLS]
    number = request.match_info["e164"]
    if not E164.fullmatch(number):
        raise BadNumber()
    await deps.history.check(user, number)
    items = await deps.qualifications.history(number)
    code = await deps.qualifications.last_commune(number)
    commune = None if code is None else await deps.directory.commune(code)
    return web.json_response(
        {
            "history": [i.model_dump(mode="json") for i in items],
            "last_commune": None if commune is None else commune.model_dump(mode="json"),
        }
    )


async def transfer(request: web.Request) -> web.Response:
    user = user_of(request)
    try:
        body = TransferRequest.model_validate(await read_json(request))
    except ValidationError:
        raise InvalidTransfer() from None
    await request.app[CALLS].transfers.transfer(user, request.match_info["linkedid"], body.service_id, body.kind)
    return web.json_response({"ok": True})


async def complete_transfer(request: web.Request) -> web.Response:
    await request.app[CALLS].transfers.complete(user_of(request), request.match_info["linkedid"])
    return web.json_response({"ok": True})


async def cancel_transfer(request: web.Request) -> web.Response:
    await request.app[CALLS].transfers.cancel(user_of(request), request.match_info["linkedid"])
    return web.json_response({"ok": True})


OPERATIONS: Operations = {
    "/api/topics": {"get": operation("Qualification lists: topics and sub-topics, outcomes (French labels)")},
    "/api/calls/{linkedid}/qualification": {
        "post": operation(
            "Qualify a call: topic, outcome, the partner given (an organisation of the directory), callback,"
            " commune (its INSEE code, or its name or postal code as typed: resolved when it designates one"
            " commune, else refused), note; ends the wrap-up (saved during the call: the advisor has no wrap-up"
            " after it)",
            body=Qualification,
            errors=(403, 404, 422),
            accepted="The call is still in progress (during the conversation, or transferred and the service"
            " still talking): the qualification is kept and joins the call's record when the call ends",
            path_parameters=(LINKEDID,),
        )
    },
    "/api/callers/{e164}/history": {
        "get": operation(
            "A caller's previous calls (date, topic, outcome, advisor, note): for the advisor in, or just after, a call"
            " with that number (until it is qualified), and for supervisors and admins",
            errors=(400, 403),
            path_parameters=(E164_PARAMETER,),
        )
    },
    "/api/calls/{linkedid}/transfer": {
        "post": operation(
            "Transfer the live call to a service of the directory: blind (BlindTransfer) or attended (Atxfer: "
            "the caller waits on hold while the advisor consults the service, then completes or cancels)",
            body=TransferRequest,
            errors=(400, 403, 404, 409, 422, 502),
            path_parameters=(LINKEDID,),
        )
    },
    "/api/calls/{linkedid}/transfer/complete": {
        "post": operation(
            "Attended transfer: complete it (the advisor's leg hangs up; the caller is bridged with the "
            "service consulted). Only while a consultation is in progress (409 no-consultation otherwise)",
            csrf=True,
            errors=(403, 404, 409, 502),
            path_parameters=(LINKEDID,),
        )
    },
    "/api/calls/{linkedid}/transfer/cancel": {
        "post": operation(
            "Attended transfer: cancel it and return to the caller (AMI CancelAtxfer). Only while a "
            "consultation is in progress (409 no-consultation otherwise)",
            csrf=True,
            errors=(403, 404, 409, 502),
            path_parameters=(LINKEDID,),
        )
    },
}


def setup(app: web.Application, deps: CallsDeps) -> None:
    app[CALLS] = deps
    app.router.add_get("/api/topics", topics)
    app.router.add_post("/api/calls/{linkedid}/qualification", qualify)
    app.router.add_get("/api/callers/{e164}/history", history)
    app.router.add_post(LIVE_CALL + "/transfer", transfer)
    app.router.add_post(LIVE_CALL + "/transfer/complete", complete_transfer)
    app.router.add_post(LIVE_CALL + "/transfer/cancel", cancel_transfer)
    declare(app, OPERATIONS)
