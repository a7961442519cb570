"""Advisors and their presence log against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from storage.advisors import (
    AdvisorRepository,
    DuplicateInterface,
    DuplicateLogin,
    InvalidInterface,
    InvalidLogin,
    InvalidName,
    UnknownAdvisor,
    UnknownSkill,
)
from storage.calls import CallRecordRepository
from telephony.advisors import MISSED_CALL, AdvisorState, StateChange
from telephony.records import CallStatus
from tests.fixtures_db import T0, fresh_database, make_record, migrated_pool

__all__ = ["fresh_database", "migrated_pool"]  # fixtures used by name below

SKILLS = {"taxes": "Impôts et fiscalité", "health": "Santé", "roads": "Routes et transports"}


@pytest.fixture
async def repo(migrated_pool: asyncpg.Pool) -> AsyncIterator[AdvisorRepository]:
    await migrated_pool.execute("TRUNCATE advisor_events, advisors RESTART IDENTITY CASCADE")
    yield AdvisorRepository(migrated_pool, SKILLS)


async def count(pool: asyncpg.Pool, table: str) -> int:
    return int(await pool.fetchval(f"SELECT count(*) FROM {table}"))


async def test_add_get_list_and_update(repo: AdvisorRepository) -> None:
    alice = await repo.add("alice", "  Alice   Martin ", "PJSIP/101", ["taxes", "health", "taxes"])
    assert (alice.login, alice.name, alice.interface) == ("alice", "Alice Martin", "PJSIP/101")
    assert alice.skills == {"taxes", "health"} and alice.active
    bob = await repo.add("bob", "Bob Durand", "Local/102@advisors")

    assert await repo.get(alice.id) == alice
    assert await repo.by_login("bob") == bob
    assert await repo.by_interface("Local/102@advisors") == bob
    assert await repo.get(999_999) is None and await repo.by_login("nobody") is None
    assert [a.login for a in await repo.list()] == ["alice", "bob"]

    moved = await repo.update(bob.id, interface="PJSIP/103", skills=["roads"], active=False)
    assert (moved.name, moved.interface, moved.skills, moved.active) == (
        "Bob Durand",
        "PJSIP/103",
        frozenset({"roads"}),
        False,
    )
    assert await repo.by_interface("Local/102@advisors") is None
    assert [a.login for a in await repo.list(active_only=True)] == ["alice"]
    assert (await repo.update(alice.id, skills=[])).skills == frozenset()
    assert await repo.update(alice.id) == await repo.get(alice.id)  # nothing given: unchanged
    with pytest.raises(UnknownAdvisor):
        await repo.update(999_999, name="Ghost")


async def test_duplicates_are_refused_naming_the_other_advisor(
    repo: AdvisorRepository, migrated_pool: asyncpg.Pool
) -> None:
    alice = await repo.add("alice", "Alice Martin", "PJSIP/101")
    bob = await repo.add("bob", "Bob Durand", "PJSIP/102")

    with pytest.raises(DuplicateLogin, match=r"'alice'.*#\d+ \(Alice Martin, PJSIP/101\)") as login_error:
        await repo.add("alice", "Another Alice", "PJSIP/109")
    assert login_error.value.error_id == "duplicate-login"
    with pytest.raises(DuplicateInterface, match=r"PJSIP/101 .*advisor 'alice'.*Alice Martin") as phone_error:
        await repo.add("carol", "Carol Petit", "PJSIP/101")
    assert phone_error.value.error_id == "duplicate-interface"
    with pytest.raises(DuplicateInterface, match="'alice'"):
        await repo.update(bob.id, interface="PJSIP/101")

    assert await count(migrated_pool, "advisors") == 2
    assert await repo.get(bob.id) == bob and await repo.get(alice.id) == alice


async def test_invalid_values_are_refused_before_writing(repo: AdvisorRepository, migrated_pool: asyncpg.Pool) -> None:
    with pytest.raises(UnknownSkill, match=r"unknown skill\(s\) cooking; configured skills: health, roads, taxes"):
        await repo.add("alice", "Alice Martin", "PJSIP/101", ["taxes", "cooking"])
    for interface in ("101", "DAHDI/1", "PJSIP/", "PJSIP/1 01", "PJSIP/101\n"):
        with pytest.raises(InvalidInterface, match="PJSIP/101"):
            await repo.add("alice", "Alice Martin", interface)
    for login in ("Alice", "a", "1alice", "al ice", "a" * 41):
        with pytest.raises(InvalidLogin):
            await repo.add(login, "Alice Martin", "PJSIP/101")
    for name in ("", "   ", "x" * 81):
        with pytest.raises(InvalidName):
            await repo.add("alice", name, "PJSIP/101")
    assert await count(migrated_pool, "advisors") == 0

    alice = await repo.add("alice", "Alice Martin", "PJSIP/101", ["taxes"])
    with pytest.raises(UnknownSkill):
        await repo.update(alice.id, skills=["health", "cooking"])
    with pytest.raises(InvalidInterface):
        await repo.update(alice.id, interface="phone 3")
    assert await repo.get(alice.id) == alice


async def test_the_database_backs_the_rules_up(repo: AdvisorRepository, migrated_pool: asyncpg.Pool) -> None:
    """Writes that bypass the repository meet the same rules."""
    await repo.add("alice", "Alice Martin", "PJSIP/101")
    insert = "INSERT INTO advisors (login, name, interface, skills) VALUES ($1, $2, $3, $4)"
    with pytest.raises(asyncpg.UniqueViolationError):
        await migrated_pool.execute(insert, "bob", "Bob", "PJSIP/101", [])
    await migrated_pool.execute(insert, "bob", "Bob", "PJSIP/102", ["taxes", "roads"])  # the good case
    await migrated_pool.execute("DELETE FROM advisors WHERE login = 'bob'")
    for login, name, interface in (("Bob", "Bob", "PJSIP/102"), ("bob", "Bob", "phone"), ("bob", " ", "PJSIP/102")):
        with pytest.raises(asyncpg.CheckViolationError):
            await migrated_pool.execute(insert, login, name, interface, [])
    for skills in (["Taxes"], ["taxes", None], ["a b"], [""], ["taxes", ""], ["taxes,health"]):
        with pytest.raises(asyncpg.CheckViolationError):
            await migrated_pool.execute(insert, "bob", "Bob", "PJSIP/102", skills)


async def test_record_last_states_and_history(repo: AdvisorRepository, migrated_pool: asyncpg.Pool) -> None:
    alice = await repo.add("alice", "Alice Martin", "PJSIP/101")
    bob = await repo.add("bob", "Bob Durand", "PJSIP/102")
    await repo.add("carol", "Carol Petit", "PJSIP/103")  # no events: absent from last_states

    def at(seconds: int) -> timedelta:
        return timedelta(seconds=seconds)

    a = [
        StateChange(advisor_id=alice.id, state=AdvisorState.AVAILABLE, at=T0),
        StateChange(advisor_id=alice.id, state=AdvisorState.RINGING, at=T0 + at(10), linkedid="L-1"),
        StateChange(advisor_id=alice.id, state=AdvisorState.ON_CALL, at=T0 + at(12), linkedid="L-1"),
        StateChange(advisor_id=alice.id, state=AdvisorState.WRAP_UP, at=T0 + at(200), linkedid="L-1"),
        StateChange(advisor_id=alice.id, state=AdvisorState.PAUSED, at=T0 + at(260), reason="meal"),
    ]
    b = [
        StateChange(advisor_id=bob.id, state=AdvisorState.AVAILABLE, at=T0 + at(5)),
        StateChange(advisor_id=bob.id, state=AdvisorState.RINGING, at=T0 + at(30), linkedid="L-2"),
        # same instant: the one recorded last wins
        StateChange(advisor_id=bob.id, state=AdvisorState.PAUSED, at=T0 + at(45), reason=MISSED_CALL),
        StateChange(advisor_id=bob.id, state=AdvisorState.AVAILABLE, at=T0 + at(45)),
    ]
    await repo.record(a[0])
    await repo.record_many([a[3], a[1], a[2], *b])  # out of order: history sorts by `at`
    await repo.record(a[4])

    assert await repo.last_states() == {alice.id: a[4], bob.id: b[3]}
    assert await repo.history(alice.id, T0, T0 + at(3600)) == a
    assert await repo.history(alice.id, T0 + at(10), T0 + at(200)) == a[1:3]  # [since, until)
    assert await repo.history(bob.id, T0, T0 + at(3600)) == b
    assert await repo.history(bob.id, T0 + at(3600), T0 + at(7200)) == []

    with pytest.raises(UnknownAdvisor, match="#999999"):
        await repo.record_many([b[0], StateChange(advisor_id=999_999, state=AdvisorState.AVAILABLE, at=T0)])
    assert await count(migrated_pool, "advisor_events") == 9  # the batch was refused whole
    with pytest.raises(ValueError, match="timezone-aware"):
        await repo.history(alice.id, T0.replace(tzinfo=None), T0 + at(1))


async def test_the_presence_log_is_append_only(repo: AdvisorRepository, migrated_pool: asyncpg.Pool) -> None:
    alice = await repo.add("alice", "Alice Martin", "PJSIP/101")
    await repo.record(StateChange(advisor_id=alice.id, state=AdvisorState.AVAILABLE, at=T0))
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await migrated_pool.execute("UPDATE advisor_events SET state = 'paused'")
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await migrated_pool.execute("DELETE FROM advisor_events")
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await migrated_pool.execute("DELETE FROM advisors WHERE id = $1", alice.id)
    assert await count(migrated_pool, "advisor_events") == 1


async def test_last_advisor_for_picks_the_latest_answered_call_of_the_number(
    repo: AdvisorRepository, migrated_pool: asyncpg.Pool
) -> None:
    alice = await repo.add("alice", "Alice Martin", "PJSIP/101")
    bob = await repo.add("bob", "Bob Durand", "PJSIP/102")
    calls = CallRecordRepository(migrated_pool)
    number, other = "+33612345678", "+33699999999"

    records = [
        # within the window: bob answered earlier, alice later
        make_record("C-1", arrived_at=T0 - timedelta(days=3), advisor_interface="PJSIP/102"),
        make_record("C-2", arrived_at=T0 - timedelta(days=1), advisor_interface="PJSIP/101"),
        # later, but not answered by anyone
        make_record(
            "C-3",
            arrived_at=T0 - timedelta(hours=1),
            status=CallStatus.ABANDONED,
            answered_at=None,
            advisor_interface=None,
            advisor_name=None,
            rings=(),
            talk_seconds=None,
        ),
        # later, answered, but by another caller
        make_record("C-4", caller_number=other, arrived_at=T0 - timedelta(minutes=5), advisor_interface="PJSIP/102"),
        # too old
        make_record("C-5", caller_number="+33611111111", arrived_at=T0 - timedelta(days=40)),
    ]
    for record in records:
        await calls.upsert(record)

    since = T0 - timedelta(days=30)
    assert await repo.last_advisor_for(number, since) == alice.id
    assert await repo.last_advisor_for(other, since) == bob.id
    assert await repo.last_advisor_for(number, T0 - timedelta(days=2)) == alice.id
    assert await repo.last_advisor_for(number, T0 - timedelta(hours=2)) is None  # only the abandoned call
    assert await repo.last_advisor_for("+33611111111", since) is None  # older than the window
    assert await repo.last_advisor_for("+33600000000", since) is None  # never called

    # the latest answered call's phone is nobody's now: no guess from older calls
    await repo.update(alice.id, interface="PJSIP/111")
    assert await repo.last_advisor_for(number, since) is None
