"""The knowledge base over HTTP: the desk's JSON (`/api/knowledge/…`: the search, an article, the suggestions for
a call) and the editors' pages (`/connaissances…`, `screenpop.knowledge.pages`)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from screenpop.knowledge import pages
from screenpop.knowledge.errors import KnowledgeError
from screenpop.knowledge.models import REASON_LABELS, SuggestionView
from screenpop.knowledge.pages import Knowledge
from screenpop.knowledge.service import actor_of
from screenpop.web.keys import user_of
from screenpop.web.openapi import Operations, declare, operation
from storage.users import User

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
KEY = re.compile(r"[a-z0-9_]{1,40}")
QUERY_MAX = 200
KINDS = ("local", "national")

NumberCheck = Callable[[User, str], Awaitable[None]]


class BadKnowledgeQuery(KnowledgeError):
    error_id = "knowledge-bad-query"
    status = 400


@dataclass(frozen=True)
class KnowledgeDeps:
    knowledge: Knowledge
    # raises (403) unless the user may read what is known of this caller (the calls slice's history rule)
    may_read_number: NumberCheck


DEPS = web.AppKey("knowledge_deps", KnowledgeDeps)


def _limit(value: str | None, default: int, top: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or len(value) > 3 or not 1 <= int(value) <= top:
        raise BadKnowledgeQuery(f"limit : un nombre de 1 à {top}")
    return int(value)


def _key(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not KEY.fullmatch(value):
        raise BadKnowledgeQuery(f"{name} : clé inconnue")
    return value


async def search(request: web.Request) -> web.Response:
    """The desk's search: published articles (and the drafts the user manages) matching `q`, highlighted."""
    user = user_of(request)
    deps = request.app[DEPS]
    q = request.query.get("q", "")
    if len(q) > QUERY_MAX:
        raise BadKnowledgeQuery(f"recherche trop longue ({QUERY_MAX} caractères au plus)")
    kind = request.query.get("kind") or None
    if kind is not None and kind not in KINDS:
        raise BadKnowledgeQuery("kind : local ou national")
    topic = _key(request.query.get("topic"), "topic")
    limit = _limit(request.query.get("limit"), 10, 50)
    typing = request.query.get("typing") == "1"
    found = await deps.knowledge.search.search(actor_of(user), q, kind=kind, topic=topic, limit=limit, typing=typing)
    return web.json_response(found.model_dump(mode="json"))


async def article(request: web.Request) -> web.Response:
    user = user_of(request)
    view = await request.app[DEPS].knowledge.service.article(user, int(request.match_info["id"]))
    return web.json_response(view.model_dump(mode="json"))


async def suggestions(request: web.Request) -> web.Response:
    """Up to three articles for the call: from the caller's history (`number`, for who may read it), then the
    chosen sub-topic, the topic."""
    user = user_of(request)
    deps = request.app[DEPS]
    number = request.query.get("number") or None
    if number is not None:
        if not E164.fullmatch(number):
            raise BadKnowledgeQuery("number : un numéro au format international (+33…)")
        await deps.may_read_number(user, number)
    topic = _key(request.query.get("topic"), "topic")
    subtopic = _key(request.query.get("subtopic"), "subtopic")
    found = await deps.knowledge.service.suggestions(number, topic, subtopic)
    body = [
        SuggestionView(
            id=s.id,
            title=s.title,
            kind=s.kind,
            uses=s.uses,
            source_url=s.source_url,
            reason=s.reason,
            reason_label=REASON_LABELS.get(s.reason, s.reason),
        ).model_dump(mode="json")
        for s in found
    ]
    return web.json_response({"suggestions": body})


OPERATIONS: Operations = {
    "/api/knowledge/search": {
        "get": operation(
            "Search the knowledge base in French: q, kind (local|national), topic, limit (1-50), typing=1 (the last"
            " word as a prefix); title_html and snippet_html are escaped, matches in <mark>",
            errors=(400,),
        )
    },
    "/api/knowledge/articles/{id}": {
        "get": operation(
            "An article: body_html sanitised, review date, links, a national fiche's credit",
            errors=(404,),
            path_parameters=(pages.ID,),
        )
    },
    "/api/knowledge/suggestions": {
        "get": operation(
            "Up to three articles for a call: number (E.164, the caller: for who may read its history), topic,"
            " subtopic",
            errors=(400, 403),
        )
    },
}


def setup(app: web.Application, deps: KnowledgeDeps) -> None:
    app[DEPS] = deps
    app.router.add_get("/api/knowledge/search", search)
    app.router.add_get(f"/api/knowledge/articles/{pages.ARTICLE_ID}", article)
    app.router.add_get("/api/knowledge/suggestions", suggestions)
    pages.setup(app, deps.knowledge)
    declare(app, OPERATIONS)
    declare(app, pages.OPERATIONS)
