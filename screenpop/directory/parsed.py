"""What the import readers (`dila`, `csvfile`) give for each line or record of a file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Parsed:
    """A line or record read: the values of a `screenpop.directory.models.Draft` (without its owner when the
    source has none), which fields a re-import replaces, and how to find the entry it updates."""

    line: int
    values: dict[str, Any]
    updated_fields: frozenset[str]
    organisation_id: int | None = None  # a CSV's `id` column


@dataclass(frozen=True)
class Refused:
    line: int
    reason: str
    ref: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Skipped:
    line: int
    reason: str  # the count's key, French
