"""The calls slice's wire models: the qualification an advisor submits, what a save answers, a transfer request,
and the caller's history and open callbacks (one `HistoryItem`, shown by the history API and carried by pops)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from telephony.records import Outcome

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


class Qualification(BaseModel):
    """What the advisor says about a call (the desk's form)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    topic: str = Field(min_length=1, max_length=40)
    subtopic: str | None = Field(default=None, max_length=40)
    outcome: Outcome
    transfer_service_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    partner_id: int | None = Field(default=None, ge=1, le=2**63 - 1)  # the directory's organisation given
    callback_requested: bool = False
    callback_slot: str | None = Field(default=None, max_length=80)
    commune_insee: str | None = Field(default=None, pattern=r"^[0-9][0-9AB][0-9]{3}$")
    # the commune as typed when none was picked from the list: resolved when it names one commune, else refused
    commune: str | None = Field(default=None, max_length=100)
    note: str | None = None  # at most DeskSettings.note_max (and 2000) characters: checked by the service
    # the knowledge base (storage.knowledge.loop): the published articles used to answer, or « pas de réponse
    # trouvée » with the question in a few words
    articles_used: tuple[int, ...] = Field(default=(), max_length=10)
    no_answer_question: str | None = Field(default=None, min_length=3, max_length=200)

    @field_validator("subtopic", "callback_slot", "commune_insee", "commune", "no_answer_question", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("callback_slot", "commune", "no_answer_question")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return None if value is None else " ".join(_CONTROL.sub(" ", value).split()) or None

    @field_validator("note", mode="before")
    @classmethod
    def _clean_note(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
        return text or None

    @model_validator(mode="after")
    def _slot_needs_callback(self) -> Qualification:
        if self.callback_slot is not None and not self.callback_requested:
            raise ValueError("un créneau de rappel est donné sans demande de rappel")
        if self.no_answer_question is not None and self.articles_used:
            raise ValueError("« pas de réponse trouvée » et des articles utilisés : choisissez l'un ou l'autre")
        if any(a < 1 for a in self.articles_used):
            raise ValueError("numéro d'article invalide")
        return self


class CallRecordView(BaseModel):
    """A call as the desk shows it after qualification."""

    model_config = ConfigDict(frozen=True)

    linkedid: str
    caller_number: str | None
    arrived_at: AwareDatetime
    status: str
    advisor_interface: str | None
    advisor_name: str | None
    topic: str | None
    subtopic: str | None
    outcome: Outcome | None
    transfer_service_id: int | None
    transfer_service: str | None
    partner: str | None  # its name as given (a key of settings.desk.partners on records before migration 0012)
    partner_id: int | None
    callback_requested: bool | None
    callback_slot: str | None
    commune_insee: str | None
    note: str | None
    qualified_at: AwareDatetime | None
    qualified_by: str | None
    changed: bool = False  # this save changed the stored qualification


class PendingQualification(BaseModel):
    """A qualification saved while its call is in progress: it joins the call's record when the record is
    written (at the end of the call, or when the service the call was transferred to hangs up)."""

    model_config = ConfigDict(frozen=True)

    linkedid: str
    qualified_by: str


class QualificationSaved(BaseModel):
    """What `POST /api/calls/{linkedid}/qualification` answers (`call` None while the call is in progress)."""

    call: CallRecordView | None
    changed: bool
    pending: bool


class TransferRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    service_id: int = Field(ge=1, le=2**63 - 1)  # a PostgreSQL bigint
    kind: Literal["blind", "attended"] = "blind"


class HistoryItem(BaseModel):
    """One of the caller's previous calls, answered or qualified, with the French labels of its qualification."""

    model_config = ConfigDict(frozen=True)

    linkedid: str
    date: AwareDatetime
    status: str
    topic: str | None
    topic_label: str | None
    subtopic_label: str | None
    outcome: Outcome | None
    outcome_label: str | None
    advisor_name: str | None
    commune_insee: str | None
    note: str | None
    partner_label: str | None = None  # the partner whose contact was given


class OrganisationCallItem(HistoryItem):
    """A recent call of a recognised caller's commune or organisation: who of it called."""

    caller: str | None  # the organisation's name, or the number in French format


class CallbackItem(BaseModel):
    """A callback asked for on one of the caller's calls and still open (migration 0020: until an attempt reaches the
    citizen or an advisor cancels it, on /rappels)."""

    model_config = ConfigDict(frozen=True)

    id: int  # the callback's, its anchor on /rappels (`rappel-<id>`)
    linkedid: str
    requested_at: AwareDatetime
    topic_label: str | None
    slot: str | None  # the caller's preferred time slot, as the advisor wrote it


@dataclass(frozen=True)
class CallerFacts:
    history: list[HistoryItem]  # latest first
    commune: tuple[str, str] | None  # (INSEE code, name) of the latest commune given, when it is a known one
    open_callbacks: list[CallbackItem]  # latest first
    postal_codes: tuple[str, ...] = ()  # of that commune
