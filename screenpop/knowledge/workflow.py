"""Who may do what to an article, pure: the workflow draft → review → published → archived and its permissions.

A local article belongs to a service. Its editors (role `editor`, bound to that service) write it, send it to
review, publish it, send it back to draft, archive and restore it; supervisors and admins may do all of it for
any service. An editor of another service may do nothing to it, not even read it before it is published.
Advisors read published articles and edit nothing. National fiches are read-only for everyone: only their
import changes them.

`decide(actor, article, action)` answers with a `Decision`: allowed, or refused with a French reason; the
service raises it, the page greys what is refused. No I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from storage.users import Role


class Status(StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    PUBLISHED = "published"
    ARCHIVED = "archived"


STATUS_LABELS: dict[Status, str] = {
    Status.DRAFT: "Brouillon",
    Status.REVIEW: "En relecture",
    Status.PUBLISHED: "Publié",
    Status.ARCHIVED: "Archivé",
}


class Action(StrEnum):
    READ = "read"
    CREATE = "create"
    EDIT = "edit"  # title, body, topics, links, review date: a new revision, the status unchanged
    SUBMIT = "submit"  # draft → review
    PUBLISH = "publish"  # review → published
    REJECT = "reject"  # review or published → draft (back to work)
    ARCHIVE = "archive"  # draft, review or published → archived
    RESTORE = "restore"  # archived → draft


ACTION_LABELS: dict[Action, str] = {
    Action.READ: "lire",
    Action.CREATE: "créer",
    Action.EDIT: "modifier",
    Action.SUBMIT: "envoyer en relecture",
    Action.PUBLISH: "publier",
    Action.REJECT: "renvoyer en brouillon",
    Action.ARCHIVE: "archiver",
    Action.RESTORE: "restaurer",
}

# Status changes: action → (the statuses it starts from, the status it leads to).
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status]] = {
    Action.SUBMIT: (frozenset({Status.DRAFT}), Status.REVIEW),
    Action.PUBLISH: (frozenset({Status.REVIEW}), Status.PUBLISHED),
    Action.REJECT: (frozenset({Status.REVIEW, Status.PUBLISHED}), Status.DRAFT),
    Action.ARCHIVE: (frozenset({Status.DRAFT, Status.REVIEW, Status.PUBLISHED}), Status.ARCHIVED),
    Action.RESTORE: (frozenset({Status.ARCHIVED}), Status.DRAFT),
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: their role, and for an editor the service they write for."""

    role: Role
    service_id: int | None = None


@dataclass(frozen=True, slots=True)
class ArticleState:
    """What the rules need of an article: its owner (None: a national fiche) and its status."""

    service_id: int | None
    status: Status

    @property
    def national(self) -> bool:
        return self.service_id is None


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""  # French, when refused
    to_status: Status | None = None  # the status the action leads to (status changes)


def _refuse(reason: str) -> Decision:
    return Decision(False, reason)


def manages(actor: Actor, service_id: int | None) -> bool:
    """Whether the actor writes for this service: supervisors and admins for all, an editor for their own."""
    if actor.role in (Role.SUPERVISOR, Role.ADMIN):
        return True
    return actor.role is Role.EDITOR and service_id is not None and actor.service_id == service_id


def may_create(actor: Actor, service_id: int) -> Decision:
    """Whether the actor may create an article owned by `service_id`."""
    if actor.role is Role.ADVISOR:
        return _refuse("un conseiller ne rédige pas d'article : demandez à un rédacteur du service")
    if not manages(actor, service_id):
        return _refuse("vous ne rédigez que pour votre service")
    return Decision(True, to_status=Status.DRAFT)


def decide(actor: Actor, article: ArticleState, action: Action) -> Decision:
    """Whether `actor` may do `action` to `article` (for a creation, use `may_create`)."""
    if action is Action.CREATE:
        if article.service_id is None:
            return _refuse("les fiches nationales ne se créent que par import")
        return may_create(actor, article.service_id)
    if action is Action.READ:
        if article.status is Status.PUBLISHED or manages(actor, article.service_id):
            return Decision(True)
        return _refuse("cet article n'est pas publié")
    if article.national:
        return _refuse("les fiches nationales sont en lecture seule : elles changent par import")
    if actor.role is Role.ADVISOR:
        return _refuse("un conseiller ne modifie pas les articles : signalez-le au service")
    if not manages(actor, article.service_id):
        return _refuse("cet article appartient à un autre service : seuls ses rédacteurs le modifient")
    if action is Action.EDIT:
        if article.status is Status.ARCHIVED:
            return _refuse("un article archivé se restaure avant d'être modifié")
        return Decision(True, to_status=article.status)
    starts, leads_to = TRANSITIONS[action]
    if article.status not in starts:
        allowed_from = ", ".join(STATUS_LABELS[s].lower() for s in sorted(starts, key=list(Status).index))
        return _refuse(
            f"impossible de {ACTION_LABELS[action]} un article {STATUS_LABELS[article.status].lower()} "
            f"(possible depuis : {allowed_from})"
        )
    return Decision(True, to_status=leads_to)


def actions_for(actor: Actor, article: ArticleState) -> list[Action]:
    """The actions the actor may do now on the article (what the page offers)."""
    return [a for a in Action if a is not Action.CREATE and decide(actor, article, a).allowed]


def visible_statuses(actor: Actor, service_id: int | None) -> frozenset[Status]:
    """The statuses of `service_id`'s articles the actor may see (published only, unless they manage it)."""
    if manages(actor, service_id):
        return frozenset(Status)
    return frozenset({Status.PUBLISHED})
