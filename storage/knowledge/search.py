"""French full-text search over the knowledge articles (migration 0011), core PostgreSQL only.

Two round trips per search:
1. `analyze(terms)`: for each folded term, its stem (`french_stem`; empty for a stop word), whether the
   vocabulary knows it, and for an unknown term of 4 letters or more the closest words of the vocabulary by
   trigram similarity (the measure of pg_trgm: shared trigrams / all trigrams of the two words), lengths within
   ±2: « alocation » → « allocation ».
2. `search(tsquery)`: the articles matching `to_tsquery('french', …)` on their generated, folded, weighted
   vector (title A, topics B, summary C, body D), ranked by `ts_rank` on the small vector of their beginning
   times the fiche's factor and a usage factor, the département's own articles first; for the page of results
   only, the body's first characters (the snippet and the highlighting are `screenpop.knowledge.text`'s).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date

import asyncpg
from pydantic import BaseModel, ConfigDict

SIMILARITY = 0.5  # pg_trgm's default is 0.3; here only near misses widen a term (« logemnt » 0.55, « colege » 0.67)
CANDIDATES = 5  # closest words returned per unknown term (the service keeps the nearest of them)
HEAD = 8_000  # characters of a result's body sent back, where its snippet is found (else its start)
_SAFE = re.compile(r"[a-z0-9]+")

_ANALYZE = f"""
SELECT t.term,
       coalesce((ts_lexize('french_stem', t.term))[1], '') AS stem,
       k.known,
       CASE WHEN k.known OR length(t.term) < 4 THEN '{{}}'::text[] ELSE c.words END AS alternatives,
       CASE WHEN k.known OR length(t.term) < 4 THEN '{{}}'::real[] ELSE c.similarities END AS similarities
FROM unnest($1::text[]) WITH ORDINALITY AS t (term, ord)
CROSS JOIN LATERAL (SELECT gps_trigrams(t.term) AS tg OFFSET 0) AS g  -- OFFSET 0: computed once per term
CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM knowledge_words AS w WHERE w.word = t.term) AS known) AS k
CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(near.word ORDER BY near.sim DESC, near.ndoc DESC, near.word), '{{}}') AS words,
           coalesce(array_agg(near.sim ORDER BY near.sim DESC, near.ndoc DESC, near.word), '{{}}') AS similarities
    FROM (SELECT w.word, w.ndoc, c.common::real / (w.ntrgm + cardinality(g.tg) - c.common) AS sim
          FROM (SELECT kt.word_id, count(*) AS common
                FROM knowledge_trigrams AS kt
                WHERE NOT k.known AND length(t.term) >= 4
                  AND kt.trigram = ANY (g.tg) AND kt.len BETWEEN length(t.term) - 2 AND length(t.term) + 2
                GROUP BY kt.word_id
                -- a word sharing c of the term's n trigrams is at most c/n similar: the others are not looked up
                HAVING count(*) >= $2::real * cardinality(g.tg)) AS c
          JOIN knowledge_words AS w ON w.id = c.word_id
          WHERE c.common::real / (w.ntrgm + cardinality(g.tg) - c.common) >= $2::real
          ORDER BY sim DESC, w.ndoc DESC, w.word
          LIMIT {CANDIDATES}) AS near
) AS c
ORDER BY t.ord
"""  # noqa: S608 (constants only)

# $1 tsquery text, $2 the status visible to everyone, $3 a service whose unarchived articles are visible too,
# $4 every unarchived local article visible, $5 kind filter (NULL: both), $6 topic filter, $7 limit, $8 offset.
# Matching uses the whole article's vector (GIN); ranking the small one kept in the row (migration 0018). Each
# match is scored as the scan reads it and kept as (id, local, score) only: the count and the page are taken
# from these narrow rows (a `count(*) OVER ()` under the sort carried every match's vector into a tuplestore
# that spilled to disk for a common word: 34 ms → 18 ms for « logemnt », 4,939 matches, bench/README.md).
_SEARCH = f"""
WITH hits AS MATERIALIZED (
    SELECT a.id, (a.kind = 'local') AS local,
           ts_rank('{{0.1, 0.2, 0.4, 1.0}}', a.rank_vector, (SELECT to_tsquery('french', $1)), 1) * a.rank_factor
               * (1 + ln(1 + a.uses) / 4) AS score
    FROM knowledge_articles AS a
    WHERE a.search_vector @@ (SELECT to_tsquery('french', $1))
      AND (a.status = $2::text
           OR (a.status <> 'archived' AND a.kind = 'local' AND ($4 OR a.service_id = $3::bigint)))
      AND ($5::text IS NULL OR a.kind = $5)
      AND ($6::text IS NULL OR a.topics @> ARRAY[$6::text])
),
top AS (
    SELECT hits.id, hits.local, hits.score FROM hits ORDER BY local DESC, score DESC, id LIMIT $7 OFFSET $8
)
SELECT top.id, top.local, top.score::float8 AS score, (SELECT count(*) FROM hits) AS total, a.kind, a.title,
       a.summary, a.status, a.service_id, s.name AS service_name, a.fiche_id, a.fiche_type, a.fiche_date,
       a.source_url, a.topics, a.example, a.uses, src.file_date AS source_file_date, left(a.body_text, {HEAD}) AS head
FROM top
JOIN knowledge_articles AS a ON a.id = top.id
LEFT JOIN services AS s ON s.id = a.service_id
LEFT JOIN knowledge_sources AS src ON src.id = a.source_id
ORDER BY top.local DESC, top.score DESC, top.id
"""  # noqa: S608 (constants only)

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
    alternatives: tuple[str, ...]  # closest first
    similarities: tuple[float, ...]


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
    head: str  # the body's first HEAD characters


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

    @asynccontextmanager
    async def _indexed(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection in a transaction where random reads cost what they cost when the data is in memory (1.1,
        not 4, as on an SSD): for a common word (a fifth of the articles) the planner would otherwise scan the
        table and detoast every article's long vector to test it, a cost it does not count (80 ms against 8 ms
        through the GIN index on the bench's corpus)."""
        async with self._pool.acquire() as conn:
            await conn.execute("BEGIN READ ONLY; SET LOCAL random_page_cost = 1.1")  # one round trip for both
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    async def search(
        self,
        tsquery: str,
        visibility: Visibility,
        *,
        kind: str | None = None,
        topic: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[SearchRow]:
        async with self._indexed() as conn:
            rows = await conn.fetch(
                _SEARCH,
                tsquery,
                "published",
                visibility.service_id,
                visibility.all_services,
                kind,
                topic,
                limit,
                offset,
            )
        return [SearchRow.model_validate(dict(r)) for r in rows]

    async def ilike(self, terms: Sequence[str], limit: int = 10) -> list[int]:
        """The baseline: ILIKE on title and body for every term (no ranking but local first)."""
        rows = await self._pool.fetch(_ILIKE, list(terms), limit)
        return [int(r["id"]) for r in rows]
