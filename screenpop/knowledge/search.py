"""Searching the knowledge base in French: the query cut into folded terms, widened for typos, run in PostgreSQL,
the results highlighted (`storage.knowledge.search` for the SQL, `text` for the pure parts)."""

from __future__ import annotations

from datetime import date

import asyncpg

from config.settings import DeskSettings
from screenpop.knowledge.fiches import CREDIT
from screenpop.knowledge.models import Correction, Label, SearchHit, SearchResults
from screenpop.knowledge.text import (
    TermMatch,
    fragments_html,
    highlight,
    nearest,
    query_terms,
    snippet,
    tsquery_text,
    window,
)
from screenpop.knowledge.workflow import Actor, Status, manages
from storage.knowledge.search import SearchRepository, SearchRow, Visibility
from storage.users import Role

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")  # fmt: skip


def french_date(value: date) -> str:
    return f"{value.day}{'er' if value.day == 1 else ''} {MONTHS[value.month - 1]} {value.year}"


def credit(source_file_date: date | None, fiche_date: date | None) -> str:
    """The licence's credit shown with a national fiche: the source, the file's date, the fiche's date."""
    parts = [CREDIT]
    if source_file_date is not None:
        parts.append(f"fichier du {french_date(source_file_date)}")
    if fiche_date is not None:
        parts.append(f"fiche mise à jour le {french_date(fiche_date)}")
    return " — ".join(parts)


def topic_labels(desk: DeskSettings, keys: tuple[str, ...]) -> tuple[Label, ...]:
    """Labels of topic keys (« Handicap », « Handicap › PCH »); unknown keys shown as they are."""
    labels = []
    for key in keys:
        topic_key, _, sub = key.partition("/")
        topic = desk.topics.get(topic_key)
        if topic is None:
            labels.append(Label(key=key, label=key))
        elif sub:
            labels.append(Label(key=key, label=f"{topic.label} › {topic.subtopics.get(sub, sub)}"))
        else:
            labels.append(Label(key=key, label=topic.label))
    return tuple(labels)


def visibility(actor: Actor) -> Visibility:
    if actor.role in (Role.SUPERVISOR, Role.ADMIN):
        return Visibility(all_services=True)
    if actor.role is Role.EDITOR and manages(actor, actor.service_id):
        return Visibility(service_id=actor.service_id)
    return Visibility()


class KnowledgeSearch:
    def __init__(self, pool: asyncpg.Pool, desk: DeskSettings) -> None:
        self._repo = SearchRepository(pool)
        self._desk = desk

    async def search(
        self,
        actor: Actor,
        query: str,
        *,
        kind: str | None = None,
        topic: str | None = None,
        limit: int = 10,
        offset: int = 0,
        typing: bool = False,
    ) -> SearchResults:
        """Published articles (and the drafts the actor manages) matching every term of `query`, accents and
        case aside, a term found nowhere also matched by its closest words; the département's own first.
        `typing`: the query is being typed, its last term also matches as a prefix."""
        terms = query_terms(query)
        infos = await self._repo.analyze(terms)
        matches = [TermMatch(i.term, i.stem, nearest(i.alternatives, i.similarities)) for i in infos]
        tsquery = tsquery_text(matches, prefix_last=typing and not query.endswith(" "))
        corrections = tuple(Correction(term=m.term, alternatives=m.alternatives) for m in matches if m.alternatives)
        ignored = tuple(m.term for m in matches if not m.stem and not m.alternatives)
        if tsquery is None:
            return SearchResults(query=query, total=0, hits=(), corrections=corrections, ignored=ignored)
        stems = frozenset(m.stem for m in matches if m.stem)
        words = frozenset(terms) | {a for m in matches for a in m.alternatives}
        rows = await self._repo.search(
            tsquery,
            visibility(actor),
            kind=kind,
            topic=topic,
            limit=max(1, min(limit, 50)),
            offset=max(0, offset),
        )
        hits = tuple(self._hit(r, stems, words) for r in rows)
        total = rows[0].total if rows else 0
        return SearchResults(query=query, total=total, hits=hits, corrections=corrections, ignored=ignored)

    def _hit(self, row: SearchRow, stems: frozenset[str], words: frozenset[str]) -> SearchHit:
        text = snippet(*window(row.head, stems | words)) if row.head else row.summary
        return SearchHit(
            id=row.id,
            kind=row.kind,
            local=row.local,
            title=row.title,
            title_html=fragments_html(highlight(row.title, stems, words)),
            snippet_html=fragments_html(highlight(text, stems, words)),
            summary=row.summary,
            status=Status(row.status),
            service_name=row.service_name,
            fiche_type=row.fiche_type,
            fiche_date=row.fiche_date,
            source_url=row.source_url,
            credit=credit(row.source_file_date, row.fiche_date) if row.kind == "national" else None,
            example=row.example,
            uses=row.uses,
            topics=topic_labels(self._desk, row.topics),
            score=row.score,
        )
