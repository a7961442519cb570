"""The knowledge base's pages (`/connaissances…`, HTML from `templates/knowledge/*.html`): the list with its search
and filters, an article (its sanitised text, « à revoir avant le », topics, links, a national fiche's credit), the
editor's form and the workflow's buttons, the revisions with a readable diff between two, the editors' to-do list
and the weekly count of themes left without an answer.

Everyone logged in reads the published articles; editors (bound to one service) write their service's, supervisors
and admins every service's: `screenpop.knowledge.workflow` decides, through `KnowledgeService`. Plain forms with the
session's CSRF token (they work without scripts); a refused form comes back with what was typed and the reasons in
French; a save after someone else's is refused (409) and the editor's text shown back beside the current one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError

from screenpop.knowledge.errors import ArticleConflict, KnowledgeError, NotAllowed
from screenpop.knowledge.forms import GENERAL, ArticleForm, article_input, error_list
from screenpop.knowledge.models import ArticleView, TransitionForm
from screenpop.knowledge.search import KnowledgeSearch, french_date
from screenpop.knowledge.service import KnowledgeService, actor_of
from screenpop.knowledge.workflow import ACTION_LABELS, STATUS_LABELS, Action, Status, manages
from screenpop.web import nav
from screenpop.web.errors import BadRequest, Forbidden
from screenpop.web.keys import user_of
from screenpop.web.openapi import LINKEDID, Operations, operation
from screenpop.web.pages import render
from storage.users import Role, User

log = logging.getLogger(__name__)

WRITERS = frozenset({Role.EDITOR, Role.SUPERVISOR, Role.ADMIN})
ARTICLE_ID = r"{id:[0-9]{1,18}}"
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}}
LIST_MAX = 200  # articles listed at most (a search: 50, ranked)
DONE = {  # ?fait=… after a change: fixed texts, never the query's own
    "cree": "Article créé (brouillon).",
    "enregistre": "Article enregistré.",
    "submit": "Article envoyé en relecture.",
    "publish": "Article publié : les conseillers le voient.",
    "reject": "Article renvoyé en brouillon.",
    "archive": "Article archivé.",
    "restore": "Article restauré (brouillon).",
}
TRANSITIONS = (Action.SUBMIT, Action.PUBLISH, Action.REJECT, Action.ARCHIVE, Action.RESTORE)
BUTTONS = {
    Action.SUBMIT: "Envoyer en relecture",
    Action.PUBLISH: "Publier",
    Action.REJECT: "Renvoyer en brouillon",
    Action.ARCHIVE: "Archiver",
    Action.RESTORE: "Restaurer",
}
WEEKS = 8  # the report's default span


@dataclass(frozen=True)
class Knowledge:
    service: KnowledgeService
    search: KnowledgeSearch
    timezone: str = "Europe/Paris"


KNOWLEDGE = web.AppKey("knowledge", Knowledge)


def _writer(request: web.Request) -> User:
    user = user_of(request)
    if user.role not in WRITERS:
        raise Forbidden(
            "La base de connaissances est rédigée par les rédacteurs des services : vous la lisez seulement."
        )
    return user


def _article_id(request: web.Request) -> int:
    return int(request.match_info["id"])


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


def _query_string(values: Mapping[str, str]) -> str:
    return urlencode({k: v for k, v in values.items() if v})


def _common(request: web.Request) -> dict[str, Any]:
    kb = request.app[KNOWLEDGE]
    user = user_of(request)
    return {
        "statuses": STATUS_LABELS,
        "topic_tree": kb.service.topics(),
        "writer": user.role in WRITERS,
        "french_date": french_date,
    }


# -- the list ----------------------------------------------------------------------------------------------------


def _today(request: web.Request) -> date:
    """Today on the line's clock (`timezone`), not the server's: between 23:00 and midnight UTC in winter the
    server's date is already yesterday in Paris, and a question asked then fell outside « this week »."""
    return datetime.now(ZoneInfo(request.app[KNOWLEDGE].timezone)).date()


async def list_page(request: web.Request) -> web.Response:
    user = user_of(request)
    kb = request.app[KNOWLEDGE]
    q = request.query.get("q", "")[:200]
    services = await kb.service.services()
    service_id = _int(request.query.get("service"))
    service_id = service_id if service_id in {s for s, _ in services} else None
    status_value = request.query.get("statut", "")
    status = Status(status_value) if status_value in {s.value for s in Status} else None
    topic = request.query.get("theme", "")
    topic = topic if topic in {k for k, _, _ in kb.service.topics()} else ""
    hits = None
    rows = None
    if q.strip():
        found = await kb.search.search(actor_of(user), q, topic=topic or None, limit=50)
        names = dict(services)
        hits = [
            h
            for h in found.hits
            if (service_id is None or (h.local and h.service_name == names.get(service_id)))
            and (status is None or h.status is status)
        ]
        corrections = found.corrections
    else:
        rows = (await kb.service.listing(user, service_id=service_id, status=status, topic=topic or None))[:LIST_MAX]
        corrections = ()
    query = {"q": q, "service": str(service_id or ""), "statut": status.value if status else "", "theme": topic}
    return render(
        request,
        "knowledge/list.html",
        {
            **_common(request),
            "q": q,
            "query": query,
            "hits": hits,
            "rows": rows,
            "corrections": corrections,
            "services": services,
            "limited": rows is not None and len(rows) >= LIST_MAX,
            "may_create": user.role in WRITERS,
            "today": _today(request),
        },
    )


# -- one article -------------------------------------------------------------------------------------------------


def _article_context(request: web.Request, article: ArticleView) -> dict[str, Any]:
    user = user_of(request)
    return {
        **_common(request),
        "article": article,
        "may_edit": Action.EDIT in article.actions,
        "buttons": [(a.value, BUTTONS[a]) for a in TRANSITIONS if a in article.actions],
        "manages": manages(actor_of(user), article.service_id),
        "done": DONE.get(request.query.get("fait", "")),
        "error": None,
    }


async def article_page(request: web.Request) -> web.Response:
    user = user_of(request)
    article = await request.app[KNOWLEDGE].service.article(user, _article_id(request))
    return render(request, "knowledge/article.html", _article_context(request, article))


async def transition(request: web.Request) -> web.Response:
    """A workflow button: submit, publish, back to draft, archive, restore (with the revision read)."""
    user = _writer(request)
    kb = request.app[KNOWLEDGE]
    article_id = _article_id(request)
    posted = await request.post()
    try:
        form = TransitionForm.model_validate({k: v for k, v in posted.items() if isinstance(v, str)})
    except ValidationError:
        raise BadRequest(
            "Formulaire incomplet (action ou version de l'article manquante) : rechargez la page."
        ) from None
    if form.action not in TRANSITIONS:
        raise BadRequest("Action inconnue : rechargez la page.")
    try:
        await kb.service.transition(user, article_id, form.revision, form.action, form.comment)
    except (ArticleConflict, NotAllowed) as exc:
        context = _article_context(request, await kb.service.article(user, article_id))
        context["error"] = _sentence(exc.message)
        context["done"] = None
        return render(request, "knowledge/article.html", context, status=exc.status)
    log.info("knowledge article %s: %s by %s", article_id, form.action.value, user.login)
    raise web.HTTPSeeOther(f"/connaissances/{article_id}?fait={form.action.value}")


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith((".", "!", "?")) else ".")


# -- create and edit -----------------------------------------------------------------------------------------------


async def _form_page(
    request: web.Request,
    form: ArticleForm,
    *,
    article: ArticleView | None,
    errors: Mapping[str, str] | None = None,
    current: ArticleView | None = None,
    status: int = 200,
) -> web.Response:
    kb = request.app[KNOWLEDGE]
    user = user_of(request)
    services = await kb.service.services()
    owners = [(i, n) for i, n in services if manages(actor_of(user), i)]
    return render(
        request,
        "knowledge/form.html",
        {
            **_common(request),
            "form": form,
            "article": article,
            "errors": errors or {},
            "field_errors": error_list(errors or {}),
            "general": (errors or {}).get(GENERAL),
            "current": current,
            "services": services,
            "owners": owners,
            "partners": kb.service.partners(),
            "action": "/connaissances/nouveau" if article is None else f"/connaissances/{article.id}/modifier",
        },
        status=status,
    )


async def new_page(request: web.Request) -> web.Response:
    user = _writer(request)
    review_by = (_today(request) + timedelta(days=365)).isoformat()
    title = " ".join(request.query.get("titre", "").split())[:300]  # from a question without an answer
    topic = request.query.get("theme", "")
    known = {k for k, _, subs in request.app[KNOWLEDGE].service.topics() for k in (k, *(s for s, _ in subs))}
    topics = tuple(dict.fromkeys((topic.partition("/")[0], topic))) if topic in known else ()
    question = request.query.get("question", "")
    values = {"review_by": review_by, "service_id": str(user.service_id or ""), "title": title, "question": question}
    values["question"] = ArticleForm(values=values).question() or ""
    return await _form_page(request, ArticleForm(values=values, topics=topics), article=None)


async def create(request: web.Request) -> web.Response:
    user = _writer(request)
    kb = request.app[KNOWLEDGE]
    posted = await request.post()
    form = ArticleForm.posted(posted, posted.getall)
    service_id = user.service_id if user.role is Role.EDITOR else form.service_id()
    data, errors = article_input(form)
    if service_id is None:
        errors = {**errors, "service_id": "Choisissez le service propriétaire de l'article."}
    if data is None or service_id is None:
        return await _form_page(request, form, article=None, errors=errors, status=422)
    try:
        created = await kb.service.create(user, service_id, data)
    except KnowledgeError as exc:
        return await _form_page(
            request, form, article=None, errors={GENERAL: _sentence(exc.message)}, status=exc.status
        )
    log.info("knowledge article %s created by %s", created.id, user.login)
    question = form.question()
    if question is not None:  # written for a question without an answer: it leaves the to-do list
        try:
            await kb.service.resolve_question(user, question, created.id)
        except KnowledgeError as exc:
            log.info("question of call %s not resolved by article %s: %s", question, created.id, exc.message)
    raise web.HTTPSeeOther(f"/connaissances/{created.id}?fait=cree")


async def edit_page(request: web.Request) -> web.Response:
    user = _writer(request)
    article = await request.app[KNOWLEDGE].service.article(user, _article_id(request))
    if Action.EDIT not in article.actions:
        raise Forbidden(_refusal(article))
    return await _form_page(request, ArticleForm.of(article), article=article)


def _refusal(article: ArticleView) -> str:
    if article.kind == "national":
        return "Les fiches nationales sont en lecture seule : elles changent par import."
    if article.status is Status.ARCHIVED:
        return "Un article archivé se restaure avant d'être modifié."
    return "Cet article appartient à un autre service : seuls ses rédacteurs le modifient."


async def update(request: web.Request) -> web.Response:
    user = _writer(request)
    kb = request.app[KNOWLEDGE]
    article = await kb.service.article(user, _article_id(request))
    if Action.EDIT not in article.actions:
        raise Forbidden(_refusal(article))
    posted = await request.post()
    form = ArticleForm.posted(posted, posted.getall)
    if form.revision is None:
        raise BadRequest("Formulaire incomplet (version de l'article manquante) : rechargez la page.")
    data, errors = article_input(form, example=article.example)
    if data is None:
        return await _form_page(request, form, article=article, errors=errors, status=422)
    try:
        await kb.service.edit(user, article.id, form.revision, data)
    except ArticleConflict:
        # someone saved meanwhile: the editor's text is shown back, the version now saved beside it; the form
        # carries the current revision, so saving again (after comparing) replaces it knowingly
        message = (
            f"L'article a été modifié entre-temps par {article.updated_by} (version {article.revision}) : rien n'est "
            "perdu, votre texte est ci-dessous. Comparez avec la version enregistrée, puis enregistrez de nouveau."
        )
        form.revision = article.revision
        return await _form_page(request, form, article=article, errors={GENERAL: message}, current=article, status=409)
    except KnowledgeError as exc:
        return await _form_page(
            request, form, article=article, errors={GENERAL: _sentence(exc.message)}, status=exc.status
        )
    log.info("knowledge article %s saved by %s", article.id, user.login)
    raise web.HTTPSeeOther(f"/connaissances/{article.id}?fait=enregistre")


# -- revisions --------------------------------------------------------------------------------------------------------


async def history_page(request: web.Request) -> web.Response:
    user = user_of(request)
    kb = request.app[KNOWLEDGE]
    article = await kb.service.article(user, _article_id(request))
    if not manages(actor_of(user), article.service_id):
        raise Forbidden("L'historique d'un article est pour les rédacteurs de son service.")
    revisions = await kb.service.revisions(user, article.id)
    old, new = _int(request.query.get("de")), _int(request.query.get("a"))
    if new is None and revisions:
        new = revisions[0].revision
    if old is None and len(revisions) > 1:
        old = revisions[1].revision
    comparison = None
    if old is not None and new is not None and old != new:
        comparison = await kb.service.compare(user, article.id, min(old, new), max(old, new))
    return render(
        request,
        "knowledge/history.html",
        {
            **_common(request),
            "article": article,
            "revisions": revisions,
            "old": old,
            "new": new,
            "comparison": comparison,
            "action_labels": {a.value: ACTION_LABELS[a] for a in Action},
        },
    )


# -- for the editors ---------------------------------------------------------------------------------------------


async def todo_page(request: web.Request) -> web.Response:
    user = _writer(request)
    kb = request.app[KNOWLEDGE]
    services = await kb.service.services()
    chosen = _int(request.query.get("service")) if user.role is not Role.EDITOR else user.service_id
    if chosen is None and services and user.role is not Role.EDITOR:
        chosen = services[0][0]
    if chosen is None:
        raise NotAllowed("ce compte de rédacteur n'est rattaché à aucun service")
    todo = await kb.service.todo(user, chosen)
    return render(
        request,
        "knowledge/todo.html",
        {
            **_common(request),
            "todo": todo,
            "services": services,
            "chosen": chosen,
            "service_name": dict(services).get(chosen, f"service n° {chosen}"),
            "topic_labels": _topic_labels(kb.service),
            "pick_service": user.role is not Role.EDITOR,
            "done": "Question classée : elle quitte la liste." if request.query.get("fait") == "classee" else None,
        },
    )


def _topic_labels(service: KnowledgeService) -> dict[str, str]:
    labels: dict[str, str] = {}
    for key, label, subs in service.topics():
        labels[key] = label
        labels.update({k: f"{label} › {v}" for k, v in subs})
    return labels


async def set_aside(request: web.Request) -> web.Response:
    """A question without an answer set aside (nothing to write for it): it leaves the to-do list."""
    user = _writer(request)
    linkedid = request.match_info["linkedid"]
    await request.app[KNOWLEDGE].service.resolve_question(user, linkedid)
    log.info("question of call %s set aside by %s", linkedid, user.login)
    raise web.HTTPSeeOther("/connaissances/a-faire?fait=classee")


async def unanswered_page(request: web.Request) -> web.Response:
    user = _writer(request)
    kb = request.app[KNOWLEDGE]
    weeks_text = request.query.get("semaines", str(WEEKS))
    weeks = max(1, min(int(weeks_text), 52)) if weeks_text.isdigit() and len(weeks_text) < 4 else WEEKS
    today = _today(request)
    since = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    counts = await kb.service.unanswered_by_week(user, since, today, kb.timezone)
    labels = _topic_labels(kb.service)
    weeks_shown = [since + timedelta(days=7 * i) for i in range(weeks)]
    topics = sorted({c.topic for c in counts}, key=lambda t: labels.get(t, t))
    table = {(c.week, c.topic): c.questions for c in counts}
    return render(
        request,
        "knowledge/unanswered.html",
        {
            **_common(request),
            "weeks": weeks,
            "weeks_shown": weeks_shown,
            "topics": topics,
            "table": table,
            "labels": labels,
            "totals": {t: sum(v for (_, k), v in table.items() if k == t) for t in topics},
        },
    )


OPERATIONS: Operations = {
    "/connaissances": {
        "get": operation("The knowledge base's articles (HTML page): search (q), service, statut, theme", errors=())
    },
    "/connaissances/nouveau": {
        "get": operation("Form of a new article (HTML, editors, supervisors, admins)", errors=(403,)),
        "post": operation(
            "Create an article as a draft (form; 303 to the article, or the form again with the reasons)",
            csrf=True,
            errors=(403, 422),
        ),
    },
    "/connaissances/a-faire": {
        "get": operation("The editors' to-do list of a service (HTML): ?service= for supervisors", errors=(403,))
    },
    "/connaissances/sans-reponse": {
        "get": operation("Themes without an answer, counted by week (HTML): ?semaines=", errors=(403,))
    },
    "/connaissances/questions/{linkedid}/classer": {
        "post": operation(
            "Set aside a question without an answer (form; 303 to the to-do list)",
            csrf=True,
            errors=(403, 404),
            path_parameters=(LINKEDID,),
        )
    },
    "/connaissances/{id}": {
        "get": operation("An article (HTML): its text, review date, links", errors=(404,), path_parameters=(ID,))
    },
    "/connaissances/{id}/modifier": {
        "get": operation("The editor's form of an article (HTML)", errors=(403, 404), path_parameters=(ID,)),
        "post": operation(
            "Save an article (form with the revision read: 409 and the editor's text shown back when it changed)",
            csrf=True,
            errors=(400, 403, 404, 409, 422),
            path_parameters=(ID,),
        ),
    },
    "/connaissances/{id}/etat": {
        "post": operation(
            "A workflow step: submit, publish, reject (back to draft), archive, restore (form with the revision)",
            csrf=True,
            errors=(400, 403, 404, 409),
            path_parameters=(ID,),
        )
    },
    "/connaissances/{id}/historique": {
        "get": operation(
            "An article's revisions and the diff between two (HTML): ?de=&a=", errors=(403, 404), path_parameters=(ID,)
        )
    },
}


def setup(app: web.Application, knowledge: Knowledge) -> None:
    app[KNOWLEDGE] = knowledge
    app.router.add_get("/connaissances", list_page)
    app.router.add_get("/connaissances/nouveau", new_page)
    app.router.add_post("/connaissances/nouveau", create)
    app.router.add_get("/connaissances/a-faire", todo_page)
    app.router.add_get("/connaissances/sans-reponse", unanswered_page)
    app.router.add_get(f"/connaissances/{ARTICLE_ID}", article_page)
    app.router.add_get(f"/connaissances/{ARTICLE_ID}/modifier", edit_page)
    app.router.add_post(f"/connaissances/{ARTICLE_ID}/modifier", update)
    app.router.add_post(f"/connaissances/{ARTICLE_ID}/etat", transition)
    app.router.add_get(f"/connaissances/{ARTICLE_ID}/historique", history_page)
    app.router.add_post(r"/connaissances/questions/{linkedid:[0-9.]{1,64}}/classer", set_aside)
    nav.register(app, nav.item("Base de connaissances", "/connaissances", WRITERS, order=30))
