"""Callbacks against a real PostgreSQL (migration 0020): made in the qualification's transaction (idempotent, unticked:
cancelled, ticked again: open again), a call still in progress, attempts (« joint » closes), cancellation, the open
list with what is overdue, and the reports' SQL equal to the pure figures (`kpis.callback_totals`) on random data."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from config.settings import DeskSettings, Settings
from screenpop.callbacks.errors import CallbackClosed, NotForCallbacks, UnknownCallback
from screenpop.callbacks.models import AttemptIn, CancelIn
from screenpop.callbacks.service import CallbackService
from screenpop.calls.models import Qualification
from screenpop.calls.service import QualificationService
from screenpop.statistics import kpis
from screenpop.statistics.models import ReportQuery
from screenpop.statistics.service import StatisticsService
from storage.callbacks import UNTICKED, CallbackRepository
from storage.calls import CallRecordRepository
from storage.communes import ensure_communes
from storage.qualification import SavingQualification
from storage.users import Role, User
from tests.fixtures_db import fresh_database, make_record, migrated_pool

__all__ = ["fresh_database", "migrated_pool"]

PARIS = ZoneInfo("Europe/Paris")
SETTINGS = Settings()
DESK = DeskSettings()
ALICE = User(id=1, login="alice", name="Alice Martin", role=Role.ADVISOR, advisor_id=None)
SUPER = User(id=2, login="sup", name="Sam Sup", role=Role.SUPERVISOR)
EDITOR = User(id=3, login="ed", name="Ed", role=Role.EDITOR, service_id=1)
ADV1 = "PJSIP/adv1"
TUESDAY = datetime(2026, 3, 10, 10, 0, tzinfo=PARIS)


@pytest.fixture
async def pool(migrated_pool: asyncpg.Pool) -> asyncpg.Pool:
    await ensure_communes(migrated_pool)
    await migrated_pool.execute("TRUNCATE callbacks, advisors RESTART IDENTITY CASCADE")
    await migrated_pool.execute(
        "INSERT INTO advisors (login, name, interface) VALUES ('alice', 'Alice Martin', $1)", ADV1
    )
    await CallRecordRepository(migrated_pool).upsert(make_record("100.1"))
    return migrated_pool


class Told:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> None:
        self.n += 1


def qual(**changes: Any) -> Qualification:
    base: dict[str, Any] = {"topic": "disability", "subtopic": "mdph_file", "outcome": "callback_needed"}
    base.update(changes)
    return Qualification.model_validate(base)


async def rows(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch("SELECT * FROM callbacks ORDER BY id")]


async def test_a_callback_is_made_with_the_qualification_once_and_cancelled_when_unticked(pool: asyncpg.Pool) -> None:
    told = Told()
    q = QualificationService(pool, DESK, callbacks_changed=told)
    await q.save("100.1", qual(callback_requested=True, callback_slot="après 17 h", commune_insee="62041"), ALICE, ADV1)
    [made] = await rows(pool)
    qualified_at = await pool.fetchval("SELECT qualified_at FROM call_records WHERE linkedid = '100.1'")
    assert made["status"] == "open" and made["created_at"] == qualified_at  # the same transaction's time
    assert (made["caller_number"], made["commune_insee"], made["topic"], made["slot"]) == (
        "+33612345678",
        "62041",
        "disability",
        "après 17 h",
    )
    assert made["requested_by"] == "alice" and told.n == 1
    # saved again (a double submit, a correction): still one callback, the same one, its fields following
    await q.save("100.1", qual(callback_requested=True, topic="taxes", subtopic=None), SUPER, None)
    [again] = await rows(pool)
    assert (again["id"], again["created_at"], again["topic"], again["requested_by"]) == (
        made["id"],
        made["created_at"],
        "taxes",
        "alice",
    )
    # unticked: the open callback is cancelled, with the reason said
    await q.save("100.1", qual(callback_requested=False, topic="taxes", subtopic=None), ALICE, ADV1)
    [cancelled] = await rows(pool)
    assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"] == UNTICKED
    assert cancelled["cancelled_by"] == "alice" and cancelled["cancelled_at"] is not None
    # ticked again: asked again, open from now
    await q.save("100.1", qual(callback_requested=True), ALICE, ADV1)
    [reopened] = await rows(pool)
    assert reopened["id"] == made["id"] and reopened["status"] == "open" and reopened["cancelled_at"] is None
    assert reopened["created_at"] > made["created_at"]


async def test_a_qualification_without_callback_makes_none(pool: asyncpg.Pool) -> None:
    await QualificationService(pool, DESK).save("100.1", qual(outcome="advice"), ALICE, ADV1)
    assert await rows(pool) == []


async def test_a_callback_is_made_in_the_qualification_s_transaction(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record's update failing after the callback was inserted: neither is kept."""

    async def broken(self: SavingQualification, *args: Any) -> Any:
        raise asyncpg.PostgresError("the save failed")

    monkeypatch.setattr(SavingQualification, "save", broken)
    with pytest.raises(asyncpg.PostgresError):
        await QualificationService(pool, DESK).save("100.1", qual(callback_requested=True), ALICE, ADV1)
    assert await rows(pool) == []


async def test_a_call_in_progress_gets_its_callback_and_its_number_once_the_record_exists(pool: asyncpg.Pool) -> None:
    q = QualificationService(pool, DESK)
    await q.save("300.1", qual(callback_requested=True), ALICE, ADV1, ADV1)  # pending: no record yet
    [made] = await rows(pool)
    assert made["linkedid"] == "300.1" and made["caller_number"] is None
    service = CallbackService(pool, SETTINGS.hours, {"disability": "Handicap"})
    [listed] = (await service.open(ALICE)).callbacks
    assert listed.number is None and listed.number_shown == "numéro inconnu"
    await CallRecordRepository(pool).upsert(make_record("300.1", caller_number="+33321000001"))
    [listed] = (await service.open(ALICE)).callbacks
    assert (listed.number, listed.number_shown, listed.topic_label) == ("+33321000001", "03 21 00 00 01", "Handicap")


async def test_attempts_then_reached_closes_it_and_nothing_more_is_taken(pool: asyncpg.Pool) -> None:
    await QualificationService(pool, DESK).save("100.1", qual(callback_requested=True), ALICE, ADV1)
    told = Told()
    service = CallbackService(pool, SETTINGS.hours, {}, changed=told)
    [cb] = (await service.open(ALICE)).callbacks
    first = await service.attempt(ALICE, cb.id, AttemptIn(result="sans_reponse", note="  pas\x00de\r\nréponse "))
    assert first.status == "open" and "reste en attente" in first.message and told.n == 0
    [listed] = (await service.open(ALICE)).callbacks
    assert listed.attempts == 1 and listed.last_attempt_label == "Sans réponse"
    done = await service.attempt(SUPER, cb.id, AttemptIn(result="joint"))
    assert done.status == "done" and told.n == 1
    assert (await service.open(ALICE)).callbacks == []
    [row] = await rows(pool)
    attempts = await CallbackRepository(pool).attempts(cb.id)
    assert [(a["result"], a["by_login"], a["note"]) for a in attempts] == [
        ("sans_reponse", "alice", "pas de réponse"),
        ("joint", "sup", None),
    ]
    assert row["status"] == "done" and row["done_at"] == attempts[-1]["at"]
    with pytest.raises(CallbackClosed, match="déjà effectué"):
        await service.attempt(ALICE, cb.id, AttemptIn(result="joint"))
    with pytest.raises(CallbackClosed):
        await service.cancel(ALICE, cb.id, CancelIn(reason="trop tard"))
    with pytest.raises(UnknownCallback):
        await service.attempt(ALICE, 999_999, AttemptIn(result="messagerie"))
    with pytest.raises(NotForCallbacks):
        await service.open(EDITOR)
    # unticked after it was done: a done callback stays done
    await QualificationService(pool, DESK).save("100.1", qual(callback_requested=False), ALICE, ADV1)
    assert (await rows(pool))[0]["status"] == "done"


async def test_cancel_with_a_reason(pool: asyncpg.Pool) -> None:
    await QualificationService(pool, DESK).save("100.1", qual(callback_requested=True), ALICE, ADV1)
    told = Told()
    service = CallbackService(pool, SETTINGS.hours, {}, changed=told)
    [cb] = (await service.open(ALICE)).callbacks
    out = await service.cancel(SUPER, cb.id, CancelIn(reason="Le citoyen a rappelé lui-même"))
    assert out.status == "cancelled" and told.n == 1
    [row] = await rows(pool)
    assert (row["status"], row["cancel_reason"], row["cancelled_by"]) == (
        "cancelled",
        "Le citoyen a rappelé lui-même",
        "sup",
    )
    assert await service.waiting() == (0, 0)


async def test_the_open_list_is_oldest_first_with_the_overdue_ones_marked(pool: asyncpg.Pool) -> None:
    for n, created in enumerate((TUESDAY, TUESDAY - timedelta(days=1), TUESDAY + timedelta(hours=3))):
        await pool.execute(
            "INSERT INTO callbacks (linkedid, caller_number, requested_by, created_at) VALUES ($1, $2, 'alice', $3)",
            f"cb.{n}",
            "+33612345678",
            created,
        )
    now = TUESDAY + timedelta(hours=4)  # Tuesday 14:00: Monday 10:00's callback is past its working day
    service = CallbackService(pool, SETTINGS.hours, {}, clock=lambda: now)
    found = await service.open(ALICE)
    assert [c.linkedid for c in found.callbacks] == ["cb.1", "cb.0", "cb.2"]
    assert [c.overdue for c in found.callbacks] == [True, False, False]
    assert (found.open, found.overdue) == (3, 1)
    assert found.callbacks[0].requested_shown == "09/03/2026 10:00"
    assert found.callbacks[0].requested_by_name == "alice"  # no account of that login: the login


async def test_the_reports_sql_equals_the_pure_figures_on_random_callbacks(pool: asyncpg.Pool) -> None:
    rng = random.Random(20)
    start, end = date(2026, 3, 20), date(2026, 4, 5)  # across the change to summer time and Easter Monday
    first = datetime.combine(start - timedelta(days=2), datetime.min.time(), PARIS).astimezone(UTC)
    for n in range(300):
        created = first + timedelta(seconds=rng.uniform(0, 21 * 86400))
        status = rng.choice(["open", "done", "done", "done", "cancelled"])
        done_at = created + timedelta(seconds=rng.choice([60, 7200, 86399, 86400, 90000, 4 * 86400])) * rng.random()
        cb_id = await pool.fetchval(
            "INSERT INTO callbacks (linkedid, requested_by, created_at, status, done_at, cancelled_at, cancel_reason)"
            " VALUES ($1, 'alice', $2, $3, $4, $5, $6) RETURNING id",
            f"r.{n}",
            created,
            status,
            done_at if status == "done" else None,
            created if status == "cancelled" else None,
            "motif" if status == "cancelled" else None,
        )
        for _ in range(rng.randint(0, 3)):
            await pool.execute(
                "INSERT INTO callback_attempts (callback_id, by_login, result) VALUES ($1, 'alice', 'messagerie')",
                cb_id,
            )
    statistics = StatisticsService(pool, SETTINGS, lambda: datetime(2026, 5, 1, tzinfo=UTC))
    since = datetime.combine(start, datetime.min.time(), PARIS)
    until = datetime.combine(end + timedelta(days=1), datetime.min.time(), PARIS)
    facts = [
        kpis.CallbackFacts(r["created_at"], kpis.CallbackStatus(r["status"]), r["done_at"], r["attempts"])
        for r in await CallbackRepository(pool).facts(since, until)
    ]
    pure = kpis.callback_totals(facts, SETTINGS.hours)
    sql = await statistics.callback_totals(start, end)
    assert pure.created > 100 and 0 < pure.within_day < pure.done  # the data exercises every case
    assert sql.median_delay == pytest.approx(pure.median_delay)
    assert dataclasses.replace(sql, median_delay=pure.median_delay) == pure
    # the report carries them, each with its French label
    report = await statistics.report(ReportQuery(start=start, end=end, compare="month"))
    figures = report.report.callbacks
    assert list(figures) == list(kpis.CALLBACK_FIGURE_NAMES)
    assert figures["callbacks_created"].value == pure.created
    assert figures["callback_completion"].value == pytest.approx(pure.done / (pure.created - pure.cancelled))
    assert figures["callback_median_delay"].value == pytest.approx(pure.median_delay)
    assert figures["callback_within_day"].label == "Rappels effectués sous un jour ouvré"
    assert report.comparison is not None and report.comparison.callbacks["callbacks_created"].value == 0
    assert report.comparison.callbacks["callback_completion"].shown == "—"
