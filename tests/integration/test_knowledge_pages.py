"""The knowledge base over HTTP on a real PostgreSQL (aiohttp test server; a test middleware sets the user): the
editors' pages as a browser without scripts posts them (create, edit with the concurrent-save check, the workflow's
buttons and who may press them, the history with its diff, the to-do list, the weekly report) and the desk's JSON
(search, an article, the suggestions for a call). The CSRF token and the session are the auth slice's (the access
table and the browser tests use the real login)."""

from __future__ import annotations

import gzip
import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from config.settings import DeskSettings
from screenpop.calls.errors import NotYourCaller
from screenpop.knowledge import http as knowledge_http
from screenpop.knowledge.imports import SUBSET, import_fiches
from screenpop.knowledge.pages import Knowledge
from screenpop.knowledge.search import KnowledgeSearch
from screenpop.knowledge.service import KnowledgeService
from screenpop.web import http as web_http
from screenpop.web.keys import USER
from storage.users import Role, User
from tests.fixtures_db import fresh_database, migrated_pool

__all__ = ["fresh_database", "migrated_pool"]

DESK = DeskSettings()
SOCIAL, ROADS = 1, 2
EDITOR = User(id=11, login="ed.social", name="Élise Social", role=Role.EDITOR, service_id=SOCIAL)
ROADS_EDITOR = User(id=12, login="ed.routes", name="Rémi Routes", role=Role.EDITOR, service_id=ROADS)
ADVISOR = User(id=13, login="agnes", name="Agnès", role=Role.ADVISOR, advisor_id=1)
SUPERVISOR = User(id=14, login="sup", name="Sam", role=Role.SUPERVISOR)
HTML = {"Accept": "text/html"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Client = TestClient[web.Request, web.Application]
ALLOWED_NUMBER = "+33321000001"


class Session:
    user: User | None = EDITOR


@pytest.fixture
async def pool(migrated_pool: asyncpg.Pool) -> asyncpg.Pool:
    await migrated_pool.execute(
        "TRUNCATE knowledge_articles, knowledge_sources, knowledge_unanswered, knowledge_call_articles,"
        " organisations, users, advisors RESTART IDENTITY CASCADE"
    )
    await migrated_pool.execute(
        "INSERT INTO organisations (kind, owner, name, extension, topics) VALUES"
        " ('service', 'admin', 'Action sociale — RSA', '2004', '{social_aid}'),"
        " ('service', 'admin', 'Service des routes', '2001', '{roads}')"
    )
    await migrated_pool.execute(
        "INSERT INTO advisors (id, login, name, interface) VALUES (1, 'agnes', 'Agnès', 'PJSIP/adv1')"
    )
    for user in (EDITOR, ROADS_EDITOR, ADVISOR, SUPERVISOR):
        await migrated_pool.execute(
            "INSERT INTO users (id, login, name, role, advisor_id, service_id, password_hash)"
            " VALUES ($1, $2, $3, $4, $5, $6, '$argon2id$test')",
            user.id, user.login, user.name, user.role.value, user.advisor_id, user.service_id,
        )  # fmt: skip
    return migrated_pool


@pytest.fixture
async def session() -> Session:
    return Session()


@pytest.fixture
async def client(pool: asyncpg.Pool, session: Session) -> AsyncIterator[Client]:
    @web.middleware
    async def test_user(request: web.Request, handler: Handler) -> web.StreamResponse:
        if session.user is not None:
            request[USER] = session.user
        return await handler(request)

    async def may_read_number(user: User, number: str) -> None:
        if number != ALLOWED_NUMBER and user.role is Role.ADVISOR:
            raise NotYourCaller()

    app = web.Application()
    web_http.setup(app, web_http.WebDeps())
    app.middlewares.append(test_user)
    knowledge = Knowledge(KnowledgeService(pool, DESK), KnowledgeSearch(pool, DESK))
    knowledge_http.setup(app, knowledge_http.KnowledgeDeps(knowledge, may_read_number))
    async with TestClient(TestServer(app)) as c:
        yield c


def form(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "Le RSA dans le Pas-de-Calais",
        "summary": "Où et comment demander le RSA.",
        "body": "## Où déposer la demande\n\nÀ la Caf, ou en **MDS**.\n\nLe montant est de 564,78 €.",
        "review_by": "2027-06-30",
        "topics": ["social_aid", "social_aid/rsa"],
        "linked_partners": ["caf"],
        "linked_services": [str(SOCIAL)],
        "linked_fiches": "F19778",
    }
    return {**base, **changes}


def multidict(values: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in values.items():
        out.extend((key, v) for v in value) if isinstance(value, list) else out.append((key, str(value)))
    return out


async def create(client: Client, session: Session, **changes: Any) -> int:
    session.user = EDITOR
    response = await client.post("/connaissances/nouveau", data=multidict(form(**changes)), allow_redirects=False)
    assert response.status == 303, await response.text()
    match = re.fullmatch(r"/connaissances/([0-9]+)\?fait=cree", response.headers["Location"])
    assert match is not None
    return int(match[1])


async def step(client: Client, article_id: int, action: str, revision: int, comment: str = "") -> ClientResponse:
    data = {"action": action, "revision": str(revision), "comment": comment}
    return await client.post(f"/connaissances/{article_id}/etat", data=data, allow_redirects=False)


async def test_an_article_written_submitted_and_published_through_the_pages(client: Client, session: Session) -> None:
    article_id = await create(client, session)
    page = await (await client.get(f"/connaissances/{article_id}?fait=cree", headers=HTML)).text()
    assert "Article créé (brouillon)." in page and "Brouillon" in page
    assert "<strong>MDS</strong>" in page  # the Markdown rendered
    assert "À revoir avant le 30 juin 2027" in page
    assert "Aide sociale, RSA › RSA" in page and "Action sociale — RSA" in page
    assert 'href="https://www.service-public.fr/particuliers/vosdroits/F19778"' in page  # the fiche's live page
    assert 'value="submit"' in page and 'value="publish"' not in page  # the draft's buttons only
    # the advisor does not see the draft; neither does the roads' editor
    for other in (ADVISOR, ROADS_EDITOR):
        session.user = other
        assert (await client.get(f"/connaissances/{article_id}", headers=HTML)).status == 404
    session.user = EDITOR
    assert (await step(client, article_id, "submit", 1)).status == 303
    # the roads' editor cannot publish another service's article (it does not even see it in review)
    session.user = ROADS_EDITOR
    assert (await step(client, article_id, "publish", 2)).status == 404
    session.user = EDITOR
    published = await step(client, article_id, "publish", 2, comment="Relu par <b>le chef</b> de service")
    assert published.headers["Location"] == f"/connaissances/{article_id}?fait=publish"
    history = await (await client.get(f"/connaissances/{article_id}/historique", headers=HTML)).text()
    assert "Relu par &lt;b&gt;le chef&lt;/b&gt; de service" in history and "publier" in history
    # published: every advisor reads it, without a button; pressing one anyway is refused
    session.user = ADVISOR
    page = await (await client.get(f"/connaissances/{article_id}", headers=HTML)).text()
    assert "Le RSA dans le Pas-de-Calais" in page and 'name="action"' not in page and "/modifier" not in page
    refused = await step(client, article_id, "archive", 3)
    assert refused.status == 403 and "vous la lisez seulement" in await refused.text()
    assert (await client.get(f"/connaissances/{article_id}/modifier", headers=HTML)).status == 403
    assert (await client.post(f"/connaissances/{article_id}/modifier", data=multidict(form()))).status == 403
    assert (await client.get("/connaissances/nouveau", headers=HTML)).status == 403
    # the roads' editor reads it now, but cannot archive nor edit it
    session.user = ROADS_EDITOR
    refused = await step(client, article_id, "archive", 3)
    assert refused.status == 403 and "appartient à un autre service" in html.unescape(await refused.text())
    assert (await client.get(f"/connaissances/{article_id}/modifier", headers=HTML)).status == 403
    # a step from the wrong status is refused with the workflow's reason
    session.user = EDITOR
    wrong = await step(client, article_id, "restore", 3)
    assert wrong.status == 403 and "Impossible de restaurer un article publié" in html.unescape(await wrong.text())
    assert (await step(client, article_id, "fly", 3)).status == 400
    # a supervisor acts for every service
    session.user = SUPERVISOR
    assert (await step(client, article_id, "archive", 3)).status == 303


async def test_a_concurrent_save_is_refused_and_nothing_is_lost(client: Client, session: Session) -> None:
    article_id = await create(client, session)
    url = f"/connaissances/{article_id}/modifier"
    edit_page = await (await client.get(url, headers=HTML)).text()
    assert 'name="revision" value="1"' in edit_page and "Le RSA dans le Pas-de-Calais" in edit_page
    # a supervisor saves first
    session.user = SUPERVISOR
    saved = await client.post(url, data=multidict(form(revision="1", body="Version du superviseur.")))
    assert saved.status == 200 and "Article enregistré." in await saved.text()  # followed to the article
    # the editor's save, from revision 1: refused, their text shown back, the current version beside it
    session.user = EDITOR
    mine = "Ma version, <b>tapée</b> pendant une heure."
    refused = await client.post(url, data=multidict(form(revision="1", body=mine)), allow_redirects=False)
    page = await refused.text()
    assert refused.status == 409
    assert "modifié entre-temps par sup" in html.unescape(page) and "rien n&#39;est perdu" in page
    assert html.escape(mine) in page  # the editor's text, escaped, in the textarea
    assert "Version du superviseur." in page  # the saved one beside it
    assert 'name="revision" value="2"' in page  # saving again replaces it knowingly
    again = await client.post(url, data=multidict(form(revision="2", body=mine)), allow_redirects=False)
    assert again.status == 303
    # the history compares the revisions, word by word
    session.user = EDITOR
    history = await (await client.get(f"/connaissances/{article_id}/historique?de=2&a=3", headers=HTML)).text()
    assert "<del>Version du superviseur" in history or "<del>Version" in history
    assert "<ins>" in history and "&lt;b&gt;tapée&lt;/b&gt;" in history  # text, never HTML
    session.user = ADVISOR
    assert (await client.get(f"/connaissances/{article_id}/historique", headers=HTML)).status == 404  # a draft


async def test_a_refused_form_says_why_in_french_and_keeps_what_was_typed(client: Client, session: Session) -> None:
    session.user = EDITOR
    response = await client.post(
        "/connaissances/nouveau", data=multidict(form(title="Ab", review_by="", body="Mon texte gardé"))
    )
    page = html.unescape(await response.text())
    assert response.status == 422
    assert "Indiquez la date « à revoir avant le »" in page and "Mon texte gardé" in page
    assert (await client.post("/connaissances/nouveau", data={})).status == 422  # nothing posted: no 500
    response = await client.post("/connaissances/nouveau", data=multidict(form(title="Ab")))
    page = html.unescape(await response.text())
    assert response.status == 422 and "Titre : au moins 3 caractères." in page
    response = await client.post("/connaissances/nouveau", data=multidict(form(topics=["taxes/nope"])))
    assert response.status == 422 and "Thème « taxes/nope » inconnu" in html.unescape(await response.text())
    # an editor writes for their own service only, whatever the form says
    article_id = await create(client, session, service_id=str(ROADS))
    session.user = SUPERVISOR
    article = await (await client.get(f"/api/knowledge/articles/{article_id}")).json()
    assert article["service_id"] == SOCIAL
    # a supervisor picks the service
    response = await client.post("/connaissances/nouveau", data=multidict(form()), allow_redirects=False)
    assert response.status == 422 and "Choisissez le service propriétaire" in html.unescape(await response.text())
    response = await client.post(
        "/connaissances/nouveau", data=multidict(form(service_id=str(ROADS))), allow_redirects=False
    )
    assert response.status == 303


async def test_unsafe_markdown_is_rendered_harmless(client: Client, session: Session) -> None:
    body = (
        "<script>window.pwned = 1</script>\n\n[clic](javascript:window.pwned=2) "
        '<img src=x onerror="window.pwned=3">\n\n<a href="#" onclick="x()">a</a>'
    )
    article_id = await create(client, session, body=body)
    page = await (await client.get(f"/connaissances/{article_id}", headers=HTML)).text()
    body_html = page.split('class="kb-body"', 1)[1].split("</article>", 1)[0]
    assert "<script" not in body_html and "<img" not in body_html and 'href="javascript' not in body_html
    assert not re.search(r"<[^>]*\b(onerror|onclick)=", body_html)  # shown as text, never as an attribute
    assert "&lt;img src=x onerror" in body_html


async def test_the_list_filters_and_searches(client: Client, session: Session) -> None:
    rsa = await create(client, session)
    await create(client, session, title="La carte mobilité inclusion", topics=["social_aid/housing"], body="Logement.")
    session.user = EDITOR
    await step(client, rsa, "submit", 1)
    await step(client, rsa, "publish", 2)
    page = await (await client.get("/connaissances", headers=HTML)).text()
    assert "Le RSA dans le Pas-de-Calais" in page and "La carte mobilité inclusion" in page
    page = await (await client.get("/connaissances?statut=draft", headers=HTML)).text()
    assert "Le RSA" not in page and "La carte mobilité inclusion" in page
    page = await (await client.get(f"/connaissances?service={ROADS}", headers=HTML)).text()
    assert "Aucun article avec ces filtres." in page
    session.user = ADVISOR  # the advisor sees the published one only
    page = await (await client.get("/connaissances", headers=HTML)).text()
    assert "Le RSA dans le Pas-de-Calais" in page and "La carte mobilité" not in page
    found = await (await client.get("/connaissances?q=montant+rsa", headers=HTML)).text()
    assert "<mark>" in found and f'href="/connaissances/{rsa}"' in found
    typo = html.unescape(await (await client.get("/connaissances?q=montnt", headers=HTML)).text())
    assert "« montnt » cherché aussi comme « montant »" in typo
    # nonsense filters are ignored, never a 500
    assert (await client.get("/connaissances?service=x&statut=y&theme=z'", headers=HTML)).status == 200


async def test_the_desk_s_json(client: Client, session: Session, pool: asyncpg.Pool) -> None:
    rsa = await create(client, session)
    await step(client, rsa, "submit", 1)
    await step(client, rsa, "publish", 2)
    session.user = ADVISOR
    found = await (await client.get("/api/knowledge/search", params={"q": "rsa montant"})).json()
    assert [h["id"] for h in found["hits"]] == [rsa]
    assert "<mark>" in found["hits"][0]["title_html"] and found["total"] == 1
    prefix = await (await client.get("/api/knowledge/search", params={"q": "pas-de-cal", "typing": "1"})).json()
    assert [h["id"] for h in prefix["hits"]] == [rsa]
    for bad in ({"q": "x" * 201}, {"q": "a", "limit": "0"}, {"q": "a", "kind": "x"}, {"q": "a", "topic": "a'b"}):
        response = await client.get("/api/knowledge/search", params=bad)
        assert response.status == 400 and (await response.json())["error"] == "knowledge-bad-query"
    article = await (await client.get(f"/api/knowledge/articles/{rsa}")).json()
    assert "<strong>MDS</strong>" in article["body_html"] and article["review_by"] == "2027-06-30"
    assert (await client.get("/api/knowledge/articles/999999")).status == 404
    # suggestions: the topic chosen, then the caller's history for who may read it
    suggested = await (await client.get("/api/knowledge/suggestions", params={"topic": "social_aid"})).json()
    assert [(s["id"], s["reason_label"]) for s in suggested["suggestions"]] == [(rsa, "thème de l'appel")]
    sub = await (
        await client.get("/api/knowledge/suggestions", params={"topic": "social_aid", "subtopic": "rsa"})
    ).json()
    assert sub["suggestions"][0]["reason"] == "subtopic"
    assert (await client.get("/api/knowledge/suggestions", params={"topic": "roads"})).status == 200
    mine = await client.get("/api/knowledge/suggestions", params={"number": ALLOWED_NUMBER, "topic": "social_aid"})
    assert mine.status == 200
    other = await client.get("/api/knowledge/suggestions", params={"number": "+33321000002"})
    assert other.status == 403
    assert (await client.get("/api/knowledge/suggestions", params={"number": "0321"})).status == 400
    session.user = None
    assert (await client.get("/api/knowledge/search", params={"q": "rsa"})).status == 401


async def test_the_editors_to_do_list_and_the_weekly_report(
    client: Client, session: Session, pool: asyncpg.Pool
) -> None:
    late = await create(client, session, review_by=(date.today() - timedelta(days=3)).isoformat(), title="Vieux texte")
    await pool.execute(
        "INSERT INTO knowledge_unanswered (linkedid, question, topic, subtopic, asked_by) VALUES"
        " ('1.1', 'aide au permis de conduire', 'social_aid', NULL, 'agnes'),"
        " ('1.2', 'déneigement de ma rue', 'roads', 'winter', 'agnes')"
    )
    session.user = EDITOR
    page = html.unescape(await (await client.get("/connaissances/a-faire", headers=HTML)).text())
    assert "aide au permis de conduire" in page and "déneigement" not in page  # their topics only
    assert f'href="/connaissances/{late}"' in page and "Vieux texte" in page
    # « Rédiger un article » starts a draft with the question as its title, on its theme
    link = re.search(r'href="(/connaissances/nouveau\?[^"]+)"', page)
    assert link is not None
    form_page = html.unescape(await (await client.get(html.unescape(link[1]), headers=HTML)).text())
    assert 'value="aide au permis de conduire"' in form_page
    assert re.search(r'value="social_aid" checked', form_page)
    # written from the question, the article takes it off the list; the other one is set aside
    response = await client.post(
        "/connaissances/nouveau",
        data=multidict(form(title="Aide au permis de conduire", question="1.1")),
        allow_redirects=False,
    )
    assert response.status == 303
    assert await pool.fetchval("SELECT resolved_by FROM knowledge_unanswered WHERE linkedid = '1.1'") == "ed.social"
    page = html.unescape(await (await client.get("/connaissances/a-faire", headers=HTML)).text())
    assert "aide au permis de conduire" not in page
    # the roads' question is not the social editor's to set aside; the roads' editor sets it aside
    assert (await client.post("/connaissances/questions/1.2/classer", data={})).status == 403
    session.user = ROADS_EDITOR
    response = await client.post("/connaissances/questions/1.2/classer", data={}, allow_redirects=False)
    assert response.headers["Location"] == "/connaissances/a-faire?fait=classee"
    assert (await client.post("/connaissances/questions/1.2/classer", data={})).status == 404  # done already
    await pool.execute("UPDATE knowledge_unanswered SET resolved_at = NULL WHERE linkedid = '1.2'")
    session.user = EDITOR
    session.user = SUPERVISOR
    page = html.unescape(await (await client.get(f"/connaissances/a-faire?service={ROADS}", headers=HTML)).text())
    assert "déneigement de ma rue" in page and "Vieux texte" not in page
    report = html.unescape(await (await client.get("/connaissances/sans-reponse", headers=HTML)).text())
    assert "Aide sociale, RSA" in report and "Routes et transports" in report
    assert (await client.get("/connaissances/sans-reponse?semaines=abc", headers=HTML)).status == 200
    session.user = ADVISOR
    assert (await client.get("/connaissances/a-faire", headers=HTML)).status == 403
    assert (await client.get("/connaissances/sans-reponse", headers=HTML)).status == 403


async def test_a_national_fiche_reads_with_its_credit_and_is_read_only(
    client: Client, session: Session, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    with gzip.open(SUBSET, "rb") as f:
        first = f.readline()
    path = tmp_path / "one.jsonl"
    path.write_bytes(first)
    await import_fiches(pool, DESK, path, file_date=date(2020, 12, 26))
    fiche_id = await pool.fetchval("SELECT id FROM knowledge_articles WHERE kind = 'national'")
    session.user = ADVISOR
    page = html.unescape(await (await client.get(f"/connaissances/{fiche_id}", headers=HTML)).text())
    assert "Fiche nationale" in page and "Source : Service-public.fr" in page and "fichier du 26 décembre 2020" in page
    assert 'href="https://www.service-public.fr/' in page
    session.user = SUPERVISOR  # read-only for everyone
    page = html.unescape(await (await client.get(f"/connaissances/{fiche_id}", headers=HTML)).text())
    assert 'name="action"' not in page and "/modifier" not in page
    refused = await client.get(f"/connaissances/{fiche_id}/modifier", headers=HTML)
    assert refused.status == 403 and "lecture seule" in html.unescape(await refused.text())
