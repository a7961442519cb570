"""The service loop: AMI events, in arrival order, through the tracker; effects executed here.

One consumer task owns the tracker. The edge's sink only enqueues (panoramisk defect D3), so a slow
effect never reorders events and a failing one never cuts the AMI link.

The work per loop turn is bounded: the consumer yields to the event loop after `yield_every` events or
`turn_budget` seconds, whichever comes first. An `asyncio.Queue` that is not empty hands its next item over without
suspending, and most effects complete without suspending either, so a storm (20,000 new calls then 20,000 hang-ups
from the peer) was applied in long turns: `/healthz` answered in 5.9 s and the AMI watchdog's Pong, read but not
handled in time, cut a healthy link. The time bound matters as much as the count: one event can cost milliseconds
when its effects' listeners do work proportional to the calls waiting (the router's step). Errors are
logged once per kind per interval (`LogThrottle`), with the count held back; the counters keep the totals.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from telephony.calls import CallTracker
from telephony.effects import AnyEffect, CallEnded, CallRecordAmended
from telephony.events import AmiEvent
from telephony.live import LiveView
from telephony.records import CallRecord
from telephony.throttle import LogThrottle

log = logging.getLogger(__name__)

RecordSink = Callable[[CallRecord], Awaitable[object]]


class Core(Protocol):
    """A pure state machine: typed events in, effects out."""

    def apply(self, event: AmiEvent) -> list[AnyEffect]: ...


EffectListener = Callable[[AnyEffect], Awaitable[None]]


@dataclass
class PipelineStats:
    events: int = 0
    effects: int = 0
    records: int = 0
    tracker_errors: int = 0
    effect_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


YIELD_EVERY = 100  # events applied per loop turn at most
TURN_BUDGET = 0.005  # seconds of applying events per loop turn at most (checked after each event)


class CallPipeline:
    def __init__(
        self,
        tracker: CallTracker,
        write_record: RecordSink,
        *others: Core,
        live: LiveView | None = None,
        yield_every: int | None = YIELD_EVERY,
        turn_budget: float = TURN_BUDGET,
    ) -> None:
        self.yield_every = yield_every  # None: never yield while events wait (the former behaviour, for bench.storm)
        self.turn_budget = turn_budget
        self._throttle = LogThrottle(log)
        self._tracker = tracker
        self.live = live if live is not None else LiveView()  # fed here, before the listeners, with every effect
        self._cores: tuple[Core, ...] = (tracker, *others)
        self._write_record = write_record
        self._queue: asyncio.Queue[AmiEvent] = asyncio.Queue()  # unbounded: an event is never dropped
        self._listeners: list[EffectListener] = []
        self.stats = PipelineStats()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def tracker(self) -> CallTracker:
        return self._tracker

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def listen(self, listener: EffectListener) -> None:
        """Features (screen pops, the router, later the wallboard) subscribe to effects here; what they need of a
        call beyond the effect they read in `live`, never in a copy of their own."""
        self._listeners.append(listener)

    def sink(self, event: AmiEvent) -> None:
        """Synchronous: called by the AMI edge for every event, in order."""
        self._idle.clear()
        self._queue.put_nowait(event)

    async def wait_idle(self) -> None:
        """Return once every event enqueued so far has been applied and its effects executed."""
        await self._idle.wait()

    async def run(self) -> None:
        in_turn = 0  # events applied since the loop last had a turn
        turn_started = time.perf_counter()
        while True:
            if self._queue.empty():
                in_turn = 0  # `get` suspends: the loop gets its turn
            elif self.yield_every is not None and (
                in_turn >= self.yield_every or time.perf_counter() - turn_started >= self.turn_budget
            ):
                in_turn = 0
                await asyncio.sleep(0)  # let the loop run: HTTP requests, the AMI watchdog, reads
            event = await self._queue.get()
            if in_turn == 0:
                turn_started = time.perf_counter()
            in_turn += 1
            try:
                await self._handle(event)
            finally:
                self._queue.task_done()
                if self._queue.empty():
                    self._idle.set()

    async def _handle(self, event: AmiEvent) -> None:
        self.stats.events += 1
        try:
            effects = [effect for core in self._cores for effect in core.apply(event)]
        except Exception:
            self.stats.tracker_errors += 1
            kind = type(event).__name__
            self._throttle.error(
                f"tracker {kind}",
                "tracker failed on %s linkedid=%s",
                kind,
                getattr(event, "linkedid", ""),
                exc_info=True,
            )
            return
        for effect in effects:
            self.stats.effects += 1
            try:
                await self._execute(effect)
            except Exception:
                self.stats.effect_errors += 1
                self._throttle.error(
                    f"effect {effect.kind}", "effect %s failed linkedid=%s", effect.kind, effect.linkedid, exc_info=True
                )

    async def _execute(self, effect: AnyEffect) -> None:
        self.live.apply(effect)  # the listeners read the state after the effect
        if isinstance(effect, CallEnded):
            record = effect.record
            log.info(
                "call ended linkedid=%s status=%s caller=%s wait=%s talk=%s%s",
                record.linkedid,
                record.status.value,
                record.caller_number or "anonymous",
                record.wait_seconds,
                record.talk_seconds,
                " (reconstructed)" if record.reconstructed else "",
            )
            self.stats.records += 1
            await self._write_record(record)
        elif isinstance(effect, CallRecordAmended):
            log.info(
                "call record amended linkedid=%s status=%s hangup_by=%s",
                effect.record.linkedid,
                effect.record.status.value,
                effect.record.hangup_by.value,
            )
            await self._write_record(effect.record)
        else:
            log.debug("%s linkedid=%s", effect.kind, effect.linkedid)
        for listener in self._listeners:
            await listener(effect)
