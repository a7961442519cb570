"""The desk's vocabulary shared by its modules: users, roles, outcomes."""

from __future__ import annotations

from enum import StrEnum

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    ADVISOR = "advisor"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    EDITOR = "editor"  # writes the knowledge base for one service (`User.service_id`)


class User(BaseModel):
    """Who is logged in (set on `request["user"]` by the auth middleware)."""

    model_config = ConfigDict(frozen=True)

    id: int
    login: str = Field(max_length=40)
    name: str = Field(max_length=80)
    role: Role
    advisor_id: int | None = None  # the advisor this user is, for role advisor
    service_id: int | None = None  # the service an editor writes for (role editor only)


class Outcome(StrEnum):
    """How a call ended for the citizen (qualification), French labels in OUTCOME_LABELS."""

    IMMEDIATE_ANSWER = "immediate_answer"
    ADVICE = "advice"
    TRANSFER = "transfer"  # to a service of the département: `transfer_service` says which
    PARTNER_CONTACT = "partner_contact"  # a partner's contact given: `partner` says which
    CALLBACK_NEEDED = "callback_needed"
    OTHER = "other"


OUTCOME_LABELS: dict[Outcome, str] = {
    Outcome.IMMEDIATE_ANSWER: "Réponse immédiate",
    Outcome.ADVICE: "Conseil, orientation",
    Outcome.TRANSFER: "Transfert vers un service",
    Outcome.PARTNER_CONTACT: "Coordonnées d'un partenaire",
    Outcome.CALLBACK_NEEDED: "Rappel nécessaire",
    Outcome.OTHER: "Autre",
}


# Request storage set by the auth middleware (aiohttp wants typed keys): request[USER], request[CSRF].
USER = web.RequestKey("user", User)
CSRF = web.RequestKey("csrf", str)
