"""Local articles in and out, pure: Markdown files with a YAML front matter, or one JSON document.

A file:

    ---
    uid: 0d3c…            # stable id: importing it again updates the same article
    title: Le RSA dans le Pas-de-Calais
    service: Action sociale — RSA   # the owner, by name (ids differ between deployments)
    status: published
    review_by: 2027-06-30
    topics: [social_aid, social_aid/rsa]
    summary: …
    linked_services: [Action sociale — RSA]
    linked_partners: [caf]
    linked_fiches: [F19778]
    example: true
    ---
    The Markdown body.

`parse_markdown` refuses a file it cannot read whole (with the reason); the service checks names and keys against
the database and the settings, and writes nothing when any file is refused. Revisions are not exported: the
history stays with the base it was written in.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any
from uuid import UUID

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from screenpop.knowledge.workflow import Status

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL)
MAX_FILE = 200_000  # bytes of one article file


class TransferError(ValueError):
    """A file or document that cannot be imported; the message says why."""


class PortableArticle(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    uid: UUID | None = None
    title: str = Field(min_length=3, max_length=300)
    service: str = Field(min_length=1, max_length=100)
    status: Status = Status.DRAFT
    review_by: date
    topics: tuple[str, ...] = ()
    summary: str = Field(default="", max_length=2000)
    linked_services: tuple[str, ...] = ()
    linked_partners: tuple[str, ...] = ()
    linked_fiches: tuple[str, ...] = ()
    example: bool = False
    body: str = Field(default="", max_length=100_000)


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "document"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def parse_markdown(text: str) -> PortableArticle:
    """One Markdown file with its front matter → a `PortableArticle`; raises `TransferError`."""
    if len(text.encode()) > MAX_FILE:
        raise TransferError(f"larger than {MAX_FILE} bytes")
    match = _FRONT.match(text.lstrip("\ufeff"))
    if match is None:
        raise TransferError("no front matter (a first line '---', the fields, then a line '---')")
    try:
        fields = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise TransferError(f"front matter is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(fields, dict):
        raise TransferError("front matter is not a mapping of fields")
    if "body" in fields:
        raise TransferError("'body' is not a front matter field: the body follows the front matter")
    try:
        return PortableArticle.model_validate({**fields, "body": match.group(2).strip("\n")})
    except ValidationError as exc:
        raise TransferError(_reason(exc)) from None


def to_markdown(article: PortableArticle) -> str:
    """A `PortableArticle` as a Markdown file with its front matter (read back equal by `parse_markdown`)."""
    fields = article.model_dump(mode="json", exclude={"body"})
    front = yaml.safe_dump(fields, allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{front}---\n{article.body}\n"


def parse_json(text: str) -> list[PortableArticle]:
    """A JSON document `{"articles": [...]}` → articles; raises `TransferError` naming the first bad entry."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TransferError(f"not JSON: {exc}") from None
    entries: Any = document.get("articles") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise TransferError('expected an object {"articles": [...]}')
    articles = []
    for index, entry in enumerate(entries):
        try:
            articles.append(PortableArticle.model_validate(entry))
        except ValidationError as exc:
            raise TransferError(f"articles[{index}]: {_reason(exc)}") from None
    return articles


def to_json(articles: list[PortableArticle]) -> str:
    return json.dumps(
        {"format": "gps-admin-knowledge/1", "articles": [a.model_dump(mode="json") for a in articles]},
        ensure_ascii=False,
        indent=2,
    )


def file_name(article: PortableArticle) -> str:
    """A file name for an exported article: a slug of its title and its uid (unique, readable)."""
    from screenpop.knowledge.text import fold

    slug = re.sub(r"[^a-z0-9]+", "-", fold(article.title)).strip("-")[:60] or "article"
    return f"{slug}-{str(article.uid)[:8]}.md" if article.uid else f"{slug}.md"
