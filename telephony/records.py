"""The call record: what the PBX tells us about one call on the public line, and the outcome an advisor gives it.

Produced by the pure tracker (`telephony.calls`) when a call ends, written by `storage.calls`
idempotently on `linkedid`. Qualification (topic, outcome, callback, commune, note) is filled
later by the advisor desk and therefore lives in the database only; its `Outcome` (with the French labels) is
shared vocabulary, here below the web and storage layers.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class CallStatus(StrEnum):
    ANSWERED = "answered"  # connected to an advisor
    ABANDONED = "abandoned"  # caller hung up while waiting in the queue, no advisor ringing
    ABANDONED_RINGING = "abandoned_ringing"  # caller hung up while an advisor's phone was ringing
    CLOSED = "closed"  # arrived while the line was closed
    FAILED = "failed"  # line open, but the call never reached the queue or an advisor


class HangupBy(StrEnum):
    CALLER = "caller"
    ADVISOR = "advisor"
    TRANSFER_TARGET = "transfer_target"  # the call ended on the service it was transferred to
    SYSTEM = "system"  # Asterisk ended it (queue timeout, closed message, error)
    UNKNOWN = "unknown"  # ended while the AMI link was down


class TransferKind(StrEnum):
    BLIND = "blind"
    ATTENDED = "attended"


class RingResult(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"  # rang out (AgentRingNoAnswer)
    CALLER_GONE = "caller_gone"  # the caller hung up while this advisor rang
    OTHER = "other"  # busy, unavailable, cancelled


class RingAttempt(BaseModel):
    """One advisor rung for this call."""

    model_config = ConfigDict(frozen=True)

    interface: str = Field(max_length=200)
    member_name: str = Field(max_length=200)
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    result: RingResult | None = None


class CallRecord(BaseModel):
    """Facts about one call, from arrival to hang-up. Times are timezone-aware (UTC)."""

    model_config = ConfigDict(frozen=True)

    linkedid: str = Field(max_length=64)
    caller_number: str | None = Field(default=None, max_length=32)  # E.164, None when anonymous
    caller_number_raw: str = Field(default="", max_length=80)  # as Asterisk gave it, sanitised
    caller_name: str | None = Field(default=None, max_length=80)
    called_number: str = Field(default="", max_length=32)
    arrived_at: AwareDatetime
    line_open: bool
    queue: str | None = Field(default=None, max_length=80)
    menu_topic: str | None = Field(default=None, max_length=40)  # the caller's voice-menu choice, if any
    queue_entered_at: AwareDatetime | None = None
    queue_left_at: AwareDatetime | None = None
    rings: tuple[RingAttempt, ...] = ()
    answered_at: AwareDatetime | None = None
    advisor_interface: str | None = Field(default=None, max_length=200)
    advisor_name: str | None = Field(default=None, max_length=200)
    transfer_kind: TransferKind | None = None
    transfer_target: str | None = Field(default=None, max_length=80)
    transferred_at: AwareDatetime | None = None
    ended_at: AwareDatetime
    hangup_by: HangupBy
    hangup_cause: int | None = Field(default=None, ge=0, le=65535)
    hangup_cause_text: str | None = Field(default=None, max_length=80)
    wait_seconds: float | None = None  # arrival in queue → answer or abandon
    talk_seconds: float | None = None  # answer → end of the advisor's part (transfer or hang-up)
    status: CallStatus
    reconstructed: bool = False  # ended while the AMI link was down; end time is the resync time


class Outcome(StrEnum):
    """How a call ended for the citizen (qualification), French labels in OUTCOME_LABELS."""

    IMMEDIATE_ANSWER = "immediate_answer"
    ADVICE = "advice"
    TRANSFER = "transfer"  # to a service of the département: `transfer_service` says which
    PARTNER_CONTACT = "partner_contact"  # a partner's contact given: `partner` says which
    CALLBACK_NEEDED = "callback_needed"
    OTHER = "other"


OUTCOME_LABELS: dict[Outcome, str] = {
    Outcome.IMMEDIATE_ANSWER: "Réponse immédiate",
    Outcome.ADVICE: "Conseil, orientation",
    Outcome.TRANSFER: "Transfert vers un service",
    Outcome.PARTNER_CONTACT: "Coordonnées d'un partenaire",
    Outcome.CALLBACK_NEEDED: "Rappel nécessaire",
    Outcome.OTHER: "Autre",
}
