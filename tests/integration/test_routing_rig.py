"""Routing against the real Asterisk: the service's choice is honoured, fairly, and calls still reach
advisors when the service is down. Calls are real (AMI Originate); presence is logged in PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import asyncpg
import pytest
import redis.asyncio as aioredis

from config.settings import RoutingSettings
from storage.advisors import AdvisorRepository
from storage.calls import CallRecordRepository
from storage.spool import Spool
from telephony import events as ev
from telephony.advisors import MISSED_CALL, Advisor, AdvisorState, StateChange
from telephony.effects import (
    AdvisorReleased,
    AdvisorRingEnded,
    AdvisorRinging,
    AnyEffect,
    CallAnswered,
    CallEnded,
    CallQueued,
)
from telephony.ports import ActionSender, AdvisorStore
from telephony.records import CallStatus, RingResult
from telephony.router import Router, wait_for
from tests.fixtures_db import fresh_database, make_record, migrated_pool
from tests.integration.harness import WITHIN, Driver, ServiceUnderTest
from tests.rig.asterisk import AsteriskRig
from tests.servers import redis_url

__all__ = ["fresh_database", "migrated_pool"]

pytestmark = pytest.mark.asterisk

ROUTING = RoutingSettings(wrapup_max=0.5, continuity_wait=2.0, claim_ttl=30.0)
REDIS = redis_url(7)


@pytest.fixture
async def clean(migrated_pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    await migrated_pool.execute("TRUNCATE advisors, advisor_events RESTART IDENTITY CASCADE")
    client = aioredis.from_url(REDIS)
    await client.flushdb()
    await client.aclose()
    yield migrated_pool


@pytest.fixture
async def driver(asterisk_rig: AsteriskRig) -> AsyncIterator[Driver]:
    d = await Driver.connect(asterisk_rig)
    yield d
    await d.clear_queue()
    await d.close()


async def advisors(pool: asyncpg.Pool, *rows: tuple[str, str, tuple[str, ...]]) -> list[Advisor]:
    repo = AdvisorRepository(pool, ROUTING.skills)
    return [await repo.add(login, login.title(), interface, skills) for login, interface, skills in rows]


async def start(
    rig: AsteriskRig, dsn: str, tmp: Path, name: str = "a", routing: RoutingSettings = ROUTING
) -> ServiceUnderTest:
    svc = await ServiceUnderTest(rig, dsn, Spool(tmp / f"spool-{name}"), routing=routing, redis_url=REDIS).start()
    return svc


def router_of(svc: ServiceUnderTest) -> Router:
    assert svc.router is not None
    return svc.router


async def lead(svc: ServiceUnderTest) -> Router:
    router = router_of(svc)
    await wait_for(router, lambda: router.leader, WITHIN)
    return router


async def log_in(router: Router, team: list[Advisor]) -> None:
    for advisor in team:  # in this order: the first logged in has idled longest
        await router.command(advisor.id, "login")


async def ended(svc: ServiceUnderTest, count: int) -> list[CallEnded]:
    await svc.effect(lambda _: sum(isinstance(e, CallEnded) for e in svc.effects) >= count, within=120)
    await asyncio.wait_for(svc.writer.wait_drained(), WITHIN)
    return [e for e in svc.effects if isinstance(e, CallEnded)]


def offers_made(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int]]:
    """The router's offers, in the order it made them, as (call, advisor) (its "offer linkedid=…" log lines)."""
    return [
        (str(r.args[0]), int(str(r.args[1])))
        for r in caplog.records
        if r.name == "telephony.router" and r.msg.startswith("offer ") and isinstance(r.args, tuple)
    ]


async def test_thirty_callers_eight_advisors_fair_fifo_one_call_each_wrap_up(
    asterisk_rig: AsteriskRig,
    fresh_database: str,
    clean: asyncpg.Pool,
    tmp_path: Path,
    driver: Driver,
    report: Callable[[str], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="telephony.router")
    team = await advisors(clean, *((f"adv{i}", f"Local/adv{i}@advisors", ()) for i in range(1, 9)))
    svc = await start(asterisk_rig, fresh_database, tmp_path)
    try:
        router = await lead(svc)
        await log_in(router, team)
        order: list[str] = []
        for n in range(30):
            await driver.call(f"03210003{n:02d}", f"Appelant {n}", __ADVISOR_TALK="1")
            queued = await svc.effect(lambda e: isinstance(e, CallQueued) and e.linkedid not in order)
            order.append(queued.linkedid)
        calls = await ended(svc, 30)
        records = [e.record for e in calls]
        by_interface = {a.interface: a for a in team}
        # every call answered (callers wait up to 120 s; none hung up)
        assert Counter(r.status for r in records) == Counter({CallStatus.ANSWERED: 30})
        # first-come, first-served as the service decides it: the router makes its offers in arrival order.
        # app_queue does not keep that order (autofill=yes): any caller within the count of available members,
        # standby ones included, may take an offered advisor, so a later caller can ring first (the router then
        # offers the next free advisor to the caller who lost its own).
        offered_calls = list(dict.fromkeys(linkedid for linkedid, _ in offers_made(caplog)))
        assert offered_calls == [lid for lid in order if lid in offered_calls]
        first_ring: dict[str, int] = {}
        for i, e in enumerate(svc.effects):
            if isinstance(e, AdvisorRinging):
                first_ring.setdefault(e.linkedid, i)
        rung = sorted(order, key=lambda lid: first_ring[lid])
        overtaken = sum(1 for n, lid in enumerate(order) if rung.index(lid) > n)
        # never two calls at once on one phone
        ringing: dict[str, str | None] = defaultdict(lambda: None)
        for e in svc.effects:
            if isinstance(e, AdvisorRinging):
                assert ringing[e.interface] is None, f"{e.interface} rang for two calls"
                ringing[e.interface] = e.linkedid
            elif isinstance(e, AdvisorRingEnded):
                ringing[e.interface] = None
        # wrap-up respected: no ring before the previous call's release + wrap-up maximum
        released: dict[str, datetime] = {}
        for e in svc.effects:
            if isinstance(e, AdvisorReleased):
                released[e.interface] = e.at
            elif isinstance(e, AdvisorRinging) and e.interface in released:
                gap = (e.at - released[e.interface]).total_seconds()
                assert gap >= ROUTING.wrapup_max - 0.05, f"{e.interface} rang {gap:.2f} s after its last call"
        per_advisor = Counter(r.advisor_interface for r in records)
        assert set(per_advisor) <= set(by_interface)
        report(
            "fairness (30 callers, 8 advisors): calls per advisor "
            + ", ".join(f"{by_interface[i].login}={per_advisor.get(i, 0)}" for i in sorted(by_interface))
            + f"; max/min = {max(per_advisor.values())}/{min(per_advisor.get(i, 0) for i in by_interface)}"
            + f"; calls that rang later than their arrival rank: {overtaken}/30"
            + f"; pairs rung out of arrival order: {_inversions([rung.index(lid) for lid in order])}"
            + f"; queue entry → first ring {_spread(_entry_to_ring(svc))}"
        )
        assert max(per_advisor.values()) - min(per_advisor.get(i, 0) for i in by_interface) <= 2
        # presence log: every advisor went available → ringing → on call → wrap-up → available…
        await asyncio.wait_for(router.log_drained(), WITHIN)
        rows = await clean.fetch("SELECT advisor_id, state FROM advisor_events ORDER BY id")
        states = Counter(r["state"] for r in rows)
        assert states["ringing"] >= 30 and states["on_call"] == 30 and states["wrap_up"] == 30
        assert router.stats.offers >= 30 and router.stats.action_errors == 0
    finally:
        await svc.stop()


async def test_ring_no_answer_pauses_the_advisor_and_the_next_one_answers(
    asterisk_rig: AsteriskRig, fresh_database: str, clean: asyncpg.Pool, tmp_path: Path, driver: Driver
) -> None:
    team = await advisors(clean, ("ring1", "Local/ring1@advisors", ()), ("adv2", "Local/adv2@advisors", ()))
    svc = await start(asterisk_rig, fresh_database, tmp_path)
    try:
        router = await lead(svc)
        await log_in(router, team)  # ring1 idles longest: offered first, never answers
        await driver.call("0321000401", "Léon Blum", __ADVISOR_TALK="1")
        record = await svc.record("+33321000401")
        assert record.status is CallStatus.ANSWERED
        assert record.advisor_interface == "Local/adv2@advisors"
        assert (record.rings[0].interface, record.rings[0].result) == ("Local/ring1@advisors", RingResult.NO_ANSWER)
        assert router.board.presence(team[0].id) == (AdvisorState.PAUSED, MISSED_CALL)
        row = await clean.fetchrow(
            "SELECT state, reason FROM advisor_events WHERE advisor_id = $1 ORDER BY id DESC LIMIT 1", team[0].id
        )
        assert row is not None and (row["state"], row["reason"]) == ("paused", MISSED_CALL)
    finally:
        await svc.stop()


async def test_an_advisor_who_qualified_during_the_call_is_available_when_it_ends(
    asterisk_rig: AsteriskRig, fresh_database: str, clean: asyncpg.Pool, tmp_path: Path, driver: Driver
) -> None:
    """The desk sends `wrapup_done` when a qualification is saved; during the call it means "no wrap-up after
    it" (beyond the minimum, none here): when the call ends the advisor is available at once (the next caller
    rings them), where another call would leave them in wrap-up."""
    team = await advisors(clean, ("adv1", "Local/adv1@advisors", ()))
    routing = ROUTING.model_copy(update={"wrapup_max": 60, "wrapup_min": 0})
    svc = await start(asterisk_rig, fresh_database, tmp_path, routing=routing)
    try:
        router = await lead(svc)
        await log_in(router, team)
        await driver.call("0321000411", "Simone Veil", __ADVISOR_TALK="2")
        await svc.effect(lambda e: isinstance(e, CallAnswered))
        await router.command(team[0].id, "wrapup_done")  # qualified during the call
        assert router.board.presence(team[0].id)[0] is AdvisorState.ON_CALL
        await svc.record("+33321000411")
        await wait_for(router, lambda: router.board.presence(team[0].id)[0] is AdvisorState.AVAILABLE, WITHIN)
        await driver.call("0321000412", "Louise Weiss", __ADVISOR_TALK="1")  # not qualified during the call
        assert (await svc.record("+33321000412")).advisor_interface == "Local/adv1@advisors"
        assert router.board.presence(team[0].id) == (AdvisorState.WRAP_UP, "wrap_up")
    finally:
        await svc.stop()


async def test_a_qualification_saved_at_once_keeps_the_minimum_wrap_up_before_the_next_ring(
    asterisk_rig: AsteriskRig, fresh_database: str, clean: asyncpg.Pool, tmp_path: Path, driver: Driver
) -> None:
    """Issue 11, item 22: the next call rang 1.5-6 s after « Enregistrer ». A caller waits while the advisor's call
    ends; the qualification is saved as soon as it ends: the advisor stays in wrap-up `wrapup_min` after the end
    of the call, and only then does the waiting caller ring them (Asterisk's own timestamps)."""
    minimum = 4.0
    (adv1,) = await advisors(clean, ("adv1", "Local/adv1@advisors", ()))
    routing = ROUTING.model_copy(update={"wrapup_max": 60, "wrapup_min": minimum})
    svc = await start(asterisk_rig, fresh_database, tmp_path, routing=routing)
    try:
        router = await lead(svc)
        await log_in(router, [adv1])
        await driver.call("0321000421", "Marie Curie", __ADVISOR_TALK="1")
        first = await svc.effect(lambda e: isinstance(e, CallAnswered))
        await driver.call("0321000422", "Irène Joliot-Curie", __ADVISOR_TALK="1")  # waits for adv1
        second = await svc.effect(lambda e: isinstance(e, CallQueued) and e.linkedid != first.linkedid)
        released = await svc.effect(lambda e: isinstance(e, AdvisorReleased) and e.linkedid == first.linkedid)
        await router.command(adv1.id, "wrapup_done")  # the qualification saved at once
        assert router.board.presence(adv1.id) == (AdvisorState.WRAP_UP, "wrap_up")
        ring = await svc.effect(lambda e: isinstance(e, AdvisorRinging) and e.linkedid == second.linkedid)
        assert isinstance(ring, AdvisorRinging) and ring.interface == "Local/adv1@advisors"
        gap = (ring.at - released.at).total_seconds()
        assert gap >= minimum, f"the next call rang {gap:.2f} s after the end of the last one"
        assert (await svc.record("+33321000422")).status is CallStatus.ANSWERED
        await asyncio.wait_for(router.log_drained(), WITHIN)
        rows = await clean.fetch("SELECT state, at FROM advisor_events WHERE advisor_id = $1 ORDER BY id", adv1.id)
        wrap_up = next(i for i, r in enumerate(rows) if r["state"] == "wrap_up")
        assert rows[wrap_up + 1]["state"] == "available"
        held = (rows[wrap_up + 1]["at"] - rows[wrap_up]["at"]).total_seconds()
        assert held >= minimum, f"wrap-up of {held:.2f} s in the presence log"
    finally:
        await svc.stop()


async def test_a_desk_told_of_a_presence_change_reads_it_from_the_log(
    asterisk_rig: AsteriskRig, fresh_database: str, clean: asyncpg.Pool, tmp_path: Path, driver: Driver
) -> None:
    """A desk told of a change reads the advisor's state from the presence log (the page asks /api/desk, which reads
    `advisor_events`): the router tells it only once the log holds the change. Told before, the page read the state
    before the change and kept it: an advisor shown in wrap-up ("Fin d'appel") long after the wrap-up had expired,
    as nothing tells the page again while the advisor stays available (seen in the browser test, under CPU load)."""
    (agnes,) = await advisors(clean, ("agnes", "Local/adv1@advisors", ()))
    repo = AdvisorRepository(clean, ROUTING.skills)
    told: list[tuple[AdvisorState, AdvisorState | None]] = []  # (state told, state the log held when told)
    wrap_up_over = asyncio.Event()

    async def desk(changes: list[StateChange]) -> None:
        latest = {c.advisor_id: c.state for c in changes}  # a batch may hold several changes of one advisor
        for advisor_id, state in latest.items():
            held = await repo.last_state(advisor_id)
            told.append((state, None if held is None else held.state))
            if state is AdvisorState.AVAILABLE and any(s is AdvisorState.WRAP_UP for s, _ in told):
                wrap_up_over.set()

    svc = await start(asterisk_rig, fresh_database, tmp_path)
    try:
        router = await lead(svc)
        router.presence_listeners.append(desk)
        await log_in(router, [agnes])
        await driver.call("0321000701", "Hélène Boucher", __ADVISOR_TALK="1")
        assert (await svc.record("+33321000701")).advisor_interface == "Local/adv1@advisors"
        await asyncio.wait_for(wrap_up_over.wait(), WITHIN)  # at the wrap-up maximum (nobody qualifies)
        states = [state for state, _ in told]
        assert states[0] is AdvisorState.AVAILABLE and AdvisorState.WRAP_UP in states, states
        assert [held for _, held in told] == states, "a desk was told of a change the log did not hold yet"
    finally:
        await svc.stop()


async def test_the_skill_chosen_in_the_menu_goes_first(
    asterisk_rig: AsteriskRig, fresh_database: str, clean: asyncpg.Pool, tmp_path: Path, driver: Driver
) -> None:
    team = await advisors(clean, ("adv1", "Local/adv1@advisors", ()), ("adv2", "Local/adv2@advisors", ("taxes",)))
    svc = await start(asterisk_rig, fresh_database, tmp_path)
    try:
        router = await lead(svc)
        await log_in(router, team)  # adv1 idles longest, but adv2 knows taxes
        await driver.call("0321000501", "Émile Zola", __ADVISOR_TALK="1", __GPS_TOPIC="taxes")
        record = await svc.record("+33321000501")
        assert record.advisor_interface == "Local/adv2@advisors"
        assert record.menu_topic == "taxes"
        await driver.call("0321000502", "Sans Menu", __ADVISOR_TALK="1")
        assert (await svc.record("+33321000502")).advisor_interface == "Local/adv1@advisors"
    finally:
        await svc.stop()


class StalledReads:
    """The router's store, whose reads of an advisor never answer while `stalled`."""

    def __init__(self, repository: AdvisorRepository) -> None:
        self.repository = repository
        self.stalled = False

    def __getattr__(self, name: str) -> Any:  # everything else as the repository
        return getattr(self.repository, name)

    async def get(self, advisor_id: int) -> Advisor | None:
        if self.stalled:
            await asyncio.Event().wait()
        return await self.repository.get(advisor_id)


async def test_skills_edited_while_routing_apply_at_the_next_login(
    asterisk_rig: AsteriskRig,
    fresh_database: str,
    clean: asyncpg.Pool,
    tmp_path: Path,
    driver: Driver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An admin gives adv2 a skill while the router runs (it loaded adv2 without): the skill counts from adv2's
    next login. A database that does not answer at a login does not stop it: routing keeps what it loaded."""
    team = await advisors(clean, ("adv1", "Local/adv1@advisors", ()), ("adv2", "Local/adv2@advisors", ()))
    stores: list[StalledReads] = []

    def stalling(repository: AdvisorRepository) -> AdvisorStore:
        stores.append(StalledReads(repository))
        return cast(AdvisorStore, stores[-1])

    routing = ROUTING.model_copy(update={"continuity_lookup_within": 0.3})
    svc = await ServiceUnderTest(
        asterisk_rig, fresh_database, Spool(tmp_path / "spool"), routing=routing, redis_url=REDIS, store=stalling
    ).start()
    try:
        router = await lead(svc)  # loaded both advisors, without skills
        await AdvisorRepository(clean, ROUTING.skills).update(team[1].id, skills=["taxes"])
        stores[0].stalled = True
        with caplog.at_level(logging.WARNING, logger="telephony.router"):
            await router.command(team[0].id, "login")  # adv1 idles longest
        assert router.board.presence(team[0].id)[0] is AdvisorState.AVAILABLE
        assert any(f"advisor #{team[0].id} not read again at login" in r.getMessage() for r in caplog.records)
        stores[0].stalled = False
        await router.command(team[1].id, "login")
        await driver.call("0321000521", "Irène Joliot", __ADVISOR_TALK="1", __GPS_TOPIC="taxes")
        assert (await svc.record("+33321000521")).advisor_interface == "Local/adv2@advisors"
    finally:
        await svc.stop()


async def answered_yesterday(pool: asyncpg.Pool, linkedid: str, number: str, interface: str) -> None:
    """A record of yesterday: `number` was answered by the advisor on `interface` (continuity's input)."""
    yesterday = datetime.now(UTC) - timedelta(days=1)
    await CallRecordRepository(pool).upsert(
        make_record(
            linkedid,
            caller_number=number,
            advisor_interface=interface,
            arrived_at=yesterday,
            ended_at=yesterday + timedelta(minutes=3),
        )
    )


async def test_a_caller_with_a_recent_record_gets_the_same_advisor(
    asterisk_rig: AsteriskRig, fresh_database: str, clean: asyncpg.Pool, tmp_path: Path, driver: Driver
) -> None:
    team = await advisors(clean, ("adv1", "Local/adv1@advisors", ()), ("adv3", "Local/adv3@advisors", ()))
    await answered_yesterday(clean, "earlier.1", "+33321000601", "Local/adv3@advisors")
    svc = await start(asterisk_rig, fresh_database, tmp_path)
    try:
        router = await lead(svc)
        await log_in(router, team)  # adv1 idles longest; adv3 handled this caller yesterday
        await driver.call("0321000601", "Marie Curie", __ADVISOR_TALK="1")
        record = await svc.record("+33321000601")
        assert record.advisor_interface == "Local/adv3@advisors"
    finally:
        await svc.stop()


class SlowLookUps:
    """The router's store, whose continuity look-ups wait until the test lets them answer."""

    def __init__(self, repository: AdvisorRepository) -> None:
        self.repository = repository
        self.answer = asyncio.Event()
        self.asked: list[str] = []
        self.both_asked = asyncio.Event()

    def __getattr__(self, name: str) -> Any:  # everything else as the repository
        return getattr(self.repository, name)

    async def last_advisor_for(self, caller_number: str, since: datetime) -> int | None:
        self.asked.append(caller_number)
        if len(self.asked) == 2:
            self.both_asked.set()
        await self.answer.wait()
        return await self.repository.last_advisor_for(caller_number, since)


async def test_a_slow_continuity_look_up_holds_its_call_only_not_the_service(
    asterisk_rig: AsteriskRig, fresh_database: str, clean: asyncpg.Pool, tmp_path: Path, driver: Driver
) -> None:
    """The look-up of a caller's previous advisor runs beside the service loop: while PostgreSQL has not answered,
    the other calls' events go on (the loop used to wait for it, up to its bound, then routed the call without
    it): here a second caller joins and hangs up meanwhile, and its record is written. Once the look-up answers,
    the first call still goes to its previous advisor."""
    team = await advisors(clean, ("adv1", "Local/adv1@advisors", ()), ("adv3", "Local/adv3@advisors", ()))
    await answered_yesterday(clean, "earlier.2", "+33321000611", "Local/adv3@advisors")
    stores: list[SlowLookUps] = []

    def slow(repository: AdvisorRepository) -> AdvisorStore:
        stores.append(SlowLookUps(repository))
        return cast(AdvisorStore, stores[-1])

    routing = ROUTING.model_copy(update={"continuity_lookup_within": 30.0})  # longer than the second call
    svc = await ServiceUnderTest(
        asterisk_rig, fresh_database, Spool(tmp_path / "spool"), routing=routing, redis_url=REDIS, store=slow
    ).start()
    try:
        router = await lead(svc)
        await log_in(router, team)  # adv1 idles longest; adv3 handled the first caller yesterday
        await driver.call("0321000611", "Marie Curie", __ADVISOR_TALK="1")
        await svc.effect(lambda e: isinstance(e, CallQueued) and e.caller_number == "+33321000611")
        await driver.call("0321000612", "Pierre Curie", __ADVISOR_TALK="1")
        queued = await svc.effect(lambda e: isinstance(e, CallQueued) and e.caller_number == "+33321000612")
        join = next(e for e in svc.events if isinstance(e, ev.QueueCallerJoin) and e.linkedid == queued.linkedid)
        await driver.hangup(join.channel)
        # the second call ends (its record handed to the writer) while the first caller's look-up still waits;
        # quickly: after 3 s the rig's queue rule would ring the standby advisors for the first caller itself
        gone = await svc.effect(lambda e: isinstance(e, CallEnded) and e.linkedid == queued.linkedid)
        assert isinstance(gone, CallEnded) and gone.record.status is CallStatus.ABANDONED
        assert stores[0].asked == ["+33321000611", "+33321000612"]
        assert router.lookups == 2 and not stores[0].answer.is_set()  # both still waiting for PostgreSQL
        assert all(w.offered_to is None for w in router.board.waiting())  # the first caller is held meanwhile
        stores[0].answer.set()
        first = await svc.record("+33321000611")
        assert first.advisor_interface == "Local/adv3@advisors"  # continuity, even with a slow look-up
        assert first.rings[0].interface == "Local/adv3@advisors"  # offered to them, not rung by the queue rule
        assert (await svc.record("+33321000612")).status is CallStatus.ABANDONED
        assert router.lookups == 0
    finally:
        await svc.stop()


async def test_fail_safe_callers_reach_advisors_with_the_service_stopped(
    asterisk_rig: AsteriskRig, fresh_database: str, clean: asyncpg.Pool, tmp_path: Path, driver: Driver
) -> None:
    team = await advisors(clean, ("adv1", "Local/adv1@advisors", ()))
    svc = await start(asterisk_rig, fresh_database, tmp_path)
    router = await lead(svc)
    await log_in(router, team)
    await svc.effect(lambda e: e.kind == "member_update" and getattr(e, "interface", "") == team[0].interface)
    await svc.stop(resign=False)  # as if it crashed: nobody routes any more
    watcher = ServiceUnderTest(asterisk_rig, fresh_database, Spool(tmp_path / "spool-w"))  # records only
    await watcher.start()
    try:
        await driver.call("0321000701", "Jean Jaurès", __ADVISOR_TALK="1")
        record = await watcher.record("+33321000701")
    finally:
        await watcher.stop()
    assert record.status is CallStatus.ANSWERED
    assert record.advisor_interface == "Local/adv1@advisors"
    assert record.wait_seconds is not None and record.wait_seconds >= 2.5  # the queue rule opened at 3 s


async def test_two_instances_never_offer_twice_and_the_second_takes_over(
    asterisk_rig: AsteriskRig, fresh_database: str, clean: asyncpg.Pool, tmp_path: Path, driver: Driver
) -> None:
    team = await advisors(clean, *((f"adv{i}", f"Local/adv{i}@advisors", ()) for i in range(1, 5)))
    one = await start(asterisk_rig, fresh_database, tmp_path, "one")
    two = await start(asterisk_rig, fresh_database, tmp_path, "two")
    try:
        first = await lead(one)
        assert not router_of(two).leader
        await log_in(first, team)
        for n in range(6):
            await driver.call(f"03210008{n:02d}", f"Double {n}", __ADVISOR_TALK="1")
        calls = await ended(one, 6)
        assert all(c.record.status is CallStatus.ANSWERED for c in calls)
        assert router_of(two).stats.offers == 0  # the follower tracks, never acts
        rings = [e for e in one.effects if isinstance(e, AdvisorRinging)]
        assert len({e.linkedid for e in rings}) == 6 and len(rings) == 6  # one ring per call: no double offer
        await one.stop()  # the leader leaves (resigns its lease)
        second = await lead(two)
        await driver.call("0321000899", "Relève", __ADVISOR_TALK="1")
        record = await two.record("+33321000899")
        assert record.status is CallStatus.ANSWERED
        assert second.stats.offers >= 1
    finally:
        await two.stop()
        await one.stop()


async def test_a_router_that_lost_its_lease_keeps_nothing_and_writes_nothing_twice(
    asterisk_rig: AsteriskRig, fresh_database: str, clean: asyncpg.Pool, tmp_path: Path, driver: Driver
) -> None:
    """A leader that loses its lease (here: Redis gives it to the other instance) goes on tracking presence from
    the events as a follower, but keeps no change for the presence log: the leader writes them. It used to keep
    them all, without end, and write them all again once it led again."""
    team = await advisors(clean, *((f"adv{i}", f"Local/adv{i}@advisors", ()) for i in range(1, 4)))
    one = await start(asterisk_rig, fresh_database, tmp_path, "one")
    two = await start(asterisk_rig, fresh_database, tmp_path, "two")
    try:
        first = await lead(one)
        await log_in(first, team)
        await first.log_drained()  # the logins are in the presence log, which the next leader loads
        second = router_of(two)
        client = aioredis.from_url(REDIS)
        await client.set("gps:router:gps:lease", second.instance, px=3000)  # the lease goes to the other one
        await client.aclose()
        await wait_for(first, lambda: not first.leader, WITHIN)
        await wait_for(second, lambda: second.leader, WITHIN)
        for n in range(3):
            await driver.call(f"03210009{n:02d}", f"Bascule {n}", __ADVISOR_TALK="1")
        calls = await ended(two, 3)
        assert all(c.record.status is CallStatus.ANSWERED for c in calls)
        await ended(one, 3)  # the follower saw them too
        assert first.pending_log == 0
        await two.stop()  # the lease comes back to the first instance
        await wait_for(first, lambda: first.leader, WITHIN)
        await driver.call("0321000909", "Retour", __ADVISOR_TALK="1")
        assert (await one.record("+33321000909")).status is CallStatus.ANSWERED
        await first.log_drained()
        twice = await clean.fetch(
            "SELECT advisor_id, state, at, count(*) FROM advisor_events GROUP BY 1, 2, 3 HAVING count(*) > 1"
        )
        assert twice == []  # nothing logged twice
    finally:
        await two.stop()
        await one.stop()


async def test_an_interface_asterisk_does_not_know_is_never_offered(
    asterisk_rig: AsteriskRig, fresh_database: str, clean: asyncpg.Pool, tmp_path: Path, driver: Driver
) -> None:
    team = await advisors(clean, ("ghost", "PJSIP/ghost", ()), ("adv1", "Local/adv1@advisors", ()))
    svc = await start(asterisk_rig, fresh_database, tmp_path)
    try:
        router = await lead(svc)
        await log_in(router, team)  # ghost idles longest but its phone does not exist
        await driver.call("0321000901", "Fantôme", __ADVISOR_TALK="1")
        record = await svc.record("+33321000901")
        assert record.advisor_interface == "Local/adv1@advisors"
        assert all(r.interface != "PJSIP/ghost" for r in record.rings)
        assert "PJSIP/ghost" in router.board.invalid_interfaces
    finally:
        await svc.stop()


async def test_an_unanswered_ring_does_not_hold_the_caller_behind(
    asterisk_rig: AsteriskRig, fresh_database: str, clean: asyncpg.Pool, tmp_path: Path, driver: Driver
) -> None:
    """Two callers wait; the first one's advisor does not answer. Meanwhile the router offers the second caller
    the advisor who frees up, and app_queue connects them at once (autofill=yes: a caller may ring while the one
    ahead of it is ringing), not after the first caller's ring times out. With autofill off, the first caller,
    back from its ring-no-answer, took that advisor and the second waited for the next one."""
    ring1, adv1, adv2 = await advisors(
        clean,
        ("ring1", "Local/ring1@advisors", ()),
        ("adv1", "Local/adv1@advisors", ()),
        ("adv2", "Local/adv2@advisors", ()),
    )
    svc = await start(asterisk_rig, fresh_database, tmp_path)
    try:
        router = await lead(svc)
        await log_in(router, [ring1])  # alone for now: offered first, never answers
        await driver.call("0321001001", "Premier Appelant", __ADVISOR_TALK="1")
        first = await svc.effect(lambda e: isinstance(e, AdvisorRinging) and e.interface == ring1.interface)
        await driver.call("0321001002", "Second Appelant", __ADVISOR_TALK="1")
        second = (await svc.effect(lambda e: isinstance(e, CallQueued) and e.linkedid != first.linkedid)).linkedid
        await wait_for(router, lambda: router.lookups == 0, WITHIN)  # the second caller's previous advisor: none
        await log_in(router, [adv1])  # the first caller is ringing: the second is the one to decide for

        def offered(linkedid: str) -> int | None:
            return next(w.offered_to for w in router.board.waiting() if w.linkedid == linkedid)

        assert offered(second) == adv1.id
        # the second caller rings its advisor and is answered while the first caller's ring is still going
        taken = await svc.effect(lambda e: isinstance(e, AdvisorRinging) and e.interface == adv1.interface)
        assert taken.linkedid == second, svc.dump()
        answered = await svc.effect(lambda e: isinstance(e, CallAnswered) and e.linkedid == second)
        missed = await svc.effect(
            lambda e: isinstance(e, AdvisorRingEnded) and e.interface == ring1.interface, within=WITHIN
        )
        assert isinstance(missed, AdvisorRingEnded) and missed.result is RingResult.NO_ANSWER
        assert svc.effects.index(answered) < svc.effects.index(missed), svc.dump()
        assert router.board.presence(ring1.id) == (AdvisorState.PAUSED, MISSED_CALL)
        await log_in(router, [adv2])
        assert offered(first.linkedid) == adv2.id, svc.dump()  # decided in the login's step
        calls = await ended(svc, 2)
        assert {c.linkedid: (c.record.status, c.record.advisor_interface) for c in calls} == {
            first.linkedid: (CallStatus.ANSWERED, adv2.interface),
            second: (CallStatus.ANSWERED, adv1.interface),
        }
        assert router.stats.claim_conflicts == 0
    finally:
        await svc.stop()


async def test_two_callers_ring_their_offered_advisors_at_once(
    asterisk_rig: AsteriskRig, fresh_database: str, clean: asyncpg.Pool, tmp_path: Path, driver: Driver
) -> None:
    """Two callers wait; the router offers each an advisor (neither answers) and both ring at the same time
    (autofill=yes); with autofill off, the second caller could not ring before the first had left the queue."""
    ring1, ring2, adv1, adv2 = await advisors(
        clean,
        ("ring1", "Local/ring1@advisors", ()),
        ("ring2", "Local/ring2@advisors", ()),
        ("adv1", "Local/adv1@advisors", ()),
        ("adv2", "Local/adv2@advisors", ()),
    )
    svc = await start(asterisk_rig, fresh_database, tmp_path)
    try:
        router = await lead(svc)
        await driver.call("0321001101", "Appelant Un", __ADVISOR_TALK="1")
        one = (await svc.effect(lambda e: isinstance(e, CallQueued))).linkedid
        await driver.call("0321001102", "Appelant Deux", __ADVISOR_TALK="1")
        two = (await svc.effect(lambda e: isinstance(e, CallQueued) and e.linkedid != one)).linkedid
        await log_in(router, [ring1])  # the head call's advisor
        first = await svc.effect(lambda e: isinstance(e, AdvisorRinging) and e.interface == ring1.interface)
        assert first.linkedid == one
        await log_in(router, [ring2])  # the second call's advisor, while the first call rings
        second = await svc.effect(lambda e: isinstance(e, AdvisorRinging) and e.interface == ring2.interface)
        assert second.linkedid == two, svc.dump()
        ring_ends = [e for e in svc.effects[: svc.effects.index(second)] if isinstance(e, AdvisorRingEnded)]
        assert ring_ends == [], svc.dump()  # both ring at once
        ringing = {ring1.interface, ring2.interface}
        await svc.effect(
            lambda _: ringing <= {e.interface for e in svc.effects if isinstance(e, AdvisorRingEnded)}, within=WITHIN
        )
        await log_in(router, [adv1, adv2])
        calls = await ended(svc, 2)
        records = {c.linkedid: c.record for c in calls}
        assert {r.status for r in records.values()} == {CallStatus.ANSWERED}
        assert {r.advisor_interface for r in records.values()} == {adv1.interface, adv2.interface}
        assert [(r.interface, r.result) for r in records[one].rings[:1]] == [(ring1.interface, RingResult.NO_ANSWER)]
        assert [(r.interface, r.result) for r in records[two].rings[:1]] == [(ring2.interface, RingResult.NO_ANSWER)]
    finally:
        await svc.stop()


def _entry_to_ring(svc: ServiceUnderTest) -> list[float]:
    """Each call's wait from joining the queue to its first ring, in seconds (Asterisk's timestamps)."""
    queued = {e.linkedid: e.at for e in svc.effects if isinstance(e, CallQueued)}
    rung: dict[str, datetime] = {}
    for e in svc.effects:
        if isinstance(e, AdvisorRinging):
            rung.setdefault(e.linkedid, e.at)
    return sorted((rung[k] - queued[k]).total_seconds() for k in rung if k in queued)


def _spread(values: list[float]) -> str:
    if not values:
        return "(none)"
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"p50 {values[len(values) // 2]:.2f} s, p95 {p95:.2f} s, max {values[-1]:.2f} s"


def _inversions(ranks: list[int]) -> int:
    """Pairs of calls (in arrival order) whose first rings came in the other order."""
    return sum(1 for i, a in enumerate(ranks) for b in ranks[i + 1 :] if b < a)


def queued_from(number: str) -> Callable[[AnyEffect], bool]:
    return lambda e: isinstance(e, CallQueued) and e.caller_number == number


def rings_for(linkedid: str) -> Callable[[AnyEffect], bool]:
    return lambda e: isinstance(e, AdvisorRinging) and e.linkedid == linkedid


class CrashAtOffer:
    """The router's AMI sender, for an instance that dies abruptly at its first offer: when the router sets an
    advisor's penalty to 1, the process is gone (kill -9): before that action reaches Asterisk (`penalty_sent`
    False: only the Redis claim was taken) or just after it. Nothing of that instance runs any more: its lease and
    its claims stay in Redis until they expire."""

    def __init__(self, ami: ActionSender, penalty_sent: bool) -> None:
        self._ami = ami
        self._penalty_sent = penalty_sent
        self.crashed = asyncio.Event()
        self.frozen: asyncio.Task[Any] | None = None

    async def send(self, action: dict[str, str], timeout: float | None = None) -> Any:
        if action.get("Action") == "QueuePenalty" and action.get("Penalty") == "1" and not self.crashed.is_set():
            if self._penalty_sent:
                await self._ami.send(action, timeout)
            self.frozen = asyncio.current_task()
            self.crashed.set()
            await asyncio.Event().wait()  # dead: the step never goes on (no release, no lease renewal)
        return await self._ami.send(action, timeout)


@pytest.mark.parametrize("penalty_sent", [False, True], ids=["claimed-only", "penalty-set"])
async def test_a_leader_killed_right_after_an_offer_does_not_stall_routing(
    asterisk_rig: AsteriskRig,
    fresh_database: str,
    clean: asyncpg.Pool,
    tmp_path: Path,
    driver: Driver,
    report: Callable[[str], None],
    penalty_sent: bool,
) -> None:
    """The leader dies just after claiming a call and an advisor in Redis (and, in one case, setting the advisor's
    penalty to 1); the follower takes the lease. Its own offers must go through at once, whatever the dead
    leader's claims say (they live `claim_ttl`, 30 s here), so the waiting callers ring within seconds of the
    takeover, not when the queue's fail-safe opens (25 s here: `gps-failsafe-late`)."""
    team = await advisors(clean, ("adv1", "Local/adv1@advisors", ()))
    crash: CrashAtOffer | None = None

    def crashing(ami: ActionSender) -> ActionSender:
        nonlocal crash
        crash = CrashAtOffer(ami, penalty_sent)
        return crash

    one = await ServiceUnderTest(
        asterisk_rig, fresh_database, Spool(tmp_path / "spool-one"), routing=ROUTING, redis_url=REDIS, sender=crashing
    ).start()
    two = await start(asterisk_rig, fresh_database, tmp_path, "two")
    try:
        first = await lead(one)
        await log_in(first, team)
        await first.log_drained()  # the login is in the presence log, which the next leader loads
        await driver.call("0321001401", "Panne Un", __ADVISOR_TALK="1", __GPS_QUEUE_RULE="gps-failsafe-late")
        assert crash is not None
        await asyncio.wait_for(crash.crashed.wait(), WITHIN)
        await one.stop(resign=False)  # killed: nothing released, the lease left to expire
        if crash.frozen is not None and not crash.frozen.done():
            crash.frozen.cancel()
        second = await lead(two)
        redis = aioredis.from_url(REDIS)
        assert await redis.keys("gps:claim:gps:*"), "the dead leader's claims are still in Redis"
        await redis.aclose()
        delays = {}
        for number, name in (("+33321001401", "Panne Un"), ("+33321001402", "Panne Deux")):
            if number.endswith("02"):  # a caller arriving after the takeover
                await driver.call("0" + number[3:], name, __ADVISOR_TALK="1", __GPS_QUEUE_RULE="gps-failsafe-late")
            queued = await two.effect(queued_from(number))
            rang = await two.effect(rings_for(queued.linkedid))
            delays[number] = (rang.at - queued.at).total_seconds()
            assert (await two.record(number)).status is CallStatus.ANSWERED
        report(
            f"leader killed ({'penalty set' if penalty_sent else 'claim taken'}): queue entry → ring "
            + ", ".join(f"{n} {d:.1f} s" for n, d in delays.items())
            + f"; takeover offers {second.stats.offers}, claim conflicts {second.stats.claim_conflicts}"
        )
        assert second.stats.offers >= (1 if penalty_sent else 2)  # the new leader offered, not the fail-safe
        assert all(d < 20 for d in delays.values()), delays  # far from the 25 s fail-safe
    finally:
        await two.stop()
        await one.stop()
