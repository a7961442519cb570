"""The knowledge base's errors: a stable `error_id`, an HTTP status, a French message (shown as is), mapped to
responses by the one error mapping (`screenpop/web/errors.py`)."""

from __future__ import annotations

from screenpop.web.errors import WebError


class KnowledgeError(WebError):
    error_id = "knowledge-error"
    status = 422
    default_message = "Demande refusée par la base de connaissances."


class NotAllowed(KnowledgeError):
    """The workflow refuses this action to this user (`workflow.decide`)."""

    error_id = "knowledge-not-allowed"
    status = 403


class ArticleNotFound(KnowledgeError):
    error_id = "knowledge-article-not-found"
    status = 404


class RevisionNotFound(KnowledgeError):
    error_id = "knowledge-revision-not-found"
    status = 404


class QuestionNotFound(KnowledgeError):
    """A question left without an answer: unknown, or already answered or set aside."""

    error_id = "knowledge-question-not-found"
    status = 404


class ArticleConflict(KnowledgeError):
    """Someone saved the article since this user read it."""

    error_id = "knowledge-article-conflict"
    status = 409


class InvalidArticle(KnowledgeError):
    error_id = "knowledge-invalid-article"
    status = 422


class ImportRefused(KnowledgeError):
    """An import found errors: nothing was written; `problems` lists them (file or line, and why)."""

    error_id = "knowledge-import-refused"
    status = 422

    def __init__(self, message: str, problems: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.problems = problems
