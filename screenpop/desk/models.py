"""The desk slice's wire models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from screenpop.pops.models import DeskMessage

STATE_LABELS = {
    "logged_out": "Déconnecté",
    "available": "Disponible",
    "ringing": "Appel entrant",
    "on_call": "En communication",
    "wrap_up": "Fin d'appel",
    "paused": "En pause",
}


class PresenceRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    state: Literal["login", "available", "pause", "logout"]
    reason: str | None = Field(default=None, max_length=40)


class DeskUser(BaseModel):
    name: str
    role: str
    advisor_id: int | None


class Presence(BaseModel):
    state: str
    label: str
    reason: str | None
    by: str | None = None  # the supervisor's login, when one paused the advisor or logged them out
    note: str | None = None  # the reason they gave


class DeskState(BaseModel):
    """`GET /api/desk`: what the page shows at start and after each desk message."""

    user: DeskUser
    presence: Presence
    pause_reasons: dict[str, str]
    demo: bool
    current_call: list[DeskMessage]  # the latest call not yet qualified (pop first): a page opened again shows it


class DeskDay(BaseModel):
    """`GET /api/desk/day`: « Ma journée », the advisor's own day (`screenpop.desk.day`). Seconds; None: « — »."""

    day: str = Field(description="The day (ISO date), in the line's time zone")
    calls_taken: int = Field(description="Calls answered by the advisor that arrived today (ended calls)")
    qualified: int = Field(description="Calls taken that are qualified (their wrap-up is known)")
    aht_seconds: float | None = Field(
        description="Average handling time: talk + hold + wrap-up per call taken (KPI dictionary); null: no call"
    )
    hold_seconds: float = Field(description="Total time on hold of the calls taken")
    pause_seconds: float = Field(description="Time in pause today, up to now (presence log)")
