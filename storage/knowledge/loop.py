"""The loop that feeds the knowledge base (migration 0011): what a call's qualification says of it, the editors'
to-do list, the weekly count of themes left without an answer, and the suggestions shown in a pop.

`record_call` runs inside the qualification's transaction (`storage.qualification`), keyed by the call's
linkedid: saved again, it replaces what it said before (usage counts follow, by trigger).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import asyncpg
from pydantic import BaseModel, ConfigDict


class UnusableArticle(Exception):
    """An article given as used on a call is unknown or not published."""

    error_id = "unknown-article"


class UnansweredQuestion(BaseModel):
    model_config = ConfigDict(frozen=True)

    linkedid: str
    question: str
    topic: str
    subtopic: str | None
    asked_by: str
    asked_at: datetime


class ArticleBrief(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    title: str
    kind: str
    status: str
    service_id: int | None
    review_by: date | None
    uses: int
    fiche_id: str | None
    source_url: str | None


class Suggestion(ArticleBrief):
    reason: str  # history | subtopic | topic | past_topic


class WeekCount(BaseModel):
    model_config = ConfigDict(frozen=True)

    week: date  # the Monday, in the line's time zone
    topic: str
    questions: int


class Todo(BaseModel):
    model_config = ConfigDict(frozen=True)

    unanswered: tuple[UnansweredQuestion, ...]
    to_review: tuple[ArticleBrief, ...]
    most_used: tuple[ArticleBrief, ...]


_BRIEF = """a.id, a.title, a.kind, a.status, a.service_id, a.review_by, a.uses, a.fiche_id,
       a.source_url"""

_SUGGEST = f"""
WITH history AS (
    SELECT ka.article_id, max(cr.arrived_at) AS at
    FROM call_records AS cr JOIN knowledge_call_articles AS ka ON ka.linkedid = cr.linkedid
    WHERE $1::text IS NOT NULL AND cr.caller_number = $1
    GROUP BY ka.article_id
), past AS (
    SELECT array_agg(topic) AS topics
    FROM (SELECT cr.topic FROM call_records AS cr
          WHERE $1::text IS NOT NULL AND cr.caller_number = $1 AND cr.topic IS NOT NULL
          ORDER BY cr.arrived_at DESC LIMIT 5) AS t
)
SELECT {_BRIEF},
       CASE WHEN h.article_id IS NOT NULL THEN 'history'
            WHEN $3::text IS NOT NULL AND a.topics @> ARRAY[$3::text] THEN 'subtopic'
            WHEN $2::text IS NOT NULL AND a.topics @> ARRAY[$2::text] THEN 'topic'
            ELSE 'past_topic' END AS reason
FROM knowledge_articles AS a
CROSS JOIN past
LEFT JOIN history AS h ON h.article_id = a.id
WHERE a.status = 'published'
  AND (h.article_id IS NOT NULL OR a.topics && array_remove(ARRAY[$2::text, $3::text], NULL)
       OR a.topics && coalesce(past.topics, '{{}}'))
ORDER BY (h.article_id IS NOT NULL) DESC, h.at DESC NULLS LAST,
         ($3::text IS NOT NULL AND a.topics @> ARRAY[$3::text]) DESC,
         ($2::text IS NOT NULL AND a.topics @> ARRAY[$2::text]) DESC,
         (a.kind = 'local') DESC, a.uses DESC, a.id
LIMIT $4
"""  # noqa: S608 (constants only)


class LoopRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # -- from the qualification ------------------------------------------------------------------------------

    @staticmethod
    async def record_call(
        conn: asyncpg.Connection,
        linkedid: str,
        article_ids: Sequence[int],
        question: str | None,
        topic: str,
        subtopic: str | None,
        by: str,
    ) -> None:
        """Record (or replace) the articles used on a call and its question left without an answer, in the
        caller's transaction. Raises `UnusableArticle` for an article unknown or not published."""
        ids = sorted(set(article_ids))
        if ids:
            found = await conn.fetch(
                "SELECT id FROM knowledge_articles WHERE id = ANY ($1::bigint[]) AND status = 'published'", ids
            )
            missing = sorted(set(ids) - {r["id"] for r in found})
            if missing:
                raise UnusableArticle(", ".join(f"n° {m}" for m in missing))
        await conn.execute(
            "DELETE FROM knowledge_call_articles WHERE linkedid = $1 AND NOT (article_id = ANY ($2::bigint[]))",
            linkedid,
            ids,
        )
        if ids:
            await conn.execute(
                "INSERT INTO knowledge_call_articles (linkedid, article_id, used_by)"
                " SELECT $1, unnest($2::bigint[]), $3 ON CONFLICT DO NOTHING",
                linkedid,
                ids,
                by,
            )
        if question is None:
            await conn.execute("DELETE FROM knowledge_unanswered WHERE linkedid = $1 AND resolved_at IS NULL", linkedid)
        else:
            await conn.execute(
                "INSERT INTO knowledge_unanswered (linkedid, question, topic, subtopic, asked_by)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (linkedid) DO UPDATE SET question = EXCLUDED.question,"
                " topic = EXCLUDED.topic, subtopic = EXCLUDED.subtopic, asked_by = EXCLUDED.asked_by",
                linkedid,
                question,
                topic,
                subtopic,
                by,
            )

    async def call_knowledge(self, linkedid: str) -> tuple[list[int], str | None]:
        """The articles used on a call and its unanswered question (None)."""
        ids = await self._pool.fetch(
            "SELECT article_id FROM knowledge_call_articles WHERE linkedid = $1 ORDER BY article_id", linkedid
        )
        question = await self._pool.fetchval("SELECT question FROM knowledge_unanswered WHERE linkedid = $1", linkedid)
        return [int(r["article_id"]) for r in ids], question

    async def resolve(self, linkedid: str, by: str, article_id: int | None) -> bool:
        """An editor answered the question (with an article) or set it aside; False if there was none open."""
        status = await self._pool.execute(
            "UPDATE knowledge_unanswered SET resolved_at = now(), resolved_by = $2, resolved_article_id = $3"
            " WHERE linkedid = $1 AND resolved_at IS NULL",
            linkedid,
            by,
            article_id,
        )
        return bool(status == "UPDATE 1")

    # -- for the editors -------------------------------------------------------------------------------------

    async def todo(self, service_id: int, topics: Sequence[str], today: date, size: int = 20) -> Todo:
        """A service's to-do list: open questions on its topics (latest first), its articles past their review
        date (oldest date first), its most used published articles."""
        unanswered = await self._pool.fetch(
            "SELECT linkedid, question, topic, subtopic, asked_by, asked_at FROM knowledge_unanswered"
            " WHERE resolved_at IS NULL AND topic = ANY ($1::text[]) ORDER BY asked_at DESC LIMIT $2",
            list(topics),
            size,
        )
        to_review = await self._pool.fetch(
            f"SELECT {_BRIEF} FROM knowledge_articles AS a"  # noqa: S608
            " WHERE a.service_id = $1 AND a.status <> 'archived' AND a.review_by < $2"
            " ORDER BY a.review_by, a.id LIMIT $3",
            service_id,
            today,
            size,
        )
        most_used = await self._pool.fetch(
            f"SELECT {_BRIEF} FROM knowledge_articles AS a"  # noqa: S608
            " WHERE a.service_id = $1 AND a.status = 'published' AND a.uses > 0"
            " ORDER BY a.uses DESC, a.id LIMIT $2",
            service_id,
            size,
        )
        return Todo(
            unanswered=tuple(UnansweredQuestion.model_validate(dict(r)) for r in unanswered),
            to_review=tuple(ArticleBrief.model_validate(dict(r)) for r in to_review),
            most_used=tuple(ArticleBrief.model_validate(dict(r)) for r in most_used),
        )

    async def unanswered_by_week(self, since: date, until: date, tz: str = "Europe/Paris") -> list[WeekCount]:
        """Questions left without an answer, counted by week (Monday, local time) and topic, from `since` to
        `until` (dates included)."""
        rows = await self._pool.fetch(
            "SELECT date_trunc('week', asked_at AT TIME ZONE $3)::date AS week, topic, count(*)::int AS questions"
            " FROM knowledge_unanswered"
            " WHERE (asked_at AT TIME ZONE $3)::date BETWEEN $1 AND $2"
            " GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2",
            since,
            until,
            tz,
        )
        return [WeekCount.model_validate(dict(r)) for r in rows]

    # -- for the pop -----------------------------------------------------------------------------------------

    async def suggestions(
        self, caller_number: str | None, topic: str | None, subtopic_key: str | None = None, limit: int = 3
    ) -> list[Suggestion]:
        """Up to `limit` published articles for a call: those used on the caller's earlier calls first, then
        those of the chosen sub-topic (`topic/sub`), of the voice-menu topic, of the caller's past topics; local
        before national, most used first."""
        rows = await self._pool.fetch(_SUGGEST, caller_number, topic, subtopic_key, max(1, min(limit, 10)))
        return [Suggestion.model_validate(dict(r)) for r in rows]
