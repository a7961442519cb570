"""The service loop: AMI events, in arrival order, through the tracker; effects executed here.

One consumer task owns the tracker. The edge's sink only enqueues (panoramisk defect D3), so a slow
effect never reorders events and a failing one never cuts the AMI link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from telephony.calls import CallTracker
from telephony.effects import AnyEffect, CallEnded
from telephony.events import AmiEvent
from telephony.live import LiveView
from telephony.records import CallRecord

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


class CallPipeline:
    def __init__(
        self, tracker: CallTracker, write_record: RecordSink, *others: Core, live: LiveView | None = None
    ) -> None:
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
        while True:
            event = await self._queue.get()
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
            log.exception("tracker failed on %s linkedid=%s", type(event).__name__, getattr(event, "linkedid", ""))
            return
        for effect in effects:
            self.stats.effects += 1
            try:
                await self._execute(effect)
            except Exception:
                self.stats.effect_errors += 1
                log.exception("effect %s failed linkedid=%s", effect.kind, effect.linkedid)

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
        else:
            log.debug("%s linkedid=%s", effect.kind, effect.linkedid)
        for listener in self._listeners:
            await listener(effect)
