"""How long a routed call waits between joining the queue and its offered advisor's phone ringing, on the real
Asterisk (issue 11, item 17). The router offers within milliseconds, but app_queue looks at its members again only
every `retry` seconds: a caller whose first look came before the offer waits for the next one. The figure is
printed (and kept in bench/README.md with the command), never asserted; what is asserted is that every call rang the
advisor the service offered it."""

from __future__ import annotations

import logging
import re
import statistics
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from telephony.effects import AdvisorRinging, AnyEffect, CallAnswered, CallEnded, CallQueued, Effect
from tests.fixtures_db import fresh_database, migrated_pool
from tests.integration.harness import Driver
from tests.integration.test_routing_rig import advisors, clean, driver, lead, log_in, offers_made, start
from tests.rig.asterisk import AsteriskRig

__all__ = ["clean", "driver", "fresh_database", "migrated_pool"]

pytestmark = pytest.mark.asterisk

CALLS = 10


def of_kind(
    kind: type[Effect], *, number: str | None = None, linkedid: str | None = None
) -> Callable[[AnyEffect], bool]:
    def match(effect: AnyEffect) -> bool:
        if not isinstance(effect, kind) or (linkedid is not None and effect.linkedid != linkedid):
            return False
        return number is None or getattr(effect, "caller_number", None) == number

    return match


def queue_retry(rig: AsteriskRig) -> int:
    text = (rig.run_dir / "etc" / "queues.conf").read_text()
    match = re.search(r"^retry = (\d+)$", text, re.MULTILINE)
    assert match is not None
    return int(match[1])


async def test_queue_entry_to_ring(
    asterisk_rig: AsteriskRig,
    fresh_database: str,
    clean: asyncpg.Pool,
    tmp_path: Path,
    driver: Driver,
    report: Callable[[str], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="telephony.router")
    team = await advisors(clean, ("adv1", "Local/adv1@advisors", ()), ("adv2", "Local/adv2@advisors", ()))
    interface_of = {a.id: a.interface for a in team}
    svc = await start(asterisk_rig, fresh_database, tmp_path)
    try:
        await log_in(await lead(svc), team)
        waits: list[float] = []
        honoured = 0
        for n in range(CALLS):
            await driver.call(f"03210004{n:02d}", f"Appelant {n}", __ADVISOR_TALK="1")
            queued = await svc.effect(of_kind(CallQueued, number=f"+333210004{n:02d}"))
            ring = await svc.effect(of_kind(AdvisorRinging, linkedid=queued.linkedid))
            await svc.effect(of_kind(CallAnswered, linkedid=queued.linkedid))
            assert isinstance(ring, AdvisorRinging)
            waits.append((ring.at - queued.at).total_seconds())  # Asterisk's own timestamps
            offered = [advisor for linkedid, advisor in offers_made(caplog) if linkedid == queued.linkedid]
            honoured += bool(offered) and interface_of[offered[0]] == ring.interface
        # the calls end before the service stops (stopping the router mid-call sometimes left its task running:
        # noted in the report of issue 11)
        await svc.effect(lambda _: sum(isinstance(e, CallEnded) for e in svc.effects) == CALLS)
    finally:
        await svc.stop()
    report(
        f"queue entry → ring (app_queue retry = {queue_retry(asterisk_rig)} s, {CALLS} calls, an advisor free for"
        f" each): median {statistics.median(waits):.2f} s, min {min(waits):.2f} s, max {max(waits):.2f} s;"
        f" rang the advisor the service offered: {honoured}/{CALLS}"
    )
    assert honoured == CALLS
