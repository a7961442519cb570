"""The service loop under an event storm (issue 11, item 12): the work per loop turn is bounded, so the rest of the
service (/healthz, the AMI watchdog, reads) gets its turns; the tracker's bookkeeping stays proportional to a call."""

from __future__ import annotations

import asyncio
import itertools

from bench.ami_peer import storm
from config.settings import LineSettings
from telephony.calls import CallTracker
from telephony.effects import AnyEffect
from telephony.events import AmiEvent
from telephony.pipeline import YIELD_EVERY, CallPipeline
from telephony.records import CallRecord
from telephony.replay import replay
from tests.unit.test_calls import OPEN

CALLS = 2_000


def storm_events() -> list[AmiEvent]:
    return list(replay(storm(CALLS)))


async def largest_gap(pipeline: CallPipeline, events: list[AmiEvent]) -> int:
    """Feed the storm at once; a neighbour task notes how many events were applied each time it gets a turn.
    Returns the most events applied between two of its turns."""
    seen: list[int] = []

    async def neighbour() -> None:
        while True:
            seen.append(pipeline.stats.events)
            await asyncio.sleep(0)

    runner = asyncio.create_task(pipeline.run())
    watcher = asyncio.create_task(neighbour())
    await asyncio.sleep(0)  # both are waiting: the storm arrives at once
    for event in events:
        pipeline.sink(event)
    await pipeline.wait_idle()
    seen.append(pipeline.stats.events)
    runner.cancel()
    watcher.cancel()
    return max(b - a for a, b in itertools.pairwise(seen))


async def test_the_loop_gets_a_turn_at_least_every_hundred_events() -> None:
    records: list[CallRecord] = []

    async def write(record: CallRecord) -> None:
        records.append(record)

    events = storm_events()
    assert len(events) == 3 * CALLS
    gap = await largest_gap(CallPipeline(CallTracker(LineSettings(), OPEN), write), events)
    assert gap <= YIELD_EVERY  # before: the whole storm (6,000 events) in one turn
    assert len(records) == CALLS


async def test_a_slow_listener_makes_the_loop_yield_sooner() -> None:
    """One event can cost milliseconds (a listener doing work proportional to the calls waiting): the 5 ms budget,
    not the count, bounds the turn then."""

    async def write(record: CallRecord) -> None:
        pass

    async def slow(effect: AnyEffect) -> None:
        deadline = asyncio.get_running_loop().time() + 0.002
        while asyncio.get_running_loop().time() < deadline:  # busy: 2 ms of CPU, no suspension
            pass

    pipeline = CallPipeline(CallTracker(LineSettings(), OPEN), write)
    pipeline.listen(slow)
    gap = await largest_gap(pipeline, storm_events()[:300])
    assert gap <= 5


async def test_without_the_bound_the_storm_is_one_turn() -> None:
    """The measure itself: with `yield_every=None` (the former loop) nothing else runs until the storm is applied."""

    async def write(record: CallRecord) -> None:
        pass

    events = storm_events()
    gap = await largest_gap(CallPipeline(CallTracker(LineSettings(), OPEN), write, yield_every=None), events)
    assert gap == len(events)


def test_the_tracker_keeps_nothing_after_a_storm() -> None:
    tracker = CallTracker(LineSettings(), OPEN)
    for event in storm_events():
        tracker.apply(event)
    assert tracker.open_calls == 0 and tracker.channels == 0
    assert not tracker._by_linkedid and not tracker._groups
