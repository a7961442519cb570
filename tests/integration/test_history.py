"""The example history on real PostgreSQL (`gps_admin.history`, `storage.history`): every generated row passes the
tables' constraints, reads back as the same call record, and a second load (even at the same time) adds nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest

from config.settings import Settings
from gps_admin import history
from simulator import history as gen
from storage import history as store
from storage.advisors import AdvisorRepository
from storage.calls import CallRecordRepository
from storage.services import ServiceRepository
from telephony.records import CallRecord
from tests.fixtures_db import fresh_database, migrated_pool

__all__ = ["fresh_database", "migrated_pool"]

SETTINGS = Settings()
START, END = date(2026, 2, 23), date(2026, 3, 9)  # two weeks, two Sundays


@pytest.fixture
async def seeded(migrated_pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    pool = migrated_pool
    await pool.execute("TRUNCATE communes, advisor_events, advisors, organisations CASCADE")
    await pool.executemany(
        "INSERT INTO communes (code_insee, name, search_name, departement, departement_name, population) "
        "VALUES ($1, $2, $3, '62', 'Pas-de-Calais', $4)",
        [("62041", "Arras", "arras", 41000), ("62193", "Calais", "calais", 67000), ("62001", "Ablain", "ablain", 900)],
    )
    advisors = AdvisorRepository(pool, SETTINGS.routing.skills)
    for i in range(8):
        await advisors.add(f"hist{i}", f"Conseiller {i}", f"Local/hist{i}@advisors", ["roads"])
    await ServiceRepository(pool, SETTINGS.desk.topics).add("Service des routes", "2001", ["roads"])
    mairie = await pool.fetchval(
        "INSERT INTO organisations (kind, name, owner, commune_insee) "
        "VALUES ('town_hall', 'Mairie d''Arras (exemple)', 'test', '62041') RETURNING id"
    )
    await pool.execute("INSERT INTO organisation_phones VALUES ($1, 0, '+33321000041', NULL, true)", mairie)
    await pool.execute("INSERT INTO organisations (kind, name, owner) VALUES ('caf', 'CAF (exemple)', 'test')")
    yield pool


async def test_the_history_loads_once_and_reads_back(seeded: asyncpg.Pool) -> None:
    pool = seeded
    inputs = await store.inputs(pool, "62", [f"hist{i}" for i in range(8)])
    assert len(inputs.advisors) == 8 and inputs.services and len(inputs.organisations) == 2
    plan = history.plan_for(inputs, SETTINGS, START, END)
    made = [d for d in gen.days(plan)]
    expected_calls = sum(len(d.calls) for d in made)
    expected_events = sum(len(d.events) for d in made)
    seen: list[tuple[date, int, int]] = []

    # two loads at once: one writes (under the advisory lock), the other then finds it there
    first, second = await asyncio.gather(
        history.load(pool, plan, progress=lambda *a: seen.append(a), chunk_days=5), history.load(pool, plan)
    )
    loaded, skipped = (first, second) if not first.skipped else (second, first)
    assert not loaded.skipped and skipped.skipped
    assert (loaded.calls, loaded.events) == (expected_calls, expected_events)
    assert [s[0] for s in seen] == [date(2026, 2, 28), date(2026, 3, 5), END] and seen[-1][1] == expected_calls
    assert await pool.fetchval("SELECT count(*) FROM call_records") == expected_calls
    assert await pool.fetchval("SELECT count(*) FROM advisor_events") == expected_events
    assert await store.has_examples(pool, gen.PREFIX)

    again = await history.load(pool, plan)
    assert again.skipped and await pool.fetchval("SELECT count(*) FROM call_records") == expected_calls

    # rows read back as the records the generator made (the kinds given, not classified again by the trigger)
    records = CallRecordRepository(pool)
    by_status = {str(c[gen.CALL_COLUMNS.index("status")]): c for d in made for c in d.calls}
    assert set(by_status) == {"answered", "abandoned", "abandoned_ringing", "closed", "failed"}
    for row in by_status.values():
        data = dict(zip(gen.CALL_COLUMNS, row, strict=True))
        stored = await records.get(str(data["linkedid"]))
        assert stored is not None
        facts = {k: v for k, v in data.items() if k in CallRecord.model_fields and k != "rings"}
        assert stored.model_dump(exclude={"rings"}) == CallRecord.model_validate(facts).model_dump(exclude={"rings"})
        assert [r.model_dump(mode="json") for r in stored.rings] == json.loads(str(data["rings"]))
    kinds = dict(await pool.fetch("SELECT caller_kind, count(*) FROM call_records GROUP BY 1"))
    assert set(kinds) == {"citizen", "town_hall"}  # the CAF has no phone: it never calls
    assert (
        await pool.fetchval("SELECT count(*) FROM call_records WHERE caller_organisation_id IS NOT NULL")
        == kinds["town_hall"]
    )
    # every record qualified with « rappel demandé » has its callback, with outcomes (two weeks long past: done or
    # cancelled), and the attempts that led there; the report's callback figures mean something
    asked = await pool.fetchval("SELECT count(*) FROM call_records WHERE callback_requested")
    statuses = dict(await pool.fetch("SELECT status, count(*) FROM callbacks GROUP BY 1"))
    assert asked > 20 and sum(statuses.values()) == asked
    assert statuses["done"] > statuses.get("cancelled", 0) > 0 and "open" not in statuses
    done = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE a.result = 'joint') AS reached, count(*) AS attempts "
        "FROM callback_attempts AS a JOIN callbacks AS c ON c.id = a.callback_id WHERE c.status = 'done'"
    )
    assert done["reached"] == statuses["done"] and statuses["done"] <= done["attempts"] <= 3 * statuses["done"]
    assert await pool.fetchval(
        "SELECT bool_and(c.done_at = (SELECT max(at) FROM callback_attempts WHERE callback_id = c.id)) "
        "FROM callbacks AS c WHERE c.status = 'done'"
    )
    # the presence log rebuilds as the router reads it: everyone logged out at the end of the last day
    last = await AdvisorRepository(pool, SETTINGS.routing.skills).last_states()
    assert len(last) == 8 and {c.state.value for c in last.values()} == {"logged_out"}


async def test_an_interrupted_load_leaves_nothing(seeded: asyncpg.Pool) -> None:
    pool = seeded
    inputs = await store.inputs(pool, "62")
    plan = history.plan_for(inputs, SETTINGS, START, END)

    def stop(day: date, calls: int, expected: int) -> None:
        raise RuntimeError("stopped")  # e.g. Ctrl-C during the demo's first start

    with pytest.raises(RuntimeError):
        await history.load(pool, plan, progress=stop, chunk_days=3)
    assert await pool.fetchval("SELECT count(*) FROM call_records") == 0
    assert await pool.fetchval("SELECT count(*) FROM advisor_events") == 0
    done = await history.load(pool, plan)
    assert not done.skipped and done.calls > 0


def test_months_before() -> None:
    assert history.months_before(date(2026, 12, 5), 6) == date(2026, 6, 5)
    assert history.months_before(date(2026, 8, 31), 6) == date(2026, 2, 28)
    assert history.months_before(date(2026, 3, 31), 3) == date(2025, 12, 31)
