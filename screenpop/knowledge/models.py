"""The knowledge base's wire models: what the pages and the API send and receive.

Text that came from an editor or a national fiche is either plain text (the page escapes it) or, in the fields
ending in `_html`, HTML already escaped or sanitised by this slice (`text.fragments_html`, `render.to_html`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from screenpop.knowledge.diff import RevisionDiff
from screenpop.knowledge.workflow import Action, Status

_CONTROL = "".join(chr(c) for c in range(32) if c not in (9, 10))


def _one_line(value: Any) -> Any:
    return " ".join(value.translate({ord(c): " " for c in _CONTROL}).split()) if isinstance(value, str) else value


class ArticleInput(BaseModel):
    """What an editor saves (create or edit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=3, max_length=300)
    summary: str = Field(default="", max_length=2000)
    body: str = Field(default="", max_length=100_000)
    review_by: date  # « à revoir avant le »
    topics: tuple[str, ...] = Field(default=(), max_length=20)  # "topic" or "topic/subtopic" keys
    linked_services: tuple[int, ...] = Field(default=(), max_length=20)
    linked_partners: tuple[str, ...] = Field(default=(), max_length=20)
    linked_fiches: tuple[str, ...] = Field(default=(), max_length=20)
    example: bool = False

    @field_validator("title", "summary", mode="before")
    @classmethod
    def _clean_line(cls, value: Any) -> Any:
        return _one_line(value)

    @field_validator("body", mode="before")
    @classmethod
    def _clean_body(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.replace("\r\n", "\n").replace("\r", "\n")
        return "".join(c for c in text if c in "\t\n" or ord(c) >= 32).strip()


class Label(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    label: str


class LinkedFiche(BaseModel):
    model_config = ConfigDict(frozen=True)

    fiche_id: str
    article_id: int | None  # None: not imported here
    title: str | None
    url: str


class ArticleView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    kind: str  # local | national
    title: str
    summary: str
    body: str  # the Markdown source (for the editor)
    body_html: str  # sanitised
    status: Status
    status_label: str
    service_id: int | None
    service_name: str | None
    review_by: date | None
    review_overdue: bool
    topics: tuple[Label, ...]
    linked_services: tuple[Label, ...]
    linked_partners: tuple[Label, ...]
    linked_fiches: tuple[LinkedFiche, ...]
    example: bool
    revision: int
    updated_at: datetime
    updated_by: str
    uses: int
    fiche_id: str | None
    fiche_type: str | None
    fiche_date: date | None
    source_url: str | None
    breadcrumb: tuple[str, ...]
    credit: str | None  # the licence's credit, with the file's date, for a national fiche
    actions: tuple[Action, ...]  # what this user may do now


class SearchHit(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    kind: str
    local: bool
    title: str
    title_html: str  # escaped, matches in <mark>
    snippet_html: str  # escaped, matches in <mark>
    summary: str
    status: Status
    service_name: str | None
    fiche_type: str | None
    fiche_date: date | None
    source_url: str | None
    credit: str | None
    example: bool
    uses: int
    topics: tuple[Label, ...]
    score: float


class Correction(BaseModel):
    """A term found in no article, searched with the closest words too."""

    model_config = ConfigDict(frozen=True)

    term: str
    alternatives: tuple[str, ...]


class SearchResults(BaseModel):
    model_config = ConfigDict(frozen=True)

    query: str
    total: int
    hits: tuple[SearchHit, ...]
    corrections: tuple[Correction, ...]
    ignored: tuple[str, ...]  # stop words left out


class RevisionView(BaseModel):
    model_config = ConfigDict(frozen=True)

    revision: int
    action: str
    status: Status
    title: str
    author: str
    comment: str | None
    created_at: datetime


class Comparison(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    article_id: int
    old: RevisionView
    new: RevisionView
    diff: RevisionDiff


class ImportReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    created: int
    updated: int
    unchanged: int
    refused: tuple[tuple[str, str], ...] = ()  # (file or line, why): nothing written when any


REASON_LABELS = {
    "history": "déjà utilisé pour cet appelant",
    "subtopic": "sous-thème choisi",
    "topic": "thème de l'appel",
    "past_topic": "thème d'un appel précédent",
}


class SuggestionView(BaseModel):
    """An article suggested for a call (the pop), with why."""

    model_config = ConfigDict(frozen=True)

    id: int
    title: str
    kind: str
    uses: int
    source_url: str | None
    reason: str
    reason_label: str


class Suggestions(BaseModel):
    model_config = ConfigDict(frozen=True)

    suggestions: tuple[SuggestionView, ...]


class TransitionForm(BaseModel):
    """A workflow button's form: the action, the revision read, an optional comment."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    action: Action
    revision: int = Field(ge=1, le=2_000_000_000)
    comment: str = Field(default="", max_length=500)
