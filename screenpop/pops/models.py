"""The desk's live messages (websocket, Redis) and the caller's context a pop carries."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from screenpop.calls.models import CallbackItem, HistoryItem, OrganisationCallItem


class KnownCaller(BaseModel):
    """A caller whose number the directory knows: a town hall, a partner, an internal service."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["town_hall", "partner", "internal"]
    kind_label: str  # « Mairie », « Partenaire », « Service interne »
    organisation_id: int
    name: str  # « Mairie d'Arras », « CAF du Pas-de-Calais »
    organisation_kind: str  # the directory's kind (town_hall, caf, service…)


class CallerContext(BaseModel):
    """What the desk knows of a caller before answering (no confidential case file exists here)."""

    model_config = ConfigDict(frozen=True)

    commune: str | None = None  # "Arras (62000)": its name and postal code(s)
    commune_code: str | None = None  # its INSEE code: the partners serving it
    history: tuple[HistoryItem, ...] = ()
    open_callbacks: tuple[CallbackItem, ...] = ()
    caller: KnownCaller | None = None  # the directory knows the number
    # a known caller's recent calls: its commune's (a town hall, its CCAS) or its organisation's, latest first
    organisation_history: tuple[OrganisationCallItem, ...] = ()


class DeskMessage(BaseModel):
    """One message to an advisor's desk. `event_at` is Asterisk's time of the event that caused it."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(max_length=200)
    type: Literal[
        "pop", "answered", "consulting", "consultation_ended", "transferred", "ended", "ring_ended", "presence"
    ]
    linkedid: str
    advisor_id: int
    event_at: datetime
    caller_number: str | None = None  # E.164
    caller_display: str = ""  # French format, "03 21 00 00 01"
    caller_name: str | None = None
    wait_seconds: float | None = None
    menu_topic: str | None = Field(default=None, max_length=40)  # pop: the voice-menu choice (a topic key)
    context: CallerContext | None = None
    # ring_ended: "missed" | "caller_gone"; ended: status; consulting, transferred: the target extension
    detail: str | None = None
