"""The statistics' SQL against the pure KPI module: over the same stored facts, the sums aggregated by PostgreSQL
(every breakdown, the drill-downs' counts, the presence seconds) equal `kpis` computed in Python (exactness)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from config.settings import Settings
from screenpop.statistics import kpis
from screenpop.statistics.models import PeriodOut, ReportQuery
from screenpop.statistics.service import StatisticsService
from storage.communes import ensure_communes
from storage.pool import create_pool
from storage.statistics import DIMENSIONS, StatisticsRepository, params, report_groups
from telephony.advisors import AdvisorState
from telephony.records import CallStatus, Outcome
from tests.fixtures_db import fresh_database, migrated_pool

__all__ = ["fresh_database", "migrated_pool"]

PARIS = ZoneInfo("Europe/Paris")
SETTINGS = Settings()
T = kpis.Thresholds.from_settings(SETTINGS)
START = date(2026, 3, 20)  # the period crosses the change to summer time (29 March)
END = date(2026, 4, 5)
ADVISORS = [("agnes", "Agnès Roussel", "Local/agnes@advisors"), ("bruno", "Bruno Lefèvre", "Local/bruno@advisors")]
NUMBERS = ["+33321000001", "+33321000002", "+33612345678", None]
TOPICS: dict[str, list[str | None]] = {"taxes": ["income_tax", None], "health": ["pmi"], "roads": [None]}
STATUSES = [CallStatus.ANSWERED] * 6 + [
    CallStatus.ABANDONED,
    CallStatus.ABANDONED_RINGING,
    CallStatus.FAILED,
    CallStatus.CLOSED,
]
COLUMNS = (
    "linkedid",
    "caller_number",
    "arrived_at",
    "line_open",
    "status",
    "queue_entered_at",
    "answered_at",
    "wait_seconds",
    "talk_seconds",
    "hold_seconds",
    "qualified_at",
    "outcome",
    "topic",
    "subtopic",
    "commune_insee",
    "transfer_service",
    "partner",
    "advisor_interface",
    "advisor_name",
    "caller_kind",
    "callback_requested",
    "ended_at",
    "hangup_by",
)


def _records(communes: list[str]) -> list[dict[str, Any]]:
    rng = random.Random(12)
    # in UTC: arithmetic on Paris wall times would make times that do not exist (29 March, 02:30)
    first = datetime.combine(START - timedelta(days=3), datetime.min.time(), PARIS).astimezone(UTC)
    span = (END - START).days + 7
    out: list[dict[str, Any]] = []
    for n in range(600):
        arrived = first + timedelta(seconds=rng.uniform(0, span * 86400))
        if n < 6:  # around midnight, on either side of the period's bounds
            base = datetime.combine(START if n < 3 else END + timedelta(days=1), datetime.min.time(), PARIS)
            base = base.astimezone(UTC)
            arrived = base + timedelta(seconds=rng.choice([-1.5, -0.001, 0, 0.001, 2, 30]))
        status = rng.choice(STATUSES)
        queued = status is not CallStatus.CLOSED and rng.random() < 0.95
        wait = rng.choice([0.0, 1.0, 4.999, 5.0, 5.001, 12.5, 20.0, 20.001, 75.0, 400.0]) if queued else None
        answered = arrived + timedelta(seconds=1 + (wait or 0)) if status is CallStatus.ANSWERED else None
        talk = rng.uniform(5, 900) if answered else None
        topic = rng.choice([*TOPICS, None]) if answered or rng.random() < 0.1 else None
        outcome = rng.choice([*Outcome, None]) if topic else None
        qualified = (
            answered + timedelta(seconds=(talk or 0) + rng.choice([-30.0, 0.0, 3.5, 60.0, 500.0]))
            if answered and outcome and rng.random() < 0.9
            else None
        )
        advisor = rng.choice(ADVISORS) if answered else None
        out.append(
            {
                "linkedid": f"17000.{n}",
                "caller_number": rng.choice(NUMBERS),
                "arrived_at": arrived,
                "line_open": status is not CallStatus.CLOSED,
                "status": status.value,
                "queue_entered_at": arrived + timedelta(seconds=1) if queued else None,
                "answered_at": answered,
                "wait_seconds": wait,
                "talk_seconds": talk,
                # on hold within the talk (migration 0013): drawn without the generator, so the rest stays as it was
                "hold_seconds": min(talk, (n % 4) * 7.5) if talk is not None else 0.0,
                "qualified_at": qualified,
                "outcome": None if outcome is None else outcome.value,
                "topic": topic,
                "subtopic": rng.choice(TOPICS[topic]) if topic else None,
                "commune_insee": rng.choice([*communes, None]) if topic else None,
                "transfer_service": "Service des routes" if outcome is Outcome.TRANSFER else None,
                "partner": rng.choice(["caf", "mdph"]) if outcome is Outcome.PARTNER_CONTACT else None,
                "advisor_interface": None if advisor is None else advisor[2],
                "advisor_name": None if advisor is None else advisor[0],
                "caller_kind": rng.choice(["citizen", "town_hall", "partner", None]),
                "callback_requested": rng.choice([True, False, None]) if topic else None,
                "ended_at": arrived + timedelta(seconds=2000),
                "hangup_by": "caller",
            }
        )
    return out


def _facts(records: list[dict[str, Any]], epci: dict[str, str | None], unanswered: set[str]) -> list[kpis.CallFacts]:
    by_number: dict[str, list[datetime]] = defaultdict(list)
    for r in records:
        if r["caller_number"] is not None:
            by_number[r["caller_number"]].append(r["arrived_at"])
    facts = []
    for r in records:
        earlier = [a for a in by_number.get(r["caller_number"], []) if a < r["arrived_at"]]
        facts.append(
            kpis.CallFacts(
                linkedid=r["linkedid"],
                arrived_at=r["arrived_at"],
                line_open=r["line_open"],
                status=CallStatus(r["status"]),
                queue_entered_at=r["queue_entered_at"],
                answered_at=r["answered_at"],
                wait=r["wait_seconds"],
                talk=r["talk_seconds"],
                hold=r["hold_seconds"],
                qualified_at=r["qualified_at"],
                outcome=None if r["outcome"] is None else Outcome(r["outcome"]),
                topic=r["topic"],
                subtopic=r["subtopic"],
                commune_insee=r["commune_insee"],
                epci=None if r["commune_insee"] is None else epci[r["commune_insee"]],
                caller_kind=kpis.CallerKind(r["caller_kind"] or "citizen"),
                caller_number=r["caller_number"],
                advisor=r["advisor_interface"],
                transfer_service=r["transfer_service"],
                partner=r["partner"],
                callback_requested=bool(r["callback_requested"]),
                unanswered_question=r["linkedid"] in unanswered,
                previous_call_at=max(earlier, default=None),
            )
        )
    return facts


def _local(f: kpis.CallFacts) -> datetime:
    return f.arrived_at.astimezone(PARIS)


KEYS: dict[str, Callable[[kpis.CallFacts], str | None]] = {
    "day": lambda f: _local(f).strftime("%Y-%m-%d"),
    "week": lambda f: (_local(f).date() - timedelta(days=_local(f).weekday())).isoformat(),
    "month": lambda f: _local(f).strftime("%Y-%m"),
    "hour": lambda f: _local(f).strftime("%H"),
    "weekday": lambda f: str(_local(f).isoweekday()),
    "topic": lambda f: f.topic,
    "subtopic": lambda f: None if f.topic is None else f"{f.topic}/{f.subtopic or ''}",
    "outcome": lambda f: None if f.outcome is None else f.outcome.value,
    "service": lambda f: f.transfer_service if f.outcome is Outcome.TRANSFER else None,
    "partner": lambda f: f.partner if f.outcome is Outcome.PARTNER_CONTACT else None,
    "commune": lambda f: f.commune_insee,
    "epci": lambda f: f.epci,
    "advisor": lambda f: f.advisor,
    "caller_kind": lambda f: f.caller_kind.value,
}


def _same(sql: kpis.Totals, pure: kpis.Totals, where: str) -> None:
    for name in kpis.TOTALS_FIELDS:
        a, b = getattr(sql, name), getattr(pure, name)
        if isinstance(b, int):
            assert a == b, f"{where}: {name} {a} != {b}"
        else:
            assert a == pytest.approx(b, rel=1e-9, abs=1e-6), f"{where}: {name}"


@pytest.fixture
async def pool(migrated_pool: asyncpg.Pool) -> asyncpg.Pool:
    await ensure_communes(migrated_pool)
    await migrated_pool.execute(
        "TRUNCATE advisors, knowledge_unanswered, statistics_days, statistics_dirty_days RESTART IDENTITY CASCADE"
    )
    await migrated_pool.executemany("INSERT INTO advisors (login, name, interface) VALUES ($1, $2, $3)", ADVISORS)
    return migrated_pool


@pytest.fixture
async def stored(pool: asyncpg.Pool) -> list[kpis.CallFacts]:
    rows = await pool.fetch(
        "SELECT code_insee, epci_siren FROM communes WHERE departement = '62' ORDER BY code_insee LIMIT 6"
    )
    epci = {r["code_insee"]: r["epci_siren"] for r in rows}
    records = _records(list(epci))
    placeholders = ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))
    await pool.executemany(
        f"INSERT INTO call_records ({', '.join(COLUMNS)}) VALUES ({placeholders})",
        [tuple(r[c] for c in COLUMNS) for r in records],
    )
    unanswered = {r["linkedid"] for r in records[::17] if r["topic"]}
    await pool.executemany(
        "INSERT INTO knowledge_unanswered (linkedid, question, topic, asked_by) VALUES ($1, 'Quelle aide ?', 't', 'a')",
        [(u,) for u in unanswered],
    )
    return _facts(records, epci, unanswered)


def _period() -> tuple[datetime, datetime]:
    return (
        datetime.combine(START, datetime.min.time(), PARIS),
        datetime.combine(END + timedelta(days=1), datetime.min.time(), PARIS),
    )


def _common() -> tuple[Any, ...]:
    s, e = _period()
    return params(s, e, "Europe/Paris", T.short_abandon, T.service_level, T.wrap_up_cap, T.repeat_days)


async def test_every_breakdown_aggregated_in_sql_equals_the_pure_figures(
    pool: asyncpg.Pool, stored: list[kpis.CallFacts]
) -> None:
    s, e = _period()
    inside = [f for f in stored if s <= f.arrived_at < e]
    assert 300 < len(inside) < len(stored)
    repo = StatisticsRepository(pool)
    rows = await repo.groups(_common(), tuple(DIMENSIONS))
    whole = next(r for r in rows if r.dimension == "")
    pure_whole = kpis.totals(inside, T)
    _same(kpis.Totals.of(whole.sums), pure_whole, "period")
    assert pure_whole.short_abandoned and pure_whole.abandoned and pure_whole.closed and pure_whole.failed
    assert pure_whole.repeat_calls and pure_whole.unanswered_questions and pure_whole.transfers
    assert 0 < pure_whole.wrapped_up < pure_whole.answered
    for dim, key_of in KEYS.items():
        groups: dict[str | None, list[kpis.CallFacts]] = defaultdict(list)
        for f in inside:
            groups[key_of(f)].append(f)
        sql = {r.key: r for r in rows if r.dimension == dim}
        assert set(sql) == set(groups), dim
        for key, facts in groups.items():
            _same(kpis.Totals.of(sql[key].sums), kpis.totals(facts, T), f"{dim}={key}")
    days = {r.key or "" for r in rows if r.dimension == "day"}
    assert min(days) == START.isoformat() and max(days) == END.isoformat()  # midnight in Paris, not UTC


async def test_the_pure_module_over_the_facts_read_back_gives_the_same_figures(
    pool: asyncpg.Pool, stored: list[kpis.CallFacts]
) -> None:
    service = StatisticsService(pool, SETTINGS, lambda: datetime(2026, 5, 1, tzinfo=UTC))
    read_back = await service.facts(START, END)
    s, e = _period()
    assert sorted(f.linkedid for f in read_back) == sorted(f.linkedid for f in stored if s <= f.arrived_at < e)
    pure = kpis.compute(read_back, T)
    report = await service.report(service.default_query().model_copy(update={"start": START, "end": END}))
    for name in kpis.FIGURE_NAMES:
        if name == "occupancy":
            continue
        shown = report.report.figures[name]
        assert shown.value == pytest.approx(getattr(pure, name).value, rel=1e-9, abs=1e-9), name


@pytest.mark.parametrize(
    ("figure", "dimension"),
    [
        ("abandoned", None),
        ("short_abandoned", "day"),
        ("service_level", "topic"),
        ("closed", "hour"),
        ("repeat_callers", "caller_kind"),
        ("transfer_rate", "advisor"),
        ("failed", "commune"),
    ],
)
async def test_a_drill_down_lists_the_calls_its_figure_counts(
    pool: asyncpg.Pool, stored: list[kpis.CallFacts], figure: str, dimension: str | None
) -> None:
    s, e = _period()
    call_set = kpis.FIGURE_CALLS[figure]
    repo = StatisticsRepository(pool)
    inside = [f for f in stored if s <= f.arrived_at < e and kpis.in_set(f, call_set, T)]
    keys = {None} if dimension is None else {KEYS[dimension](f) for f in inside}
    assert inside
    for key in keys:
        expected = sorted(
            (f for f in inside if dimension is None or KEYS[dimension](f) == key),
            key=lambda f: (f.arrived_at, f.linkedid),
        )
        total, first = await repo.calls_scan(_common(), call_set.value, dimension, key, 5, 0)
        assert total == len(expected)
        assert [r["linkedid"] for r in first] == [f.linkedid for f in expected[:5]]
        total_after, beyond = await repo.calls_scan(_common(), call_set.value, dimension, key, 5, 10_000)
        assert (total_after, beyond) == (total, [])
        page = await repo.calls(_common(), call_set.value, dimension, key, 5)
        assert [r["linkedid"] for r in page] == [f.linkedid for f in expected[:5]]
        assert await repo.calls(_common(), call_set.value, dimension, key, 5, offset=10_000) == []


async def _walk(repo: StatisticsRepository, call_set: str, dimension: str | None, key: str | None) -> list[Any]:
    """Every call of a drill-down, page after page by the keyset (7 a page), then back by `before`."""
    rows: list[Any] = []
    page = await repo.calls(_common(), call_set, dimension, key, 7)
    while page:
        rows += page
        page = await repo.calls(
            _common(), call_set, dimension, key, 7, after=(page[-1]["arrived_at"], page[-1]["linkedid"])
        )
    if rows:  # backwards from the last call gives the same calls
        back: list[Any] = []
        page = [rows[-1]]
        while page:
            back = list(page) + back
            page = await repo.calls(
                _common(), call_set, dimension, key, 7, before=(page[0]["arrived_at"], page[0]["linkedid"])
            )
        assert [r["linkedid"] for r in back] == [r["linkedid"] for r in rows]
    return rows


async def test_the_indexed_drill_down_lists_exactly_the_calls_of_the_scan(
    pool: asyncpg.Pool, stored: list[kpis.CallFacts]
) -> None:
    """The drill-down's indexed query (keyset pages, OFFSET pages) against the reference scan of the facts, for
    every breakdown, on every group plus « non renseigné » and a key that is no group, over random figures; and the
    count the page shows (the figure's sum, from the daily sums once summed) equals the scan's."""
    rng = random.Random(21)
    repo = StatisticsRepository(pool)
    service = StatisticsService(pool, SETTINGS, lambda: datetime(2026, 5, 1, tzinfo=UTC))
    s, e = _period()
    inside = [f for f in stored if s <= f.arrived_at < e]
    sets = list(kpis.CallSet)
    checked = 0
    for summed in (False, True):
        if summed:
            assert await service.refresh(limit=60) > 0
        for dimension, key_of in [(None, None), *KEYS.items()]:
            keys: set[str | None] = {None} if key_of is None else {key_of(f) for f in inside} | {None, "x/y", "2026-13"}
            for call_set in rng.sample(sets, 4 if summed else 6):
                for key in sorted(keys, key=str):
                    total, reference = await repo.calls_scan(_common(), call_set.value, dimension, key, 10_000, 0)
                    listed = await _walk(repo, call_set.value, dimension, key)
                    assert [(r["linkedid"], r["arrived_at"]) for r in listed] == [
                        (r["linkedid"], r["arrived_at"]) for r in reference
                    ], (call_set, dimension, key)
                    assert [dict(r) for r in listed] == [
                        {k: v for k, v in dict(r).items() if k != "total"} for r in reference
                    ]
                    by_offset = await repo.calls(_common(), call_set.value, dimension, key, 7, offset=7)
                    assert [r["linkedid"] for r in by_offset] == [r["linkedid"] for r in reference[7:14]]
                    count = await service.count(service.period(START, END), call_set, dimension, key)
                    assert count == total, (call_set, dimension, key, summed)
                    checked += bool(total)
    assert checked > 100


async def test_presence_seconds_in_sql_equal_the_pure_intervals(pool: asyncpg.Pool) -> None:
    s, e = _period()
    rng = random.Random(5)
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM advisors ORDER BY id")]
    events = []
    for advisor_id in ids:
        at = s.astimezone(UTC) - timedelta(hours=30)
        while at < e + timedelta(hours=5):
            at += timedelta(seconds=rng.uniform(1, 4 * 3600))
            events.append((advisor_id, rng.choice(list(AdvisorState)).value, at))
    await pool.executemany("INSERT INTO advisor_events (advisor_id, state, at) VALUES ($1, $2, $3)", events)
    repo = StatisticsRepository(pool)
    rows = await repo.presence(s, e)
    sql = kpis.presence_of((r.state, r.seconds) for r in rows)
    for advisor_id in ids:  # per advisor too
        own = kpis.presence_of((r.state, r.seconds) for r in rows if r.advisor_id == advisor_id)
        mine = [kpis.StateChangeFact(str(a), AdvisorState(st), at) for a, st, at in events if a == advisor_id]
        expected = kpis.presence_totals(kpis.intervals(mine, s, e))
        assert (own.logged_in, own.paused, own.busy) == pytest.approx(
            (expected.logged_in, expected.paused, expected.busy)
        )
    changes = [
        kpis.StateChangeFact(str(r["advisor_id"]), AdvisorState(r["state"]), r["at"])
        for r in await repo.presence_changes(s, e)
    ]
    pure = kpis.presence_totals(kpis.intervals(changes, s, e))
    assert pure.logged_in > pure.busy > 0 and pure.paused > 0
    assert (sql.logged_in, sql.paused, sql.busy) == pytest.approx((pure.logged_in, pure.paused, pure.busy))
    # and from the log as stored, without the query's own selection
    everything = [kpis.StateChangeFact(str(a), AdvisorState(st), at) for a, st, at in events]
    whole = kpis.presence_totals(kpis.intervals(everything, s, e))
    assert (whole.logged_in, whole.paused, whole.busy) == pytest.approx((pure.logged_in, pure.paused, pure.busy))


async def _presence_log(pool: asyncpg.Pool) -> None:
    s, e = _period()
    rng = random.Random(5)
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM advisors ORDER BY id")]
    events = []
    for advisor_id in ids:
        at = s.astimezone(UTC) - timedelta(hours=30)
        while at < e + timedelta(hours=5):
            at += timedelta(seconds=rng.uniform(1, 4 * 3600))
            state = rng.choice(list(AdvisorState))
            reason = rng.choice(["meal", "break", "missed_call", None]) if state is AdvisorState.PAUSED else None
            events.append((advisor_id, state.value, reason, at))
    await pool.executemany("INSERT INTO advisor_events (advisor_id, state, reason, at) VALUES ($1, $2, $3, $4)", events)


def _same_report(a: PeriodOut, b: PeriodOut) -> None:
    def values(p: PeriodOut) -> dict[tuple[str, str | None, str], float | None]:
        out: dict[tuple[str, str | None, str], float | None] = {("", None, n): f.value for n, f in p.figures.items()}
        for dim, groups in p.breakdowns.items():
            for g in groups:
                out.update({(dim, g.key, n): f.value for n, f in g.figures.items()})
        return out

    va, vb = values(a), values(b)
    assert [(x.key, x.pauses.keys()) for x in a.presence] == [(x.key, x.pauses.keys()) for x in b.presence]
    for x, y in zip(a.presence, b.presence, strict=True):
        assert (x.logged_in, x.paused, x.busy) == pytest.approx((y.logged_in, y.paused, y.busy))
        assert x.pauses == pytest.approx(y.pauses)
        va[("presence", x.key, "occupancy")] = x.occupancy.value
        vb[("presence", y.key, "occupancy")] = y.occupancy.value
    assert a.pauses == pytest.approx(b.pauses)
    assert va.keys() == vb.keys()
    for k, v in va.items():
        if v is None or vb[k] is None:
            assert v is vb[k], k
        else:
            assert v == pytest.approx(vb[k], rel=1e-9, abs=1e-9), k


async def test_the_daily_sums_give_the_report_the_records_give(
    pool: asyncpg.Pool, stored: list[kpis.CallFacts]
) -> None:
    await _presence_log(pool)
    now = datetime(2026, 4, 3, 10, 0, tzinfo=UTC)  # 3 April: the period's last days are not over
    service = StatisticsService(pool, SETTINGS, lambda: now)
    queries = [ReportQuery(start=START, end=END, grouping=g, compare="none") for g in ("day", "week", "month")]
    plain = [await service.report(q) for q in queries]
    assert plain[0].report.figures["occupancy"].value is not None
    people = plain[0].report.presence
    assert [p.advisor for p in people] == ["Agnès Roussel", "Bruno Lefèvre"]
    assert set(plain[0].report.pauses) == {"Repas", "Pause", "Appel manqué", "Sans motif"}
    assert sum(plain[0].report.pauses.values()) == pytest.approx(sum(p.paused for p in people))
    agnes = next(g for g in plain[0].report.breakdowns["advisor"] if g.key == "Local/agnes@advisors")
    assert agnes.figures["occupancy"].value == people[0].occupancy.value is not None
    assert await service.refresh(limit=1000) > 15
    assert await service.refresh(limit=1000) == 0  # nothing left
    summed = await pool.fetchval("SELECT count(*) FROM statistics_days WHERE day BETWEEN $1 AND $2", START, END)
    assert summed == (date(2026, 4, 3) - START).days
    for q, before in zip(queries, plain, strict=True):
        _same_report((await service.report(q)).report, before.report)

    # a summed day changes (a late qualification): the report reads it from the records until it is summed again
    linkedid = next(
        f.linkedid for f in stored if f.is_answered() and _local(f).date() == date(2026, 3, 25) and f.outcome is None
    )
    await pool.execute("UPDATE call_records SET outcome = 'transfer' WHERE linkedid = $1", linkedid)
    assert await pool.fetchval("SELECT count(*) FROM statistics_dirty_days WHERE day = '2026-03-25'") == 1
    pure = kpis.compute(await service.facts(START, END), T)
    changed = await service.report(queries[0])
    assert (
        changed.report.figures["transfers"].value
        == pure.transfers.value
        == plain[0].report.figures["transfers"].numerator + 1
    )
    assert await service.refresh(limit=1000) >= 1
    _same_report((await service.report(queries[0])).report, changed.report)


async def test_the_sums_are_planned_for_their_values_at_every_run(pool: asyncpg.Pool) -> None:
    """The wallboard reads today's sums several times a second from the day's first call, on statements asyncpg
    keeps prepared: PostgreSQL must not settle on a generic plan made while the table was empty (it looked for each
    call's previous call through the arrival index, O(n²) once the day has thousands of calls)."""
    today = datetime.now(PARIS).date()
    start = datetime.combine(today, datetime.min.time(), PARIS)
    common = params(
        start, start + timedelta(days=1), "Europe/Paris", T.short_abandon, T.service_level, T.wrap_up_cap, 7
    )
    async with pool.acquire() as conn:
        await conn.execute("TRUNCATE call_records CASCADE")
        for _ in range(8):  # PostgreSQL weighs a generic plan from the sixth run of a prepared statement
            await report_groups(conn, common, ())
        plans = await conn.fetch(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE '%WITH f AS%' AND statement NOT LIKE '%pg_prepared_statements%'"
        )
    assert plans and sum(p["custom_plans"] for p in plans) >= 8
    assert sum(p["generic_plans"] for p in plans) == 0


async def test_the_calls_behind_a_figure_are_planned_for_their_values_too(
    pool: asyncpg.Pool, fresh_database: str
) -> None:
    """The drill-down reads the same facts (the same `repeat` look-up) through the same kind of prepared statement."""
    today = datetime.now(PARIS).date()
    start = datetime.combine(today, datetime.min.time(), PARIS)
    common = params(
        start, start + timedelta(days=1), "Europe/Paris", T.short_abandon, T.service_level, T.wrap_up_cap, 7
    )
    await pool.execute("TRUNCATE call_records CASCADE")
    one = await create_pool(fresh_database, max_size=1)  # one connection: its prepared statements are all there
    try:
        repo = StatisticsRepository(one)
        for _ in range(8):
            assert await repo.calls(common, "offered", None, None, 50) == []  # the drill-down's page
            assert await repo.calls_scan(common, "offered", None, None, 50, 0) == (0, [])  # its reference
        plans = await one.fetch(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE '%arrived_at%' AND statement NOT LIKE '%pg_prepared_statements%'"
        )
    finally:
        await one.close()
    assert len(plans) >= 2 and all(p["custom_plans"] >= 8 for p in plans)  # the page's and the reference's
    assert sum(p["generic_plans"] for p in plans) == 0
