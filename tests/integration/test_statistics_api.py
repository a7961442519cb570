"""The statistics over HTTP on a real PostgreSQL (aiohttp test server; a test middleware sets the user): the JSON
report and drill-down with hand-computed figures, the CSV exports parsed back as a French spreadsheet reads them
(`;`, UTF-8 with BOM, decimal comma, dd/mm/yyyy, CRLF, accents), the pages, and the refusals in French."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings
from screenpop.statistics import definitions
from screenpop.statistics import http as statistics_http
from screenpop.statistics import service as statistics_service
from screenpop.statistics.errors import PageTooDeep
from screenpop.statistics.service import StatisticsService, parse_cursor
from screenpop.web import http as web_http
from screenpop.web.keys import USER
from storage.advisors import AdvisorRepository
from storage.communes import ensure_communes
from storage.users import Role, User
from telephony.advisors import AdvisorState, StateChange
from tests.fixtures_db import fresh_database, migrated_pool

__all__ = ["fresh_database", "migrated_pool"]

PARIS = ZoneInfo("Europe/Paris")
SAM = User(id=2, login="sam", name="Sam Carpentier", role=Role.SUPERVISOR)
ALICE = User(id=3, login="alice", name="Alice", role=Role.ADVISOR, advisor_id=1)
DAY = datetime(2026, 3, 10, 9, 0, tzinfo=PARIS)  # a Tuesday
PERIOD = {"start": "2026-03-10", "end": "2026-03-10"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Client = TestClient[web.Request, web.Application]


class Session:
    user: User | None = SAM


def _call(n: int, at: datetime, status: str, **kw: Any) -> dict[str, Any]:
    at = at.astimezone(UTC)
    wait = kw.pop("wait", None)
    talk = kw.pop("talk", None)
    answered = at + timedelta(seconds=1 + wait) if status == "answered" and wait is not None else None
    row: dict[str, Any] = {
        "linkedid": f"1773000000.{n}",
        "caller_number": kw.pop("number", f"+3332100000{n}"),
        "arrived_at": at,
        "line_open": status != "closed",
        "status": status,
        "queue_entered_at": None if wait is None else at + timedelta(seconds=1),
        "answered_at": answered,
        "wait_seconds": wait,
        "talk_seconds": talk,
        "ended_at": at + timedelta(seconds=600),
        "hangup_by": "caller",
        "advisor_interface": "Local/agnes@advisors" if answered else None,
        "advisor_name": "agnes" if answered else None,
    }
    row.update(kw)
    return row


RECORDS = [
    _call(
        1,
        DAY,
        "answered",
        wait=10.0,
        talk=120.0,
        topic="taxes",
        subtopic="income_tax",
        outcome="immediate_answer",
        commune_insee="62119",
        qualified_at=(DAY + timedelta(seconds=11 + 120 + 30)).astimezone(UTC),
    ),
    _call(
        2,
        DAY + timedelta(hours=1),
        "answered",
        wait=30.0,
        talk=60.0,
        topic="social_aid",
        outcome="transfer",
        transfer_service="Service de l'aide sociale",
        commune_insee="62510",
    ),
    _call(3, DAY + timedelta(hours=2), "abandoned", wait=45.0, number="+33321000001"),
    _call(4, DAY + timedelta(hours=3), "abandoned", wait=2.0),
    _call(5, DAY.replace(hour=22), "closed"),
    _call(6, DAY - timedelta(days=28), "answered", wait=5.0, talk=30.0),  # a month before
]


async def store_records(pool: asyncpg.Pool) -> None:
    """The communes, an advisor and RECORDS (also used by the browser test)."""
    await ensure_communes(pool)
    await pool.execute("TRUNCATE advisors RESTART IDENTITY CASCADE")
    advisor_id = await pool.fetchval(
        "INSERT INTO advisors (login, name, interface) VALUES ('agnes', 'Agnès Roussel', 'Local/agnes@advisors') "
        "RETURNING id"
    )
    await pool.executemany(  # 8:00 logged in, 12:00–13:00 at lunch, 17:00 logged out
        "INSERT INTO advisor_events (advisor_id, state, reason, at) VALUES ($1, $2, $3, $4)",
        [
            (advisor_id, "available", None, DAY.replace(hour=8)),
            (advisor_id, "paused", "meal", DAY.replace(hour=12)),
            (advisor_id, "available", None, DAY.replace(hour=13)),
            (advisor_id, "logged_out", None, DAY.replace(hour=17)),
        ],
    )
    columns = sorted({c for r in RECORDS for c in r})
    await pool.executemany(
        f"INSERT INTO call_records ({', '.join(columns)}) "
        f"VALUES ({', '.join(f'${i}' for i in range(1, len(columns) + 1))})",
        [tuple(r.get(c) for c in columns) for r in RECORDS],
    )


async def store_supervisor_actions(pool: asyncpg.Pool) -> None:
    """Sam (a supervisor) puts Agnès in training 15:00–15:45, then logs her out at 16:30 (her own 17:00 change ends
    it), through the presence log's repository as the wallboard's action does; her own 15:45 return is hers."""
    advisors = AdvisorRepository(pool, Settings().routing.skills)
    agnes = await advisors.by_login("agnes")
    assert agnes is not None
    for change in (
        StateChange(
            advisor_id=agnes.id,
            state=AdvisorState.PAUSED,
            at=DAY.replace(hour=15),
            reason="training",
            by="sam",
            note="Formation <b>logiciel</b>",
        ),
        StateChange(advisor_id=agnes.id, state=AdvisorState.AVAILABLE, at=DAY.replace(hour=15, minute=45)),
        StateChange(
            advisor_id=agnes.id,
            state=AdvisorState.LOGGED_OUT,
            at=DAY.replace(hour=16, minute=30),
            by="sam",
            note="Fin de service",
        ),
    ):
        await advisors.record(change)


@pytest.fixture
async def pool(migrated_pool: asyncpg.Pool) -> asyncpg.Pool:
    await store_records(migrated_pool)
    return migrated_pool


@pytest.fixture
async def session() -> Session:
    return Session()


@pytest.fixture
async def client(pool: asyncpg.Pool, session: Session) -> AsyncIterator[Client]:
    @web.middleware
    async def test_user(request: web.Request, handler: Handler) -> web.StreamResponse:
        if session.user is not None:
            request[USER] = session.user
        return await handler(request)

    app = web.Application()
    web_http.setup(app, web_http.WebDeps())
    app.middlewares.append(test_user)
    service = StatisticsService(pool, Settings(), lambda: datetime(2026, 3, 20, tzinfo=UTC))
    statistics_http.setup(app, statistics_http.StatisticsDeps(service))
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_the_json_report_gives_the_hand_computed_figures(client: Client) -> None:
    response = await client.get("/api/statistics/report", params={**PERIOD, "compare": "month"})
    assert response.status == 200
    body = await response.json()
    figures = body["report"]["figures"]
    values = {name: figures[name]["value"] for name in figures}
    assert values["calls"] == 5 and values["offered"] == 4 and values["closed"] == 1
    assert values["answered"] == 2 and values["abandoned"] == 1 and values["short_abandoned"] == 1
    assert values["answer_rate"] == pytest.approx(2 / 3)  # 2 / (4 − 1 short)
    assert figures["answer_rate"]["shown"] == "66,7\u00a0%"
    assert figures["answer_rate"]["meets_target"] is False
    assert values["service_level"] == pytest.approx(1 / 3)  # waited 10 s ≤ 20 s
    assert values["asa"] == 20.0 and values["average_abandon_time"] == 45.0
    assert values["average_wrap_up"] == pytest.approx(30.0)
    assert values["transfer_rate"] == 0.5 and values["immediate_answer_rate"] == 0.5
    topics = {g["key"]: g for g in body["report"]["breakdowns"]["topic"]}
    assert topics["taxes"]["label"] == "Impôts et fiscalité"
    communes = {g["label"] for g in body["report"]["breakdowns"]["commune"]}
    assert {"Béthune", "Liévin", "Non renseigné"} <= communes
    advisors = {g["label"] for g in body["report"]["breakdowns"]["advisor"]}
    assert "Agnès Roussel" in advisors
    [agnes] = body["report"]["presence"]
    assert (agnes["advisor"], agnes["logged_in"], agnes["paused"]) == ("Agnès Roussel", 9 * 3600, 3600)
    assert agnes["pauses"] == {"Repas": 3600} and body["report"]["pauses"] == {"Repas": 3600}
    assert agnes["occupancy"]["value"] == 0.0  # no on_call in this log: 0 of 8 h available, not « — »
    hours = {g["key"]: g["figures"]["offered"]["value"] for g in body["report"]["breakdowns"]["hour"]}
    assert hours == {"09": 1, "10": 1, "11": 1, "12": 1, "22": 0}  # Paris hours; 22 h is closed
    before = body["comparison"]
    assert (before["start"], before["end"]) == ("2026-02-10", "2026-02-10")
    assert before["figures"]["answered"]["value"] == 1
    assert before["figures"]["answer_rate"]["value"] == 1.0


async def test_a_day_without_calls_shows_dashes(client: Client) -> None:
    response = await client.get("/api/statistics/report", params={"start": "2026-03-01", "end": "2026-03-01"})
    figures = (await response.json())["report"]["figures"]
    assert figures["offered"]["value"] == 0
    assert figures["answer_rate"]["value"] is None and figures["answer_rate"]["shown"] == "—"
    assert figures["answer_rate"]["meets_target"] is None


async def test_the_abandoned_calls_to_call_back(client: Client) -> None:
    response = await client.get("/api/statistics/calls", params={**PERIOD, "figure": "abandoned"})
    assert response.status == 200
    body = await response.json()
    assert body["total"] == 1
    [row] = body["calls"]
    assert row["number"] == "03 21 00 00 01"
    assert row["arrived_at"] == "10/03/2026 11:00:00"
    assert row["wait"] == "45 s"
    grouped = await client.get(
        "/api/statistics/calls", params={**PERIOD, "figure": "offered", "dimension": "commune", "key": "62119"}
    )
    body = await grouped.json()
    assert (
        body["total"] == 1 and body["group_label"] == "Béthune" and body["calls"][0]["topic"] == "Impôts et fiscalité"
    )
    unknown = await client.get("/api/statistics/calls", params={**PERIOD, "figure": "offered", "dimension": "commune"})
    assert (await unknown.json())["total"] == 2  # the group « non renseigné »: the abandoned calls


def _read(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM
    text = body.decode("utf-8-sig")
    assert "\r\n" in text and text.count("\n") == text.count("\r\n")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


async def test_the_report_csv_reads_back_in_a_french_spreadsheet(client: Client) -> None:
    response = await client.get("/statistiques/rapport.csv", params={**PERIOD, "compare": "year"})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _read(await response.read())
    header = rows[0]
    assert header[:6] == ["Période", "Début", "Fin", "Regroupement", "Clé", "Groupe"]
    rate = header.index("Taux de décroché (%)")
    asa = header.index("Attente moyenne avant décroché (s)")
    whole = rows[1]
    assert whole[:6] == ["Période", "10/03/2026", "10/03/2026", "Ensemble", "", "le 10/03/2026"]
    assert whole[rate] == "66,67" and whole[asa] == "20,0"
    communes = [r for r in rows if r[3] == "Commune"]
    assert {r[5] for r in communes} >= {"Béthune", "Liévin"}
    days = [r for r in rows if r[3] == "Jour" and r[0] == "Période"]
    assert [r[4] for r in days] == ["10/03/2026"] and days[0][5] == "mardi 10/03/2026"
    assert all(len(r) == len(header) for r in rows)
    [agnes] = [r for r in rows if r[3] == "Temps des conseillers" and r[0] == "Période"]
    assert agnes[4:6] == ["Local/agnes@advisors", "Agnès Roussel"]
    presence = header.index("Temps connecté (s)")
    assert agnes[presence : presence + 3] == ["32400,0", "3600,0", "0,0"]
    assert agnes[header.index("Taux d'occupation (%)")] == "0,00"
    compared = [r for r in rows if r[0] == "Comparaison"]
    assert compared[0][1:3] == ["10/03/2025", "10/03/2025"] and compared[0][rate] == ""  # no call: « — »


async def test_the_drill_down_csv(client: Client) -> None:
    response = await client.get("/statistiques/appels.csv", params={**PERIOD, "figure": "answered"})
    rows = _read(await response.read())
    assert rows[0][0] == "Arrivée"
    assert [r[0] for r in rows[1:]] == ["10/03/2026 09:00:00", "10/03/2026 10:00:00"]
    assert rows[1][3] == "10,0" and rows[1][7] == "Béthune" and rows[1][8] == "Agnès Roussel"


async def test_the_pages(client: Client) -> None:
    form = await client.get("/statistiques")
    assert form.status == 200 and 'name="start"' in await form.text()
    page = await client.get("/statistiques/rapport", params={**PERIOD, "compare": "month"})
    text = await page.text()
    assert page.status == 200
    assert "<svg" in text and "<caption>" in text and 'scope="row"' in text
    assert "66,7\u00a0%" in text and "non atteint" in text
    assert "/statistiques/definitions#def-answer-rate" in text
    assert "/statistiques/appels?" in text
    assert "Temps des conseillers" in text and "Repas : 1 h 00 min" in text
    definitions_page = await (await client.get("/statistiques/definitions")).text()
    for d in definitions.DEFINITIONS.values():
        assert f'id="{d.anchor}"' in definitions_page
    drill = await client.get(
        "/statistiques/appels", params={**PERIOD, "figure": "abandoned", "dimension": "hour", "key": "11"}
    )
    assert drill.status == 200 and "03 21 00 00 01" in await drill.text()


async def test_the_actions_a_supervisor_took_appear_in_the_report(client: Client, pool: asyncpg.Pool) -> None:
    before = await (await client.get("/api/statistics/report", params=PERIOD)).json()
    assert before["report"]["supervisor_actions"] == [] and before["report"]["supervisor_action_log"] == []
    await store_supervisor_actions(pool)

    body = await (await client.get("/api/statistics/report", params=PERIOD)).json()
    [agnes] = body["report"]["supervisor_actions"]
    assert agnes == {
        "key": "Local/agnes@advisors",
        "advisor": "Agnès Roussel",
        "pauses": 1,
        "pause_seconds": 2700.0,  # 15:00 → her own return at 15:45
        "logouts": 1,
        "logout_seconds": 1800.0,  # 16:30 → her next change at 17:00
        "by": ["sam"],
        "reasons": {"Formation": 1},
    }
    log = body["report"]["supervisor_action_log"]
    assert [(a["at_shown"], a["action"], a["reason"], a["by"], a["note"], a["seconds"]) for a in log] == [
        ("10/03/2026 15:00:00", "pause", "Formation", "sam", "Formation <b>logiciel</b>", 2700.0),
        ("10/03/2026 16:30:00", "logout", "", "sam", "Fin de service", 1800.0),
    ]
    # her own pause (12:00, no supervisor) is not an action; the comparison month had none
    other = await (await client.get("/api/statistics/report", params={**PERIOD, "compare": "month"})).json()
    assert other["comparison"]["supervisor_actions"] == []

    rows = _read(await (await client.get("/statistiques/rapport.csv", params=PERIOD)).read())
    header = rows[0]
    [line] = [r for r in rows if r[3] == "Actions des superviseurs"]
    assert all(len(r) == len(header) for r in rows)
    assert line[4:6] == ["Local/agnes@advisors", "Agnès Roussel"]
    first = header.index("Pauses imposées par un superviseur")
    assert line[first : first + 6] == [
        "1",
        "2700,0",
        "1",
        "1800,0",
        "sam",
        "Formation : 1",
    ]

    text = await (await client.get("/statistiques/rapport", params=PERIOD)).text()
    assert "Actions des superviseurs" in text and "Mise en pause" in text and "Déconnexion" in text
    assert "Formation &lt;b&gt;logiciel&lt;/b&gt;" in text and "<b>logiciel" not in text  # escaped
    assert "45 min" in text


@pytest.mark.parametrize(
    ("params", "status", "error", "words"),
    [
        ({"start": "2026-03-10", "end": "2026-03-01"}, 400, "reversed-period", "inversez"),
        ({"start": "2016-01-01", "end": "2026-01-01"}, 400, "period-too-long", "trois ans"),
        ({"start": "", "end": "2026-01-01"}, 400, "bad-period", "début"),
        ({"start": "hier", "end": "2026-01-01"}, 400, "bad-period", "illisible"),
        ({**PERIOD, "grouping": "century"}, 400, "bad-report-option", "Regroupement"),
    ],
)
async def test_bad_periods_are_refused_in_french(
    client: Client, params: dict[str, str], status: int, error: str, words: str
) -> None:
    for path in ("/api/statistics/report", "/api/statistics/calls", "/statistiques/rapport.csv"):
        response = await client.get(path, params=params)
        assert response.status == status
        body = await response.json()
        assert body["error"] == error and words in body["message"]


async def test_bad_drill_downs_are_refused(client: Client) -> None:
    for params in ({"figure": "nope"}, {"dimension": "nope"}, {"key": "x" * 500, "dimension": "topic"}):
        response = await client.get("/api/statistics/calls", params={**PERIOD, **params})
        assert response.status == 400


async def test_advisors_are_refused(client: Client, session: Session) -> None:
    session.user = ALICE
    for path in ("/api/statistics/report", "/statistiques", "/statistiques/rapport.csv"):
        response = await client.get(path, params=PERIOD)
        assert response.status == 403
        assert "superviseurs" in (await response.json())["message"]


async def test_the_figures_alone_equal_the_reports(pool: asyncpg.Pool) -> None:
    service = StatisticsService(pool, Settings(), lambda: datetime(2026, 3, 10, 15, 0, tzinfo=UTC))  # that day, 16:00
    today = DAY.date()
    figures = await service.figures(today, today)
    report = await service.report(service.default_query().model_copy(update={"start": today, "end": today}))
    for name, shown in report.report.figures.items():
        assert getattr(figures, name).value == shown.value, name
    assert figures.offered.value == 4 and figures.closed.value == 1
    # occupancy up to now only: logged in 8:00–16:00 (7 h available, 1 h at lunch)
    assert (figures.occupancy.numerator, figures.occupancy.denominator) == (0.0, 7 * 3600)


async def test_the_callback_figures_in_the_json_the_csv_and_the_page(client: Client, pool: asyncpg.Pool) -> None:
    """Three callbacks asked that Tuesday: one done 2 h later (two attempts), one cancelled, one still open; one of
    the Monday before (out of the period)."""
    await pool.execute("TRUNCATE callbacks RESTART IDENTITY CASCADE")
    for linkedid, asked, status, done in (
        ("cb.1", DAY, "done", DAY + timedelta(hours=2)),
        ("cb.2", DAY, "cancelled", None),
        ("cb.3", DAY + timedelta(hours=1), "open", None),
        ("cb.0", DAY - timedelta(days=1), "done", DAY),
    ):
        cb = await pool.fetchval(
            "INSERT INTO callbacks (linkedid, requested_by, created_at, status, done_at, cancelled_at, cancel_reason)"
            " VALUES ($1, 'agnes', $2, $3, $4, $5, $6) RETURNING id",
            linkedid,
            asked,
            status,
            done,
            asked if status == "cancelled" else None,
            "doublon" if status == "cancelled" else None,
        )
        if status == "done":
            await pool.executemany(
                "INSERT INTO callback_attempts (callback_id, by_login, result) VALUES ($1, 'agnes', $2)",
                [(cb, "messagerie"), (cb, "joint")],
            )
    body = await (await client.get("/api/statistics/report", params=PERIOD)).json()
    shown = {name: f["shown"] for name, f in body["report"]["callbacks"].items()}
    assert shown == {
        "callbacks_created": "3",
        "callbacks_done": "1",
        "callbacks_cancelled": "1",
        "callback_completion": "50\u00a0%",  # 1 done / (3 − 1 cancelled)
        "callback_within_day": "100\u00a0%",
        "callback_median_delay": "2 h 00 min",
        "callback_attempts": "2",
    }
    rows = _read(await (await client.get("/statistiques/rapport.csv", params=PERIOD)).read())
    header, whole = rows[0], rows[1]
    assert whole[3] == "Ensemble" and len(whole) == len(header)
    at = header.index("Taux de rappels effectués (%)")
    assert whole[at : at + 4] == ["50,00", "100,00", "7200,0", "2,0"]
    page = await (await client.get("/statistiques/rapport", params=PERIOD, headers={"Accept": "text/html"})).text()
    assert "Suivi des rappels" in page and "/statistiques/definitions#def-callback-within-day" in page
    definitions_page = await (await client.get("/statistiques/definitions")).text()
    assert 'id="def-callback-median-delay"' in definitions_page


async def test_a_drill_down_pages_by_cursor_at_any_depth(pool: asyncpg.Pool) -> None:
    """Two calls a page: « Appels suivants » (the keyset) reaches every call once, « précédents » goes back; the count
    is the figure's; numbered pages stop at the first 10 000 calls (a French refusal past them)."""
    service = StatisticsService(pool, Settings(), lambda: datetime(2026, 3, 10, 23, 0, tzinfo=UTC))
    q = service.default_query().model_copy(update={"start": DAY.date(), "end": DAY.date()})
    first = await service.drill(q, "calls", None, None, size=2)
    assert (first.total, first.pages, first.page, first.previous_before) == (5, 3, 1, None)
    seen, drill, pages = [c.linkedid for c in first.calls], first, [first]
    while drill.next_after is not None:
        drill = await service.drill(q, "calls", None, None, size=2, after=parse_cursor(drill.next_after))
        assert drill.page == 0 and drill.total == 5 and drill.previous_before is not None
        seen += [c.linkedid for c in drill.calls]
        pages.append(drill)
    assert seen == [f"1773000000.{n}" for n in range(1, 6)] and len(pages) == 3
    back = await service.drill(q, "calls", None, None, size=2, before=parse_cursor(pages[-1].previous_before))
    assert [c.linkedid for c in back.calls] == [c.linkedid for c in pages[1].calls]
    assert back.next_after is not None and back.previous_before is not None
    with pytest.raises(PageTooDeep, match="10\u202f000"):
        await service.drill(q, "calls", None, None, page=5_002, size=2)


@pytest.mark.parametrize(
    ("params", "error", "words"),
    [
        ({"page": "300"}, "page-too-deep", "Appels suivants"),
        ({"after": "demain"}, "bad-report-option", "première page"),
        ({"before": "99999999999999999999~x"}, "bad-report-option", "première page"),
        ({"after": "1~" + "x" * 80}, "bad-report-option", "première page"),
        ({"start": "2016-01-01", "end": "2025-12-31"}, "period-too-long", "trois ans"),
        ({"start": "2026-03-10", "end": "2025-03-10"}, "reversed-period", "inversez"),
    ],
)
async def test_drill_downs_out_of_bounds_are_refused_in_french(
    client: Client, params: dict[str, str], error: str, words: str
) -> None:
    for path in ("/api/statistics/calls", "/statistiques/appels"):
        response = await client.get(path, params={**PERIOD, "figure": "abandoned", **params})
        assert response.status == 400
        body = await response.json() if path.startswith("/api") else None
        if body is not None:
            assert body["error"] == error and words in body["message"]


async def test_an_empty_drill_down_and_a_cursor_past_the_end_answer_no_call(client: Client) -> None:
    empty = await client.get("/statistiques/appels", params={"start": "2026-02-01", "end": "2026-02-02"})
    assert empty.status == 200 and "Aucun appel." in await empty.text()
    past = await client.get("/api/statistics/calls", params={**PERIOD, "after": "4102444800000000~z"})
    body = await past.json()
    assert past.status == 200 and body["calls"] == [] and body["total"] == 4 and body["next_after"] is None
    page = await (await client.get("/statistiques/appels", params={**PERIOD, "figure": "calls"})).text()
    assert "5 appels." in page and "Appels suivants" not in page


async def _many_communes(pool: asyncpg.Pool, n: int) -> list[str]:
    """n answered calls on 12 March, commune i called i + 1 times (the larger, the more offered calls)."""
    codes = [
        r["code_insee"]
        for r in await pool.fetch(
            "SELECT code_insee FROM communes WHERE departement = '62' ORDER BY code_insee LIMIT $1", n
        )
    ]
    rows = []
    at = datetime(2026, 3, 12, 9, 0, tzinfo=PARIS)
    for i, code in enumerate(codes):
        for j in range(i + 1):
            row = _call(1000 + 100 * i + j, at + timedelta(seconds=20 * (100 * i + j)), "answered", wait=3.0, talk=60.0)
            rows.append({**row, "commune_insee": code, "topic": "taxes", "outcome": "immediate_answer"})
    columns = sorted(rows[0])
    await pool.executemany(
        f"INSERT INTO call_records ({', '.join(columns)}) "
        f"VALUES ({', '.join(f'${i}' for i in range(1, len(columns) + 1))})",
        [tuple(r[c] for c in columns) for r in rows],
    )
    return codes


async def test_the_report_page_shows_the_top_groups_of_a_long_breakdown_and_links_to_all(
    client: Client, pool: asyncpg.Pool
) -> None:
    codes = await _many_communes(pool, statistics_http.TOP_ROWS + 5)
    day = {"start": "2026-03-12", "end": "2026-03-12"}
    text = await (await client.get("/statistiques/rapport", params=day)).text()
    section = text.split('id="by-commune"', 1)[1].split("</table>", 1)[0]
    shown = section.count('<th scope="row">')
    assert shown == statistics_http.TOP_ROWS
    names = {r["code_insee"]: r["name"] for r in await pool.fetch("SELECT code_insee, name FROM communes")}
    assert names[codes[-1]] in section and names[codes[0]] not in section  # the most offered calls first
    assert f"sur {len(codes)}" in section
    link = (
        "/statistiques/repartition?start=2026-03-12&amp;end=2026-03-12&amp;grouping=day&amp;compare=none"
        "&amp;dimension=commune"
    )
    assert link in text and f"Voir les {len(codes)} groupes" in text
    full = await client.get("/statistiques/repartition", params={**day, "dimension": "commune"})
    full_text = await full.text()
    assert full.status == 200
    assert full_text.split('id="by-commune"', 1)[1].count('<th scope="row">') == len(codes)
    assert "Voir les" not in full_text
    for code in codes:  # every group in the CSV and the JSON
        assert names[code] in full_text
    csv_text = (await (await client.get("/statistiques/rapport.csv", params=day)).read()).decode("utf-8-sig")
    assert all(names[c] in csv_text for c in codes)
    body = await (await client.get("/api/statistics/report", params=day)).json()
    assert len([g for g in body["report"]["breakdowns"]["commune"] if g["key"] is not None]) == len(codes)
    refused = await client.get("/statistiques/repartition", params={**day, "dimension": "nope"})
    assert refused.status == 400


async def test_the_report_page_shows_the_questions_without_an_answer_escaped(
    client: Client, pool: asyncpg.Pool
) -> None:
    long_question = "Comment obtenir " + "une aide " * 30
    await pool.executemany(
        "INSERT INTO knowledge_unanswered (linkedid, question, topic, asked_by, asked_at) "
        "VALUES ($1, $2, $3, 'agnes', $4)",
        [
            ("1773000000.1", "Aide <script>alert(1)</script> & quotient ?", "taxes", DAY),
            ("1773000000.2", long_question[:200], "social_aid", DAY),
            ("1773000000.5", "Hors horaires ?", "taxes", DAY),  # a closed-line call: not offered, not counted
        ],
    )
    text = await (await client.get("/statistiques/rapport", params=PERIOD)).text()
    table = text.split('id="unanswered-table"', 1)[1].split("</table>", 1)[0]
    assert "<script>alert" not in text and "Aide &lt;script&gt;alert(1)&lt;/script&gt; &amp; quotient ?" in table
    assert "semaine du 09/03/2026" in table
    assert "Impôts et fiscalité" in table and "Hors horaires" not in table
    cut = long_question[: statistics_service.QUESTION_SHOWN - 1].strip()
    assert cut in " ".join(table.split()) and "…" in table
    assert "figure=unanswered_questions&amp;dimension=topic&amp;key=taxes" in table
    assert "/connaissances/sans-reponse" not in text  # no knowledge base in this application
    empty = await (
        await client.get("/statistiques/rapport", params={"start": "2026-02-01", "end": "2026-02-02"})
    ).text()
    assert "Aucune question sans réponse sur la période." in empty


async def test_the_questions_link_to_the_knowledge_base_when_it_is_there(pool: asyncpg.Pool) -> None:
    """With the knowledge base's page of questions mounted, a supervisor's report links to it."""

    @web.middleware
    async def supervisor(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[USER] = SAM
        return await handler(request)

    async def questions(request: web.Request) -> web.Response:
        return web.Response(text="questions")

    app = web.Application()
    web_http.setup(app, web_http.WebDeps())
    app.middlewares.append(supervisor)
    service = StatisticsService(pool, Settings(), lambda: datetime(2026, 3, 20, tzinfo=UTC))
    statistics_http.setup(app, statistics_http.StatisticsDeps(service))
    app.router.add_get(statistics_http.KNOWLEDGE_UNANSWERED, questions)
    async with TestClient(TestServer(app)) as c:
        text = await (await c.get("/statistiques/rapport", params=PERIOD)).text()
    assert 'href="/connaissances/sans-reponse"' in text
