"""The call record: what the PBX tells us about one call on the public line, and the outcome an advisor gives it.

Produced by the pure tracker (`telephony.calls`) when a call ends, written by `storage.calls`
idempotently on `linkedid`. Qualification (topic, outcome, callback, commune, note) is filled
later by the advisor desk and therefore lives in the database only; its `Outcome` (with the French labels) is
shared vocabulary, here below the web and storage layers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, computed_field, model_validator

from telephony.bounds import Cut32, Cut40, Cut80, Cut200, Id


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

    interface: Cut200
    member_name: Cut200
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    result: RingResult | None = None


def _cause(value: object) -> object:
    """A Q.850 cause out of range is no cause (never a lost record)."""
    return None if isinstance(value, int) and not 0 <= value <= 65535 else value


HOLD_SECONDS_MAX = 86_400.0  # a day: a hold longer than any call is a defect upstream, cut rather than refused
HOLD_COUNT_MAX = 10_000


def _clamp(low: float, high: float) -> Any:
    """Numbers kept within bounds (cut, never refused: a call never loses its record over one figure)."""

    def clamp(value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return min(max(value, low), high)
        return value

    return BeforeValidator(clamp)


HoldSeconds = Annotated[float, _clamp(0.0, HOLD_SECONDS_MAX), Field(ge=0.0, le=HOLD_SECONDS_MAX)]
HoldCount = Annotated[int, _clamp(0, HOLD_COUNT_MAX), Field(ge=0, le=HOLD_COUNT_MAX)]


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else max(0.0, (end - start).total_seconds())


class CallRecord(BaseModel):
    """Facts about one call, from arrival to hang-up. Times are timezone-aware (UTC).

    Every string is bounded here as in `call_records` (cut, never refused: a call never loses its record over a
    field's length; the linkedid is bounded by the same rule as the events it comes from, `telephony.bounds`).
    Durations are derived from the record's own times, in one place (`wait_seconds`, `talk_seconds`), so a
    duration always equals the difference of the times stored beside it.
    """

    model_config = ConfigDict(frozen=True)

    linkedid: Id
    caller_number: Cut32 | None = None  # E.164, None when anonymous
    caller_number_raw: Cut80 = ""  # as Asterisk gave it, sanitised
    caller_name: Cut80 | None = None
    called_number: Cut32 = ""
    arrived_at: AwareDatetime
    line_open: bool
    queue: Cut80 | None = None
    menu_topic: Cut40 | None = None  # the caller's voice-menu choice, if any
    queue_entered_at: AwareDatetime | None = None
    queue_left_at: AwareDatetime | None = None  # answered, abandoned (the caller hung up) or timed out
    rings: tuple[RingAttempt, ...] = ()
    answered_at: AwareDatetime | None = None
    advisor_interface: Cut200 | None = None
    advisor_name: Cut200 | None = None
    transfer_kind: TransferKind | None = None
    transfer_target: Cut80 | None = None
    transferred_at: AwareDatetime | None = None
    talk_ended_at: AwareDatetime | None = None  # the advisor's part ended (hang-up or transfer)
    # Hold (Asterisk's Hold/Unhold on the caller's or the advisor's channel while they talk): the total time the
    # conversation was on hold and how many times it was put on hold. Spans lie within the talk (answer → end of
    # the advisor's part), so `talk_seconds` includes `hold_seconds`: net talk = talk_seconds − hold_seconds.
    # 0 for records spooled by versions before hold was recorded.
    hold_seconds: HoldSeconds = 0.0
    hold_count: HoldCount = 0
    ended_at: AwareDatetime
    hangup_by: HangupBy
    hangup_cause: Annotated[Annotated[int, Field(ge=0, le=65535)] | None, BeforeValidator(_cause)] = None
    hangup_cause_text: Cut80 | None = None
    status: CallStatus
    reconstructed: bool = False  # ended while the AMI link was down; end time is the resync time

    @computed_field  # type: ignore[prop-decorator]
    @property
    def wait_seconds(self) -> float | None:
        """Queue entry → leaving the queue (answer, abandon, timeout); to the end when the exit was not seen."""
        if self.queue_entered_at is None:
            return None
        return _seconds(self.queue_entered_at, self.queue_left_at or self.answered_at or self.ended_at)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def talk_seconds(self) -> float | None:
        """Answer → end of the advisor's part: the transfer, else the advisor's release, else the call's end."""
        if self.answered_at is None:
            return None
        return _seconds(self.answered_at, self.transferred_at or self.talk_ended_at or self.ended_at)

    @model_validator(mode="before")
    @classmethod
    def _from_earlier_versions(cls, data: Any) -> Any:
        """Records spooled by a version that stored `talk_seconds` and no `talk_ended_at` (spool files outlive an
        upgrade): the advisor's release is recovered from them. Durations are otherwise never read as input."""
        if isinstance(data, dict) and data.get("talk_ended_at") is None and data.get("talk_seconds") is not None:
            answered = data.get("answered_at")
            if isinstance(answered, str):
                answered = datetime.fromisoformat(answered)
            if isinstance(answered, datetime) and isinstance(data["talk_seconds"], int | float):
                data = {**data, "talk_ended_at": answered + timedelta(seconds=data["talk_seconds"])}
        return data


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
