"""The OpenAPI document describes every route of the real application, and is served."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate

from config.settings import load_settings
from gps_admin.app import Endpoints, build_app
from screenpop.web.openapi import document, undocumented
from tests.fixtures_db import fresh_database
from tests.servers import redis_url

__all__ = ["fresh_database"]


async def test_every_route_is_documented_and_the_document_is_served(fresh_database: str, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    app = await build_app(settings, Endpoints(fresh_database, redis_url(15), True))
    assert undocumented(app) == []
    doc = document(app)
    assert doc["openapi"].startswith("3.")
    assert "Qualification" in doc["components"]["schemas"]
    post = doc["paths"]["/api/calls/{linkedid}/qualification"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/Qualification")
    assert set(post["responses"]) == {"200", "202", "401", "403", "404", "422"}
    # every response of every operation is keyed by its HTTP status (an "errors" key once slipped in)
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                assert status.isdigit() and 200 <= int(status) < 600, (path, method, status)
                assert "description" in response, (path, method, status)
    # a valid OpenAPI document: every $ref resolves, every path parameter is declared
    validate(doc)
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            declared = {p["name"] for p in operation.get("parameters", ()) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (method, path, declared)
    # served without a session, without starting the service's tasks (no cleanup contexts here)
    app.cleanup_ctx.clear()
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/openapi.json")
        assert response.status == 200
        assert (await response.json())["info"]["title"].startswith("GPS administration")
