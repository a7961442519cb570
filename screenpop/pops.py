"""Screen pops: the caller's context sent to the advisor whose phone rings, then updated on answer and end.

Every message is kept in Redis (`gps:desk:<advisor>:pending`, a hash msg id → JSON) until the advisor's browser
acknowledges it, and published on `gps:desk:<advisor>` for whichever instance holds that advisor's websocket.
Message ids are deterministic (call, advisor, kind), so a message written twice (two instances, a replay) is
one message. Only the instance that leads the routing lease produces them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Literal

import asyncpg
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field

from config.settings import DeskSettings
from storage.qualification import QualificationRepository
from storage.redis.desk import DeskMessages
from storage.redis.rounds import Rounds
from telephony.advisors import StateChange
from telephony.aio import bounded
from telephony.effects import (
    AdvisorRingEnded,
    AdvisorRinging,
    AnyEffect,
    CallAnswered,
    CallEnded,
    CallQueued,
    CallTransferred,
    ConsultationEnded,
    ConsultationStarted,
)
from telephony.live import LiveView
from telephony.records import RingResult

log = logging.getLogger(__name__)

MAX_PREFETCHED = 10_000  # caller contexts kept for calls in progress


class HistoryItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    date: datetime
    topic: str | None = None
    outcome: str | None = None
    advisor: str | None = None
    note: str | None = None


class CallbackItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    requested_at: datetime
    topic: str | None = None
    slot: str | None = None  # the caller's preferred time slot, as the advisor wrote it


class CallerContext(BaseModel):
    """What the desk knows of a caller before answering (no confidential case file exists here)."""

    model_config = ConfigDict(frozen=True)

    commune: str | None = None  # "Arras (62041)"
    history: tuple[HistoryItem, ...] = ()
    open_callbacks: tuple[CallbackItem, ...] = ()


class DeskMessage(BaseModel):
    """One message to an advisor's desk. `sent_at` is Asterisk's time of the event that caused it."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(max_length=200)
    type: Literal[
        "pop", "answered", "consulting", "consultation_ended", "transferred", "ended", "ring_ended", "presence"
    ]
    linkedid: str
    advisor_id: int
    event_at: datetime
    caller_number: str | None = None  # E.164
    caller_display: str = ""  # French format, "03 21 00 00 01"
    caller_name: str | None = None
    wait_seconds: float | None = None
    menu_topic: str | None = Field(default=None, max_length=40)  # pop: the voice-menu choice (a topic key)
    context: CallerContext | None = None
    # ring_ended: "missed" | "caller_gone"; ended: status; consulting, transferred: the target extension
    detail: str | None = None


AdvisorOf = Callable[[str], int | None]  # interface → advisor id
ContextOf = Callable[[str | None], Awaitable[CallerContext]]  # E.164 → context
IsLeader = Callable[[], bool]


async def no_context(_: str | None) -> CallerContext:
    return CallerContext()


class PopPublisher:
    """Effect listener: turns ring/answer/end effects into desk messages (pending + published). What it needs of a
    call beyond the effect (which advisor's desk follows it, the caller) it reads in the live view, which the
    service loop has fed with the effect already."""

    def __init__(
        self,
        redis: aioredis.Redis,
        advisor_of: AdvisorOf,
        is_leader: IsLeader,
        context_of: ContextOf = no_context,
        rounds: Rounds | None = None,
        live: LiveView | None = None,
    ) -> None:
        self._messages = DeskMessages(redis, rounds)
        self._advisor_of = advisor_of
        self._is_leader = is_leader
        self._context_of = context_of
        self.live = live if live is not None else LiveView()
        # An I/O cache, not call state: linkedid → its caller's context, looked up as the call queued; dropped at
        # the call's end (and bounded).
        self._contexts: dict[str, asyncio.Future[CallerContext]] = {}
        self.published = 0

    async def on_effect(self, effect: AnyEffect) -> None:
        """The caller's context is looked up as the call joins the queue, so the pop, at ring time, has no
        database round trip to wait for. The service loop does not wait for Redis: the message leaves with the
        instance's next round, after the messages before it (`drained()` waits for it)."""
        if isinstance(effect, CallQueued):
            if self._is_leader():
                self._prefetch(effect.linkedid, effect.caller_number)
            return
        if isinstance(effect, CallEnded):
            prefetched = self._contexts.pop(effect.linkedid, None)
            if prefetched is not None:
                prefetched.cancel()  # done already, except for a call that ended at once
        if not self._is_leader():
            return
        message = await self._message(effect)
        if message is None:
            return
        self._messages.send(*self._publication(message))
        self.published += 1

    async def drained(self) -> None:
        """Return once every message published so far is in Redis (or failed: logged)."""
        await self._messages.drained()

    @property
    def prefetched(self) -> int:
        """Caller contexts held for calls in progress."""
        return len(self._contexts)

    def _prefetch(self, linkedid: str, number: str | None) -> None:
        if number is None or linkedid in self._contexts:
            return
        self._contexts[linkedid] = asyncio.ensure_future(self._context_of(number))
        while len(self._contexts) > MAX_PREFETCHED:  # calls whose end was never seen
            self._contexts.pop(next(iter(self._contexts))).cancel()

    async def _context(self, linkedid: str, number: str | None) -> CallerContext:
        """The context looked up when the call was queued (a ring-no-answer's next ring reuses it), else now."""
        prefetched = self._contexts.get(linkedid)
        if prefetched is None:
            return await self._context_of(number)
        try:
            return await asyncio.shield(prefetched)  # shared by the call's rings: a cancelled wait leaves it be
        except asyncio.CancelledError:
            if prefetched.cancelled():  # dropped meanwhile: look it up now
                return await self._context_of(number)
            raise

    async def _message(self, effect: AnyEffect) -> DeskMessage | None:
        call = self.live.call(effect.linkedid)
        if call is None:
            return None
        if isinstance(effect, AdvisorRinging):
            advisor_id = self._advisor_of(effect.interface)
            if advisor_id is None:
                return None
            wait = (effect.at - effect.queue_entered_at).total_seconds() if effect.queue_entered_at else None
            started = time.perf_counter()
            context = await self._context(effect.linkedid, effect.caller_number)
            log.debug("pop context linkedid=%s in %.1f ms", effect.linkedid, (time.perf_counter() - started) * 1000)
            return DeskMessage(
                id=f"{effect.linkedid}:{advisor_id}:pop",
                type="pop",
                linkedid=effect.linkedid,
                advisor_id=advisor_id,
                event_at=effect.at,
                caller_number=effect.caller_number,
                caller_display=call.caller_display,
                caller_name=effect.caller_name,
                wait_seconds=wait,
                menu_topic=effect.menu_topic,
                context=context,
            )
        if isinstance(effect, AdvisorRingEnded):
            # the view has the ring's end already: the desk's advisor is the one whose ring this is
            ring = call.ring
            desk = ring.interface if ring is not None and ring.result is effect.result else None
        else:
            desk = call.desk
        advisor_id = None if desk is None else self._advisor_of(desk)
        if desk is None or advisor_id is None:
            return None
        base = {
            "linkedid": effect.linkedid,
            "advisor_id": advisor_id,
            "event_at": effect.at,
            "caller_number": call.caller_number,
            "caller_display": call.caller_display,
            "caller_name": call.caller_name,
        }
        if isinstance(effect, AdvisorRingEnded) and effect.result is not RingResult.ANSWERED:
            if effect.interface != desk:
                return None
            detail = "missed" if effect.result is RingResult.NO_ANSWER else "caller_gone"
            return DeskMessage(
                id=f"{effect.linkedid}:{advisor_id}:ring_ended", type="ring_ended", detail=detail, **base
            )
        if isinstance(effect, CallAnswered) and effect.interface == desk:
            return DeskMessage(id=f"{effect.linkedid}:{advisor_id}:answered", type="answered", **base)
        if isinstance(effect, ConsultationStarted | ConsultationEnded) and effect.interface == desk:
            # a call may see several consultations: the event's time tells them apart (and stays deterministic)
            kind: Literal["consulting", "consultation_ended"] = (
                "consulting" if isinstance(effect, ConsultationStarted) else "consultation_ended"
            )
            return DeskMessage(
                id=f"{effect.linkedid}:{advisor_id}:{kind}:{effect.at.timestamp():.6f}",
                type=kind,
                detail=effect.target if isinstance(effect, ConsultationStarted) else None,
                **base,
            )
        if isinstance(effect, CallTransferred):
            return DeskMessage(
                id=f"{effect.linkedid}:{advisor_id}:transferred", type="transferred", detail=effect.target, **base
            )
        if isinstance(effect, CallEnded):
            return DeskMessage(
                id=f"{effect.linkedid}:{advisor_id}:ended", type="ended", detail=effect.record.status.value, **base
            )
        return None

    async def publish(self, message: DeskMessage) -> None:
        """One message, waiting until it is in Redis (raises when Redis fails)."""
        await self._messages.publish(*self._publication(message))
        self.published += 1

    @staticmethod
    def _publication(message: DeskMessage) -> tuple[int, str, str, str, str]:
        return message.advisor_id, message.id, message.type, message.linkedid, message.model_dump_json()


async def current_call(redis: aioredis.Redis, advisor_id: int) -> list[DeskMessage]:
    """The advisor's latest call not yet qualified: its pop and the latest message of each kind, oldest first
    (empty when there is none)."""
    messages = [DeskMessage.model_validate_json(v) for v in await DeskMessages(redis).current(advisor_id)]
    return sorted(messages, key=lambda m: (m.event_at, m.id))


async def call_done(redis: aioredis.Redis, advisor_id: int, linkedid: str) -> None:
    """The advisor qualified `linkedid`: if it is their current call, the page no longer shows it at a reload."""
    await DeskMessages(redis).call_done(advisor_id, linkedid)


async def pending(redis: aioredis.Redis, advisor_id: int) -> list[DeskMessage]:
    """Messages not yet acknowledged by the advisor's browser, oldest first."""
    messages = [DeskMessage.model_validate_json(v) for v in await DeskMessages(redis).pending(advisor_id)]
    return sorted(messages, key=lambda m: (m.event_at, m.id))


class Acknowledger:
    """Removes acknowledged messages from the pending hashes, in the instance's rounds (`storage.redis.rounds`): the
    acknowledgements that arrive while a round is in flight leave together in the next one, so under load they
    cost one round trip per round rather than one each. If a round fails, every acknowledgement in it fails (the
    socket closes and the browser gets the message again at its reconnection, then acknowledges it)."""

    def __init__(self, redis: aioredis.Redis, rounds: Rounds | None = None) -> None:
        self._messages = DeskMessages(redis, rounds)

    @property
    def rounds(self) -> int:
        """Round trips of the rounds the acknowledgements go in."""
        return self._messages.rounds.rounds

    async def __call__(self, advisor_id: int, message_id: str) -> DeskMessage | None:
        """Remove an acknowledged message; None when it is not one of this advisor's pending messages."""
        raw = await self._messages.acknowledge(advisor_id, message_id)
        return None if raw is None else DeskMessage.model_validate_json(raw)


async def acknowledge(redis: aioredis.Redis, advisor_id: int, message_id: str) -> DeskMessage | None:
    """One acknowledgement on its own (the demo's simulated advisors); the hub keeps one `Acknowledger`."""
    return await Acknowledger(redis)(advisor_id, message_id)


def age_ms(message: DeskMessage, now: datetime | None = None) -> float:
    """Time since the AMI event that caused the message (the pop latency once acknowledged)."""
    return ((now or datetime.now(UTC)) - message.event_at).total_seconds() * 1000


class PresencePublisher:
    """Router presence listener: tells each advisor's desk its new presence (not kept pending: the page reads it
    again anyway). One script call for the whole batch of a router step, sent with the instance's next round:
    the router does not wait for it."""

    def __init__(self, redis: aioredis.Redis, rounds: Rounds | None = None) -> None:
        self._messages = DeskMessages(redis, rounds)

    async def __call__(self, changes: list[StateChange]) -> None:
        self._messages.send_presence(_presence_messages(changes))


def _presence_messages(changes: list[StateChange]) -> list[tuple[int, str]]:
    messages: list[tuple[int, str]] = []
    for change in changes:
        message = DeskMessage(
            id=f"presence:{change.advisor_id}:{change.at.timestamp()}",
            type="presence",
            linkedid=change.linkedid or "",
            advisor_id=change.advisor_id,
            event_at=change.at,
            detail=change.state.value,
        )
        messages.append((change.advisor_id, message.model_dump_json()))
    return messages


def context_lookup(pool: asyncpg.Pool, desk: DeskSettings) -> ContextOf:
    """The caller's history and commune for a pop, from PostgreSQL; bounded, and never in the way of the pop."""
    qualification = QualificationRepository(pool, desk)

    async def context_of(number: str | None) -> CallerContext:
        if number is None:
            return CallerContext()
        try:
            facts = await bounded(qualification.caller_facts(number, desk.history_size), 0.2)
        except Exception as exc:
            log.warning("pop without history (%s)", exc)
            return CallerContext()
        return CallerContext(
            commune=f"{facts.commune[1]} ({facts.commune[0]})" if facts.commune is not None else None,
            history=tuple(
                HistoryItem(
                    date=h.date,
                    topic=" — ".join(x for x in (h.topic_label, h.subtopic_label) if x) or None,
                    outcome=h.outcome_label,
                    advisor=h.advisor_name,
                    note=h.note,
                )
                for h in facts.history
            ),
            open_callbacks=tuple(
                CallbackItem(requested_at=c.requested_at, topic=c.topic_label, slot=c.slot)
                for c in facts.open_callbacks
            ),
        )

    return context_of
