"""The live view: one typed picture of the calls in progress and of the advisors' states. Pure (no I/O, no clock).

Fed once, by the service loop (`telephony.pipeline.CallPipeline`), with every effect of the tracker before any
listener runs, so a listener reads the state *after* the effect it is handling; the advisors' states come from the
presence board's changes (`on_presence`). The screen pops, the desk (transfers, who took a call), the wallboard
(calls waiting, in progress, on hold) and later the switchboard read it; nobody keeps a copy of their own.

One eviction rule: an ended call stays `ended_kept` (its record is written within milliseconds, normally; a
qualification saved meanwhile still knows who took the call), then leaves the view at the next call's end; past
`max_calls` the oldest calls leave first (calls whose end was never seen).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from telephony.advisors import AdvisorState, StateChange
from telephony.effects import (
    AdvisorReleased,
    AdvisorRingEnded,
    AdvisorRinging,
    AnyEffect,
    CallAnswered,
    CallEnded,
    CallHeld,
    CallLeftQueue,
    CallQueued,
    CallRecordAmended,
    CallStarted,
    CallTransferred,
    CallUnheld,
    ConsultationEnded,
    ConsultationStarted,
)
from telephony.identity import french_display
from telephony.records import CallStatus, RingResult

ENDED_KEPT = timedelta(minutes=2)
MAX_CALLS = 10_000


class CallPhase(StrEnum):
    ARRIVED = "arrived"  # on the line, not in the queue (yet, or any more)
    WAITING = "waiting"  # in the queue, no advisor ringing
    RINGING = "ringing"  # an advisor's phone rings for it
    TALKING = "talking"  # with the advisor who answered
    CONSULTING = "consulting"  # attended transfer: the advisor consults a service, the caller on hold
    TRANSFERRED = "transferred"  # handed to a service: the advisor's part is over
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Ring:
    """An advisor's phone rung for a call."""

    interface: str
    started_at: datetime
    result: RingResult | None = None  # None while it rings


@dataclass(slots=True)
class LiveCall:
    """One call as the effects tell it so far. Read-only for everyone but the view."""

    linkedid: str
    arrived_at: datetime
    phase: CallPhase = CallPhase.ARRIVED
    caller_number: str | None = None  # E.164, None when withheld
    caller_number_raw: str = ""  # as Asterisk gave it (an internal extension has no E.164)
    caller_name: str | None = None
    caller_display: str = ""  # the number in French format, as the desk shows it ("03 21 00 00 01")
    line_open: bool = True
    queue: str | None = None
    queued_at: datetime | None = None
    menu_topic: str | None = None  # the caller's voice-menu choice (a topic key)
    ring: Ring | None = None  # the latest ring
    advisor: str | None = None  # the interface of the advisor who answered
    advisor_channel: str | None = None  # their leg (the transferer of a transfer)
    answered_at: datetime | None = None
    released_at: datetime | None = None  # the advisor's part is over (hang-up or transfer)
    consulting: str | None = None  # attended transfer in progress: the extension consulted
    transferred_to: str | None = None
    ended_at: datetime | None = None
    status: CallStatus | None = None  # once ended
    # hold (Asterisk's Hold/Unhold while the advisor is on the call, as the record counts it)
    on_hold_since: datetime | None = None  # the current hold span's start, None when not on hold
    hold_closed: timedelta = timedelta(0)  # the spans ended so far
    hold_count: int = 0  # spans started so far

    @property
    def on_hold(self) -> bool:
        return self.on_hold_since is not None

    def hold_so_far(self, now: datetime) -> timedelta:
        """The cumulative hold at `now`: the spans ended, plus the current one up to `now`."""
        since = self.on_hold_since
        return self.hold_closed + (max(timedelta(0), now - since) if since is not None else timedelta(0))

    @property
    def desk(self) -> str | None:
        """The interface of the advisor whose desk follows this call: the one rung last, unless that ring ended
        without being answered."""
        ring = self.ring
        return ring.interface if ring is not None and ring.result in (None, RingResult.ANSWERED) else None

    @property
    def in_progress(self) -> bool:
        return self.phase is not CallPhase.ENDED

    @property
    def with_advisor(self) -> bool:
        """The advisor who answered is on it (talking or consulting): it can be transferred."""
        return self.phase in (CallPhase.TALKING, CallPhase.CONSULTING)


def _end_hold(call: LiveCall, at: datetime) -> None:
    if call.on_hold_since is not None:
        call.hold_closed += max(timedelta(0), at - call.on_hold_since)
        call.on_hold_since = None


@dataclass(frozen=True, slots=True)
class AdvisorStatus:
    advisor_id: int
    state: AdvisorState
    since: datetime
    reason: str | None = None
    linkedid: str | None = None


class LiveView:
    def __init__(self, ended_kept: timedelta = ENDED_KEPT, max_calls: int = MAX_CALLS) -> None:
        self._ended_kept = ended_kept
        self._max_calls = max_calls
        self._calls: dict[str, LiveCall] = {}  # linkedid → call, in order of arrival
        self._ended: dict[str, datetime] = {}  # linkedid → end, in order of end
        self._advisors: dict[int, AdvisorStatus] = {}

    # ---- read side ----

    def call(self, linkedid: str) -> LiveCall | None:
        return self._calls.get(linkedid)

    def calls(self) -> Iterator[LiveCall]:
        """The calls in progress, in order of arrival."""
        return (c for c in self._calls.values() if c.phase is not CallPhase.ENDED)

    def recent(self) -> Iterator[LiveCall]:
        """Every call held: in progress, and ended within `ended_kept`, in order of arrival."""
        return iter(self._calls.values())

    def __len__(self) -> int:
        """Calls held, the recently ended included."""
        return len(self._calls)

    def taken_by(self, linkedid: str) -> str | None:
        """The interface of the advisor who answered this call, while it is in progress or just ended."""
        call = self._calls.get(linkedid)
        return None if call is None else call.advisor

    def advisor(self, advisor_id: int) -> AdvisorStatus | None:
        """The advisor's latest presence as the leading router decided it (None: no change seen yet)."""
        return self._advisors.get(advisor_id)

    # ---- the feed ----

    def on_presence(self, changes: Iterable[StateChange]) -> None:
        for change in changes:
            self._advisors[change.advisor_id] = AdvisorStatus(
                change.advisor_id, change.state, change.at, change.reason, change.linkedid
            )

    def apply(self, effect: AnyEffect) -> None:
        if not effect.linkedid:  # queue members (MemberUpdate, MembersResynced) are not calls
            return
        call = self._calls.get(effect.linkedid)
        if call is None:
            if isinstance(effect, CallEnded | CallRecordAmended):
                return  # ended before the view saw it (or evicted already): nothing to keep
            call = self._calls[effect.linkedid] = LiveCall(effect.linkedid, effect.at)
            self._bound()
        if isinstance(effect, CallStarted):
            call.arrived_at, call.line_open = effect.at, effect.line_open
            call.caller_number, call.caller_name = effect.caller_number, effect.caller_name
            call.caller_number_raw = effect.caller_number_raw
        elif isinstance(effect, CallQueued):
            call.queue, call.queued_at, call.menu_topic = effect.queue, effect.at, effect.topic
            call.caller_number = effect.caller_number or call.caller_number
            call.phase = CallPhase.WAITING
        elif isinstance(effect, CallLeftQueue):
            if call.phase is CallPhase.WAITING:
                call.phase = CallPhase.ARRIVED
        elif isinstance(effect, AdvisorRinging):
            call.ring = Ring(effect.interface, effect.at)
            call.caller_number, call.caller_name = effect.caller_number, effect.caller_name
            call.caller_display = french_display(effect.caller_number)
            call.queued_at = call.queued_at or effect.queue_entered_at
            call.menu_topic = call.menu_topic or effect.menu_topic
            call.phase = CallPhase.RINGING
        elif isinstance(effect, AdvisorRingEnded):
            ring = call.ring
            if ring is not None and ring.interface == effect.interface and ring.result is None:
                call.ring = Ring(ring.interface, ring.started_at, effect.result)
                if effect.result is not RingResult.ANSWERED and call.phase is CallPhase.RINGING:
                    call.phase = CallPhase.WAITING if call.queued_at is not None else CallPhase.ARRIVED
        elif isinstance(effect, CallAnswered):
            call.advisor, call.advisor_channel, call.answered_at = effect.interface, effect.advisor_channel, effect.at
            call.phase = CallPhase.TALKING
        elif isinstance(effect, AdvisorReleased):
            call.released_at = effect.at
            _end_hold(call, effect.at)  # a hold still open ends with the advisor's part, as in the record
        elif isinstance(effect, CallHeld):
            if call.with_advisor and call.released_at is None and call.on_hold_since is None:
                call.on_hold_since, call.hold_count = effect.at, call.hold_count + 1
        elif isinstance(effect, CallUnheld):
            _end_hold(call, effect.at)  # an Unhold without a Hold changes nothing
        elif isinstance(effect, ConsultationStarted):
            if call.with_advisor:
                call.consulting, call.phase = effect.target, CallPhase.CONSULTING
        elif isinstance(effect, ConsultationEnded):
            if call.phase is CallPhase.CONSULTING:
                call.consulting, call.phase = None, CallPhase.TALKING
        elif isinstance(effect, CallTransferred):
            call.transferred_to, call.consulting, call.phase = effect.target, None, CallPhase.TRANSFERRED
            _end_hold(call, effect.at)
        elif isinstance(effect, CallEnded):
            _end_hold(call, effect.at)
            call.ended_at, call.status, call.phase = effect.at, effect.record.status, CallPhase.ENDED
            self._ended[call.linkedid] = effect.at
            self._evict(effect.at - self._ended_kept)

    # ---- eviction ----

    def _evict(self, horizon: datetime) -> None:
        """The calls ended before `horizon` leave (ends arrive in order, so the oldest are first)."""
        while self._ended:
            linkedid, ended = next(iter(self._ended.items()))
            if ended >= horizon:
                break
            del self._ended[linkedid]
            self._calls.pop(linkedid, None)

    def _bound(self) -> None:
        while len(self._calls) > self._max_calls:
            linkedid = next(iter(self._calls))
            del self._calls[linkedid]
            self._ended.pop(linkedid, None)
