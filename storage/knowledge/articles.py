"""Knowledge articles in PostgreSQL (migration 0011): local articles with every revision, national fiches.

SQL only: the rules (who may do what, which status follows) are `screenpop.knowledge.workflow`'s, checked by
`screenpop.knowledge.service` before it calls this. Every write of a local article adds its revision in the same
transaction, and is refused when the article changed since the writer read it (`revision` as the version).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ConfigDict


class KnowledgeStorageError(Exception):
    error_id = "knowledge-storage-error"


class StaleArticle(KnowledgeStorageError):
    """The article changed since it was read (another editor saved first)."""

    error_id = "stale-article"


class UnknownArticle(KnowledgeStorageError):
    error_id = "unknown-article"


class ArticleRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    uid: UUID
    kind: str  # local | national
    service_id: int | None
    service_name: str | None
    fiche_id: str | None
    title: str
    summary: str
    body: str
    status: str
    review_by: date | None
    topics: tuple[str, ...]
    linked_services: tuple[int, ...]
    linked_partners: tuple[str, ...]
    linked_fiches: tuple[str, ...]
    example: bool
    fiche_type: str | None
    fiche_date: date | None
    source_url: str | None
    breadcrumb: tuple[str, ...]
    source_file_date: date | None
    revision: int
    created_at: datetime
    updated_at: datetime
    updated_by: str
    uses: int


class RevisionRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    article_id: int
    revision: int
    action: str
    title: str
    summary: str
    body: str
    status: str
    review_by: date | None
    topics: tuple[str, ...]
    author: str
    comment: str | None
    created_at: datetime


class ArticleContent(BaseModel):
    """What an editor writes (checked by the service); `body_text` and `topic_text` derived by it."""

    model_config = ConfigDict(frozen=True)

    title: str
    summary: str = ""
    body: str = ""
    body_text: str = ""
    review_by: date | None = None
    topics: tuple[str, ...] = ()
    topic_text: str = ""
    linked_services: tuple[int, ...] = ()
    linked_partners: tuple[str, ...] = ()
    linked_fiches: tuple[str, ...] = ()
    example: bool = False


class FicheInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    fiche_id: str
    fiche_type: str
    title: str
    summary: str
    body: str
    body_text: str
    fiche_date: date
    source_url: str
    breadcrumb: tuple[str, ...]
    topics: tuple[str, ...]
    topic_text: str
    content_hash: str
    rank_factor: float = 1.0


class FicheCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    created: int = 0
    updated: int = 0
    unchanged: int = 0


_SELECT = """
SELECT a.id, a.uid, a.kind, a.service_id, s.name AS service_name, a.fiche_id, a.title, a.summary, a.body, a.status,
       a.review_by, a.topics, a.linked_services, a.linked_partners, a.linked_fiches, a.example, a.fiche_type,
       a.fiche_date, a.source_url, a.breadcrumb, src.file_date AS source_file_date, a.revision, a.created_at,
       a.updated_at, a.updated_by, a.uses
FROM knowledge_articles AS a
LEFT JOIN services AS s ON s.id = a.service_id
LEFT JOIN knowledge_sources AS src ON src.id = a.source_id
"""

_INSERT = """
INSERT INTO knowledge_articles (kind, service_id, title, summary, body, body_text, status, review_by, topics,
                                topic_text, linked_services, linked_partners, linked_fiches, example, updated_by, uid)
VALUES ('local', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, coalesce($15, gen_random_uuid()))
RETURNING id
"""

_UPDATE = """
UPDATE knowledge_articles SET
    title = $3, summary = $4, body = $5, body_text = $6, status = $7, review_by = $8, topics = $9, topic_text = $10,
    linked_services = $11, linked_partners = $12, linked_fiches = $13, example = $14, updated_by = $15,
    revision = revision + 1, updated_at = now()
WHERE id = $1 AND revision = $2 AND kind = 'local'
RETURNING revision
"""

_REVISION = """
INSERT INTO knowledge_revisions (article_id, revision, action, title, summary, body, status, review_by, topics,
                                 author_id, author, comment)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
"""

_REVISIONS = """
SELECT article_id, revision, action, title, summary, body, status, review_by, topics, author, comment, created_at
FROM knowledge_revisions WHERE article_id = $1
"""

# Fiches written per statement. The vocabulary's statement trigger upserts every word of each statement, so a
# word common to the whole file is counted again in every statement: 250 rather than 50 takes a sixth off the
# import's PostgreSQL time (462 fiches: 2.15 → 1.8 s of CPU, bench/README.md). A statement then takes about a
# second, several on a loaded machine: its own timeout, not the pool's command timeout, bounds it.
FICHES_BATCH = 250
FICHES_TIMEOUT = 300.0

_UPSERT_FICHES = """
INSERT INTO knowledge_articles AS a (kind, fiche_id, fiche_type, title, summary, body, body_text, fiche_date,
                                     source_url, breadcrumb, topics, topic_text, content_hash, rank_factor, status,
                                     source_id, updated_by)
SELECT 'national', f.fiche_id, f.fiche_type, f.title, f.summary, f.body, f.body_text, f.fiche_date, f.source_url,
       ARRAY(SELECT jsonb_array_elements_text(f.breadcrumb)), ARRAY(SELECT jsonb_array_elements_text(f.topics)),
       f.topic_text, f.content_hash, f.rank_factor, 'published', $2, $3
FROM jsonb_to_recordset($1::jsonb) AS f (fiche_id text, fiche_type text, title text, summary text, body text,
                                         body_text text, fiche_date date, source_url text, breadcrumb jsonb,
                                         topics jsonb, topic_text text, content_hash text, rank_factor real)
ON CONFLICT (fiche_id) DO UPDATE SET
    fiche_type = EXCLUDED.fiche_type, title = EXCLUDED.title, summary = EXCLUDED.summary, body = EXCLUDED.body,
    body_text = EXCLUDED.body_text, fiche_date = EXCLUDED.fiche_date, source_url = EXCLUDED.source_url,
    breadcrumb = EXCLUDED.breadcrumb, topics = EXCLUDED.topics, topic_text = EXCLUDED.topic_text,
    content_hash = EXCLUDED.content_hash, rank_factor = EXCLUDED.rank_factor, source_id = EXCLUDED.source_id,
    status = 'published',
    updated_by = EXCLUDED.updated_by, updated_at = now(), revision = a.revision + 1
WHERE a.content_hash IS DISTINCT FROM EXCLUDED.content_hash OR a.status <> 'published'
RETURNING (xmax = 0) AS created
"""


def _row(record: asyncpg.Record) -> ArticleRow:
    return ArticleRow.model_validate(dict(record))


def _revision(record: asyncpg.Record) -> RevisionRow:
    return RevisionRow.model_validate(dict(record))


class ArticleRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # -- reading ---------------------------------------------------------------------------------------------

    async def get(self, article_id: int) -> ArticleRow | None:
        row = await self._pool.fetchrow(_SELECT + " WHERE a.id = $1", article_id)
        return None if row is None else _row(row)

    async def by_uid(self, uid: UUID) -> ArticleRow | None:
        row = await self._pool.fetchrow(_SELECT + " WHERE a.uid = $1", uid)
        return None if row is None else _row(row)

    async def by_fiche(self, fiche_id: str) -> ArticleRow | None:
        row = await self._pool.fetchrow(_SELECT + " WHERE a.fiche_id = $1", fiche_id)
        return None if row is None else _row(row)

    async def list_local(
        self, service_id: int | None = None, statuses: Sequence[str] | None = None
    ) -> builtins.list[ArticleRow]:
        """Local articles (of one service, with given statuses), by service then title."""
        rows = await self._pool.fetch(
            _SELECT + " WHERE a.kind = 'local' AND ($1::bigint IS NULL OR a.service_id = $1)"
            " AND ($2::text[] IS NULL OR a.status = ANY ($2)) ORDER BY s.name, a.title, a.id",
            service_id,
            None if statuses is None else list(statuses),
        )
        return [_row(r) for r in rows]

    async def existing_fiches(self, fiche_ids: Sequence[str]) -> set[str]:
        rows = await self._pool.fetch("SELECT fiche_id FROM knowledge_articles WHERE fiche_id = ANY ($1)", fiche_ids)
        return {r["fiche_id"] for r in rows}

    async def revisions(self, article_id: int) -> builtins.list[RevisionRow]:
        """Every revision of the article, latest first."""
        rows = await self._pool.fetch(_REVISIONS + " ORDER BY revision DESC", article_id)
        return [_revision(r) for r in rows]

    async def revision(self, article_id: int, revision: int) -> RevisionRow | None:
        row = await self._pool.fetchrow(_REVISIONS + " AND revision = $2", article_id, revision)
        return None if row is None else _revision(row)

    # -- writing local articles ------------------------------------------------------------------------------

    async def create(
        self,
        service_id: int,
        content: ArticleContent,
        status: str,
        *,
        author: str,
        author_id: int | None,
        action: str = "create",
        uid: UUID | None = None,
        conn: asyncpg.Connection | None = None,
    ) -> int:
        """Insert a local article and its revision 1; its id."""
        async with self._transaction(conn) as tx:
            article_id: int = await tx.fetchval(_INSERT, service_id, *_content_values(content, status), author, uid)
            await tx.execute(_REVISION, article_id, 1, action, *_revision_values(content, status), author_id,
                             author, None)  # fmt: skip
            return article_id

    async def update(
        self,
        article_id: int,
        expected_revision: int,
        content: ArticleContent,
        status: str,
        *,
        action: str,
        author: str,
        author_id: int | None,
        comment: str | None = None,
        conn: asyncpg.Connection | None = None,
    ) -> int:
        """Write a new revision (content and status) unless the article changed since `expected_revision`
        (`StaleArticle`); the new revision number."""
        async with self._transaction(conn) as tx:
            revision = await tx.fetchval(
                _UPDATE, article_id, expected_revision, *_content_values(content, status), author
            )
            if revision is None:
                exists = await tx.fetchval(
                    "SELECT revision FROM knowledge_articles WHERE id = $1 AND kind = 'local'", article_id
                )
                if exists is None:
                    raise UnknownArticle(f"no local article #{article_id}")
                raise StaleArticle(f"article #{article_id} is at revision {exists}, not {expected_revision}")
            await tx.execute(_REVISION, article_id, revision, action, *_revision_values(content, status),
                             author_id, author, comment)  # fmt: skip
            return int(revision)

    def _transaction(self, conn: asyncpg.Connection | None) -> _Tx:
        return _Tx(self._pool, conn)

    # -- national fiches -------------------------------------------------------------------------------------

    async def import_fiches(
        self,
        fiches: Sequence[FicheInput],
        *,
        file_name: str,
        sha256: str,
        file_date: date,
        imported_by: str,
        batch: int = FICHES_BATCH,
        progress: Callable[[int], None] | None = None,
    ) -> FicheCounts:
        """Create or update the fiches in one transaction (all or nothing), keyed by fiche id: an unchanged fiche
        (same content hash) is not rewritten. `progress(n)`: fiches written so far."""
        created = updated = 0
        async with self._pool.acquire() as conn, conn.transaction():
            source_id = await conn.fetchval(
                "INSERT INTO knowledge_sources (file_name, sha256, file_date, fiches, created, updated, unchanged,"
                " imported_by) VALUES ($1, $2, $3, $4, 0, 0, 0, $5) RETURNING id",
                file_name[-300:],
                sha256,
                file_date,
                len(fiches),
                imported_by,
            )
            for start in range(0, len(fiches), batch):
                chunk = fiches[start : start + batch]
                payload = [f.model_dump(mode="json") for f in chunk]  # the pool's codec encodes jsonb
                rows = await conn.fetch(_UPSERT_FICHES, payload, source_id, imported_by, timeout=FICHES_TIMEOUT)
                created += sum(1 for r in rows if r["created"])
                updated += sum(1 for r in rows if not r["created"])
                if progress is not None:
                    progress(start + len(chunk))
            counts = FicheCounts(created=created, updated=updated, unchanged=len(fiches) - created - updated)
            await conn.execute(
                "UPDATE knowledge_sources SET created = $2, updated = $3, unchanged = $4 WHERE id = $1",
                source_id,
                counts.created,
                counts.updated,
                counts.unchanged,
            )
        return counts

    async def latest_source_date(self) -> date | None:
        value = await self._pool.fetchval("SELECT file_date FROM knowledge_sources ORDER BY id DESC LIMIT 1")
        return value if isinstance(value, date) else None


class _Tx:
    """A transaction on the given connection, or on one acquired from the pool."""

    def __init__(self, pool: asyncpg.Pool, conn: asyncpg.Connection | None) -> None:
        self._pool = pool
        self._given = conn
        self._acquired: Any = None
        self._tx: Any = None

    async def __aenter__(self) -> asyncpg.Connection:
        conn = self._given
        if conn is None:
            self._acquired = self._pool.acquire()
            conn = await self._acquired.__aenter__()
        self._tx = conn.transaction()
        await self._tx.__aenter__()
        return conn

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._tx.__aexit__(*exc)
        finally:
            if self._acquired is not None:
                await self._acquired.__aexit__(*exc)


def _content_values(content: ArticleContent, status: str) -> tuple[Any, ...]:
    return (
        content.title,
        content.summary,
        content.body,
        content.body_text,
        status,
        content.review_by,
        list(content.topics),
        content.topic_text,
        list(content.linked_services),
        list(content.linked_partners),
        list(content.linked_fiches),
        content.example,
    )


def _revision_values(content: ArticleContent, status: str) -> tuple[Any, ...]:
    return (content.title, content.summary, content.body, status, content.review_by, list(content.topics))
