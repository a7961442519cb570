"""« Ma journée » over a real PostgreSQL: the advisor's calls and presence log read by `storage.desk_day`, turned
into the day's figures by `DeskService.day` (the clock fixed at Monday 30 November 2026, 12:00 in Paris)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from screenpop.desk.errors import NotAnAdvisor
from screenpop.desk.service import DeskService
from storage.advisors import AdvisorRepository
from storage.calls import CallRecordRepository
from storage.desk_day import DeskDayRepository
from storage.users import Role, User
from telephony.advisors import AdvisorState, StateChange
from telephony.records import CallStatus, HangupBy
from tests.fixtures_db import fresh_database, make_record, migrated_pool

__all__ = ["fresh_database", "migrated_pool"]

NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # 12:00 in Paris
AGNES_PHONE, BRUNO_PHONE = "Local/adv1@advisors", "Local/adv2@advisors"


def answered(
    linkedid: str, phone: str, arrived: datetime, talk: float, hold: float = 0.0, line_open: bool = True
) -> Any:
    answer = arrived + timedelta(seconds=20)
    return make_record(
        linkedid,
        line_open=line_open,
        arrived_at=arrived,
        queue_entered_at=arrived + timedelta(seconds=2),
        queue_left_at=answer,
        rings=(),
        answered_at=answer,
        advisor_interface=phone,
        talk_ended_at=answer + timedelta(seconds=talk),
        ended_at=answer + timedelta(seconds=talk),
        talk_seconds=talk,
        hold_seconds=hold,
        hold_count=1 if hold else 0,
    )


async def qualify(pool: asyncpg.Pool, linkedid: str, at: datetime) -> None:
    await pool.execute(
        "UPDATE call_records SET qualified_at = $2, outcome = 'advice' WHERE linkedid = $1", linkedid, at
    )


@pytest.fixture
async def desk(migrated_pool: asyncpg.Pool) -> tuple[DeskService, User, User]:
    pool = migrated_pool
    await pool.execute("TRUNCATE advisor_events, advisors, call_records RESTART IDENTITY CASCADE")
    advisors = AdvisorRepository(pool, {})
    agnes = await advisors.add("agnes", "Agnès Roussel", AGNES_PHONE)
    bruno = await advisors.add("bruno", "Bruno Caron", BRUNO_PHONE)
    records = CallRecordRepository(pool)
    nine = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # 09:00 in Paris
    await records.upsert(answered("1.1", AGNES_PHONE, nine, talk=180))
    await qualify(pool, "1.1", nine + timedelta(seconds=20 + 180 + 40))  # 40 s of wrap-up
    await records.upsert(answered("1.2", AGNES_PHONE, nine + timedelta(hours=1), talk=60))
    await qualify(pool, "1.2", nine + timedelta(hours=1, seconds=50))  # qualified during the call
    # not qualified yet; and the line was closed (the advisor took it all the same: it counts on her desk)
    await records.upsert(answered("1.3", AGNES_PHONE, nine + timedelta(hours=2), talk=40, line_open=False))
    await records.upsert(answered("1.4", AGNES_PHONE, datetime(2026, 11, 29, 22, 50, tzinfo=UTC), talk=100))  # Sun.
    await records.upsert(
        make_record(
            "1.5",
            arrived_at=nine,
            rings=(),
            answered_at=None,
            advisor_interface=None,
            advisor_name=None,
            talk_seconds=None,
            status=CallStatus.ABANDONED,
            hangup_by=HangupBy.CALLER,
        )
    )
    await records.upsert(answered("2.1", BRUNO_PHONE, nine, talk=100, hold=30))
    for state, at, reason in [
        (AdvisorState.PAUSED, datetime(2026, 11, 29, 20, 0, tzinfo=UTC), "meal"),  # Sunday evening, never resumed
        (AdvisorState.AVAILABLE, datetime(2026, 11, 30, 6, 30, tzinfo=UTC), None),  # 07:30: 7.5 h since midnight
        (AdvisorState.PAUSED, datetime(2026, 11, 30, 10, 45, tzinfo=UTC), "break"),  # running: 15 min so far
    ]:
        await advisors.record(StateChange(advisor_id=agnes.id, state=state, at=at, reason=reason))
    service = DeskService(advisors, None, None, {}, day=DeskDayRepository(pool), clock=lambda: NOW)  # type: ignore[arg-type]
    return (
        service,
        User(id=1, login="agnes", name="Agnès Roussel", role=Role.ADVISOR, advisor_id=agnes.id),
        User(id=2, login="bruno", name="Bruno Caron", role=Role.ADVISOR, advisor_id=bruno.id),
    )


async def test_the_advisors_day_from_their_own_records_and_presence(desk: tuple[DeskService, User, User]) -> None:
    service, agnes, bruno = desk
    day = await service.day(agnes)
    assert day.day == "2026-11-30"
    assert (day.calls_taken, day.qualified) == (3, 2)  # Sunday's call and the abandoned one are not hers today
    # talk + wrap-up: (180 + 40) + (60 + 0, qualified during the call) + (40 + 0, not qualified yet), over 3
    assert day.aht_seconds == pytest.approx((220 + 60 + 40) / 3)
    assert day.hold_seconds == 0.0
    assert day.pause_seconds == pytest.approx(7.5 * 3600 + 15 * 60)
    other = await service.day(bruno)  # his own: one call with its hold, no pause
    assert (other.calls_taken, other.hold_seconds, other.pause_seconds) == (1, 30.0, 0.0)


async def test_a_user_without_a_phone_has_no_day(desk: tuple[DeskService, User, User]) -> None:
    service, _, _ = desk
    with pytest.raises(NotAnAdvisor):
        await service.day(User(id=3, login="sam", name="Sam Leroy", role=Role.SUPERVISOR))
