"""The OpenAPI document of the HTTP API, served at /openapi.json, assembled from the operations each slice
declares when it registers its routes (`declare`). Request bodies come from the same pydantic models the handlers
validate with, their schemas (and the schemas they use, e.g. `Outcome`) under `components/schemas`; every path
parameter is declared (`declare` refuses an operation that leaves one out). `undocumented(app)` lists the routes
no slice declared, and a test keeps it empty and validates the document (openapi-spec-validator), so the document
cannot drift from the app.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
REF_TEMPLATE = "#/components/schemas/{model}"
ERROR = {"description": "French message", "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}

LINKEDID = {
    "name": "linkedid",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9.]{1,64}$"},
}
E164 = {
    "name": "e164",
    "in": "path",
    "required": True,
    "description": "A phone number in E.164 (+33321000001)",
    "schema": {"type": "string", "pattern": "^\\+[1-9][0-9]{6,14}$"},
}

Operations = Mapping[str, Mapping[str, Mapping[str, Any]]]  # path → method → operation


def operation(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    form: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    auth: bool = True,
    csrf: bool = False,
    errors: tuple[int, ...] = (),
    accepted: str | None = None,
    path_parameters: tuple[Mapping[str, Any], ...] = (),
) -> dict[str, Any]:
    """One operation: 200, `accepted` (the meaning of a 202, if the operation can answer one) and the `errors`
    it can answer, each with the French error body. `body`: its JSON body's model; `form`: its form's; `response`:
    its 200 answer's model, when it has one."""
    responses: dict[str, Any] = {"200": {"description": "OK"}}
    if response is not None:
        ref = {"$ref": REF_TEMPLATE.format(model=response.__name__)}
        responses["200"] = {"description": "OK", "content": {JSON: {"schema": ref}}}
    if accepted is not None:
        responses["202"] = {"description": accepted}
    responses.update({str(code): ERROR for code in errors})
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if response is not None:
        op["x-response-model"] = response
    parameters: list[Mapping[str, Any]] = list(path_parameters)
    for model, media in ((body, JSON), (form, FORM)):
        if model is not None:
            op["requestBody"] = {
                "required": True,
                "content": {media: {"schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)}}},
            }
            op["x-model"] = model
    if body is not None or csrf:
        parameters.append({"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}})
    if parameters:
        op["parameters"] = parameters
    if auth:
        op["security"] = [{"session": []}]
        op["responses"]["401"] = ERROR
    return op


@dataclass
class Document:
    paths: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    models: dict[str, type[BaseModel]] = field(default_factory=dict)


OPENAPI = web.AppKey("openapi", Document)


def declare(app: web.Application, operations: Operations) -> None:
    """A slice's operations (called by its `setup`)."""
    doc = app.setdefault(OPENAPI, Document())
    for path, methods in operations.items():
        for method, op in methods.items():
            declared = {p["name"] for p in op.get("parameters", ()) if p.get("in") == "path"}
            if declared != set(re.findall(r"{(\w+)}", path)):
                raise ValueError(f"{method.upper()} {path}: path parameters declared {sorted(declared)}")
            op = dict(op)
            for key in ("x-model", "x-response-model"):
                model = op.pop(key, None)
                if model is not None:
                    doc.models[model.__name__] = model
            doc.paths.setdefault(path, {})[method] = op


def declare_errors(app: web.Application, path: str, method: str, errors: tuple[int, ...]) -> None:
    """More errors an operation declared by another slice can answer (a slice's middleware acting on that route,
    e.g. the desk's on `POST /logout`). Call after the slice that declares the operation."""
    op = app.setdefault(OPENAPI, Document()).paths[path][method]
    op["responses"] = {**op["responses"], **{str(code): ERROR for code in errors}}


def document(app: web.Application) -> dict[str, Any]:
    doc = app.get(OPENAPI) or Document()
    schemas: dict[str, Any] = {
        "Error": {"type": "object", "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}
    }
    mode: JsonSchemaMode = "validation"
    models = [(model, mode) for _, model in sorted(doc.models.items())]
    if models:  # the models and every schema they refer to (an enum such as Outcome), each once
        _, definitions = models_json_schema(models, ref_template=REF_TEMPLATE)
        schemas.update(definitions.get("$defs", {}))
    return {
        "openapi": "3.1.0",
        "info": {"title": "GPS administration — advisor desk API", "version": "0.1.0"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "gps_session"}},
        },
        "paths": doc.paths,
    }


def undocumented(app: web.Application) -> list[str]:
    """Routes of `app` that the document does not describe ("METHOD path")."""
    paths = (app.get(OPENAPI) or Document()).paths
    missing = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix") or ""
        method = route.method.lower()
        if method == "head" or path.startswith("/static"):
            continue
        if method not in paths.get(path, {}):
            missing.append(f"{route.method} {path}")
    return missing


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(document(request.app))


OPERATIONS: Operations = {"/openapi.json": {"get": operation("This document", auth=False)}}
