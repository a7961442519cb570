"""The pops slice's refusals."""

from __future__ import annotations

from screenpop.web.errors import Forbidden


class ForeignOrigin(Forbidden):
    """A websocket opened from a page that is not the service's (cross-site websocket hijacking)."""

    error_id = "foreign-origin"
    default_message = "Connexion refusée : la page qui la demande n'est pas celle du service."
