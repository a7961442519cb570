"""The only place that builds and sends the desk's live messages: screen pops and their updates (`PopPublisher`,
an effect listener of the service loop) and presence changes (`PresencePublisher`, a router presence listener).

Every message is kept in Redis until the advisor's browser acknowledges it, and published for whichever instance
holds that advisor's websocket (`storage.redis.desk`). Message ids are deterministic (call, advisor, kind), so a
message written twice (two instances, a replay) is one message. Only the instance that leads the routing lease
produces them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

import redis.asyncio as aioredis

from screenpop.pops.models import CallerContext, DeskMessage
from storage.redis.desk import DeskMessages
from storage.redis.rounds import Rounds
from telephony.advisors import StateChange
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


AdvisorOf = Callable[[str], int | None]  # interface → advisor id
# (E.164 or None, the number as Asterisk gave it: an internal extension has no E.164) → context
ContextOf = Callable[[str | None, str], Awaitable[CallerContext]]
IsLeader = Callable[[], bool]


async def no_context(_: str | None, __: str = "") -> CallerContext:
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
                self._prefetch(effect.linkedid, effect.caller_number, self._raw(effect.linkedid))
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

    def _raw(self, linkedid: str) -> str:
        call = self.live.call(linkedid)
        return "" if call is None else call.caller_number_raw

    def _prefetch(self, linkedid: str, number: str | None, raw: str) -> None:
        if (number is None and not raw) or linkedid in self._contexts:
            return
        self._contexts[linkedid] = asyncio.ensure_future(self._context_of(number, raw))
        while len(self._contexts) > MAX_PREFETCHED:  # calls whose end was never seen
            self._contexts.pop(next(iter(self._contexts))).cancel()

    async def _context(self, linkedid: str, number: str | None) -> CallerContext:
        """The context looked up when the call was queued (a ring-no-answer's next ring reuses it), else now."""
        prefetched = self._contexts.get(linkedid)
        if prefetched is None:
            return await self._context_of(number, self._raw(linkedid))
        try:
            return await asyncio.shield(prefetched)  # shared by the call's rings: a cancelled wait leaves it be
        except asyncio.CancelledError:
            if prefetched.cancelled():  # dropped meanwhile: look it up now
                return await self._context_of(number, self._raw(linkedid))
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
