"""The knowledge base's workflow and permissions, as tables (screenpop.knowledge.workflow)."""

from __future__ import annotations

import pytest

from screenpop.knowledge.workflow import (
    Action,
    Actor,
    ArticleState,
    Status,
    actions_for,
    decide,
    may_create,
    visible_statuses,
)
from storage.users import Role

OWN, OTHER = 1, 2
EDITOR = Actor(Role.EDITOR, OWN)
OTHER_EDITOR = Actor(Role.EDITOR, OTHER)
ADVISOR = Actor(Role.ADVISOR)
SUPERVISOR = Actor(Role.SUPERVISOR)
ADMIN = Actor(Role.ADMIN)

D, R, P, A = Status.DRAFT, Status.REVIEW, Status.PUBLISHED, Status.ARCHIVED


def local(status: Status) -> ArticleState:
    return ArticleState(service_id=OWN, status=status)


NATIONAL = ArticleState(service_id=None, status=P)

# (actor, article, action) → the status it leads to, or None when refused
TABLE = [
    # the editor of the owning service runs the whole workflow
    (EDITOR, local(D), Action.EDIT, D),
    (EDITOR, local(D), Action.SUBMIT, R),
    (EDITOR, local(R), Action.PUBLISH, P),
    (EDITOR, local(R), Action.REJECT, D),
    (EDITOR, local(P), Action.EDIT, P),
    (EDITOR, local(P), Action.REJECT, D),
    (EDITOR, local(P), Action.ARCHIVE, A),
    (EDITOR, local(D), Action.ARCHIVE, A),
    (EDITOR, local(A), Action.RESTORE, D),
    # … in order only
    (EDITOR, local(D), Action.PUBLISH, None),
    (EDITOR, local(P), Action.SUBMIT, None),
    (EDITOR, local(P), Action.PUBLISH, None),
    (EDITOR, local(A), Action.EDIT, None),
    (EDITOR, local(A), Action.PUBLISH, None),
    (EDITOR, local(D), Action.RESTORE, None),
    # an editor of another service does nothing to it
    (OTHER_EDITOR, local(R), Action.PUBLISH, None),
    (OTHER_EDITOR, local(D), Action.EDIT, None),
    (OTHER_EDITOR, local(P), Action.EDIT, None),
    (OTHER_EDITOR, local(P), Action.ARCHIVE, None),
    (OTHER_EDITOR, local(D), Action.SUBMIT, None),
    # an advisor edits nothing
    (ADVISOR, local(D), Action.EDIT, None),
    (ADVISOR, local(P), Action.EDIT, None),
    (ADVISOR, local(R), Action.PUBLISH, None),
    (ADVISOR, local(P), Action.ARCHIVE, None),
    # supervisors and admins act for every service
    (SUPERVISOR, local(R), Action.PUBLISH, P),
    (SUPERVISOR, local(D), Action.EDIT, D),
    (ADMIN, local(P), Action.ARCHIVE, A),
    (ADMIN, local(A), Action.RESTORE, D),
    # national fiches are read-only, for everyone
    (ADMIN, NATIONAL, Action.EDIT, None),
    (SUPERVISOR, NATIONAL, Action.ARCHIVE, None),
    (EDITOR, NATIONAL, Action.REJECT, None),
]


@pytest.mark.parametrize(("actor", "article", "action", "leads_to"), TABLE)
def test_decide(actor: Actor, article: ArticleState, action: Action, leads_to: Status | None) -> None:
    decision = decide(actor, article, action)
    assert decision.allowed is (leads_to is not None), decision.reason
    assert decision.to_status == leads_to
    if not decision.allowed:
        assert decision.reason  # a French reason for the page


@pytest.mark.parametrize(
    ("actor", "status", "readable"),
    [
        (ADVISOR, P, True),
        (ADVISOR, D, False),
        (ADVISOR, R, False),
        (ADVISOR, A, False),
        (OTHER_EDITOR, D, False),
        (OTHER_EDITOR, P, True),
        (EDITOR, D, True),
        (EDITOR, A, True),
        (SUPERVISOR, R, True),
    ],
)
def test_read(actor: Actor, status: Status, readable: bool) -> None:
    assert decide(actor, local(status), Action.READ).allowed is readable
    assert (status in visible_statuses(actor, OWN)) is readable


@pytest.mark.parametrize(
    ("actor", "service", "allowed"),
    [(EDITOR, OWN, True), (EDITOR, OTHER, False), (ADVISOR, OWN, False), (SUPERVISOR, OTHER, True),
     (ADMIN, OWN, True), (Actor(Role.EDITOR, None), OWN, False)],
)  # fmt: skip
def test_create(actor: Actor, service: int, allowed: bool) -> None:
    decision = may_create(actor, service)
    assert decision.allowed is allowed
    assert decision.to_status == (D if allowed else None)
    assert decide(actor, ArticleState(service, D), Action.CREATE).allowed is allowed


def test_reasons_are_french_and_say_why() -> None:
    assert "autre service" in decide(OTHER_EDITOR, local(R), Action.PUBLISH).reason
    assert "conseiller" in decide(ADVISOR, local(P), Action.EDIT).reason
    assert "lecture seule" in decide(ADMIN, NATIONAL, Action.EDIT).reason
    refused = decide(EDITOR, local(D), Action.PUBLISH).reason
    assert "publier" in refused and "en relecture" in refused


def test_actions_offered() -> None:
    assert actions_for(ADVISOR, local(P)) == [Action.READ]
    assert actions_for(EDITOR, local(R)) == [Action.READ, Action.EDIT, Action.PUBLISH, Action.REJECT, Action.ARCHIVE]
    assert actions_for(OTHER_EDITOR, local(D)) == []
    assert actions_for(ADMIN, NATIONAL) == [Action.READ]
