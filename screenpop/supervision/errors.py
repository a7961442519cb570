"""The supervision slice's refusals."""

from __future__ import annotations

from screenpop.web.errors import BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable


class NotASupervisor(Forbidden):
    error_id = "not-a-supervisor"
    default_message = "Le tableau de bord est réservé aux superviseurs et aux administrateurs."


class InvalidAction(BadRequest):
    error_id = "invalid-action"
    default_message = (
        "Action incomplète : choisissez un conseiller, une action et, pour une pause, son motif ; "
        "le motif de l'action est obligatoire (200 caractères au plus)."
    )


class UnknownAdvisor(NotFound):
    error_id = "unknown-advisor"
    default_message = "Ce conseiller n'existe pas ou n'est plus actif."


class ActionRefused(Conflict):
    """The router refused the command (the advisor is in a call, already logged out…); its French message."""

    error_id = "action-refused"


class RouterDown(ServiceUnavailable):
    error_id = "router-unavailable"
    default_message = "Le routage ne répond pas. Réessayez."
