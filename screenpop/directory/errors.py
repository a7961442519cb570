"""The directory slice's refusals."""

from __future__ import annotations

from screenpop.web.errors import BadRequest


class BadDepartement(BadRequest):
    error_id = "bad-departement"
    default_message = "département invalide (par exemple 62, 2A ou 971)"


class BadLimit(BadRequest):
    error_id = "bad-limit"
