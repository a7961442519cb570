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
