"""Schemathesis over every operation of /openapi.json, logged in (session cookie and CSRF header), against the real
application (`build_app`, real PostgreSQL, Redis and Asterisk): no input it makes up gets a server error.

Bounded: `EXAMPLES` cases per operation and generation mode (valid, then invalid data), derandomized (the same
cases at every run), about a minute in all. The fuzzing runs in a thread (schemathesis is synchronous); the
application is served by this test's event loop meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from tests.fixtures_db import fresh_database
from tests.integration.webapp import ADA, AGNES, LIVE_CALL, LIVE_CALLER, PAST_CALL, Served, serve
from tests.rig.asterisk import AsteriskRig
from tests.servers import redis_url

__all__ = ["fresh_database"]

pytestmark = pytest.mark.asterisk

REDIS = redis_url(5)
EXAMPLES = 20
PUBLIC = {"GET /openapi.json", "GET /healthz", "GET /login", "POST /login"}
# Made-up path parameters end at the first check (no such call): each operation on a call is also fuzzed on agnes's
# live call and on her past one, and the history on her caller's number, so the bodies reach the rules and the SQL.
ON_CALLS = [{}, {"linkedid": LIVE_CALL}, {"linkedid": PAST_CALL}]
PATHS = {
    "/api/calls/{linkedid}/qualification": ON_CALLS,
    "/api/calls/{linkedid}/transfer": ON_CALLS,
    "/api/calls/{linkedid}/transfer/complete": ON_CALLS,
    "/api/calls/{linkedid}/transfer/cancel": ON_CALLS,
    "/api/callers/{e164}/history": [{}, {"e164": LIVE_CALLER}],
}


@pytest.fixture
async def served(asterisk_rig: AsteriskRig, fresh_database: str, tmp_path: Path) -> AsyncIterator[Served]:
    async for app in serve(asterisk_rig, fresh_database, REDIS, tmp_path / "data"):
        yield app


Operation = schemathesis.APIOperation[Any, Any, Any, Any]
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


class Fuzz:
    """Calls every case made for each operation, logged in; keeps the statuses and the server errors."""

    def __init__(self, url: str, cookie: str, csrf: str, paths: dict[str, list[dict[str, str]]] | None = None) -> None:
        self.url, self.cookie, self.csrf = url, cookie, csrf
        self.paths = PATHS if paths is None else paths
        self.errors: list[str] = []
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)

    def run(self) -> None:
        schema = schemathesis.openapi.from_url(self.url + "/openapi.json")
        operations: list[Operation] = []
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result  # an operation schemathesis cannot read fails the test
            operations.append(result.ok())
        operations.sort(key=lambda op: op.path == "/logout")  # last: it ends the session
        for operation in operations:
            for path in self.paths.get(operation.path, [{}]):
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    with contextlib.suppress(hypothesis.errors.Unsatisfiable):  # nothing invalid to make
                        self.test(operation, mode, path)()

    def test(self, operation: Operation, mode: GenerationMode, path: dict[str, str]) -> Callable[[], None]:
        label = f"{operation.method.upper()} {operation.path}"
        headers = {"X-CSRF-Token": self.csrf}  # fixed: a made-up token only meets the CSRF check
        strategy = operation.as_strategy(generation_mode=mode, headers=headers, path_parameters=path or None)

        @SETTINGS
        @hypothesis.given(case=strategy)
        def call(case: schemathesis.Case[Operation]) -> None:
            response = case.call(
                base_url=self.url,
                headers={"X-CSRF-Token": self.csrf},
                cookies={"gps_session": self.cookie},
                allow_redirects=False,
                timeout=30,
            )
            self.statuses[label][response.status_code] += 1
            if response.status_code >= 500:
                self.errors.append(f"{label} ({mode.value}): {response.status_code} {response.text[:300]!r}")

        return call


CALLBACK_PATHS = (
    "/api/callbacks/{id}/attempts",
    "/api/callbacks/{id}/cancel",
    "/rappels/{id}/tentative",
    "/rappels/{id}/annulation",
)


async def open_callbacks(served: Served) -> dict[str, list[dict[str, str]]]:
    """Open callbacks for the operations on one (a made-up id ends at 404): each operation on its own, so the bodies
    reach the SQL while it is open (a « joint » attempt or a cancellation closes it)."""
    conn = await asyncpg.connect(served.dsn)
    try:
        ids = [
            await conn.fetchval(
                "INSERT INTO callbacks (linkedid, requested_by, created_at) VALUES ($1, 'agnes', now()) RETURNING id",
                f"fuzz.{secrets.token_hex(6)}",
            )
            for _ in CALLBACK_PATHS
        ]
    finally:
        await conn.close()
    return {path: [{}, {"id": str(i)}] for path, i in zip(CALLBACK_PATHS, ids, strict=True)}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("who", [AGNES, ADA])
async def test_no_server_error_on_any_operation(served: Served, who: str, report: Callable[[str], None]) -> None:
    client = await served.client(who)
    fuzz = Fuzz(served.url, client.session_cookie, client.csrf, {**PATHS, **await open_callbacks(served)})
    await asyncio.to_thread(fuzz.run)
    total = sum(sum(c.values()) for c in fuzz.statuses.values())
    report(f"schemathesis as {who}: {total} requests over {len(fuzz.statuses)} operations, {len(fuzz.errors)} 5xx")
    for label, counts in sorted(fuzz.statuses.items()):
        report(f"  {label}: {dict(sorted(counts.items()))}")
    assert not fuzz.errors, "\n".join(fuzz.errors)
    async with aiohttp.ClientSession() as anonymous:
        document = await (await anonymous.get(served.url + "/openapi.json")).json()
    operations = {f"{method.upper()} {path}" for path, methods in document["paths"].items() for method in methods}
    assert set(fuzz.statuses) == operations - {"GET /openapi.json"}  # every operation called (but the document)
    # logged in: no operation only ever refused for want of a session
    assert not [label for label, c in fuzz.statuses.items() if label not in PUBLIC and set(c) <= {401}]
