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
from storage.keys import channel_prefix
from storage.qualification import QualificationRepository
from storage.rounds import Rounds
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
from telephony.identity import french_display
from telephony.records import RingResult

log = logging.getLogger(__name__)

MAX_PREFETCHED = 10_000  # caller contexts kept for calls in progress
PENDING_TTL = 6 * 3600  # an advisor away for a whole shift still gets the pops of their last calls

# Keep pending, then publish: one command (was a MULTI of HSET, EXPIRE, PUBLISH), atomic all the same. The
# advisor's current call is kept too (its pop and the latest message of each kind), so that a desk page opened
# again during or after the call shows it (`/api/desk`), acknowledged or not, until it is qualified.
# KEYS[1] pending hash, KEYS[2] current-call hash; ARGV: message id, payload, TTL (s), channel, type, linkedid.
_PUBLISH = """
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
redis.call('expire', KEYS[1], ARGV[3])
if ARGV[5] == 'pop' then
  redis.call('del', KEYS[2])
  redis.call('hset', KEYS[2], 'linkedid', ARGV[6], 'pop', ARGV[2])
  redis.call('expire', KEYS[2], ARGV[3])
elseif redis.call('hget', KEYS[2], 'linkedid') == ARGV[6] then
  redis.call('hset', KEYS[2], ARGV[5], ARGV[2])
end
return redis.call('publish', ARGV[4], ARGV[2])
"""
# Forget the advisor's current call once it is qualified. KEYS[1] the current-call hash, ARGV[1] the call.
_CALL_DONE = """
if redis.call('hget', KEYS[1], 'linkedid') == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# Take an acknowledged message out of its pending hash; returns its payload (nil: it was not pending).
# KEYS[1] the pending hash, ARGV[1] the message id.
_ACKNOWLEDGE = """
local payload = redis.call('hget', KEYS[1], ARGV[1])
if payload then redis.call('hdel', KEYS[1], ARGV[1]) end
return payload
"""
# Publish presence messages: ARGV holds (channel, payload) pairs. One command for a whole step's changes.
_PRESENCE = """
for i = 1, #ARGV, 2 do redis.call('publish', ARGV[i], ARGV[i + 1]) end
return #ARGV / 2
"""


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


def pending_key(advisor_id: int) -> str:
    return f"gps:desk:{advisor_id}:pending"


def current_key(advisor_id: int) -> str:
    return f"gps:desk:{advisor_id}:current"


def channel(redis: aioredis.Redis, advisor_id: int) -> str:
    return f"{channel_prefix(redis)}:desk:{advisor_id}"


def desk_pattern(redis: aioredis.Redis) -> str:
    return f"{channel_prefix(redis)}:desk:*"


AdvisorOf = Callable[[str], int | None]  # interface → advisor id
ContextOf = Callable[[str | None], Awaitable[CallerContext]]  # E.164 → context
IsLeader = Callable[[], bool]


async def no_context(_: str | None) -> CallerContext:
    return CallerContext()


class PopPublisher:
    """Effect listener: turns ring/answer/end effects into desk messages (pending + published)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        advisor_of: AdvisorOf,
        is_leader: IsLeader,
        context_of: ContextOf = no_context,
        rounds: Rounds | None = None,
    ) -> None:
        self._redis = redis
        self._advisor_of = advisor_of
        self._is_leader = is_leader
        self._context_of = context_of
        # linkedid → advisor, number, its French display (formatted once per call), name
        self._ringing: dict[str, tuple[int, str | None, str, str | None]] = {}
        self._publish = (rounds or Rounds(redis)).script(_PUBLISH)
        self._contexts: dict[str, asyncio.Future[CallerContext]] = {}  # linkedid → its caller's context
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
        message = await self._message(effect)
        if message is None or not self._is_leader():
            return
        keys, args = self._call(message)
        self._publish.send(keys, args, f"desk message {message.id}")
        self.published += 1

    async def drained(self) -> None:
        """Return once every message published so far is in Redis (or failed: logged)."""
        await self._publish.rounds.drained()

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
        if isinstance(effect, AdvisorRinging):
            advisor_id = self._advisor_of(effect.interface)
            if advisor_id is None:
                return None
            display = french_display(effect.caller_number)
            self._ringing[effect.linkedid] = (advisor_id, effect.caller_number, display, effect.caller_name)
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
                caller_display=display,
                caller_name=effect.caller_name,
                wait_seconds=wait,
                menu_topic=effect.menu_topic,
                context=context,
            )
        known = self._ringing.get(effect.linkedid)
        if known is None:
            return None
        advisor_id, number, display, name = known
        base = {
            "linkedid": effect.linkedid,
            "advisor_id": advisor_id,
            "event_at": effect.at,
            "caller_number": number,
            "caller_display": display,
            "caller_name": name,
        }
        if isinstance(effect, AdvisorRingEnded) and effect.result is not RingResult.ANSWERED:
            if self._advisor_of(effect.interface) != advisor_id:
                return None
            del self._ringing[effect.linkedid]
            detail = "missed" if effect.result is RingResult.NO_ANSWER else "caller_gone"
            return DeskMessage(
                id=f"{effect.linkedid}:{advisor_id}:ring_ended", type="ring_ended", detail=detail, **base
            )
        if isinstance(effect, CallAnswered) and self._advisor_of(effect.interface) == advisor_id:
            return DeskMessage(id=f"{effect.linkedid}:{advisor_id}:answered", type="answered", **base)
        if (
            isinstance(effect, ConsultationStarted | ConsultationEnded)
            and self._advisor_of(effect.interface) == advisor_id
        ):
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
            del self._ringing[effect.linkedid]
            return DeskMessage(
                id=f"{effect.linkedid}:{advisor_id}:ended", type="ended", detail=effect.record.status.value, **base
            )
        return None

    async def publish(self, message: DeskMessage) -> None:
        """One message, waiting until it is in Redis (raises when Redis fails)."""
        keys, args = self._call(message)
        await self._publish(keys=keys, args=args)
        self.published += 1

    def _call(self, message: DeskMessage) -> tuple[list[str], list[str | int]]:
        payload = message.model_dump_json()
        return [pending_key(message.advisor_id), current_key(message.advisor_id)], [
            message.id,
            payload,
            PENDING_TTL,
            channel(self._redis, message.advisor_id),
            message.type,
            message.linkedid,
        ]


async def current_call(redis: aioredis.Redis, advisor_id: int) -> list[DeskMessage]:
    """The advisor's latest call not yet qualified: its pop and the latest message of each kind, oldest first
    (empty when there is none)."""
    raw = await redis.hgetall(current_key(advisor_id))
    messages = [DeskMessage.model_validate_json(v) for k, v in raw.items() if k not in (b"linkedid", "linkedid")]
    return sorted(messages, key=lambda m: (m.event_at, m.id))


async def call_done(redis: aioredis.Redis, advisor_id: int, linkedid: str) -> None:
    """The advisor qualified `linkedid`: if it is their current call, the page no longer shows it at a reload."""
    await redis.eval(_CALL_DONE, 1, current_key(advisor_id), linkedid)


async def pending(redis: aioredis.Redis, advisor_id: int) -> list[DeskMessage]:
    """Messages not yet acknowledged by the advisor's browser, oldest first."""
    raw = await redis.hgetall(pending_key(advisor_id))
    messages = [DeskMessage.model_validate_json(v) for v in raw.values()]
    return sorted(messages, key=lambda m: (m.event_at, m.id))


class Acknowledger:
    """Removes acknowledged messages from the pending hashes, in the instance's rounds (`storage.rounds`): the
    acknowledgements that arrive while a round is in flight leave together in the next one, so under load they
    cost one round trip per round rather than one each. If a round fails, every acknowledgement in it fails (the
    socket closes and the browser gets the message again at its reconnection, then acknowledges it)."""

    def __init__(self, redis: aioredis.Redis, rounds: Rounds | None = None) -> None:
        self._script = (rounds or Rounds(redis)).script(_ACKNOWLEDGE)

    @property
    def rounds(self) -> int:
        """Round trips of the rounds the acknowledgements go in."""
        return self._script.rounds.rounds

    async def __call__(self, advisor_id: int, message_id: str) -> DeskMessage | None:
        """Remove an acknowledged message; None when it is not one of this advisor's pending messages."""
        raw: bytes | None = await self._script(keys=[pending_key(advisor_id)], args=[message_id])
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
        self._redis = redis
        self._script = (rounds or Rounds(redis)).script(_PRESENCE)

    async def __call__(self, changes: list[StateChange]) -> None:
        args = _presence_args(self._redis, changes)
        if args:
            self._script.send([], args, f"presence of {len(changes)} advisor(s)")


def _presence_args(redis: aioredis.Redis, changes: list[StateChange]) -> list[str]:
    args: list[str] = []
    for change in changes:
        message = DeskMessage(
            id=f"presence:{change.advisor_id}:{change.at.timestamp()}",
            type="presence",
            linkedid=change.linkedid or "",
            advisor_id=change.advisor_id,
            event_at=change.at,
            detail=change.state.value,
        )
        args += [channel(redis, change.advisor_id), message.model_dump_json()]
    return args


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
