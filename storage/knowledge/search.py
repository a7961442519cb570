"""French full-text search over the knowledge articles (migration 0011), core PostgreSQL only.

Two round trips per search:
1. `analyze(terms)`: for each folded term, its stem (`french_stem`; empty for a stop word), whether the
   vocabulary knows it, and for an unknown term of 4 letters or more the closest words of the vocabulary by
   trigram similarity (the measure of pg_trgm: shared trigrams / all trigrams of the two words), lengths within
   ±2: « alocation » → « allocation ».
2. `search(tsquery)`: the articles matching `to_tsquery('french', …)` on their generated, folded, weighted
   vector (title A, topics B, summary C, body D), ranked by `ts_rank` times a usage factor, the département's
   own articles first; for the page of results only, the body's window around the first matching word (the
   highlighting is done by `screenpop.knowledge.text`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

import asyncpg
from pydantic import BaseModel, ConfigDict

SIMILARITY = 0.35  # pg_trgm's default threshold is 0.3; a little stricter: only near-misses widen a term
ALTERNATIVES = 3
_SAFE = re.compile(r"[a-z0-9]+")

_ANALYZE = f"""
SELECT t.term,
       coalesce((ts_lexize('french_stem', t.term))[1], '') AS stem,
       EXISTS (SELECT 1 FROM knowledge_words AS w WHERE w.word = t.term) AS known,
       CASE WHEN length(t.term) < 4 OR EXISTS (SELECT 1 FROM knowledge_words AS w WHERE w.word = t.term)
            THEN '{{}}'::text[]
            ELSE ARRAY(
                SELECT w.word
                FROM (SELECT kt.word_id, count(*) AS common
                      FROM knowledge_trigrams AS kt
                      WHERE kt.trigram = ANY (gps_trigrams(t.term))
                        AND kt.len BETWEEN length(t.term) - 2 AND length(t.term) + 2
                      GROUP BY kt.word_id) AS c
                JOIN knowledge_words AS w ON w.id = c.word_id
                WHERE c.common::real / (w.ntrgm + cardinality(gps_trigrams(t.term)) - c.common) >= $2
                ORDER BY c.common::real / (w.ntrgm + cardinality(gps_trigrams(t.term)) - c.common) DESC,
                         w.ndoc DESC, w.word
                LIMIT {ALTERNATIVES})
       END AS alternatives
FROM unnest($1::text[]) WITH ORDINALITY AS t (term, ord)
ORDER BY t.ord
"""  # noqa: S608 (constants only)

# $1 tsquery text, $2 statuses visible to everyone, $3 a service whose unarchived articles are visible too,
# $4 every unarchived local article visible, $5 kind filter (NULL: both), $6 topic filter, $7 limit, $8 offset,
# $9 regex of the words whose first occurrence centres the snippet
_SEARCH = """
WITH q AS (SELECT to_tsquery('french', $1) AS q),
hits AS (
    SELECT a.id, (a.kind = 'local') AS local,
           ts_rank('{0.1, 0.2, 0.4, 1.0}', a.search_vector, q.q, 1) * a.rank_factor
               * (1 + ln(1 + coalesce(u.uses, 0)) / 4) AS score
    FROM knowledge_articles AS a
    CROSS JOIN q
    LEFT JOIN knowledge_usage AS u ON u.article_id = a.id
    WHERE a.search_vector @@ q.q
      AND (a.status = ANY ($2::text[])
           OR (a.status <> 'archived' AND a.kind = 'local' AND ($4 OR a.service_id = $3::bigint)))
      AND ($5::text IS NULL OR a.kind = $5)
      AND ($6::text IS NULL OR a.topics @> ARRAY[$6::text])
),
top AS (
    SELECT hits.*, count(*) OVER () AS total FROM hits ORDER BY local DESC, score DESC, id LIMIT $7 OFFSET $8
)
SELECT top.id, top.local, top.score::float8 AS score, top.total, a.kind, a.title, a.summary, a.status, a.service_id,
       s.name AS service_name, a.fiche_id, a.fiche_type, a.fiche_date, a.source_url, a.topics, a.example,
       coalesce(u.uses, 0) AS uses, src.file_date AS source_file_date,
       substr(a.body_text, greatest(1, p.pos - 80), 360) AS window, p.pos <= 81 AS window_at_start,
       p.pos + 280 > length(a.body_text) AS window_at_end
FROM top
JOIN knowledge_articles AS a ON a.id = top.id
LEFT JOIN services AS s ON s.id = a.service_id
LEFT JOIN knowledge_usage AS u ON u.article_id = a.id
LEFT JOIN knowledge_sources AS src ON src.id = a.source_id
CROSS JOIN LATERAL (
    SELECT coalesce(nullif(regexp_instr(gps_fold_chars(a.body_text), $9), 0), 1) AS pos
) AS p
ORDER BY top.local DESC, top.score DESC, top.id
"""

# The baseline the issue names: a plain ILIKE scan (every term somewhere in the title or the body), local first.
_ILIKE = """
SELECT a.id, a.title
FROM knowledge_articles AS a
WHERE a.status = 'published'
  AND (SELECT bool_and(a.title ILIKE '%' || t || '%' OR a.body_text ILIKE '%' || t || '%') FROM unnest($1::text[]) AS t)
ORDER BY (a.kind = 'local') DESC, a.id
LIMIT $2
"""


class TermInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    term: str
    stem: str
    known: bool
    alternatives: tuple[str, ...]


class SearchRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    local: bool
    score: float
    total: int
    kind: str
    title: str
    summary: str
    status: str
    service_id: int | None
    service_name: str | None
    fiche_id: str | None
    fiche_type: str | None
    fiche_date: date | None
    source_url: str | None
    topics: tuple[str, ...]
    example: bool
    uses: int
    source_file_date: date | None
    window: str
    window_at_start: bool
    window_at_end: bool


class Visibility(BaseModel):
    """Which articles a search may return: published ones, plus the unarchived local articles of one service
    (its editor) or of every service (supervisors, admins)."""

    model_config = ConfigDict(frozen=True)

    service_id: int | None = None
    all_services: bool = False


class SearchRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def analyze(self, terms: Sequence[str], similarity: float = SIMILARITY) -> list[TermInfo]:
        if not terms:
            return []
        if not all(_SAFE.fullmatch(t) for t in terms):
            raise ValueError("terms must be folded [a-z0-9]+ words")
        rows = await self._pool.fetch(_ANALYZE, list(terms), similarity)
        return [TermInfo.model_validate(dict(r)) for r in rows]

    async def search(
        self,
        tsquery: str,
        highlight_words: Sequence[str],
        visibility: Visibility,
        *,
        kind: str | None = None,
        topic: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[SearchRow]:
        words = [w for w in highlight_words if _SAFE.fullmatch(w)]
        pattern = r"\m(" + "|".join(words) + ")" if words else r"\m\M"
        rows = await self._pool.fetch(
            _SEARCH,
            tsquery,
            ["published"],
            visibility.service_id,
            visibility.all_services,
            kind,
            topic,
            limit,
            offset,
            pattern,
        )
        return [SearchRow.model_validate(dict(r)) for r in rows]

    async def ilike(self, terms: Sequence[str], limit: int = 10) -> list[int]:
        """The baseline: ILIKE on title and body for every term (no ranking but local first)."""
        rows = await self._pool.fetch(_ILIKE, list(terms), limit)
        return [int(r["id"]) for r in rows]
