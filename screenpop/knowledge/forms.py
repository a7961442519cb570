"""The editor's form, pure: the posted fields read into an `ArticleInput`, or the reasons it is refused, field by
field, in French; what was typed kept as is to show the form again."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from screenpop.knowledge.models import ArticleInput

GENERAL = "_"  # the key of a refusal about the whole form (a conflict, a link refused by the service)
FIELD_LABELS = {
    "title": "Titre",
    "summary": "Résumé",
    "body": "Texte de l'article",
    "review_by": "À revoir avant le",
    "topics": "Thèmes",
    "linked_services": "Services liés",
    "linked_partners": "Partenaires liés",
    "linked_fiches": "Fiches nationales liées",
    "service_id": "Service propriétaire",
}
_FICHE_SPLIT = re.compile(r"[\s,;]+")
LINKEDID = re.compile(r"[0-9.]{1,64}")
_TEXT_MAX = {"title": 300, "summary": 2000, "body": 100_000, "review_by": 20, "linked_fiches": 400, "service_id": 20,
             "question": 64}  # fmt: skip


@dataclass
class ArticleForm:
    """What the editor typed: single fields as text, lists as the values ticked."""

    values: dict[str, str] = field(default_factory=dict)
    topics: tuple[str, ...] = ()
    linked_services: tuple[str, ...] = ()
    linked_partners: tuple[str, ...] = ()
    revision: int | None = None

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    @classmethod
    def posted(cls, form: Mapping[str, Any], getall: Any) -> ArticleForm:
        """From a posted form (`getall(name)` returns every value of a repeated field)."""

        def text(name: str) -> str:
            value = form.get(name)
            return value[: _TEXT_MAX[name]] if isinstance(value, str) else ""

        def many(name: str) -> tuple[str, ...]:
            return tuple(v[:100] for v in getall(name, ()) if isinstance(v, str) and v)[:30]

        revision = form.get("revision")
        return cls(
            values={name: text(name) for name in _TEXT_MAX},
            topics=many("topics"),
            linked_services=many("linked_services"),
            linked_partners=many("linked_partners"),
            revision=int(revision) if isinstance(revision, str) and revision.isdigit() and len(revision) < 10 else None,
        )

    @classmethod
    def of(cls, article: Any) -> ArticleForm:
        """The form filled with an article as it is (an `ArticleView`)."""
        return cls(
            values={
                "title": article.title,
                "summary": article.summary,
                "body": article.body,
                "review_by": article.review_by.isoformat() if article.review_by else "",
                "linked_fiches": " ".join(f.fiche_id for f in article.linked_fiches),
                "service_id": str(article.service_id or ""),
            },
            topics=tuple(t.key for t in article.topics),
            linked_services=tuple(s.key for s in article.linked_services),
            linked_partners=tuple(p.key for p in article.linked_partners),
            revision=article.revision,
        )

    def question(self) -> str | None:
        """The call whose question without an answer this article answers (its linkedid), if any."""
        value = self.get("question")
        return value if LINKEDID.fullmatch(value) else None

    def service_id(self) -> int | None:
        value = self.get("service_id")
        return int(value) if value.isdigit() and len(value) < 10 else None


def article_input(form: ArticleForm, *, example: bool = False) -> tuple[ArticleInput | None, dict[str, str]]:
    """The form as an `ArticleInput`, or None and the French reasons by field name."""
    errors: dict[str, str] = {}
    review_by: date | None = None
    try:
        review_by = date.fromisoformat(form.get("review_by").strip())
    except ValueError:
        errors["review_by"] = "Indiquez la date « à revoir avant le » (jour, mois, année)."
    services: list[int] = []
    for value in form.linked_services:
        if value.isdigit() and len(value) < 10:
            services.append(int(value))
        else:
            errors["linked_services"] = "Service lié invalide."
    fiches = [f.upper() for f in _FICHE_SPLIT.split(form.get("linked_fiches")) if f]
    if review_by is None:
        return None, errors
    try:
        data = ArticleInput(
            title=form.get("title"),
            summary=form.get("summary"),
            body=form.get("body"),
            review_by=review_by,
            topics=form.topics,
            linked_services=tuple(services),
            linked_partners=form.linked_partners,
            linked_fiches=tuple(fiches),
            example=example,
        )
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else GENERAL
            errors.setdefault(name, _message(name, error))
        return None, errors
    return (None, errors) if errors else (data, {})


def _message(name: str, error: Mapping[str, Any]) -> str:
    label = FIELD_LABELS.get(name, name)
    kind = str(error.get("type", ""))
    context = error.get("ctx") or {}
    if kind == "string_too_short":
        return f"{label} : au moins {context.get('min_length', 1)} caractères."
    if kind == "string_too_long":
        return f"{label} : au plus {context.get('max_length')} caractères."
    if kind == "too_long":
        return f"{label} : au plus {context.get('max_length')} éléments."
    return f"{label} : valeur refusée."


def error_list(errors: Mapping[str, str]) -> Sequence[tuple[str, str]]:
    return [(name, message) for name, message in errors.items() if name != GENERAL]
