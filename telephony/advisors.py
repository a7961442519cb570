"""Advisors: who they are (configuration) and what they are doing (presence states). Data only."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

# PJSIP/<endpoint> in production; Local/<exten>@<context> in tests and demos.
INTERFACE = re.compile(r"(PJSIP|SIP|IAX2|Local)/[A-Za-z0-9_.+-]{1,64}(@[A-Za-z0-9_-]{1,64})?")
LOGIN = re.compile(r"[a-z][a-z0-9._-]{1,39}")


class AdvisorState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


# Reasons the system itself pauses with (on top of the configurable ones).
MISSED_CALL = "missed_call"  # rang out: paused until the advisor says they are back


class Advisor(BaseModel):
    """An advisor as configured (stored in PostgreSQL, managed with `gps-admin advisors`)."""

    model_config = ConfigDict(frozen=True)

    id: int
    login: str = Field(pattern=LOGIN.pattern)
    name: str = Field(min_length=1, max_length=80)
    interface: str = Field(pattern=INTERFACE.pattern)
    skills: frozenset[str] = frozenset()
    active: bool = True

    @field_validator("name")
    @classmethod
    def _clean(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("name must not be blank")
        return value


class StateChange(BaseModel):
    """One timestamped presence change: the log from which login, pause, talk and wrap-up times are computed."""

    model_config = ConfigDict(frozen=True)

    advisor_id: int
    state: AdvisorState
    at: AwareDatetime
    reason: str | None = Field(default=None, max_length=40)  # pause reason key
    linkedid: str | None = Field(default=None, max_length=64)  # the call, for ringing/on_call/wrap_up
    by: str | None = Field(default=None, max_length=40)  # the supervisor's login, when one made this change
    note: str | None = Field(default=None, max_length=200)  # the reason they gave (free text)
