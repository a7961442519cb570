"""The desk's calls API over HTTP (aiohttp test server) on a real PostgreSQL; a test middleware sets the user."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from config.settings import DeskSettings, OpeningHours
from screenpop.calls import http as calls_http
from screenpop.calls.service import HistoryAccess, QualificationService, TransferService
from screenpop.directory import http as directory_http
from screenpop.directory.service import DirectoryService
from screenpop.web import http as web_http
from screenpop.web.keys import USER
from storage.advisors import AdvisorRepository
from storage.calls import CallRecordRepository
from storage.communes import ensure_communes
from storage.services import ServiceRepository
from storage.users import Role, User
from telephony.effects import AdvisorRinging, CallAnswered, CallStarted
from telephony.live import LiveView
from tests.fixtures_db import fresh_database, make_record, migrated_pool

__all__ = ["fresh_database", "migrated_pool"]

DESK = DeskSettings()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RecordingAmi:
    """Asterisk stood in by a recorder: the transfers' actions are checked, not carried out (see the browser and rig
    tests for real transfers)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    async def send(self, action: dict[str, str], timeout: float | None = None) -> Any:
        self.sent.append(action)


class Clock:
    """The transfer service's clock, set by a test (None: the real time)."""

    at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or datetime.now(UTC)


LIVE = LiveView()  # the calls in progress as the pipeline would feed them
CURRENT: dict[int, str] = {}  # each advisor's call not yet qualified (its caller's number), as their desk keeps it


async def current_caller(advisor_id: int) -> str | None:
    return CURRENT.get(advisor_id)


AMI = RecordingAmi()
CLOCK = Clock()


class Session:
    """Who the test middleware says is logged in (None: nobody)."""

    user: User | None = None


@pytest.fixture
async def pool(migrated_pool: asyncpg.Pool) -> asyncpg.Pool:
    await ensure_communes(migrated_pool)
    await migrated_pool.execute("TRUNCATE organisations, advisors RESTART IDENTITY CASCADE")
    await migrated_pool.execute(
        "INSERT INTO advisors (login, name, interface) "
        "VALUES ('alice', 'Alice', 'PJSIP/adv1'), ('bob', 'Bob', 'PJSIP/adv2')"
    )
    await CallRecordRepository(migrated_pool).upsert(make_record("100.1"))  # answered on PJSIP/adv1 (alice)
    return migrated_pool


@pytest.fixture
async def session() -> Session:
    s = Session()
    s.user = User(id=1, login="alice", name="Alice", role=Role.ADVISOR, advisor_id=1)
    return s


@pytest.fixture
async def client(pool: asyncpg.Pool, session: Session) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    @web.middleware
    async def test_user(request: web.Request, handler: Handler) -> web.StreamResponse:
        if session.user is not None:
            request[USER] = session.user
        return await handler(request)

    app = web.Application()
    web_http.setup(app, web_http.WebDeps())  # the error mapping, as every app has
    app.middlewares.append(test_user)
    directory = DirectoryService(pool, OpeningHours(), topics=DESK.topics)
    directory_http.setup(app, directory_http.DirectoryDeps(directory, "62"))
    qualifications = QualificationService(pool, DESK, taken_by=IN_PROGRESS.get)
    transfers = TransferService(LIVE, AMI, directory, AdvisorRepository(pool, {}), clock=CLOCK)
    history = HistoryAccess(LIVE, AdvisorRepository(pool, {}), current_caller)
    calls_http.setup(app, calls_http.CallsDeps(qualifications, transfers, directory, DESK, history))
    async with TestClient(TestServer(app)) as c:
        yield c


IN_PROGRESS = {"500.1": "PJSIP/adv1", "500.2": "PJSIP/adv2"}  # calls in progress (LiveView.taken_by): whose

GOOD = {"topic": "disability", "subtopic": "pch", "outcome": "advice", "commune_insee": "62041", "note": "ok"}


async def qualify(client: TestClient[web.Request, web.Application], body: Any, linkedid: str = "100.1") -> Any:
    return await client.post(f"/api/calls/{linkedid}/qualification", json=body)


async def test_autocomplete(client: TestClient[web.Request, web.Application]) -> None:
    resp = await client.get("/api/communes", params={"q": "arras"})
    assert resp.status == 200
    body = await resp.json()
    assert body["credit"] == "Etalab — découpage administratif"
    assert body["communes"][0] == {
        "code": "62041",
        "name": "Arras",
        "departement": "62",
        "postal_codes": ["62000"],
        "epci_name": "CU d'Arras",
    }
    for q in ("%", "'", "x" * 4000, ""):  # longer URLs: aiohttp itself answers 400
        resp = await client.get("/api/communes", params={"q": q})
        assert resp.status == 200 and (await resp.json())["communes"] == []
    assert (await client.get("/api/communes", params={"q": "a", "limit": "0"})).status == 400
    assert (await client.get("/api/communes", params={"q": "a", "departement": "x'"})).status == 400
    one = await (await client.get("/api/communes", params={"q": "saint omer", "limit": "1"})).json()
    assert [c["code"] for c in one["communes"]] == ["62765"]


async def test_topics(client: TestClient[web.Request, web.Application]) -> None:
    body = await (await client.get("/api/topics")).json()
    disability = next(t for t in body["topics"] if t["key"] == "disability")
    assert disability["label"] == "Handicap"
    assert {"key": "pch", "label": "PCH"} in disability["subtopics"]
    assert {"key": "transfer", "label": "Transfert vers un service"} in body["outcomes"]
    assert "partners" not in body  # the partner given is an organisation of the directory (migration 0012)
    assert body["note_max"] == DESK.note_max


async def test_services(client: TestClient[web.Request, web.Application], pool: asyncpg.Pool) -> None:
    services = ServiceRepository(pool)
    await services.add("Toujours", "4500")
    await services.add("Jamais", "4501", hours={})
    hidden = await services.add("Fermé", "4502")
    await services.update(hidden.id, active=False)
    body = await (await client.get("/api/services")).json()
    assert [(s["name"], s["open_now"]) for s in body["services"]] == [("Jamais", False), ("Toujours", True)]


async def test_qualification_ok_and_idempotent(client: TestClient[web.Request, web.Application]) -> None:
    resp = await qualify(client, GOOD)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["changed"] is True
    assert body["call"]["commune_insee"] == "62041" and body["call"]["qualified_by"] == "alice"
    again = await (await qualify(client, GOOD)).json()
    assert again["changed"] is False and again["call"] == body["call"]


async def test_a_call_in_progress_is_qualified_at_once_and_its_record_gets_it(
    client: TestClient[web.Request, web.Application], pool: asyncpg.Pool
) -> None:
    resp = await qualify(client, GOOD, "500.1")
    assert resp.status == 202, await resp.text()
    assert await resp.json() == {"call": None, "changed": True, "pending": True}
    refused = await qualify(client, GOOD, "500.2")  # bob's call in progress
    assert refused.status == 403 and (await refused.json())["error"] == "not-your-call"
    await CallRecordRepository(pool).upsert(make_record("500.1", advisor_interface="PJSIP/adv1"))
    row = await pool.fetchrow("SELECT topic, note, qualified_by FROM call_records WHERE linkedid = '500.1'")
    assert row is not None and tuple(row) == ("disability", "ok", "alice")


async def test_history(client: TestClient[web.Request, web.Application], session: Session) -> None:
    await qualify(client, GOOD)
    CURRENT[1] = "+33612345678"  # alice's desk shows a call of this number, not yet qualified
    try:
        resp = await client.get("/api/callers/+33612345678/history")
    finally:
        CURRENT.clear()
    assert resp.status == 200
    body = await resp.json()
    assert [(h["linkedid"], h["topic_label"], h["outcome_label"], h["advisor_name"]) for h in body["history"]] == [
        ("100.1", "Handicap", "Conseil, orientation", "Alice")
    ]
    assert body["last_commune"]["name"] == "Arras"
    assert (await client.get("/api/callers/+33612345678/history")).status == 403  # qualified: no longer hers
    for bad in ("0612345678", "+0612345678", "+33", "+3361234567812345"):
        assert (await client.get(f"/api/callers/{bad}/history")).status == 400
    session.user = User(id=4, login="sup", name="Sup", role=Role.SUPERVISOR)
    empty = await (await client.get("/api/callers/+33100000000/history")).json()
    assert empty == {"history": [], "last_commune": None}


REFUSED: list[tuple[dict[str, Any], str, str]] = [
    ({**GOOD, "topic": "astrology"}, "unknown-topic", "thème"),
    ({**GOOD, "subtopic": "canteen"}, "unknown-subtopic", "sous-thème"),
    ({**GOOD, "note": "x" * (DESK.note_max + 1)}, "note-too-long", "caractères"),
    ({**GOOD, "commune_insee": "99999"}, "unknown-commune", "commune"),
    ({**GOOD, "commune_insee": "9999"}, "invalid-qualification", "commune : format invalide"),
    ({**GOOD, "outcome": "transfer"}, "missing-transfer-service", "service"),
    ({**GOOD, "outcome": "transfer", "transfer_service_id": 42}, "unknown-service", "service"),
    ({**GOOD, "outcome": "partner_contact", "partner_id": 4242}, "unknown-partner", "partenaire n° 4242 inconnu"),
    ({**GOOD, "outcome": "partner_contact", "partner": "caf"}, "invalid-qualification", "partner : champ inconnu"),
    ({**GOOD, "outcome": "partner_contact"}, "unknown-partner", "indiquez le partenaire"),
    ({**GOOD, "commune_insee": None, "commune": "Saint-Martin"}, "ambiguous-commune", "choisissez la bonne"),
    ({**GOOD, "commune_insee": None, "commune": "Nulle-Part-sur-Mer"}, "unknown-commune", "introuvable"),
    ({**GOOD, "outcome": "teleport"}, "invalid-qualification", "issue de l'appel : valeur inconnue"),
    ({"outcome": "advice"}, "invalid-qualification", "thème : obligatoire"),
    ({**GOOD, "callback_slot": "lundi"}, "invalid-qualification", "créneau de rappel est donné sans demande"),
    ({**GOOD, "qualified_by": "mallory"}, "invalid-qualification", "champ inconnu"),
]


@pytest.mark.parametrize(
    ("body", "error", "message"), REFUSED, ids=[r[1] + "/" + str(i) for i, r in enumerate(REFUSED)]
)
async def test_qualification_refused(
    client: TestClient[web.Request, web.Application], pool: asyncpg.Pool, body: dict[str, Any], error: str, message: str
) -> None:
    before = await pool.fetchrow("SELECT * FROM call_records")
    resp = await qualify(client, body)
    assert resp.status == 422
    payload = await resp.json()
    assert payload["error"] == error
    assert message in payload["message"]
    assert await pool.fetchrow("SELECT * FROM call_records") == before


async def test_bad_requests(client: TestClient[web.Request, web.Application]) -> None:
    resp = await client.post(
        "/api/calls/100.1/qualification", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400 and (await resp.json())["error"] == "bad-json"
    assert (await qualify(client, ["a list"])).status == 400
    assert (await qualify(client, GOOD, linkedid="abc")).status == 400
    assert (await qualify(client, GOOD, linkedid="1" * 65)).status == 400
    resp = await qualify(client, GOOD, linkedid="999.9")
    assert resp.status == 404 and (await resp.json())["error"] == "unknown-call"


async def test_another_advisors_call_is_forbidden_and_unchanged(
    client: TestClient[web.Request, web.Application], pool: asyncpg.Pool, session: Session
) -> None:
    session.user = User(id=2, login="bob", name="Bob", role=Role.ADVISOR, advisor_id=2)
    before = await pool.fetchrow("SELECT * FROM call_records")
    resp = await qualify(client, GOOD)
    assert resp.status == 403
    payload = await resp.json()
    assert payload["error"] == "not-your-call" and "autre conseiller" in payload["message"]
    assert await pool.fetchrow("SELECT * FROM call_records") == before
    # an advisor user without a phone cannot either; a supervisor can
    session.user = User(id=3, login="carol", name="Carol", role=Role.ADVISOR)
    assert (await qualify(client, GOOD)).status == 403
    session.user = User(id=4, login="sup", name="Sup", role=Role.SUPERVISOR)
    assert (await qualify(client, GOOD)).status == 200


async def test_no_user_is_401(client: TestClient[web.Request, web.Application], session: Session) -> None:
    session.user = None
    for path in ("/api/communes?q=arras", "/api/topics", "/api/services", "/api/callers/+33612345678/history"):
        assert (await client.get(path)).status == 401
    assert (await qualify(client, GOOD)).status == 401


async def test_a_transfer_to_a_service_on_a_public_holiday_is_refused(
    client: TestClient[web.Request, web.Application], pool: asyncpg.Pool
) -> None:
    """14 July (Bastille Day, a Tuesday in 2026) at 10:00 in Paris: a service open every day 08:00–20:00 by its
    weekly hours is closed, as the line is (one opening-hours model, with the line's public holidays)."""
    week = {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    service = await ServiceRepository(pool).add("Service des routes", "2001", hours=week)
    linkedid, at = "700.1", datetime(2026, 7, 14, 8, 0, tzinfo=UTC)  # 10:00 in Paris
    for effect in (
        CallStarted(linkedid=linkedid, at=at, caller_number="+33321000001", caller_name=None, line_open=True),
        AdvisorRinging(
            linkedid=linkedid,
            at=at,
            interface="PJSIP/adv1",
            member_name="Alice",
            caller_number="+33321000001",
            caller_name=None,
            queue_entered_at=at,
        ),
        CallAnswered(linkedid=linkedid, at=at, interface="PJSIP/adv1", advisor_channel="PJSIP/adv1-00000001"),
    ):
        LIVE.apply(effect)
    AMI.sent.clear()
    # the desk's list says so too (« — fermé » beside the service), and when it opens again
    listed = await DirectoryService(pool, OpeningHours()).services(at)
    assert [(s.open_now, s.next_opening) for s in listed] == [(False, datetime(2026, 7, 15, 6, 0, tzinfo=UTC))]
    CLOCK.at = at
    try:
        refused = await client.post(f"/api/calls/{linkedid}/transfer", json={"service_id": service.id})
        assert refused.status == 409
        body = await refused.json()
        assert body["error"] == "service-closed" and "fermé" in body["message"]
        assert AMI.sent == []
        CLOCK.at = at + timedelta(days=1)  # 15 July, same time: open
        accepted = await client.post(f"/api/calls/{linkedid}/transfer", json={"service_id": service.id})
        assert accepted.status == 200, await accepted.text()
        assert AMI.sent == [
            {"Action": "BlindTransfer", "Channel": "PJSIP/adv1-00000001", "Exten": "2001", "Context": "services"}
        ]
    finally:
        CLOCK.at = None
