"""The statistics slice's refusals: a period or a drill-down that cannot be read, with a French message."""

from __future__ import annotations

from screenpop.web.errors import BadRequest, NotFound, WebError


class BadPeriod(BadRequest):
    """The dates of a report: missing, unreadable, reversed, too long or out of range."""

    error_id = "bad-period"
    default_message = "Période invalide : indiquez une date de début et une date de fin (jj/mm/aaaa)."


class ReversedPeriod(BadPeriod):
    error_id = "reversed-period"
    default_message = "La date de fin est avant la date de début : inversez-les."


class PeriodTooLong(BadPeriod):
    error_id = "period-too-long"


class BadReportOption(BadRequest):
    error_id = "bad-report-option"
    default_message = "Option de rapport inconnue."


class PageTooDeep(BadReportOption):
    error_id = "page-too-deep"


class UnknownFigure(NotFound):
    error_id = "unknown-figure"
    default_message = "Indicateur inconnu."


class ReportTooSlow(WebError):
    """A report or a drill-down that PostgreSQL did not finish in time (a long period whose days are not summed yet)."""

    error_id = "report-too-slow"
    status = 503
    default_message = (
        "Ce rapport demande trop de calculs pour le moment : réduisez la période, ou réessayez dans quelques minutes "
        "(les totaux journaliers sont en cours de préparation)."
    )
