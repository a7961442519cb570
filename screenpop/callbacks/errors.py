"""The callbacks slice's refusals."""

from __future__ import annotations

from screenpop.web.errors import BadRequest, Conflict, Forbidden, NotFound


class NotForCallbacks(Forbidden):
    error_id = "not-for-callbacks"
    default_message = "Les rappels sont réservés aux conseillers, aux superviseurs et aux administrateurs."


class UnknownCallback(NotFound):
    error_id = "unknown-callback"
    default_message = "Ce rappel n'existe pas."


class CallbackClosed(Conflict):
    error_id = "callback-closed"
    default_message = "Ce rappel est déjà clos (effectué ou annulé)."


class InvalidAttempt(BadRequest):
    error_id = "invalid-attempt"
    default_message = (
        "Tentative incomplète : choisissez le résultat de l'appel (joint, sans réponse, messagerie, faux numéro) ; "
        "la note fait 500 caractères au plus."
    )


class InvalidCancel(BadRequest):
    error_id = "invalid-cancel"
    default_message = "Indiquez le motif de l'annulation (200 caractères au plus)."
