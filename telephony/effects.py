"""What the call tracker decides: effects as data, executed by the service loop."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from telephony.records import CallRecord, RingResult, TransferKind


class Effect(BaseModel):
    model_config = ConfigDict(frozen=True)

    linkedid: str
    at: datetime


class CallStarted(Effect):
    kind: Literal["call_started"] = "call_started"
    caller_number: str | None
    caller_name: str | None
    caller_number_raw: str = ""  # as Asterisk gave it, cleaned and bounded: an internal extension has no E.164
    line_open: bool


class CallQueued(Effect):
    kind: Literal["call_queued"] = "call_queued"
    queue: str
    caller_number: str | None
    topic: str | None  # the caller's voice-menu choice, if the menu is on


class CallLeftQueue(Effect):
    """The caller left the queue (answered, abandoned, timed out): nobody should be offered for it."""

    kind: Literal["call_left_queue"] = "call_left_queue"


class AdvisorRinging(Effect):
    """An advisor's phone starts ringing for this call: the moment of the screen pop."""

    kind: Literal["advisor_ringing"] = "advisor_ringing"
    interface: str
    member_name: str
    caller_number: str | None
    caller_name: str | None
    queue_entered_at: datetime | None
    menu_topic: str | None = None  # the caller's voice-menu choice (a skill key), if any


class AdvisorRingEnded(Effect):
    kind: Literal["advisor_ring_ended"] = "advisor_ring_ended"
    interface: str
    result: RingResult


class CallAnswered(Effect):
    kind: Literal["call_answered"] = "call_answered"
    interface: str
    advisor_channel: str


class AdvisorReleased(Effect):
    """The advisor's part of the call is over (hang-up or transfer): wrap-up starts."""

    kind: Literal["advisor_released"] = "advisor_released"
    interface: str


class CallTransferred(Effect):
    kind: Literal["call_transferred"] = "call_transferred"
    transfer_kind: TransferKind
    target: str


class ConsultationStarted(Effect):
    """Attended transfer: the advisor left the caller (on hold) for a consultation with the target."""

    kind: Literal["consultation_started"] = "consultation_started"
    interface: str
    target: str  # the extension called for the consultation ("" if not known yet)


class ConsultationEnded(Effect):
    """The advisor is back with the caller: the consultation was cancelled or the target hung up."""

    kind: Literal["consultation_ended"] = "consultation_ended"
    interface: str


class CallHeld(Effect):
    """A party put the conversation on hold: a hold span starts at `at` (a second Hold while it is held is the same
    span, and tells nothing). Only while the advisor who answered is on the call, as the record counts it."""

    kind: Literal["call_held"] = "call_held"


class CallUnheld(Effect):
    """The conversation is off hold (every party that held it took it off): the span ends at `at`. A span still open
    when the advisor's part ends (hang-up, transfer) ends there, without this effect."""

    kind: Literal["call_unheld"] = "call_unheld"


class MemberUpdate(Effect):
    """What Asterisk says of a queue member (linkedid is empty: a member is not a call)."""

    kind: Literal["member_update"] = "member_update"
    queue: str
    interface: str
    present: bool  # False once removed from the queue
    paused: bool
    paused_reason: str
    penalty: int
    in_call: bool
    device_state: int  # 4 invalid (Asterisk does not know the interface), 5 unavailable, 6 ringing…


class MembersResynced(Effect):
    """After a (re)connect: the full list of members of each queue (absent ones are gone)."""

    kind: Literal["members_resynced"] = "members_resynced"
    members: tuple[MemberUpdate, ...]


class CallEnded(Effect):
    """Write this record (idempotent on linkedid)."""

    kind: Literal["call_ended"] = "call_ended"
    record: CallRecord


class CallRecordAmended(Effect):
    """Write this call's record again, with what was learnt after its end (Asterisk's Shutdown said the hang-ups were
    its own). Idempotent on linkedid, as any record; nothing else happens for it (the call ended already)."""

    kind: Literal["call_record_amended"] = "call_record_amended"
    record: CallRecord


AnyEffect = (
    CallStarted
    | CallQueued
    | CallLeftQueue
    | AdvisorRinging
    | AdvisorRingEnded
    | CallAnswered
    | AdvisorReleased
    | CallTransferred
    | ConsultationStarted
    | ConsultationEnded
    | CallHeld
    | CallUnheld
    | MemberUpdate
    | MembersResynced
    | CallEnded
    | CallRecordAmended
)
