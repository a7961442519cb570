"""What the call tracker decides: effects as data, executed by the service loop."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from telephony.records import CallRecord, TransferKind


class Effect(BaseModel):
    model_config = ConfigDict(frozen=True)

    linkedid: str
    at: datetime


class CallStarted(Effect):
    kind: Literal["call_started"] = "call_started"
    caller_number: str | None
    caller_name: str | None
    line_open: bool


class CallQueued(Effect):
    kind: Literal["call_queued"] = "call_queued"
    queue: str


class AdvisorRinging(Effect):
    """An advisor's phone starts ringing for this call: the moment of the screen pop."""

    kind: Literal["advisor_ringing"] = "advisor_ringing"
    interface: str
    member_name: str
    caller_number: str | None
    caller_name: str | None
    queue_entered_at: datetime | None


class AdvisorRingEnded(Effect):
    kind: Literal["advisor_ring_ended"] = "advisor_ring_ended"
    interface: str
    answered: bool


class CallAnswered(Effect):
    kind: Literal["call_answered"] = "call_answered"
    interface: str
    advisor_channel: str


class CallTransferred(Effect):
    kind: Literal["call_transferred"] = "call_transferred"
    transfer_kind: TransferKind
    target: str


class CallEnded(Effect):
    """Write this record (idempotent on linkedid)."""

    kind: Literal["call_ended"] = "call_ended"
    record: CallRecord


AnyEffect = CallStarted | CallQueued | AdvisorRinging | AdvisorRingEnded | CallAnswered | CallTransferred | CallEnded
