"""The directory's errors: a stable `error_id`, an HTTP status and a French message (shown as it is), mapped to
responses by the one error mapping (`screenpop/web/errors.py`)."""

from __future__ import annotations

from pydantic import ValidationError

from screenpop.web.errors import BadRequest, WebError


class BadDepartement(BadRequest):
    error_id = "bad-departement"
    default_message = "département invalide (par exemple 62, 2A ou 971)"


class BadLimit(BadRequest):
    error_id = "bad-limit"


class BadQuery(BadRequest):
    error_id = "bad-directory-query"


class DirectoryError(WebError):
    error_id = "directory-error"
    status = 400
    default_message = "Demande refusée par l'annuaire."


class InvalidEntry(DirectoryError):
    error_id = "invalid-directory-entry"
    status = 422


class UnknownOrganisation(DirectoryError):
    error_id = "unknown-organisation"
    status = 404


class NotAllowed(DirectoryError):
    error_id = "directory-not-allowed"
    status = 403


class EditConflict(DirectoryError):
    error_id = "directory-edit-conflict"
    status = 409


class UnreadableFile(DirectoryError):
    """An import file that cannot be read as a whole: nothing was changed."""

    error_id = "unreadable-directory-file"
    status = 400


FIELD_LABELS = {
    "kind": "type",
    "name": "nom",
    "owner": "responsable",
    "ref": "référence",
    "active": "actif",
    "extension": "poste",
    "topics": "thèmes",
    "escalation_contact": "contact d'escalade",
    "street": "adresse",
    "postal_code": "code postal",
    "city": "ville",
    "commune_insee": "commune (code INSEE)",
    "email": "courriel",
    "website": "site web",
    "hours": "horaires",
    "closed_dates": "fermetures exceptionnelles",
    "open_dates": "ouvertures exceptionnelles",
    "public_note": "à dire à l'usager",
    "staff_contact": "contact réservé aux agents",
    "verified_on": "vérifié le",
    "phones": "téléphones",
    "communes": "communes servies",
    "epcis": "intercommunalités servies",
    "departements": "départements servis",
}

_MESSAGES = {
    "missing": "obligatoire",
    "string_type": "obligatoire",
    "string_pattern_mismatch": "valeur invalide",
    "enum": "valeur inconnue",
    "date_from_datetime_parsing": "date invalide (attendu AAAA-MM-JJ)",
    "date_parsing": "date invalide (attendu AAAA-MM-JJ)",
    "date_type": "date invalide (attendu AAAA-MM-JJ)",
    "too_long": "trop long",
    "bool_parsing": "attendu oui ou non",
    "extra_forbidden": "champ inconnu",
}


def french_reasons(exc: ValidationError) -> str:
    """A pydantic validation error of a `Draft` as one French sentence: « nom : obligatoire ; poste : … »."""
    parts = [f"{FIELD_LABELS.get(f, f)} : {m}" if f else m for f, m in field_reasons(exc)]
    return " ; ".join(dict.fromkeys(parts))


def field_reasons(exc: ValidationError) -> list[tuple[str | None, str]]:
    """Each refusal of a `Draft`'s validation: (the field, or None for the entry as a whole; French reason)."""
    found = []
    for error in exc.errors(include_url=False, include_input=False):
        fields = [str(p) for p in error["loc"] if isinstance(p, str)]
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] != "value_error":
            message = _MESSAGES.get(error["type"], message)
        if error["type"] == "enum" and "expected" in error.get("ctx", {}):
            message = f"valeur inconnue (possibles : {error['ctx']['expected']})"
        found.append((fields[0] if fields else None, message))
    return found
