"""The knowledge base's rules and orchestration: reading an article, writing it through its workflow with every
revision kept, comparing revisions, the editors' to-do list, the pop's suggestions.

Every write asks `workflow.decide` first and raises its French reason (`NotAllowed`); content is checked against
the desk's settings (topics, partners) and the database (services, fiches) before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import asyncpg

from config.settings import DeskSettings
from screenpop.knowledge import diff, render
from screenpop.knowledge.errors import (
    ArticleConflict,
    ArticleNotFound,
    InvalidArticle,
    NotAllowed,
    QuestionNotFound,
    RevisionNotFound,
)
from screenpop.knowledge.fiches import FICHE_ID, LIVE_PAGE
from screenpop.knowledge.models import (
    ArticleInput,
    ArticleView,
    Comparison,
    Label,
    LinkedFiche,
    RevisionView,
)
from screenpop.knowledge.search import credit, topic_labels
from screenpop.knowledge.workflow import (
    STATUS_LABELS,
    Action,
    Actor,
    ArticleState,
    Status,
    actions_for,
    decide,
    may_create,
)
from storage.knowledge.articles import ArticleContent, ArticleRepository, ArticleRow, RevisionRow, StaleArticle
from storage.knowledge.loop import LoopRepository, Suggestion, Todo, WeekCount
from storage.users import Role, User


def actor_of(user: User) -> Actor:
    return Actor(role=user.role, service_id=user.service_id)


def check_topics(desk: DeskSettings, keys: tuple[str, ...]) -> tuple[str, ...]:
    """Topic keys checked against the settings ("topic" or "topic/subtopic"), each sub-topic's topic added, in
    order, without repeats. Raises `InvalidArticle` naming an unknown key."""
    out: list[str] = []
    for key in keys:
        topic_key, _, sub = key.partition("/")
        topic = desk.topics.get(topic_key)
        if topic is None or (sub and sub not in topic.subtopics):
            known = ", ".join(desk.topics)
            raise InvalidArticle(f"thème « {key} » inconnu ; thèmes possibles : {known} (ou thème/sous-thème)")
        for part in (topic_key, key):
            if part not in out:
                out.append(part)
    return tuple(out)


def topic_text(desk: DeskSettings, keys: tuple[str, ...]) -> str:
    """The topics' labels, indexed with the article (weight B)."""
    return " ".join(label.label.replace("›", " ") for label in topic_labels(desk, keys))


class KnowledgeService:
    def __init__(self, pool: asyncpg.Pool, desk: DeskSettings, *, today: Callable[[], date] = date.today) -> None:
        self._pool = pool
        self._desk = desk
        self._today = today
        self.articles = ArticleRepository(pool)
        self.loop = LoopRepository(pool)

    # -- reading ---------------------------------------------------------------------------------------------

    async def article(self, user: User, article_id: int) -> ArticleView:
        row = await self._row(user, article_id)
        return await self._view(user, row)

    async def _row(self, user: User, article_id: int) -> ArticleRow:
        row = await self.articles.get(article_id)
        if row is None:
            raise ArticleNotFound(f"article n° {article_id} introuvable")
        decision = decide(actor_of(user), _state(row), Action.READ)
        if not decision.allowed:  # an unpublished article of another service: as if it did not exist
            raise ArticleNotFound(f"article n° {article_id} introuvable")
        return row

    async def _view(self, user: User, row: ArticleRow) -> ArticleView:
        services = await self._service_names(row.linked_services)
        fiches = await self._fiches(row.linked_fiches)
        status = Status(row.status)
        return ArticleView(
            id=row.id,
            kind=row.kind,
            title=row.title,
            summary=row.summary,
            body=row.body,
            body_html=render.to_html(row.body),
            status=status,
            status_label=STATUS_LABELS[status],
            service_id=row.service_id,
            service_name=row.service_name,
            review_by=row.review_by,
            review_overdue=row.review_by is not None and row.review_by < self._today(),
            topics=topic_labels(self._desk, row.topics),
            linked_services=tuple(
                Label(key=str(i), label=services.get(i, f"service n° {i}")) for i in row.linked_services
            ),
            linked_partners=tuple(Label(key=k, label=self._desk.partners.get(k, k)) for k in row.linked_partners),
            linked_fiches=fiches,
            example=row.example,
            revision=row.revision,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
            uses=row.uses,
            fiche_id=row.fiche_id,
            fiche_type=row.fiche_type,
            fiche_date=row.fiche_date,
            source_url=row.source_url,
            breadcrumb=row.breadcrumb,
            credit=credit(row.source_file_date, row.fiche_date) if row.kind == "national" else None,
            actions=tuple(actions_for(actor_of(user), _state(row))),
        )

    async def _service_names(self, ids: tuple[int, ...]) -> dict[int, str]:
        if not ids:
            return {}
        rows = await self._pool.fetch("SELECT id, name FROM services WHERE id = ANY ($1::bigint[])", list(ids))
        return {int(r["id"]): str(r["name"]) for r in rows}

    async def _fiches(self, fiche_ids: tuple[str, ...]) -> tuple[LinkedFiche, ...]:
        if not fiche_ids:
            return ()
        rows = await self._pool.fetch(
            "SELECT id, fiche_id, title, source_url FROM knowledge_articles WHERE fiche_id = ANY ($1::text[])",
            list(fiche_ids),
        )
        found = {r["fiche_id"]: r for r in rows}
        return tuple(
            LinkedFiche(
                fiche_id=f,
                article_id=found[f]["id"] if f in found else None,
                title=found[f]["title"] if f in found else None,
                url=(found[f]["source_url"] if f in found else None) or LIVE_PAGE.format(id=f),
            )
            for f in fiche_ids
        )

    async def listing(
        self, user: User, *, service_id: int | None = None, status: Status | None = None, topic: str | None = None
    ) -> list[ArticleRow]:
        """The local articles `user` may read (published ones, and every status of the services they manage), of
        one service, status and topic (a topic key also matches its sub-topics), by service then title."""
        rows = await self.articles.list_local(service_id, None if status is None else [status.value])
        actor = actor_of(user)
        return [
            r
            for r in rows
            if decide(actor, _state(r), Action.READ).allowed
            and (topic is None or any(t == topic or t.startswith(topic + "/") for t in r.topics))
        ]

    async def services(self) -> list[tuple[int, str]]:
        """The département's services (id, name), by name: the owners of articles and the services they link."""
        rows = await self._pool.fetch("SELECT id, name FROM services ORDER BY name, id")
        return [(int(r["id"]), str(r["name"])) for r in rows]

    def topics(self) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """The qualification's topics: (key, label, [(topic/sub key, label)])."""
        return [
            (key, topic.label, [(f"{key}/{sub}", label) for sub, label in topic.subtopics.items()])
            for key, topic in self._desk.topics.items()
        ]

    def partners(self) -> dict[str, str]:
        return dict(self._desk.partners)

    # -- writing ---------------------------------------------------------------------------------------------

    async def create(self, user: User, service_id: int, data: ArticleInput) -> ArticleView:
        decision = may_create(actor_of(user), service_id)
        if not decision.allowed:
            raise NotAllowed(decision.reason)
        if not await self._pool.fetchval("SELECT EXISTS (SELECT 1 FROM services WHERE id = $1)", service_id):
            raise InvalidArticle(f"service n° {service_id} inconnu")
        content = await self.content(data)
        article_id = await self.articles.create(
            service_id, content, Status.DRAFT.value, author=user.login, author_id=user.id
        )
        return await self.article(user, article_id)

    async def edit(self, user: User, article_id: int, revision: int, data: ArticleInput) -> ArticleView:
        row = await self._row(user, article_id)
        decision = decide(actor_of(user), _state(row), Action.EDIT)
        if not decision.allowed:
            raise NotAllowed(decision.reason)
        content = await self.content(data)
        await self._write(row, revision, content, row.status, Action.EDIT, user, None)
        return await self.article(user, article_id)

    async def transition(
        self, user: User, article_id: int, revision: int, action: Action, comment: str | None = None
    ) -> ArticleView:
        """A status change (submit, publish, reject, archive, restore), kept as a revision with its comment."""
        row = await self._row(user, article_id)
        decision = decide(actor_of(user), _state(row), action)
        if not decision.allowed or decision.to_status is None or action is Action.EDIT:
            raise NotAllowed(decision.reason or f"action {action.value} impossible ici")
        content = _content_of(row, await self._pool.fetchval(
            "SELECT body_text FROM knowledge_articles WHERE id = $1", article_id), self._desk)  # fmt: skip
        note = " ".join((comment or "").split())[:500] or None
        await self._write(row, revision, content, decision.to_status.value, action, user, note)
        return await self.article(user, article_id)

    async def _write(
        self,
        row: ArticleRow,
        revision: int,
        content: ArticleContent,
        status: str,
        action: Action,
        user: User,
        comment: str | None,
    ) -> None:
        try:
            await self.articles.update(
                row.id, revision, content, status, action=action.value, author=user.login, author_id=user.id,
                comment=comment,
            )  # fmt: skip
        except StaleArticle:
            raise ArticleConflict(
                "l'article a été modifié entre-temps par quelqu'un d'autre : rechargez-le avant d'enregistrer"
            ) from None

    async def content(self, data: ArticleInput) -> ArticleContent:
        """An editor's input checked (topics, partners, services, fiches) and completed (plain text, labels)."""
        topics = check_topics(self._desk, data.topics)
        for partner in data.linked_partners:
            if partner not in self._desk.partners:
                raise InvalidArticle(f"partenaire « {partner} » inconnu ; possibles : {', '.join(self._desk.partners)}")
        services = tuple(dict.fromkeys(data.linked_services))
        known = await self._service_names(services)
        if missing := [s for s in services if s not in known]:
            raise InvalidArticle(f"service(s) lié(s) inconnu(s) : {', '.join(map(str, missing))}")
        fiches = tuple(dict.fromkeys(data.linked_fiches))
        if bad := [f for f in fiches if not FICHE_ID.fullmatch(f)]:
            raise InvalidArticle(f"identifiant(s) de fiche invalide(s) : {', '.join(bad)} (par exemple F2487)")
        return ArticleContent(
            title=data.title,
            summary=data.summary,
            body=data.body,
            body_text=render.to_text(data.body),
            review_by=data.review_by,
            topics=topics,
            topic_text=topic_text(self._desk, topics),
            linked_services=services,
            linked_partners=tuple(dict.fromkeys(data.linked_partners)),
            linked_fiches=fiches,
            example=data.example,
        )

    # -- revisions -------------------------------------------------------------------------------------------

    async def revisions(self, user: User, article_id: int) -> list[RevisionView]:
        row = await self._row(user, article_id)
        return [_revision_view(r) for r in await self.articles.revisions(row.id)]

    async def compare(self, user: User, article_id: int, old: int, new: int) -> Comparison:
        """A readable diff between two revisions of an article (the title word by word, the body by lines)."""
        row = await self._row(user, article_id)
        before = await self.articles.revision(row.id, old)
        after = await self.articles.revision(row.id, new)
        if before is None or after is None:
            raise RevisionNotFound(f"révision {old if before is None else new} introuvable pour l'article n° {row.id}")
        return Comparison(
            article_id=row.id,
            old=_revision_view(before),
            new=_revision_view(after),
            diff=diff.revisions(before.title, before.body, after.title, after.body),
        )

    # -- the loop --------------------------------------------------------------------------------------------

    async def todo(self, user: User, service_id: int | None = None) -> Todo:
        """The to-do list of the user's service (an editor), or of `service_id` (supervisors, admins)."""
        target = service_id if service_id is not None else user.service_id
        if target is None or not (user.role in (Role.SUPERVISOR, Role.ADMIN) or user.service_id == target):
            raise NotAllowed("la liste des tâches est celle d'un service : rédacteurs, superviseurs, administrateurs")
        topics = await self._pool.fetchval("SELECT topics FROM services WHERE id = $1", target)
        if topics is None:
            raise InvalidArticle(f"service n° {target} inconnu")
        return await self.loop.todo(target, list(topics), self._today())

    async def resolve_question(self, user: User, linkedid: str, article_id: int | None = None) -> None:
        """A question left without an answer, answered (by the article written for it) or set aside, by an editor
        of a service whose topics include the question's, or a supervisor or admin. Raises `QuestionNotFound`
        when no such question is open, `NotAllowed` for anyone else."""
        topic = await self._pool.fetchval(
            "SELECT topic FROM knowledge_unanswered WHERE linkedid = $1 AND resolved_at IS NULL", linkedid
        )
        if topic is None:
            raise QuestionNotFound("question introuvable, ou déjà traitée")
        if user.role not in (Role.SUPERVISOR, Role.ADMIN):
            topics = await self._pool.fetchval("SELECT topics FROM services WHERE id = $1", user.service_id)
            if user.role is not Role.EDITOR or topics is None or topic not in topics:
                raise NotAllowed("cette question porte sur un thème d'un autre service")
        if not await self.loop.resolve(linkedid, user.login, article_id):
            raise QuestionNotFound("question introuvable, ou déjà traitée")

    async def unanswered_by_week(self, user: User, since: date, until: date, tz: str) -> list[WeekCount]:
        """Themes left without an answer, counted by week: for editors, supervisors and admins."""
        if user.role is Role.ADVISOR:
            raise NotAllowed("le relevé des questions sans réponse est pour les rédacteurs et l'encadrement")
        return await self.loop.unanswered_by_week(since, until, tz)

    async def suggestions(
        self, caller_number: str | None, topic: str | None, subtopic: str | None = None, limit: int = 3
    ) -> list[Suggestion]:
        """Up to three articles for a pop: from the caller's history, then the chosen (sub-)topic."""
        topic = topic if topic in self._desk.topics else None
        sub = f"{topic}/{subtopic}" if topic and subtopic and subtopic in self._desk.topics[topic].subtopics else None
        return await self.loop.suggestions(caller_number, topic, sub, limit)


def _state(row: ArticleRow) -> ArticleState:
    return ArticleState(service_id=row.service_id, status=Status(row.status))


def _content_of(row: ArticleRow, body_text: str | None, desk: DeskSettings) -> ArticleContent:
    return ArticleContent(
        title=row.title,
        summary=row.summary,
        body=row.body,
        body_text=body_text or "",
        review_by=row.review_by,
        topics=row.topics,
        topic_text=topic_text(desk, row.topics),
        linked_services=row.linked_services,
        linked_partners=row.linked_partners,
        linked_fiches=row.linked_fiches,
        example=row.example,
    )


def _revision_view(row: RevisionRow) -> RevisionView:
    return RevisionView(
        revision=row.revision,
        action=row.action,
        status=Status(row.status),
        title=row.title,
        author=row.author,
        comment=row.comment,
        created_at=row.created_at,
    )
