"""The directory slice's wire models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from storage.services import Hours


class ServiceView(BaseModel):
    """A service of the directory as the desk lists it, open now or not."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    extension: str
    topics: tuple[str, ...]
    hours: Hours | None  # weekly spans in the line's time zone; None: always open
    active: bool
    open_now: bool
    next_opening: datetime | None  # when closed: when it opens next (None: not within a year)
