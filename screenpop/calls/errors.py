"""The calls slice's refusals: a qualification or a transfer refused, with a stable id and a French message."""

from __future__ import annotations

from screenpop.web.errors import BadJson, BadRequest, Conflict, Forbidden, Invalid, NotFound, WebError


class QualificationError(Invalid):
    """A qualification refused; the message (French) says why, `error_id` is stable."""

    error_id = "qualification-error"


class UnknownCall(QualificationError):
    error_id = "unknown-call"
    status = 404


class NotYourCall(QualificationError):
    error_id = "not-your-call"
    status = 403
    default_message = "Cet appel n'est pas le vôtre."


class UnknownTopic(QualificationError):
    error_id = "unknown-topic"


class UnknownSubtopic(QualificationError):
    error_id = "unknown-subtopic"


class UnknownCommune(QualificationError):
    error_id = "unknown-commune"


class AmbiguousCommune(QualificationError):
    error_id = "ambiguous-commune"


class UnknownService(QualificationError):
    error_id = "unknown-service"
    default_message = "Service inconnu dans l'annuaire."


class MissingTransferService(QualificationError):
    error_id = "missing-transfer-service"


class UnknownPartner(QualificationError):
    error_id = "unknown-partner"


class NoteTooLong(QualificationError):
    error_id = "note-too-long"


class UnknownArticle(QualificationError):
    error_id = "unknown-article"


class InvalidQualification(QualificationError):
    """The form itself is refused (a missing or malformed field): its French message names each field."""

    error_id = "invalid-qualification"


class BadLinkedid(BadRequest):
    error_id = "bad-linkedid"
    default_message = "identifiant d'appel invalide"


class NotAnObject(BadJson):
    default_message = "Le corps de la demande doit être un objet JSON."


class BadNumber(BadRequest):
    error_id = "bad-number"
    default_message = "numéro invalide : format international attendu, par exemple +33612345678"


class InvalidTransfer(BadRequest):
    error_id = "invalid"
    default_message = "Demande de transfert invalide."


class NoLiveCall(NotFound):
    error_id = "no-live-call"
    default_message = "Cet appel n'est plus en cours."


class ConsultationInProgress(Conflict):
    error_id = "consultation-in-progress"
    default_message = "Une consultation est en cours : terminez ou annulez d'abord ce transfert."


class NoConsultation(Conflict):
    error_id = "no-consultation"
    default_message = "Aucune consultation en cours pour cet appel."


class ServiceClosed(Conflict):
    error_id = "service-closed"
    default_message = "Ce service est fermé en ce moment : proposez un rappel à l'usager."


class TransferFailed(WebError):
    error_id = "transfer-failed"
    status = 502
    default_message = "Le transfert a échoué."


class NotYourCaller(Forbidden):
    error_id = "not-your-caller"
    default_message = (
        "L'historique d'un numéro n'est consultable que pendant un appel en cours avec ce numéro, ou juste après."
    )
