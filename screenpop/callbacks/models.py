"""The callbacks slice's wire models: an open callback as the page and the API show it, an attempt, a cancellation."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Result = Literal["joint", "sans_reponse", "messagerie", "faux_numero"]  # kpis.AttemptResult's values
RESULT_LABELS: dict[str, str] = {
    "joint": "Joint (rappel effectué)",
    "sans_reponse": "Sans réponse",
    "messagerie": "Messagerie",
    "faux_numero": "Faux numéro",
}


_CONTROLS = {c: " " for c in (*range(0x20), 0x7F)}  # NUL cannot be stored (PostgreSQL text); none is wanted


def _one_line(value: str | None) -> str | None:
    """One line of text: control characters (NUL included) and runs of blanks made one space; empty: None."""
    if value is None:
        return None
    value = " ".join(value.translate(_CONTROLS).split())
    return value or None


class AttemptIn(BaseModel):
    """One attempt to call back: what it gave, and a note. « joint » closes the callback (done)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    result: Result
    note: str | None = Field(default=None, max_length=500)

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        return _one_line(value)


class CancelIn(BaseModel):
    """Cancelling an open callback, with why."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=200)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        cleaned = _one_line(value)
        if cleaned is None:
            raise ValueError("motif vide")
        return cleaned


class CallbackOut(BaseModel):
    """An open callback."""

    model_config = ConfigDict(frozen=True)

    id: int
    linkedid: str = Field(description="the call it was asked on")
    number: str | None = Field(description="the number to call (E.164 as stored); null while unknown")
    number_shown: str = Field(description="French format, « numéro inconnu » when unknown")
    commune_insee: str | None
    commune: str | None = Field(description="the commune's name")
    topic: str | None = Field(description="the topic's key")
    topic_label: str | None
    slot: str | None = Field(description="when the citizen asked to be called back")
    requested_at: datetime
    requested_shown: str = Field(description="dd/mm/yyyy hh:mm in the line's time zone")
    requested_by: str = Field(description="the login of who qualified the call")
    requested_by_name: str
    attempts: int
    last_attempt_result: str | None
    last_attempt_label: str | None
    last_attempt_at: datetime | None
    overdue: bool = Field(description="past one working day: not done before the same time on the next open day")
    owner: str | None = Field(description="who will call back (not assigned yet)")


class CallbackList(BaseModel):
    model_config = ConfigDict(frozen=True)

    open: int
    overdue: int
    callbacks: list[CallbackOut] = Field(description="the open callbacks, oldest first (500 at most)")


class AttemptOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    status: Literal["open", "done", "cancelled"]
    message: str = Field(description="what happened, in French")
