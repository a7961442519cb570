"""The errors every slice raises: a stable `error_id`, an HTTP `status` and a French message for the user.

No aiohttp here (services raise these): `screenpop.web.middleware.errors` turns them into responses, JSON
`{"error": id, "message": "…"}` for the API, an HTML page otherwise. A slice's own errors (`<slice>/errors.py`)
subclass these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import ValidationError


class WebError(Exception):
    error_id: ClassVar[str] = "internal"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Erreur interne du service. Réessayez dans un instant."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self)


class BadRequest(WebError):
    error_id = "bad-request"
    status = 400
    default_message = "Demande invalide."


class BadJson(BadRequest):
    error_id = "bad-json"
    default_message = "Le corps de la demande n'est pas un JSON valide (UTF-8)."


class BadForm(BadRequest):
    error_id = "bad-form"
    default_message = "Formulaire illisible : rechargez la page puis réessayez."


class TooLarge(WebError):
    error_id = "too-large"
    status = 413
    default_message = "Demande trop volumineuse."


class Unauthenticated(WebError):
    error_id = "unauthenticated"
    status = 401
    default_message = "Vous n'êtes pas connecté(e) ou votre session a expiré. Veuillez vous connecter."


class Forbidden(WebError):
    error_id = "forbidden"
    status = 403
    default_message = "Vous n'avez pas accès à cette page."


class NotFound(WebError):
    error_id = "not-found"
    status = 404
    default_message = "Page introuvable."


class Conflict(WebError):
    error_id = "conflict"
    status = 409
    default_message = "Cette action n'est pas possible en ce moment."


class Invalid(WebError):
    """Refused content (the request was well formed)."""

    error_id = "invalid"
    status = 422
    default_message = "Données refusées."


class ServiceUnavailable(WebError):
    error_id = "unavailable"
    status = 503
    default_message = "Service momentanément indisponible. Réessayez dans un instant."


# aiohttp's own refusals (no route, wrong method, body too large…), in French
HTTP_MESSAGES: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Demande invalide."),
    401: ("unauthenticated", Unauthenticated.default_message),
    403: ("forbidden", Forbidden.default_message),
    404: ("not-found", NotFound.default_message),
    405: ("method-not-allowed", "Méthode non permise pour cette adresse."),
    413: ("too-large", "Demande trop volumineuse."),
    429: ("too-many-requests", "Trop de demandes : réessayez dans quelques minutes."),
}


def french(exc: ValidationError, labels: Mapping[str, str] = {}) -> str:
    """A pydantic validation error in French, one clause per refused field (`labels`: field → French name)."""
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"])
        label = labels.get(field, field)
        kind = err["type"]
        ctx: dict[str, Any] = err.get("ctx") or {}
        if kind == "missing":
            text = "obligatoire"
        elif kind == "extra_forbidden":
            text = "champ inconnu"
        elif kind == "string_too_long":
            text = f"trop long ({ctx.get('max_length')} caractères au plus)"
        elif kind == "string_too_short":
            text = "obligatoire"
        elif kind in ("enum", "literal_error"):  # expected: "'a', 'b' or 'c'"
            text = "valeur inconnue ; possibles : " + str(ctx.get("expected", "")).replace("'", "").replace(
                " or ", ", "
            )
        elif kind == "string_pattern_mismatch":
            text = "format invalide"
        elif kind == "value_error":
            text = str(ctx.get("error", "valeur refusée"))
        elif kind.startswith(("int", "bool", "string_type", "float")):
            text = "type de valeur incorrect"
        elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            text = "valeur hors des limites"
        else:
            text = "valeur refusée"
        lines.append(text if not field else f"{label} : {text}")
    return " ; ".join(lines)
