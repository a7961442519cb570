"""The wallboard's notifier without Redis: which effects tell the wallboards, and the throttle (the first change at
once, the ones within an interval folded into one at its end, never lost). Waits on events, never on sleeps."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import redis.asyncio as aioredis

from screenpop.supervision.notifier import Throttle, WallboardNotifier
from telephony.effects import CallHeld, CallQueued, CallUnheld, MemberUpdate

AT = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


async def test_the_first_change_goes_at_once_and_the_next_ones_of_the_interval_are_folded() -> None:
    runs: list[int] = []
    throttle = Throttle(lambda: runs.append(1), interval=3600.0)
    throttle()
    assert runs == [1]
    throttle()
    throttle()
    assert runs == [1]  # due at the interval's end, once
    throttle.cancel()
    every = Throttle(lambda: runs.append(2), interval=0.0)
    every()
    every()
    assert runs == [1, 2, 2]


async def test_the_changes_folded_are_told_at_the_interval_s_end() -> None:
    told = asyncio.Event()
    runs: list[int] = []

    def action() -> None:
        runs.append(1)
        if len(runs) == 2:
            told.set()

    throttle = Throttle(action, interval=0.05)
    for _ in range(5):
        throttle()
    await asyncio.wait_for(told.wait(), 5)
    assert runs == [1, 1]  # the leading one, then the five folded into one


async def test_only_the_effects_the_wallboard_shows_tell_it() -> None:
    sent: list[tuple[str, str]] = []
    redis = aioredis.Redis()  # never connected: nothing here publishes
    notifier = WallboardNotifier(redis, lambda message_id, payload: sent.append((message_id, payload)), interval=0.0)
    member = MemberUpdate(
        linkedid="",
        at=AT,
        queue="gps",
        interface="Local/adv1@advisors",
        present=True,
        paused=False,
        paused_reason="",
        penalty=2,
        in_call=False,
        device_state=1,
    )
    await notifier.on_effect(member)
    assert sent == []
    await notifier.on_effect(CallQueued(linkedid="1.1", at=AT, queue="gps", caller_number=None, topic=None))
    assert len(sent) == 1 and json.loads(sent[0][1]) == {"id": sent[0][0], "type": "wallboard"}
    await notifier.close()
    await redis.aclose()


async def test_a_call_put_on_hold_or_taken_off_it_tells_the_wallboards() -> None:
    sent: list[str] = []
    redis = aioredis.Redis()  # never connected: nothing here publishes
    notifier = WallboardNotifier(redis, lambda message_id, payload: sent.append(payload), interval=0.0)
    await notifier.on_effect(CallHeld(linkedid="1.1", at=AT))
    await notifier.on_effect(CallUnheld(linkedid="1.1", at=AT))
    assert [json.loads(p)["type"] for p in sent] == ["wallboard", "wallboard"]
    await notifier.close()
    await redis.aclose()


async def test_holds_are_throttled_like_every_change() -> None:
    sent: list[str] = []
    redis = aioredis.Redis()
    notifier = WallboardNotifier(redis, lambda message_id, payload: sent.append(payload), interval=3600.0)
    for _ in range(3):
        await notifier.on_effect(CallHeld(linkedid="1.1", at=AT))
        await notifier.on_effect(CallUnheld(linkedid="1.1", at=AT))
    assert len(sent) == 1  # the first at once, the others folded into one due at the interval's end
    await notifier.close()
    await redis.aclose()
