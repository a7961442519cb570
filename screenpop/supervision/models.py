"""The wallboard's wire models: the snapshot (`GET /api/supervision`, and the page's server-side rendering) and the
supervisor's action form. French labels are filled in by the service; the page and `supervision.js` show them as
text."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Status = Literal["ok", "below", "none"]  # against its target: reached, not reached, no target or no value


class WaitingCall(BaseModel):
    """A caller waiting for an advisor (the longest wait first)."""

    linkedid: str
    caller: str  # the number in French format, « numéro masqué » when withheld
    topic: str | None  # the voice-menu topic's French label
    queued_at: datetime
    wait_seconds: int
    ringing: str | None  # the name of the advisor whose phone rings for it
    over_target: bool  # waited beyond the service level's T


class AdvisorRow(BaseModel):
    advisor_id: int
    name: str
    state: str  # telephony.advisors.AdvisorState value
    state_label: str
    reason: str | None  # the pause reason's French label
    since: datetime | None
    seconds_in_state: int | None
    by: str | None = None  # the supervisor who paused them or logged them out
    note: str | None = None
    # in call, the caller on hold (the live view): since when, the current hold's seconds, the call's hold so far
    on_hold_since: datetime | None = None
    on_hold_seconds: int | None = None
    hold_total_seconds: int | None = None  # the call's cumulative hold, past spans included (None: not in call)
    hold_label: str | None = None  # « appel en attente depuis 1:05 », shown after the state, in words


class FigureRow(BaseModel):
    name: str  # the KPI's name in the dictionary (screenpop.statistics.kpis.Figures)
    label: str
    value: float | None
    shown: str  # as the page shows it (« 85,3 % », « 1 min 49 s », « — »)
    numerator: float
    denominator: float | None
    target: str | None  # « objectif 85 % »
    status: Status
    status_label: str  # the colour said in words: « objectif atteint », « objectif non atteint »
    definition: str  # URL of its definition


class Snapshot(BaseModel):
    """Everything the wallboard shows, at `at`."""

    at: datetime
    day: str  # « samedi 5 décembre 2026 »
    time: str  # « 18:25:09 », in the line's time zone
    waiting: list[WaitingCall]
    longest_wait_seconds: int | None
    threshold_seconds: int  # T of the service level: a wait beyond it is flagged
    in_call: int  # calls with an advisor now
    on_hold: int = 0  # of which the caller is on hold
    advisors: list[AdvisorRow]
    figures: list[FigureRow]
    figures_note: str  # what the figures cover (« appels terminés depuis minuit »)
    unavailable: str | None = None  # why the advisors and figures are missing (the database away), French


Action = Literal["pause", "logout"]
ACTION_LABELS: dict[str, str] = {"pause": "Mettre en pause", "logout": "Déconnecter du poste"}


class ActionForm(BaseModel):
    """The supervisor's action on an advisor (the wallboard's form)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    advisor_id: int = Field(ge=1, le=2**62)
    action: Action
    pause_reason: str | None = Field(default=None, max_length=40)  # required for a pause: a configured reason
    note: str = Field(min_length=1, max_length=200)  # why (shown to the advisor, kept in the presence log)

    @field_validator("note")
    @classmethod
    def _one_line(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("empty")
        return value
