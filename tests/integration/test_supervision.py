"""The wallboard over the real application (`build_app`, real PostgreSQL, Redis and the rig's Asterisk): the snapshot
a supervisor reads (calls waiting from the live view, advisors from the presence log, today's figures from the
stored records by the KPI dictionary), the "changed" messages on the wallboard's websocket, and the supervisor's
actions (pause, log out) going through the router's commands into the presence log with who and why, shown on the
advisor's desk."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web

from config.settings import load_settings
from gps_admin.app import SERVICE, Endpoints, build_app
from screenpop.statistics.kpis import Thresholds
from screenpop.statistics.service import StatisticsService
from screenpop.supervision.service import SHOWN, SupervisionService
from storage.advisors import AdvisorRepository
from storage.calls import CallRecordRepository
from storage.pool import create_pool
from storage.redis.commands import RedisRouterCommands
from telephony.effects import CallQueued, CallStarted
from telephony.live import LiveView
from telephony.records import CallStatus, RingAttempt, RingResult
from tests.fixtures_db import fresh_database, make_record
from tests.integration.harness import Driver, always_open
from tests.integration.webapp import AGNES, BRUNO, HTML, SAM, Client, Served, db_rows, serve
from tests.rig.asterisk import AmiConnection, AsteriskRig, free_loopback_port
from tests.servers import redis_url

__all__ = ["fresh_database"]

pytestmark = pytest.mark.asterisk

REDIS = redis_url(11)
WAITING = "1900000100.1"
WITHIN = 10.0  # seconds: an upper bound for something to happen, never a pause


@pytest.fixture
async def served(asterisk_rig: AsteriskRig, fresh_database: str, tmp_path: Path) -> AsyncIterator[Served]:
    async for app in serve(asterisk_rig, fresh_database, REDIS, tmp_path / "data"):
        yield app


def today_record(linkedid: str, *, wait: float, status: CallStatus, ago: float = 600.0) -> Any:
    """A call of today (`ago` seconds before now) that waited `wait` seconds, answered by agnes or abandoned."""
    arrived = datetime.now(UTC) - timedelta(seconds=ago)
    queued = arrived + timedelta(seconds=5)
    left = queued + timedelta(seconds=wait)
    if status is CallStatus.ANSWERED:
        ring = RingAttempt(
            interface="Local/adv1@advisors",
            member_name="Agnès Roussel",
            started_at=left - timedelta(seconds=1),
            ended_at=left,
            result=RingResult.ANSWERED,
        )
        return make_record(
            linkedid,
            arrived_at=arrived,
            queue_entered_at=queued,
            queue_left_at=left,
            rings=(ring,),
            answered_at=left,
            advisor_interface="Local/adv1@advisors",
            advisor_name="Agnès Roussel",
            ended_at=left + timedelta(seconds=60),
            wait_seconds=wait,
            talk_seconds=60.0,
            status=status,
        )
    return make_record(
        linkedid,
        arrived_at=arrived,
        queue_entered_at=queued,
        queue_left_at=left,
        rings=(),
        answered_at=None,
        advisor_interface=None,
        advisor_name=None,
        ended_at=left,
        wait_seconds=wait,
        talk_seconds=None,
        status=status,
    )


async def snapshot(served: Served, client: Client) -> dict[str, Any]:
    response = await client.session.get(served.url + "/api/supervision")
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def wait_in_queue(served: Served, linkedid: str, seconds_ago: float, topic: str | None = "taxes") -> CallQueued:
    at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    live = served.app[SERVICE].live
    live.apply(CallStarted(linkedid=linkedid, at=at, caller_number="+33321001234", caller_name=None, line_open=True))
    queued = CallQueued(linkedid=linkedid, at=at, queue="gps", caller_number="+33321001234", topic=topic)
    live.apply(queued)
    return queued


async def test_the_snapshot_shows_the_calls_waiting_the_advisors_and_today_s_figures(served: Served) -> None:
    pool = await create_pool(served.dsn)
    try:
        records = CallRecordRepository(pool)
        await records.upsert(today_record("today.answered", wait=10.0, status=CallStatus.ANSWERED))
        await records.upsert(today_record("today.abandoned", wait=30.0, status=CallStatus.ABANDONED))
        await records.upsert(today_record("today.short", wait=2.0, status=CallStatus.ABANDONED))
        for linkedid, asked in (("cb.old", datetime.now(UTC) - timedelta(days=10)), ("cb.new", datetime.now(UTC))):
            await pool.execute(
                "INSERT INTO callbacks (linkedid, requested_by, created_at) VALUES ($1, 'agnes', $2)", linkedid, asked
            )
    finally:
        await pool.close()
    wait_in_queue(served, "1900000101.1", 5)
    wait_in_queue(served, WAITING, 45)  # the longest wait: first
    sam = await served.client(SAM)
    body = await snapshot(served, sam)

    assert [w["linkedid"] for w in body["waiting"]] == [WAITING, "1900000101.1"]
    first = body["waiting"][0]
    assert first["caller"] == "03 21 00 12 34" and first["topic"] == "Impôts et fiscalité"
    assert first["wait_seconds"] >= 45 and first["over_target"] is True and first["ringing"] is None
    assert body["longest_wait_seconds"] == first["wait_seconds"]
    assert body["in_call"] == 1  # agnes's live call (webapp.live_call)
    assert {(a["name"], a["state"], a["state_label"]) for a in body["advisors"]} == {
        ("Agnès Roussel", "logged_out", "Déconnecté"),
        ("Bruno Caron", "logged_out", "Déconnecté"),
    }
    figures = {f["name"]: f for f in body["figures"]}
    assert list(figures) == [
        "offered",
        "answered",
        "answer_rate",
        "service_level",
        "abandoned",
        "short_abandoned",
        "asa",
        "aht",
        "occupancy",
        "transfers",
        "callbacks_requested",
        "callbacks_open",
    ]
    # the open callbacks now, whatever day they were asked: the one of ten days ago is past one working day
    waiting = figures["callbacks_open"]
    assert (waiting["label"], waiting["shown"], waiting["status"], waiting["status_label"]) == (
        "Rappels en attente",
        "2 (dont 1 en retard)",
        "below",
        "1 au-delà d'un jour ouvré",
    )
    assert waiting["definition"] == "/statistiques/definitions#def-callbacks-open"
    # the KPI dictionary over today's three records: the short abandon out of the rates (1 / (3 − 1))
    assert (figures["offered"]["shown"], figures["answered"]["shown"]) == ("3", "1")
    assert (figures["abandoned"]["shown"], figures["short_abandoned"]["shown"]) == ("1", "1")
    rate = figures["answer_rate"]
    assert (rate["numerator"], rate["denominator"], rate["shown"]) == (1, 2, "50\u00a0%")
    assert (rate["status"], rate["status_label"], rate["target"]) == (
        "below",
        "objectif non atteint",
        "objectif 85\u00a0%",
    )
    assert rate["definition"] == "/statistiques/definitions#def-answer-rate"
    assert figures["service_level"]["shown"] == "50\u00a0%"  # answered within 20 s / needing an agent
    assert figures["asa"]["shown"] == "10 s"
    assert figures["occupancy"]["shown"] == "—"  # nobody logged in today: no denominator, never 0 % nor 100 %
    assert figures["callbacks_requested"]["label"] == "Rappels demandés aujourd'hui"
    assert "aujourd'hui" in body["figures_note"]

    # the page, rendered on the server (it works without scripts)
    page = await sam.session.get(served.url + "/supervision", headers=HTML)
    assert page.status == 200
    html = await page.text()
    for expected in (
        "Appels en attente",
        "03 21 00 12 34",
        "Impôts et fiscalité",
        "Taux de décroché",
        "objectif non atteint",
    ):
        assert expected in html, expected
    assert 'href="/statistiques/definitions#def-service-level"' in html
    # every figure's link leads to its definition on the definitions page
    definitions = await (await sam.session.get(served.url + "/statistiques/definitions", headers=HTML)).text()
    for f in body["figures"]:
        path, anchor = f["definition"].split("#")
        assert path == "/statistiques/definitions" and f'id="{anchor}"' in definitions, f

    # an advisor reads neither
    agnes = await served.client(AGNES)
    assert (await agnes.session.get(served.url + "/api/supervision")).status == 403
    assert (await agnes.session.get(served.url + "/supervision", headers=HTML)).status == 403


async def next_wallboard_message(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.receive(), WITHIN)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    body: dict[str, Any] = json.loads(message.data)
    return body


async def test_the_wallboard_is_told_of_calls_records_and_presence_changes(served: Served) -> None:
    svc = served.app[SERVICE]
    sam, agnes = await served.client(SAM), await served.client(AGNES)
    ws = await sam.session.ws_connect(
        served.url.replace("http", "ws") + "/ws/supervision", headers={"Origin": served.url}
    )
    try:
        await asyncio.wait_for(svc.wallboard.ready.wait(), WITHIN)
        # a call joins the queue: the instance's own view tells its wallboards
        await svc.wallboard.on_effect(wait_in_queue(served, WAITING, 1))
        assert (await next_wallboard_message(ws))["type"] == "wallboard"
        assert [w["linkedid"] for w in (await snapshot(served, sam))["waiting"]] == [WAITING]
        # a record committed: today's figures changed
        await svc.writer.accept(today_record("today.ws", wait=3.0, status=CallStatus.ANSWERED))  # as the loop does
        assert (await next_wallboard_message(ws))["type"] == "wallboard"
        assert {f["name"]: f["shown"] for f in (await snapshot(served, sam))["figures"]}["answered"] == "1"
        # an advisor logs in: the leading router logs it, then publishes "changed" through Redis
        response = await agnes.session.post(
            served.url + "/api/presence", json={"state": "login"}, headers=agnes.headers()
        )
        assert response.status == 200, await response.text()
        assert (await next_wallboard_message(ws))["type"] == "wallboard"
        states = {a["name"]: a["state"] for a in (await snapshot(served, sam))["advisors"]}
        assert states["Agnès Roussel"] == "available"
    finally:
        await ws.close()
    # another origin is refused before the upgrade
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await sam.session.ws_connect(
            served.url.replace("http", "ws") + "/ws/supervision", headers={"Origin": "http://evil.example"}
        )
    assert refused.value.status == 403


async def act(served: Served, client: Client, **form: str) -> aiohttp.ClientResponse:
    data = {"csrf": client.csrf, **form}
    return await client.session.post(served.url + "/supervision/action", data=data, allow_redirects=False)


async def last_event(served: Served, login: str) -> dict[str, Any]:
    await served.app[SERVICE].router.log_drained()
    advisor_id = served.users[login].advisor_id
    rows = await db_rows(
        served.dsn,
        f"SELECT state, reason, by_login, note FROM advisor_events WHERE advisor_id = {advisor_id} "
        "ORDER BY at DESC, id DESC LIMIT 1",
    )
    return dict(rows[0])


async def test_a_supervisor_pauses_an_advisor_then_logs_them_out_with_a_reason(served: Served) -> None:
    sam, agnes = await served.client(SAM), await served.client(AGNES)
    agnes_id = str(served.users[AGNES].advisor_id)
    response = await agnes.session.post(served.url + "/api/presence", json={"state": "login"}, headers=agnes.headers())
    assert response.status == 200

    paused = await act(served, sam, advisor_id=agnes_id, action="pause", pause_reason="meal", note="Réunion  d'équipe")
    assert (paused.status, paused.headers["Location"]) == (303, "/supervision?fait=pause")
    assert await last_event(served, AGNES) == {
        "state": "paused",
        "reason": "meal",
        "by_login": SAM,
        "note": "Réunion d'équipe",
    }
    desk = await (await agnes.session.get(served.url + "/api/desk")).json()  # what the advisor's desk shows
    assert desk["presence"] | {"label": None} == {
        "state": "paused",
        "label": None,
        "reason": "meal",
        "by": SAM,
        "note": "Réunion d'équipe",
    }
    body = await snapshot(served, sam)
    agnes_row = next(a for a in body["advisors"] if a["name"] == "Agnès Roussel")
    assert (agnes_row["state_label"], agnes_row["reason"], agnes_row["by"]) == ("En pause", "Repas", SAM)

    logged_out = await act(served, sam, advisor_id=agnes_id, action="logout", note="Fin de service")
    assert (logged_out.status, logged_out.headers["Location"]) == (303, "/supervision?fait=logout")
    assert await last_event(served, AGNES) == {
        "state": "logged_out",
        "reason": None,
        "by_login": SAM,
        "note": "Fin de service",
    }
    # the advisor's own change afterwards is theirs: no supervisor on it
    await agnes.session.post(served.url + "/api/presence", json={"state": "login"}, headers=agnes.headers())
    assert await last_event(served, AGNES) == {"state": "available", "reason": None, "by_login": None, "note": None}


async def test_a_supervisor_s_action_is_refused_with_a_french_reason(served: Served) -> None:
    sam, agnes = await served.client(SAM), await served.client(AGNES)
    agnes_id = str(served.users[AGNES].advisor_id)
    bruno_id = str(served.users[BRUNO].advisor_id)
    cases = [
        ({"advisor_id": agnes_id, "action": "logout", "note": "   "}, 400, "le motif de l&#39;action est obligatoire"),
        ({"advisor_id": agnes_id, "action": "pause", "note": "x"}, 400, "Choisissez le motif de la pause"),
        ({"advisor_id": agnes_id, "action": "pause", "pause_reason": "nope", "note": "x"}, 400, "motif de la pause"),
        ({"advisor_id": agnes_id, "action": "jump", "note": "x"}, 400, "Action incomplète"),
        ({"advisor_id": "abc", "action": "logout", "note": "x"}, 400, "Action incomplète"),
        ({"advisor_id": "999999", "action": "logout", "note": "x"}, 404, "n&#39;existe pas"),
        ({"advisor_id": bruno_id, "action": "pause", "pause_reason": "meal", "note": "x" * 201}, 400, "200 caractères"),
        # bruno is logged out: the router says why it cannot pause him
        ({"advisor_id": bruno_id, "action": "pause", "pause_reason": "meal", "note": "Pause"}, 409, "Action refusée"),
    ]
    for form, status, message in cases:
        response = await act(served, sam, **form)
        text = await response.text()
        assert response.status == status, (form, response.status, text[:300])
        assert message in text, (form, text[-2000:])
        assert 'value="' + form["note"].strip()[:40] in text or not form["note"].strip()  # what was typed is kept
    assert (await act(served, agnes, advisor_id=bruno_id, action="logout", note="x")).status == 403
    no_token = await sam.session.post(
        served.url + "/supervision/action",
        data={"advisor_id": bruno_id, "action": "logout", "note": "x"},
        allow_redirects=False,
    )
    assert no_token.status == 403


@pytest.fixture
async def served_open(asterisk_rig: AsteriskRig, fresh_database: str, tmp_path: Path) -> AsyncIterator[Served]:
    """The application with the line open at every hour (the rig's calls are offered whatever the day)."""
    async for app in serve(asterisk_rig, fresh_database, REDIS, tmp_path / "data", hours=always_open()):
        yield app


async def test_real_calls_on_the_rig_move_the_wallboard_s_figures_as_the_dictionary_says(
    served_open: Served, asterisk_rig: AsteriskRig
) -> None:
    """Real calls through the rig's Asterisk (the line open at every hour): a caller who hangs up after 1 s (a short
    abandon), one after 8 s (an abandon), one answered by agnes; the wallboard, told through its websocket, reads
    offered 3, answered 1, abandons 1 + 1 short, taux de décroché 1 / (3 − 1) = 50 % below its 85 % target."""
    served = served_open
    sam, agnes = await served.client(SAM), await served.client(AGNES)
    url = served.url.replace("http", "ws") + "/ws/supervision"
    ws = await sam.session.ws_connect(url, headers={"Origin": served.url})
    driver = await Driver.connect(asterisk_rig)

    async def until(condition: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The snapshot once `condition` holds, read again at each "changed" message of the wallboard."""
        while not condition(body := await snapshot(served, sam)):
            await next_wallboard_message(ws)
        return body

    def shown(body: dict[str, Any]) -> dict[str, str]:
        return {f["name"]: f["shown"] for f in body["figures"]}

    try:
        await driver.call("0321000201", "COURT", CALLER_HANGUP_AFTER="1")
        await until(lambda b: shown(b)["short_abandoned"] == "1")
        await driver.call("0321000202", "PATIENT", CALLER_HANGUP_AFTER="8", __GPS_TOPIC="taxes")
        body = await until(lambda b: bool(b["waiting"]))  # waiting, with its voice-menu topic
        assert (body["waiting"][0]["caller"], body["waiting"][0]["topic"]) == (
            "03 21 00 02 02",
            "Impôts et fiscalité",
        )
        await until(lambda b: shown(b)["abandoned"] == "1")
        response = await agnes.session.post(
            served.url + "/api/presence", json={"state": "login"}, headers=agnes.headers()
        )
        assert response.status == 200
        await driver.call("0321000203", "REPONDU", __ADVISOR_TALK="1")
        body = await until(lambda b: shown(b)["answered"] == "1")
    finally:
        await driver.close()
        await ws.close()
    figures = {f["name"]: f for f in body["figures"]}
    assert {name: f["shown"] for name, f in figures.items() if name in ("offered", "abandoned", "short_abandoned")} == {
        "offered": "3",
        "abandoned": "1",
        "short_abandoned": "1",
    }
    rate = figures["answer_rate"]
    assert (rate["numerator"], rate["denominator"], rate["status_label"]) == (1, 2, "objectif non atteint")
    assert figures["asa"]["value"] is not None and figures["aht"]["value"] is not None


def advisor_row(body: dict[str, Any], name: str = "Agnès Roussel") -> dict[str, Any]:
    row: dict[str, Any] = next(a for a in body["advisors"] if a["name"] == name)
    return row


async def test_a_call_put_on_hold_on_the_rig_shows_on_the_wallboard_then_resumes(
    served_open: Served, asterisk_rig: AsteriskRig
) -> None:
    """A real call answered by agnes on the rig; she starts an attended transfer (Asterisk holds the caller: Hold on
    her channel), the wallboard, told through its websocket, says « En communication — appel en attente depuis m:ss »
    and counts the call on hold; she cancels (Unhold), the wallboard shows her in call, not on hold."""
    served = served_open
    svc = served.app[SERVICE]
    sam, agnes = await served.client(SAM), await served.client(AGNES)
    ws = await sam.session.ws_connect(
        served.url.replace("http", "ws") + "/ws/supervision", headers={"Origin": served.url}
    )
    driver = await Driver.connect(asterisk_rig)
    watcher = await AmiConnection.login(asterisk_rig)

    async def until(condition: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The snapshot once `condition` holds, read again at each "changed" message of the wallboard."""
        while not condition(body := await snapshot(served, sam)):
            await next_wallboard_message(ws)
        return body

    try:
        response = await agnes.session.post(
            served.url + "/api/presence", json={"state": "login"}, headers=agnes.headers()
        )
        assert response.status == 200
        await driver.call("0321000204", "Inès Fournier", __ADVISOR_TALK="60", __SERVICE_TALK="60")
        body = await until(lambda b: advisor_row(b)["state"] == "on_call")
        assert advisor_row(body)["on_hold_since"] is None and body["on_hold"] == 0
        call = next(c for c in svc.live.calls() if c.caller_number == "+33321000204" and c.with_advisor)
        assert call.advisor_channel is not None
        # the advisor's leg in the caller's bridge first (as when a person clicks)
        await watcher.wait_for({"Event": "BridgeEnter", "Channel": call.advisor_channel}, WITHIN)
        await driver.act(
            [("Action", "Atxfer"), ("Channel", call.advisor_channel), ("Exten", "2001"), ("Context", "services")]
        )
        held = await until(lambda b: advisor_row(b)["on_hold_since"] is not None)
        row = advisor_row(held)
        assert row["state"] == "on_call" and row["state_label"] == "En communication"
        assert (
            row["hold_label"]
            == f"appel en attente depuis {row['on_hold_seconds'] // 60}:{row['on_hold_seconds'] % 60:02d}"
        )
        assert held["on_hold"] == 1 and held["in_call"] >= 1
        page = await (await sam.session.get(served.url + "/supervision", headers=HTML)).text()
        assert 'En communication<span class="wb-hold"' in page and " — appel en attente depuis " in page
        assert "dont 1 en attente" in page

        await driver.act({"Action": "CancelAtxfer", "Channel": call.advisor_channel})
        resumed = await until(lambda b: advisor_row(b)["on_hold_since"] is None)
        row = advisor_row(resumed)
        assert row["state"] == "on_call" and row["hold_label"] is None and resumed["on_hold"] == 0
        assert row["hold_total_seconds"] is not None and row["hold_total_seconds"] >= 0
        assert call.hold_count == 1 and not call.on_hold and call.hold_closed > timedelta(0)
        while any(c["Channel"].startswith("Local/2001@services-") for c in await driver.channels()):
            await watcher.wait_for({"Event": "Hangup"}, WITHIN)  # the consultation torn down, as on a real desk
        await driver.hangup(call.advisor_channel)
    finally:
        await watcher.close()
        await driver.close()
        await ws.close()


async def test_with_the_database_away_the_wallboard_still_shows_the_calls_waiting() -> None:
    """PostgreSQL unreachable: the snapshot keeps the live view's calls and says why the rest is missing (never a
    500, never a page that hangs)."""
    pool = await create_pool(f"postgresql://postgres@127.0.0.1:{free_loopback_port()}/none", min_size=0)
    live = LiveView()
    at = datetime.now(UTC) - timedelta(seconds=30)
    live.apply(CallStarted(linkedid=WAITING, at=at, caller_number=None, caller_name=None, line_open=True))
    live.apply(CallQueued(linkedid=WAITING, at=at, queue="gps", caller_number=None, topic=None))
    service = SupervisionService(
        live,
        AdvisorRepository(pool, {}),
        StatisticsService(pool, load_settings(), lambda: datetime.now(UTC)),
        RedisRouterCommands(redis := aioredis.Redis(), "gps"),  # never connected: no action here
        thresholds=Thresholds(),
        pause_reasons={},
        topics={},
    )
    try:
        body = await service.snapshot()
    finally:
        await pool.close()
        await redis.aclose()
    assert [(w.linkedid, w.caller) for w in body.waiting] == [(WAITING, "numéro masqué")]
    assert body.unavailable is not None and "base de données" in body.unavailable
    assert body.advisors == []
    assert [f.name for f in body.figures] == [*SHOWN, "callbacks_open"]
    assert {(f.shown, f.status_label) for f in body.figures} == {("—", "indisponible")}


async def test_a_wallboard_on_a_follower_instance_is_told_of_the_leader_s_presence_changes(
    served: Served, asterisk_rig: AsteriskRig, tmp_path: Path
) -> None:
    """Two instances on the same PostgreSQL and Redis: the supervisor watches on the one that does not lead; an
    advisor's login, decided and logged by the leader, reaches that wallboard through Redis, and its snapshot (from
    the presence log) shows her available."""
    first = served.app[SERVICE]
    port = free_loopback_port()
    settings = first.settings.model_copy(update={"http_port": port, "data_dir": tmp_path / "second"})
    second_app = await build_app(settings, Endpoints(served.dsn, served.redis_url, False))
    runner = web.AppRunner(second_app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    second_url = f"http://127.0.0.1:{port}"
    try:
        second = second_app[SERVICE]
        await asyncio.wait_for(second.wallboard.ready.wait(), WITHIN)
        assert first.router.leader and not second.router.leader
        sam, agnes = await served.client(SAM), await served.client(AGNES)
        # the session lives in Redis: the same session cookie opens the other instance
        cookie = {"Cookie": f"gps_session={sam.session_cookie}"}
        ws = await sam.session.ws_connect(
            second_url.replace("http", "ws") + "/ws/supervision", headers={"Origin": second_url, **cookie}
        )
        try:
            response = await agnes.session.post(
                served.url + "/api/presence", json={"state": "login"}, headers=agnes.headers()
            )
            assert response.status == 200
            assert (await next_wallboard_message(ws))["type"] == "wallboard"
            body = await (await sam.session.get(second_url + "/api/supervision", headers=cookie)).json()
            assert {a["name"]: a["state"] for a in body["advisors"]}["Agnès Roussel"] == "available"
        finally:
            await ws.close()
    finally:
        await runner.cleanup()
