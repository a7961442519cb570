"""The OpenAPI document of the desk's HTTP API, served at /openapi.json.

Request bodies come from the same pydantic models the handlers validate with; `undocumented(app)` lists the
routes missing here, and a test keeps it empty so the document cannot drift from the app.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from screenpop.desk import PresenceRequest, TransferRequest
from storage.qualification import Qualification

JSON = "application/json"
ERROR = {"description": "French message", "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _op(
    summary: str,
    *,
    body: type | None = None,
    auth: bool = True,
    csrf: bool = False,
    errors: tuple[int, ...] = (),
    accepted: str | None = None,
) -> dict[str, Any]:
    """One operation: 200, `accepted` (the meaning of a 202, if the operation can answer one) and the `errors`
    it can answer, each with the French error body."""
    responses: dict[str, Any] = {"200": {"description": "OK"}}
    if accepted is not None:
        responses["202"] = {"description": accepted}
    responses.update({str(code): ERROR for code in errors})
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}},
        }
    if body is not None or csrf:
        op["parameters"] = [{"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}}]
    if auth:
        op["security"] = [{"session": []}]
        op["responses"]["401"] = ERROR
    return op


LINKEDID = {
    "name": "linkedid",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9.]{1,64}$"},
}

PATHS: dict[str, dict[str, dict[str, Any]]] = {
    "/login": {
        "get": _op("Login page (HTML, French)", auth=False),
        "post": _op("Log in (form: login, password, csrf, next); 303 to the desk", auth=False, errors=(429,)),
    },
    "/logout": {"post": _op("Log out (form field csrf); 303 to /login")},
    "/api/me": {"get": _op("Who is logged in, and the CSRF token for state-changing calls")},
    "/desk": {"get": _op("The advisor desk page (HTML, French)")},
    "/api/desk": {"get": _op("The advisor's presence and the pause reasons")},
    "/api/presence": {
        "post": _op(
            "Change presence: login, available, pause (reason), logout",
            body=PresenceRequest,
            errors=(409, 503),
        )
    },
    "/api/calls/{linkedid}/transfer": {
        "post": {
            **_op(
                "Transfer the live call to a service of the directory: blind (BlindTransfer) or attended (Atxfer: "
                "the caller waits on hold while the advisor consults the service, then completes or cancels)",
                body=TransferRequest,
                errors=(403, 404, 409, 422, 502),
            ),
            "x-path-parameters": [LINKEDID],
        }
    },
    "/api/calls/{linkedid}/transfer/complete": {
        "post": {
            **_op(
                "Attended transfer: complete it (the advisor's leg hangs up; the caller is bridged with the "
                "service consulted). Only while a consultation is in progress (409 no-consultation otherwise)",
                csrf=True,
                errors=(403, 404, 409, 502),
            ),
            "x-path-parameters": [LINKEDID],
        }
    },
    "/api/calls/{linkedid}/transfer/cancel": {
        "post": {
            **_op(
                "Attended transfer: cancel it and return to the caller (AMI CancelAtxfer). Only while a "
                "consultation is in progress (409 no-consultation otherwise)",
                csrf=True,
                errors=(403, 404, 409, 502),
            ),
            "x-path-parameters": [LINKEDID],
        }
    },
    "/api/calls/{linkedid}/qualification": {
        "post": {
            **_op(
                "Qualify a call: topic, outcome, callback, commune, note; ends the wrap-up (saved during the call:"
                " the advisor has no wrap-up after it)",
                body=Qualification,
                errors=(403, 404, 422),
                accepted="The call is still in progress (during the conversation, or transferred and the service"
                " still talking): the qualification is kept and joins the call's record when the call ends",
            ),
            "x-path-parameters": [LINKEDID],
        }
    },
    "/api/communes": {"get": _op("Autocomplete over the official list of communes (query parameter q)")},
    "/api/topics": {"get": _op("Qualification lists: topics and sub-topics, outcomes, partners (French labels)")},
    "/api/services": {"get": _op("The directory of the département's services, with open_now")},
    "/api/callers/{e164}/history": {"get": _op("A caller's previous calls (date, topic, outcome, advisor, note)")},
    "/ws": {
        "get": _op(
            "Websocket of the desk: screen pops and updates (pop, answered, consulting, consultation_ended, "
            "transferred, ended, ring_ended, presence); the browser acknowledges each {type: ack, id}"
        )
    },
    "/healthz": {
        "get": _op(
            "Health and live counters (AMI, calls, records, router, pop latency)",
            auth=False,
            errors=(503,),
        )
    },
    "/openapi.json": {"get": _op("This document", auth=False)},
    "/": {"get": _op("Redirects to the desk", auth=False)},
}


def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Error": {"type": "object", "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}
    }
    for model in (PresenceRequest, TransferRequest, Qualification):
        schemas[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    paths: dict[str, Any] = {}
    for path, methods in PATHS.items():
        paths[path] = {}
        for method, op in methods.items():
            op = dict(op)
            params = op.pop("x-path-parameters", [])
            if params:
                op["parameters"] = [*params, *op.get("parameters", [])]
            paths[path][method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "GPS administration — advisor desk API", "version": "0.1.0"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "gps_session"}},
        },
        "paths": paths,
    }


def undocumented(app: web.Application) -> list[str]:
    """Routes of `app` that the document does not describe ("METHOD path")."""
    missing = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix") or ""
        path = path.replace("{linkedid:[0-9.]{1,64}}", "{linkedid}")
        method = route.method.lower()
        if method == "head" or path.startswith("/static"):
            continue
        if method not in PATHS.get(path, {}):
            missing.append(f"{route.method} {path}")
    return missing


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(document())
