"""The call tracker: a pure state machine from typed AMI events to call facts and effects.

No I/O, no clock: every event carries its time. `CallTracker.apply(event)` returns the effects
(`telephony.effects`) the service loop executes. Correlation follows the AMI notes §3: channels are
keyed by Uniqueid; a Linkedid groups them; a known Uniqueid showing a new Linkedid merges the groups.
A call is a group that contains a leg of the public line (inbound context + public number) or that
joined the line's queue.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from config.settings import LineSettings, OpeningHours
from telephony import events as ev
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
from telephony.hours import is_open
from telephony.identity import caller_name, clean_text, e164
from telephony.records import CallRecord, CallStatus, HangupBy, RingAttempt, RingResult, TransferKind

log = logging.getLogger(__name__)

TOMBSTONES = 20_000  # recently hung-up channels remembered, so a late snapshot cannot revive them
RECENT = 5_000  # recently ended calls remembered, so Asterisk's Shutdown can amend their records
SHUTDOWN_WINDOW = timedelta(seconds=15)  # calls ended this long before a Shutdown may have been cut by it


def channel_base(channel: str) -> str:
    """`Local/101@phones-00000005;2` → `Local/101@phones-00000005` (both halves of a Local pair)."""
    return channel[:-2] if channel[-2:] in (";1", ";2") else channel


def _member_of(channel: str, location: str) -> bool:
    """Whether a channel name belongs to a queue member interface (`PJSIP/adv1` ↔ `PJSIP/adv1-0000002a`)."""
    return channel.startswith(location + "-") or channel == location


@dataclass
class _Leg:
    uniqueid: str
    linkedid: str
    channel: str
    created_at: datetime
    call: str | None = None
    exten: str = ""  # where the channel was created (a consultation leg's exten is the transfer target)

    @property
    def base(self) -> str:
        return channel_base(self.channel)


@dataclass
class _Ring:
    interface: str
    member_name: str
    dest_uniqueid: str
    dest_base: str
    started_at: datetime
    ended_at: datetime | None = None
    result: RingResult | None = None


@dataclass
class _Call:
    key: str
    arrived_at: datetime
    line_open: bool
    called_number: str
    caller_num_raw: str = ""
    caller_name_raw: str = ""
    inbound: set[str] = field(default_factory=set)  # uniqueids of the public line's legs
    live: set[str] = field(default_factory=set)
    linkedids: set[str] = field(default_factory=set)  # the group's linkedids (forgotten with the call)
    queue: str | None = None
    queue_entered_at: datetime | None = None
    queue_left_at: datetime | None = None
    abandoned_at: datetime | None = None
    rings: list[_Ring] = field(default_factory=list)
    answered_at: datetime | None = None
    advisor_interface: str | None = None
    advisor_name: str | None = None
    advisor_base: str | None = None
    bridge: str | None = None  # the bridge where the advisor talks with the caller
    bridge_entered_at: datetime | None = None  # the advisor's last entry into it
    consulting: bool = False  # attended transfer: the advisor is in another bridge, the caller on hold
    talk_ended_at: datetime | None = None
    transfer_kind: TransferKind | None = None
    transfer_target: str | None = None
    transferred_at: datetime | None = None
    hangup_by: HangupBy | None = None  # from the order of Hangup events
    first_leave: HangupBy | None = None  # who left the advisor's bridge first (more reliable, see _on_BridgeLeave)
    caller_gone_at: datetime | None = None
    hangup_cause: int | None = None
    hangup_cause_text: str | None = None
    reconstructed: bool = False
    topic: str | None = None  # voice-menu choice (UserEvent GpsTopic)
    released: bool = False  # AdvisorReleased emitted
    cause_zero: bool = False  # a leg hung up with Cause 0 (no cause: Asterisk cut it, e.g. while shutting down)
    system_ended: bool = False  # Asterisk ended it (its Shutdown), whoever's hang-up came first
    held: set[str] = field(default_factory=set)  # uniqueids of the parties' legs that hold the conversation now
    hold_since: datetime | None = None  # the current hold span's start (while `held` is not empty)
    hold_total: timedelta = timedelta(0)  # closed hold spans
    hold_count: int = 0

    def open_ring(self, interface: str) -> _Ring | None:
        for ring in reversed(self.rings):
            if ring.interface == interface and ring.result is None:
                return ring
        return None


class CallTracker:
    """Tracks every call on the public line. Deterministic: same events in, same effects out."""

    def __init__(self, line: LineSettings, hours: OpeningHours) -> None:
        self._line = line
        self._hours = hours
        self._inbound_contexts = frozenset(line.inbound_contexts)
        self._public_numbers = frozenset(line.public_numbers)
        self._legs: dict[str, _Leg] = {}
        self._by_linkedid: dict[str, set[str]] = {}  # linkedid → uniqueids of the live legs carrying it
        self._groups: dict[str, str] = {}  # linkedid → call key
        self._calls: dict[str, _Call] = {}
        self._gone: OrderedDict[str, None] = OrderedDict()
        self._recent: OrderedDict[str, tuple[_Call, datetime]] = OrderedDict()  # ended calls, oldest first
        self.link_down_since: datetime | None = None
        self.shutdown_at: datetime | None = None  # Asterisk said it stops; cleared by the next snapshot

    # ---- read side (for tests, resync and the desk) ----

    @property
    def open_calls(self) -> int:
        return len(self._calls)

    @property
    def channels(self) -> int:
        return len(self._legs)

    def call_of(self, linkedid: str) -> str | None:
        return self._groups.get(linkedid)

    # ---- the transition function ----

    def apply(self, event: ev.AmiEvent) -> list[AnyEffect]:
        handler = _HANDLERS.get(type(event))
        if handler is None:
            return []
        return handler(self, event)

    # channel bookkeeping shared by every channel event
    def _touch(self, e: ev.ChannelEvent) -> _Leg | None:
        leg = self._legs.get(e.uniqueid)
        if leg is None:
            if e.uniqueid in self._gone:
                return None
            leg = self._add_leg(_Leg(e.uniqueid, e.linkedid, e.channel, e.at, exten=e.exten[:80]))
            key = self._groups.get(e.linkedid)
            if key is not None:
                self._attach(leg, self._calls[key])
            return leg
        if e.channel:
            leg.channel = e.channel
        if e.linkedid != leg.linkedid:
            self._merge(leg, e.linkedid)
        return leg

    # Legs are indexed by linkedid, so that starting, merging and ending a call cost what the call holds, not what
    # the tracker holds: a storm of 20,000 calls (issue 11, item 12) scanned every leg at each new call and every
    # group at each end, O(n²).
    def _add_leg(self, leg: _Leg) -> _Leg:
        self._legs[leg.uniqueid] = leg
        self._by_linkedid.setdefault(leg.linkedid, set()).add(leg.uniqueid)
        return leg

    def _pop_leg(self, uniqueid: str) -> _Leg | None:
        leg = self._legs.pop(uniqueid, None)
        if leg is not None:
            self._unindex(leg)
        return leg

    def _unindex(self, leg: _Leg) -> None:
        uids = self._by_linkedid.get(leg.linkedid)
        if uids is not None:
            uids.discard(leg.uniqueid)
            if not uids:
                del self._by_linkedid[leg.linkedid]

    def _unattached(self, *linkedids: str) -> list[_Leg]:
        """Live legs carrying one of these linkedids and not yet part of a call."""
        legs = (self._legs[uid] for lid in linkedids for uid in self._by_linkedid.get(lid, ()))
        return [leg for leg in legs if leg.call is None]

    def _group(self, linkedid: str, call: _Call) -> None:
        self._groups[linkedid] = call.key
        call.linkedids.add(linkedid)

    def _attach(self, leg: _Leg, call: _Call) -> None:
        leg.call = call.key
        call.live.add(leg.uniqueid)

    def _merge(self, leg: _Leg, new_linkedid: str) -> None:
        """A known channel shows a new Linkedid: its group and the new one are now one call."""
        old = leg.linkedid
        self._unindex(leg)
        leg.linkedid = new_linkedid
        self._by_linkedid.setdefault(new_linkedid, set()).add(leg.uniqueid)
        key_old = self._groups.get(old)
        key_new = self._groups.get(new_linkedid)
        if key_new is None and key_old is not None:
            self._group(new_linkedid, self._calls[key_old])
            for other in self._unattached(new_linkedid):
                self._attach(other, self._calls[key_old])
        elif key_new is not None and key_old is None:
            self._group(old, self._calls[key_new])
            for other in self._unattached(old, new_linkedid):
                self._attach(other, self._calls[key_new])
        elif key_new is not None and key_old is not None and key_new != key_old:
            # Two calls of the line bridged together (rare): each keeps its own record.
            log.info("linkedid=%s merges with linkedid=%s; records kept apart", key_old, key_new)

    def _is_inbound(self, context: str, exten: str) -> bool:
        return context in self._inbound_contexts and exten in self._public_numbers

    def _start_call(self, key: str, at: datetime, called: str) -> tuple[_Call, list[AnyEffect]]:
        call = _Call(key=key, arrived_at=at, line_open=is_open(at, self._hours), called_number=called[:32])
        self._calls[key] = call
        self._group(key, call)
        for leg in self._unattached(key):
            self._attach(leg, call)
        return call, [self._started(call, at)]

    def _started(self, call: _Call, at: datetime) -> CallStarted:
        return CallStarted(
            linkedid=call.key,
            at=at,
            caller_number=e164(call.caller_num_raw, self._line.default_region),
            caller_name=caller_name(call.caller_name_raw),
            caller_number_raw=clean_text(call.caller_num_raw, 80),
            line_open=call.line_open,
        )

    def _call_for(self, linkedid: str) -> _Call | None:
        key = self._groups.get(linkedid)
        return self._calls.get(key) if key is not None else None

    @staticmethod
    def _set_caller(call: _Call, num: str, name: str) -> None:
        if num and num != "<unknown>":
            call.caller_num_raw = num
        if name and name != "<unknown>":
            call.caller_name_raw = name

    def _on_Newchannel(self, e: ev.Newchannel) -> list[AnyEffect]:
        leg = self._touch(e)
        if leg is None:
            return []
        out: list[AnyEffect] = []
        if self._is_inbound(e.context, e.exten):
            call = self._call_for(e.linkedid)
            if call is None:
                call, out = self._start_call(e.linkedid, e.at, e.exten)
            call.inbound.add(e.uniqueid)
            self._set_caller(call, e.caller_num, e.caller_name)
        return out

    def _on_NewCallerid(self, e: ev.NewCallerid) -> list[AnyEffect]:
        self._touch(e)
        call = self._call_for(e.linkedid)
        if call is not None and e.uniqueid in call.inbound and call.answered_at is None:
            self._set_caller(call, e.caller_num, e.caller_name)
        return []

    def _advisor_call(self, leg: _Leg | None) -> _Call | None:
        """The answered, not yet transferred call whose advisor this leg is."""
        call = self._calls.get(leg.call) if leg is not None and leg.call is not None else None
        if call is None or call.answered_at is None or call.transferred_at is not None:
            return None
        return call if call.advisor_base is not None and leg is not None and leg.base == call.advisor_base else None

    def _on_BridgeEnter(self, e: ev.BridgeEnter) -> list[AnyEffect]:
        """The advisor's leg entering a bridge other than the caller's is an attended transfer's consultation
        (AMI Atxfer or the phone's feature code: the caller stays on hold in the first bridge); entering the
        caller's bridge again ends it (cancelled, or the target hung up)."""
        call = self._advisor_call(self._touch(e))
        if call is None or call.advisor_interface is None or not e.bridge:
            return []
        if call.bridge is None:
            call.bridge, call.bridge_entered_at = e.bridge, e.at
        elif e.bridge != call.bridge and not call.consulting:
            call.consulting = True
            target = min(self._consult_legs(call), key=lambda leg: leg.created_at, default=None)
            return [
                ConsultationStarted(
                    linkedid=call.key,
                    at=e.at,
                    interface=call.advisor_interface,
                    target=target.exten if target is not None else "",
                )
            ]
        elif e.bridge == call.bridge and call.consulting:
            call.consulting, call.bridge_entered_at = False, e.at
            return [ConsultationEnded(linkedid=call.key, at=e.at, interface=call.advisor_interface)]
        return []

    def _consult_legs(self, call: _Call, since: datetime | None = None) -> list[_Leg]:
        """Live legs of the call created after the answer (or `since`) that are neither the caller's nor the
        advisor's: an attended transfer's consultation with its target."""
        start = since or call.answered_at
        if start is None:
            return []
        return [
            leg
            for leg in (self._legs[uid] for uid in call.live)
            if leg.created_at >= start
            and leg.uniqueid not in call.inbound
            and leg.base != call.advisor_base
            and leg.exten
        ]

    def _on_BridgeLeave(self, e: ev.BridgeLeave) -> list[AnyEffect]:
        """Who left the conversation first says who hung up: Hangup events of the two parties can come in
        either order (a Local channel's Hangup is published after its peer's, seen on Asterisk 22)."""
        leg = self._touch(e)
        call = self._calls.get(leg.call) if leg is not None and leg.call is not None else None
        if leg is None or call is None or call.answered_at is None or call.transferred_at is not None:
            return []
        if self._advisor_call(leg) is not None and (
            call.consulting or (e.bridge == call.bridge and self._consult_legs(call, call.bridge_entered_at))
        ):
            # not a hang-up: the advisor moves to a consultation (Asterisk creates its leg first), or leaves it
            # (AttendedTransfer, or back to the caller, follows). A consultation cancelled just before is older
            # than the advisor's return to the caller: its legs, maybe not gone yet, do not count.
            return []
        if call.first_leave is None:
            side = self._side(call, leg)
            if side in (HangupBy.ADVISOR, HangupBy.CALLER):
                call.first_leave = side
                if side is HangupBy.ADVISOR:
                    return self._end_talk(call, e.at)
        return []

    def _on_UserEvent(self, e: ev.UserEvent) -> list[AnyEffect]:
        call = self._call_for(e.linkedid) if e.linkedid else None
        if call is not None and e.name == "GpsTopic":
            topic = e.topic.strip().lower()
            call.topic = topic if topic.replace("_", "").isalnum() and len(topic) <= 40 else None
        return []

    def _on_QueueCallerJoin(self, e: ev.QueueCallerJoin) -> list[AnyEffect]:
        self._touch(e)
        out: list[AnyEffect] = []
        call = self._call_for(e.linkedid)
        if call is None:
            call, out = self._start_call(e.linkedid, e.at, e.exten)
        call.inbound.add(e.uniqueid)
        self._set_caller(call, e.caller_num, e.caller_name)
        call.queue = e.queue[:80]
        call.queue_entered_at = e.at
        out.append(
            CallQueued(
                linkedid=call.key,
                at=e.at,
                queue=call.queue,
                caller_number=e164(call.caller_num_raw, self._line.default_region),
                topic=call.topic,
            )
        )
        return out

    def _on_QueueCallerAbandon(self, e: ev.QueueCallerAbandon) -> list[AnyEffect]:
        self._touch(e)
        call = self._call_for(e.linkedid)
        if call is not None and call.answered_at is None:
            call.abandoned_at = e.at
            call.caller_gone_at = call.caller_gone_at or e.at
            call.queue_left_at = call.queue_left_at or call.caller_gone_at
        return []

    def _on_QueueCallerLeave(self, e: ev.QueueCallerLeave) -> list[AnyEffect]:
        self._touch(e)
        call = self._call_for(e.linkedid)
        if call is None:
            return []
        if call.queue_left_at is None:
            call.queue_left_at = e.at
        return [CallLeftQueue(linkedid=call.key, at=e.at)]

    def _on_AgentCalled(self, e: ev.AgentCalled) -> list[AnyEffect]:
        self._touch(e)
        call = self._call_for(e.linkedid)
        if call is None:
            return []
        call.rings.append(
            _Ring(e.interface[:200], e.member_name[:200], e.dest_uniqueid, channel_base(e.dest_channel), e.at)
        )
        return [
            AdvisorRinging(
                linkedid=call.key,
                at=e.at,
                interface=e.interface[:200],
                member_name=e.member_name[:200],
                caller_number=e164(call.caller_num_raw, self._line.default_region),
                caller_name=caller_name(call.caller_name_raw),
                queue_entered_at=call.queue_entered_at,
                menu_topic=call.topic,
            )
        ]

    def _end_ring(self, call: _Call, ring: _Ring, at: datetime, result: RingResult) -> AdvisorRingEnded:
        ring.ended_at = at
        ring.result = result
        return AdvisorRingEnded(linkedid=call.key, at=at, interface=ring.interface, result=result)

    def _on_AgentRingNoAnswer(self, e: ev.AgentRingNoAnswer) -> list[AnyEffect]:
        self._touch(e)
        call = self._call_for(e.linkedid)
        ring = call.open_ring(e.interface) if call is not None else None
        if call is None or ring is None:
            return []
        return [self._end_ring(call, ring, e.at, RingResult.NO_ANSWER)]

    def _on_DialEnd(self, e: ev.DialEnd) -> list[AnyEffect]:
        if not e.uniqueid:
            return []
        self._touch(e)
        call = self._call_for(e.linkedid)
        if call is None or not e.dest_uniqueid:
            return []
        for ring in call.rings:
            if ring.dest_uniqueid == e.dest_uniqueid and ring.result is None:
                status = e.dial_status.upper()
                if status == "ANSWER":
                    return []  # AgentConnect follows and closes the ring as answered
                if status == "NOANSWER":
                    result = RingResult.NO_ANSWER
                elif status == "CANCEL" and call.answered_at is None:
                    result = RingResult.CALLER_GONE
                else:
                    result = RingResult.OTHER
                return [self._end_ring(call, ring, e.at, result)]
        return []

    def _on_AgentConnect(self, e: ev.AgentConnect) -> list[AnyEffect]:
        self._touch(e)
        call = self._call_for(e.linkedid)
        if call is None or call.answered_at is not None:
            return []
        out: list[AnyEffect] = []
        call.answered_at = e.at
        call.advisor_interface = e.interface[:200]
        call.advisor_name = clean_text(e.member_name, 200) or None
        call.advisor_base = channel_base(e.dest_channel)
        call.queue_left_at = e.at  # answered: it left the queue then (QueueCallerLeave came a few ms before)
        ring = call.open_ring(e.interface)
        if ring is not None:
            out.append(self._end_ring(call, ring, e.at, RingResult.ANSWERED))
        out.append(CallAnswered(linkedid=call.key, at=e.at, interface=e.interface, advisor_channel=e.dest_channel))
        return out

    def _on_AgentComplete(self, e: ev.AgentComplete) -> list[AnyEffect]:
        call = self._call_for(e.linkedid) if e.linkedid else None
        if call is None:  # may come without a channel snapshot: correlate by interface
            for candidate in self._calls.values():
                if candidate.advisor_interface == e.interface and candidate.talk_ended_at is None:
                    call = candidate
                    break
        if call is not None and call.answered_at is not None:
            return self._end_talk(call, e.at)
        return []

    # ---- hold: Hold/Unhold on the caller's or the advisor's legs while they talk ----

    def _party(self, e: ev.ChannelEvent) -> tuple[_Call, _Leg] | None:
        """The talking call this leg is a party of (the caller's inbound leg, or either half of the advisor's)."""
        leg = self._touch(e)
        call = self._calls.get(leg.call) if leg is not None and leg.call is not None else None
        if leg is None or call is None or call.answered_at is None or call.talk_ended_at is not None:
            return None
        if call.transferred_at is not None:
            return None
        if leg.uniqueid in call.inbound or (call.advisor_base is not None and leg.base == call.advisor_base):
            return call, leg
        return None

    def _on_Hold(self, e: ev.Hold) -> list[AnyEffect]:
        """A party puts the conversation on hold. A second Hold of the same leg, or of the other party while it is
        held, continues the same span (one span per stretch of hold, whoever holds)."""
        party = self._party(e)
        if party is not None:
            call, leg = party
            call.held.add(leg.uniqueid)
            if call.hold_since is None:
                call.hold_since = max(e.at, call.answered_at or e.at)
                call.hold_count += 1
                return [CallHeld(linkedid=call.key, at=call.hold_since)]
        return []

    def _on_Unhold(self, e: ev.Unhold) -> list[AnyEffect]:
        """The party takes the conversation off hold; an Unhold without a Hold changes nothing."""
        party = self._party(e)
        if party is not None:
            call, leg = party
            call.held.discard(leg.uniqueid)
            if not call.held and call.hold_since is not None:
                self._close_hold(call, e.at)
                return [CallUnheld(linkedid=call.key, at=e.at)]
        return []

    @staticmethod
    def _close_hold(call: _Call, at: datetime) -> None:
        if call.hold_since is not None:
            call.hold_total += max(timedelta(0), at - call.hold_since)
        call.hold_since = None
        call.held.clear()

    def _end_talk(self, call: _Call, at: datetime) -> list[AnyEffect]:
        """The advisor's part is over (first signal wins): talk time stops, wrap-up may start. A hold still open
        ends there (the hang-up or the transfer)."""
        if call.talk_ended_at is None:
            call.talk_ended_at = at
            self._close_hold(call, at)
        if call.released or call.advisor_interface is None:
            return []
        call.released = True
        return [AdvisorReleased(linkedid=call.key, at=at, interface=call.advisor_interface)]

    def _transfer(self, call: _Call | None, at: datetime, kind: TransferKind, target: str) -> list[AnyEffect]:
        if call is None or call.answered_at is None or call.transferred_at is not None:
            return []
        call.transfer_kind = kind
        call.transfer_target = clean_text(target, 80) or None
        call.transferred_at = at
        call.consulting = False
        released = self._end_talk(call, at)
        call.talk_ended_at = at  # the advisor's part ends at the transfer (its BridgeLeave may come a moment before)
        return [
            CallTransferred(linkedid=call.key, at=at, transfer_kind=kind, target=call.transfer_target or ""),
            *released,
        ]

    def _call_of_uniqueids(self, *uniqueids: str) -> _Call | None:
        for uid in uniqueids:
            leg = self._legs.get(uid)
            if leg is not None and leg.call is not None:
                return self._calls.get(leg.call)
        return None

    def _on_BlindTransfer(self, e: ev.BlindTransfer) -> list[AnyEffect]:
        if e.result.lower() != "success":
            return []
        call = self._call_for(e.transferee_linkedid) or self._call_of_uniqueids(
            e.transferee_uniqueid, e.transferer_uniqueid
        )
        return self._transfer(call, e.at, TransferKind.BLIND, e.extension)

    def _on_AttendedTransfer(self, e: ev.AttendedTransfer) -> list[AnyEffect]:
        if e.result.lower() != "success":
            return []
        call = (
            self._call_for(e.transferee_linkedid)
            or self._call_for(e.orig_transferer_linkedid)
            or self._call_of_uniqueids(e.transferee_uniqueid, e.orig_transferer_uniqueid)
        )
        return self._transfer(call, e.at, TransferKind.ATTENDED, self._attended_target(call, e))

    def _attended_target(self, call: _Call | None, e: ev.AttendedTransfer) -> str:
        """Asterisk 22 names the target only sometimes (TransferTarget* missing with DestType=Bridge,
        seen on the rig): else the consultation leg's extension, else the second transferer's."""
        if e.transfer_target_exten:
            return e.transfer_target_exten
        if call is not None:
            consult = self._consult_legs(call)
            if consult:
                return min(consult, key=lambda leg: leg.created_at).exten
        exten = e.second_transferer_exten
        return "" if exten in self._public_numbers else exten

    def _side(self, call: _Call, leg: _Leg) -> HangupBy | None:
        """Which party a hung-up leg belongs to; None for legs that do not decide (unanswered rings)."""
        base = leg.base
        if call.advisor_base is not None and base == call.advisor_base:
            # while consulting, the advisor's hang-up completes the transfer: the caller and target decide
            return HangupBy.ADVISOR if call.transferred_at is None and not call.consulting else None
        if any(ring.dest_base == base for ring in call.rings):
            return None
        if call.answered_at is not None and leg.created_at > call.answered_at and leg.uniqueid not in call.inbound:
            return HangupBy.TRANSFER_TARGET if call.transferred_at is not None else None
        return HangupBy.CALLER

    def _on_Hangup(self, e: ev.Hangup) -> list[AnyEffect]:
        leg = self._pop_leg(e.uniqueid)
        self._gone[e.uniqueid] = None
        if len(self._gone) > TOMBSTONES:
            self._gone.popitem(last=False)
        if leg is None or leg.call is None:
            return []
        call = self._calls.get(leg.call)
        if call is None:
            return []
        call.live.discard(leg.uniqueid)
        if e.cause == 0:
            call.cause_zero = True
        side = self._side(call, leg)
        out: list[AnyEffect] = self._end_talk(call, e.at) if side is HangupBy.ADVISOR else []
        if side is not None and call.hangup_by is None:
            call.hangup_by = side
            if side is HangupBy.CALLER and call.caller_gone_at is None:
                call.caller_gone_at = e.at
                if call.queue_entered_at is not None and call.answered_at is None and call.queue_left_at is None:
                    # the caller hung up while waiting: Asterisk says so (QueueCallerAbandon) only later
                    call.queue_left_at = e.at
                    out.append(CallLeftQueue(linkedid=call.key, at=e.at))
        if leg.uniqueid in call.inbound and call.hangup_cause is None:
            call.hangup_cause = e.cause if e.cause is not None and 0 <= e.cause <= 65535 else None
            call.hangup_cause_text = clean_text(e.cause_txt, 80) or None
        if not call.live:
            out.extend(self._finish(call, e.at))
        return out

    def _on_Shutdown(self, e: ev.Shutdown) -> list[AnyEffect]:
        """Asterisk stops: calls it cut say so. With `core stop|restart now` it hangs up every channel first (Cause 0
        on the channels it cut; the others follow their peer with 16), then publishes Shutdown: the calls that ended
        just before with a Cause-0 hang-up get their records amended (`hangup_by = system`). Calls still up end
        with the same verdict (their hang-ups, or the snapshot after the restart)."""
        self.shutdown_at = e.at
        out = self._amend_cut(e.at)
        for call in self._calls.values():
            call.system_ended = True
        return out

    def _amend_cut(self, at: datetime) -> list[AnyEffect]:
        """The calls that ended within `SHUTDOWN_WINDOW` before `at` with a Cause-0 hang-up (Asterisk cut them):
        their records amended to say the system ended them, once."""
        out: list[AnyEffect] = []
        for call, ended_at in reversed(self._recent.values()):
            if ended_at < at - SHUTDOWN_WINDOW:
                break
            if call.cause_zero and not call.system_ended:
                call.system_ended = True
                out.append(CallRecordAmended(linkedid=call.key, at=at, record=self.record(call, ended_at)))
        return out

    def _on_LinkDown(self, e: ev.LinkDown) -> list[AnyEffect]:
        """The link is lost. Asterisk stopping may close the AMI session before its Shutdown reaches us (seen once on
        the rig with `core restart now`: the link closed, no Shutdown): the calls it had just cut (Cause 0) are
        amended all the same; a link lost while no call ended with Cause 0 amends nothing."""
        if self.link_down_since is None:
            self.link_down_since = e.at
        return self._amend_cut(e.at)

    # ---- snapshot after a (re)connect ----

    def _on_Snapshot(self, e: ev.Snapshot) -> list[AnyEffect]:
        present = {c.uniqueid: c for c in e.channels}
        out: list[AnyEffect] = []
        # 1. channels we hold that Asterisk no longer has: they hung up while we could not see.
        for uid in [uid for uid in self._legs if uid not in present]:
            leg = self._pop_leg(uid)
            assert leg is not None
            self._gone[uid] = None
            call = self._calls.get(leg.call) if leg.call is not None else None
            if call is not None:
                call.live.discard(uid)
                call.reconstructed = True
                call.system_ended = call.system_ended or self.shutdown_at is not None
        for call in [c for c in self._calls.values() if not c.live]:
            out.extend(self._finish(call, e.at))
        # 2. channels Asterisk has that we do not know: calls already up when we (re)started.
        waits = {q.uniqueid: q for q in e.queue_entries if q.uniqueid}
        for snap in e.channels:
            if snap.uniqueid in self._legs or snap.uniqueid in self._gone:
                continue
            started = e.at - timedelta(seconds=snap.duration_seconds)
            leg = self._add_leg(_Leg(snap.uniqueid, snap.linkedid, snap.channel, started))
            call = self._call_for(snap.linkedid)
            entry = waits.get(snap.uniqueid)
            if call is None and (self._is_inbound(snap.context, snap.exten) or entry is not None):
                call, started_fx = self._start_call(snap.linkedid, started, snap.exten)
                call.reconstructed = True
                out.extend(started_fx)
            if call is None:
                continue
            self._attach(leg, call)
            if self._is_inbound(snap.context, snap.exten) or entry is not None:
                call.inbound.add(snap.uniqueid)
                self._set_caller(call, snap.caller_num, snap.caller_name)
                call.arrived_at = min(call.arrived_at, started)
            if entry is not None and call.queue_entered_at is None:
                call.queue = entry.queue[:80]
                call.queue_entered_at = e.at - timedelta(seconds=entry.wait or 0)
        self._adopt_connected(e)
        self.link_down_since = None
        self.shutdown_at = None
        return out

    def _adopt_connected(self, e: ev.Snapshot) -> None:
        """Calls found bridged to a queue member's channel: answered before we could see it."""
        members = [m for m in e.queue_members if m.in_call]
        if not members:
            return
        by_bridge: dict[str, list[ev.SnapshotChannel]] = {}
        for snap in e.channels:
            if snap.bridge:
                by_bridge.setdefault(snap.bridge, []).append(snap)
        for call in self._calls.values():
            if call.answered_at is not None or not call.reconstructed:
                continue
            bridges = {s.bridge for s in e.channels if s.uniqueid in call.inbound and s.bridge}
            peers = [p for b in bridges for p in by_bridge[b] if p.uniqueid not in call.inbound]
            for peer in peers:
                member = next((m for m in members if _member_of(channel_base(peer.channel), m.location)), None)
                if member is not None:
                    call.answered_at = e.at - timedelta(seconds=peer.duration_seconds)
                    call.advisor_interface = member.location[:200]
                    call.advisor_name = clean_text(member.name, 200) or None
                    call.advisor_base = channel_base(peer.channel)
                    break

    # ---- the record ----

    def _finish(self, call: _Call, at: datetime) -> list[AnyEffect]:
        self._calls.pop(call.key, None)
        for linkedid in call.linkedids:
            if self._groups.get(linkedid) == call.key:
                del self._groups[linkedid]
        out = self._end_talk(call, at) if call.answered_at is not None else []
        out.append(CallEnded(linkedid=call.key, at=at, record=self.record(call, at)))
        self._recent[call.key] = (call, at)
        if len(self._recent) > RECENT:
            self._recent.popitem(last=False)
        return out

    def record(self, call: _Call, ended_at: datetime) -> CallRecord:
        """The call's record (durations are derived by the record from the times it holds)."""
        status, hangup_by = self._classify(call)
        unfinished = RingResult.CALLER_GONE if status is CallStatus.ABANDONED_RINGING else RingResult.OTHER
        return CallRecord(
            linkedid=call.key,
            caller_number=e164(call.caller_num_raw, self._line.default_region),
            caller_number_raw=clean_text(call.caller_num_raw, 80),
            caller_name=caller_name(call.caller_name_raw),
            called_number=call.called_number,
            arrived_at=call.arrived_at,
            line_open=call.line_open,
            queue=call.queue,
            menu_topic=call.topic,
            queue_entered_at=call.queue_entered_at,
            queue_left_at=call.queue_left_at,
            rings=tuple(
                RingAttempt(
                    interface=r.interface,
                    member_name=clean_text(r.member_name, 200),
                    started_at=r.started_at,
                    ended_at=r.ended_at or ended_at,
                    result=r.result or unfinished,
                )
                for r in call.rings
            ),
            answered_at=call.answered_at,
            advisor_interface=call.advisor_interface,
            advisor_name=call.advisor_name,
            transfer_kind=call.transfer_kind,
            transfer_target=call.transfer_target,
            transferred_at=call.transferred_at,
            talk_ended_at=(call.talk_ended_at or ended_at) if call.answered_at is not None else None,
            hold_seconds=self._hold_seconds(call, ended_at),
            hold_count=call.hold_count,
            ended_at=ended_at,
            hangup_by=hangup_by,
            hangup_cause=call.hangup_cause,
            hangup_cause_text=call.hangup_cause_text,
            status=status,
            reconstructed=call.reconstructed,
        )

    @staticmethod
    def _hold_seconds(call: _Call, ended_at: datetime) -> float:
        """Closed spans, plus one still open (the call ends without its talk having ended) up to the end."""
        total = call.hold_total
        if call.hold_since is not None:
            total += max(timedelta(0), (call.talk_ended_at or ended_at) - call.hold_since)
        return total.total_seconds()

    @staticmethod
    def _classify(call: _Call) -> tuple[CallStatus, HangupBy]:
        unknown = HangupBy.UNKNOWN if call.reconstructed else HangupBy.SYSTEM
        if call.system_ended:  # Asterisk cut it: nobody hung up, and a waiting caller did not abandon
            if call.answered_at is not None:
                return CallStatus.ANSWERED, HangupBy.SYSTEM
            if call.queue_entered_at is None and not call.line_open:
                return CallStatus.CLOSED, HangupBy.SYSTEM
            return CallStatus.FAILED, HangupBy.SYSTEM
        if call.answered_at is not None:
            if call.transferred_at is None and call.first_leave is not None:
                return CallStatus.ANSWERED, call.first_leave
            return CallStatus.ANSWERED, call.hangup_by or unknown
        if call.queue_entered_at is None:
            if not call.line_open:
                return CallStatus.CLOSED, HangupBy.SYSTEM
            return CallStatus.FAILED, call.hangup_by or unknown
        moments = [t for t in (call.abandoned_at, call.caller_gone_at) if t is not None]
        if not moments:  # left the queue without the caller hanging up: timeout, or unseen
            return CallStatus.FAILED, unknown
        gone = min(moments)  # Asterisk reports the caller's Hangup before QueueCallerAbandon
        ringing = any(
            r.result is RingResult.CALLER_GONE or (r.started_at <= gone and (r.ended_at is None or r.ended_at >= gone))
            for r in call.rings
        )
        return (CallStatus.ABANDONED_RINGING if ringing else CallStatus.ABANDONED), HangupBy.CALLER


# event type → transition: the list of AMI events the tracker reacts to, in one place.
_HANDLERS: dict[type[ev.AmiEvent], Callable[[CallTracker, Any], list[AnyEffect]]] = {
    getattr(ev, name.removeprefix("_on_")): handler
    for name, handler in vars(CallTracker).items()
    if name.startswith("_on_")
}
