"""Asterisk restarted mid-call (`core restart now`): the calls it cut are recorded as ended by the system, not by
whichever party's leg it hung up first (issue 11, item 16). A rig of its own: the restart would disturb the others."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from storage.calls import CallRecordRepository
from storage.spool import Spool
from telephony.effects import CallAnswered, CallEnded, CallQueued, CallRecordAmended
from telephony.records import CallRecord, CallStatus, HangupBy
from tests.fixtures_db import fresh_database, migrated_pool
from tests.integration.harness import WITHIN, Driver, ServiceUnderTest
from tests.rig.asterisk import AsteriskRig

__all__ = ["fresh_database", "migrated_pool"]

pytestmark = pytest.mark.asterisk


@pytest.fixture
async def own_rig() -> AsyncIterator[AsteriskRig]:
    rig = AsteriskRig()
    await asyncio.to_thread(rig.start)
    try:
        yield rig
    finally:
        await asyncio.to_thread(rig.stop)


async def test_calls_cut_by_an_asterisk_restart_say_the_system_ended_them(
    own_rig: AsteriskRig, fresh_database: str, migrated_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    svc = await ServiceUnderTest(own_rig, fresh_database, Spool(tmp_path / "spool")).start()
    try:
        driver = await Driver.connect(own_rig)
        try:
            await driver.add_member("Local/adv1@advisors", "Advisor 1")
            await driver.call("0321000121", "Talking Caller", __ADVISOR_TALK="60")
            await svc.effect(lambda e: isinstance(e, CallAnswered))
            await driver.call("0321000122", "Waiting Caller")  # adv1 is busy: this one waits in the queue
            await svc.effect(lambda e: isinstance(e, CallQueued) and len([*_queued(svc)]) == 2)
        finally:
            await driver.close()
        connects = svc.ami.stats.connects
        await asyncio.to_thread(own_rig.cli, "core restart now")
        await svc.effect(lambda e: len(_amended(svc)) == 2)
        amended = _amended(svc)
        # what the hang-ups alone said (the caller's leg was cut first): the record is written, then amended
        first = {e.record.caller_number: e.record for e in svc.effects if isinstance(e, CallEnded)}
        assert set(first) == {"+33321000121", "+33321000122"}
        await asyncio.wait_for(_reconnected(svc, connects), WITHIN)  # Asterisk is back; the service with it
        await asyncio.wait_for(svc.writer.wait_drained(), WITHIN)
        repo = CallRecordRepository(migrated_pool)
        talking = await repo.get(amended["+33321000121"].linkedid)
        waiting = await repo.get(amended["+33321000122"].linkedid)
    finally:
        await svc.stop()
    assert talking is not None and waiting is not None
    assert (talking.status, talking.hangup_by) == (CallStatus.ANSWERED, HangupBy.SYSTEM)
    assert talking.advisor_interface == "Local/adv1@advisors" and not talking.reconstructed
    assert (waiting.status, waiting.hangup_by) == (CallStatus.FAILED, HangupBy.SYSTEM)  # it did not abandon
    assert first["+33321000121"].hangup_by is not HangupBy.SYSTEM  # the amendment is what says it


def _amended(svc: ServiceUnderTest) -> dict[str | None, CallRecord]:
    return {e.record.caller_number: e.record for e in svc.effects if isinstance(e, CallRecordAmended)}


def _queued(svc: ServiceUnderTest) -> list[CallQueued]:
    return [e for e in svc.effects if isinstance(e, CallQueued)]


async def _reconnected(svc: ServiceUnderTest, connects: int) -> None:
    while not (svc.ami.stats.connects > connects and svc.ami.ready.is_set()):
        await svc.ami.changed()
