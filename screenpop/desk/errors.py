"""The desk slice's refusals."""

from __future__ import annotations

from screenpop.web.errors import BadRequest, Conflict, Forbidden, ServiceUnavailable


class NotAnAdvisor(Forbidden):
    error_id = "not-an-advisor"
    default_message = "Seuls les conseillers ont une présence."


class InvalidPresence(BadRequest):
    error_id = "invalid"


class PresenceRefused(Conflict):
    """The presence board refused the command; its French message says why."""

    error_id = "presence-refused"


class RouterDown(ServiceUnavailable):
    error_id = "router-unavailable"
    default_message = "Le routage ne répond pas. Réessayez."


class SessionEndDuringCall(Conflict):
    """« Fermer la session » while the advisor's phone rings or is in a call: the session stays open."""

    error_id = "session-end-during-call"
    default_message = (
        "Impossible de fermer la session pendant un appel : terminez ou transférez l'appel, puis fermez la session."
    )


class SessionEndRouterDown(ServiceUnavailable):
    """The router did not answer the logout: the session stays open rather than leave the advisor in the queue."""

    error_id = "session-end-router-unavailable"
    default_message = (
        "Le routage ne répond pas : la session reste ouverte pour ne pas vous laisser dans la file d'appels. "
        "Réessayez dans un instant."
    )
