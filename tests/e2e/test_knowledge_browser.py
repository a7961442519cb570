"""The knowledge base in a real browser (Debian's chromium driven by Playwright) against the real service (`gps-admin
serve` on real PostgreSQL and Redis, real calls through the real Asterisk): an editor's `<script>`, `javascript:`
link and `onerror=` attribute never run, on the article's page nor in the desk's panel; the editor's pages by
keyboard and pointer; on the desk, a pop's suggestion opens the article beside the call (focus managed, Escape
closes it and gives the focus back), « utilisé » is recorded with the qualification. axe-core at every state."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, ConsoleMessage, Dialog, Page, expect

from config.settings import DeskSettings
from screenpop.knowledge.models import ArticleInput
from screenpop.knowledge.service import KnowledgeService
from screenpop.knowledge.workflow import Action
from storage.pool import create_pool
from storage.users import UserRepository
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import STEP, add_user, log_in, seed_agnes, serve_env, serving
from tests.integration.harness import Driver
from tests.rig.asterisk import AsteriskRig
from tests.serve import Process, cli
from tests.servers import redis_url

pytestmark = pytest.mark.asterisk

REDIS = redis_url(3)
SOCIAL = "Action sociale — RSA"
UNSAFE = (
    "Texte avant.\n\n<script>window.pwned = 'script'; alert('script')</script>\n\n"
    "[Cliquez ici](javascript:window.pwned='link') et "
    '<img src="x" onerror="window.pwned=\'onerror\'; alert(1)">\n\n'
    "<a href=\"javascript:window.pwned='raw-link'\" onclick=\"window.pwned='onclick'\">lien brut</a>\n\n"
    "Texte après."
)


@pytest.fixture
async def served(asterisk_rig: AsteriskRig, fresh_database: str, tmp_path: Path) -> AsyncIterator[Process]:
    """`gps-admin serve` with an advisor (agnes), a supervisor (sam), an editor of the social-aid service
    (redaction), two services, and one published article on taxes (the voice menu's choice of the test's call)."""
    env = await serve_env(asterisk_rig, fresh_database, REDIS, tmp_path / "data")
    await seed_agnes(env)
    await cli(env, "services", "add", "--name", "Service des routes", "--extension", "2001", "--topic", "roads")
    await cli(env, "services", "add", "--name", SOCIAL, "--extension", "2004", "--topic", "social_aid")
    await add_user(env, "redaction", "Romane Dufresne", "editor", ["--service", SOCIAL])
    await published(fresh_database, "Payer ses impôts locaux par mensualités", ("taxes",), "Le prélèvement mensuel.")
    await published(fresh_database, "Demander le RSA", ("social_aid/rsa",), "À la Caf ou en MDS.")
    conn = await asyncpg.connect(fresh_database)
    try:  # a question an advisor could not answer, on the editor's theme: their to-do list and the weekly report
        await conn.execute(
            "INSERT INTO knowledge_unanswered (linkedid, question, topic, subtopic, asked_by)"
            " VALUES ('1.1', 'aide au permis de conduire', 'social_aid', 'rsa', 'agnes')"
        )
    finally:
        await conn.close()
    async with serving(env) as process:
        yield process


async def published(dsn: str, title: str, topics: tuple[str, ...], body: str) -> int:
    """A published article of the social-aid service, written and published by the supervisor."""
    pool = await create_pool(dsn)
    try:
        sam = await UserRepository(pool).by_login("sam")
        assert sam is not None
        service_id = await pool.fetchval("SELECT id FROM services WHERE name = $1", SOCIAL)
        kb = KnowledgeService(pool, DeskSettings())
        view = await kb.create(
            sam, service_id, ArticleInput(title=title, body=body, topics=topics, review_by=date(2099, 1, 1))
        )
        view = await kb.transition(sam, view.id, view.revision, Action.SUBMIT)
        view = await kb.transition(sam, view.id, view.revision, Action.PUBLISH)
        return view.id
    finally:
        await pool.close()


def watch(page: Page, seen: list[str]) -> None:
    """Record every dialog (alert) and console message of the page: an injected script would show in them."""

    async def on_dialog(dialog: Dialog) -> None:
        seen.append("dialog: " + dialog.message)
        await dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        seen.append("console: " + message.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)


async def test_an_editors_script_link_and_event_attribute_never_run(served: Process, browser: Browser) -> None:
    url = served.env["URL"]
    page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    seen: list[str] = []
    watch(page, seen)
    await log_in(page, url, "redaction", lands_on="/connaissances")
    await assert_accessible(page, "knowledge list, editor")
    # the editor writes an article through the form, by keyboard and pointer
    await page.get_by_role("link", name="Nouvel article").click()
    await expect(page.get_by_role("heading", name="Nouvel article")).to_be_visible()
    await assert_accessible(page, "new article form")
    await page.get_by_role("button", name="Créer le brouillon").click()  # empty: refused, in French
    await expect(page.get_by_role("heading", name="L'article n'est pas enregistré")).to_be_visible()
    await expect(page.locator(".error-summary")).to_contain_text("Titre : au moins 3 caractères.")
    await assert_accessible(page, "new article refused")
    await page.get_by_label("Titre").fill("Article piégé")
    await page.get_by_label("Texte de l'article (Markdown)").fill(UNSAFE)
    await page.get_by_label("RSA", exact=True).check()
    await page.get_by_role("button", name="Créer le brouillon").click()
    await expect(page.get_by_role("heading", name="Article piégé")).to_be_visible(timeout=STEP)
    await expect(page.get_by_role("status")).to_have_text("Article créé (brouillon).")
    body = page.locator(".kb-body")
    await expect(body).to_contain_text("Texte après.")
    await assert_accessible(page, "article, draft")
    await page.get_by_role("button", name="Envoyer en relecture").click()
    await page.get_by_role("button", name="Publier").click()
    await expect(page.get_by_role("status")).to_have_text("Article publié : les conseillers le voient.")
    article_url = page.url.split("?")[0]
    # nothing ran: no dialog, no console message, no flag; no script, image, javascript: link nor on* attribute
    assert await page.evaluate("window.pwned") is None
    assert await body.locator("script, img, [onerror], [onclick], a[href^='javascript']").count() == 0
    await body.get_by_text("lien brut").click()  # the raw link is text: clicking it does nothing
    await expect(page).to_have_url(re.compile(re.escape(article_url)))
    await assert_accessible(page, "article, published")
    # an edit from an older revision (someone saved meanwhile): refused, the editor's text kept
    await page.get_by_role("link", name="Modifier").click()
    await assert_accessible(page, "edit form")
    await page.locator("input[name=revision]").evaluate("input => { input.value = '1'; }")
    await page.get_by_label("Résumé").fill("Mon résumé à ne pas perdre")
    await page.get_by_role("button", name="Enregistrer l'article").click()
    await expect(page.locator(".error-summary")).to_contain_text("modifié entre-temps", timeout=STEP)
    await expect(page.get_by_label("Résumé")).to_have_value("Mon résumé à ne pas perdre")
    await assert_accessible(page, "edit refused: concurrent save")
    await page.goto(article_url)
    # its history, with the readable diff
    await page.get_by_role("link", name="Historique et différences").click()
    await expect(page.get_by_role("heading", name=re.compile("Différences de la version 2"))).to_be_visible()
    await assert_accessible(page, "history and diff")
    await page.goto(url + "/connaissances/a-faire")
    await expect(page.locator("main")).to_contain_text("aide au permis de conduire")
    await assert_accessible(page, "to-do list")
    await page.goto(url + "/connaissances/sans-reponse")
    await expect(page.get_by_role("row", name=re.compile("Aide sociale, RSA"))).to_contain_text("1")
    await assert_accessible(page, "weekly report")
    await page.goto(url + "/connaissances/a-faire")
    await page.get_by_role("link", name=re.compile("Rédiger un article")).click()
    await expect(page.get_by_label("Titre")).to_have_value("aide au permis de conduire")
    await page.goto(url + "/connaissances/a-faire")
    await page.get_by_role("button", name=re.compile("Classer")).click()
    await expect(page.get_by_role("status")).to_have_text("Question classée : elle quitte la liste.")
    await assert_accessible(page, "to-do list, question set aside")
    await page.goto(url + "/connaissances?q=pi%C3%A9g%C3%A9")
    await expect(page.locator("ol.hits mark").first).to_be_visible()
    await assert_accessible(page, "search results")
    assert await page.evaluate("window.pwned") is None

    # the same article in the desk's panel: rebuilt from the sanitised HTML, nothing runs either
    desk = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    watch(desk, seen)
    await log_in(desk, url, "agnes")
    await desk.locator("#h-kb").click()  # the focus out of any field: « / » goes to the search
    await desk.keyboard.press("/")
    await expect(desk.locator("#kb-q")).to_be_focused()
    await expect(desk.locator("#kb-q")).to_have_value("")  # the « / » was not typed into it
    await desk.get_by_label("Motif de pause").focus()
    await desk.keyboard.press("Alt+k")
    await expect(desk.locator("#kb-q")).to_be_focused()
    await desk.keyboard.type("piégé")
    await desk.keyboard.press("Enter")
    await expect(desk.locator("#kb-count")).to_have_text(re.compile("1 article pour « piégé »"), timeout=STEP)
    await desk.locator("#kb-results button.link").first.click()
    panel = desk.locator("#kb-panel")
    await expect(panel).to_be_visible()
    await expect(desk.locator("#kb-panel-title")).to_be_focused()
    await expect(desk.locator("#kb-panel-body")).to_contain_text("Texte après.")
    assert await desk.locator("#kb-panel-body script, #kb-panel-body img, #kb-panel-body [onerror]").count() == 0
    assert await desk.locator("#kb-panel-body a[href^='javascript'], #kb-panel-body [onclick]").count() == 0
    await assert_accessible(desk, "desk, article panel open")
    await desk.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(desk.locator("#kb-results button.link").first).to_be_focused()
    assert await desk.evaluate("window.pwned") is None
    assert not [s for s in seen if "pwned" in s or s.startswith("dialog")], seen


async def test_a_suggestion_opens_beside_the_call_and_is_recorded_as_used(
    served: Process, browser: Browser, asterisk_rig: AsteriskRig, fresh_database: str
) -> None:
    url = served.env["URL"]
    page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await log_in(page, url, "agnes")
    await assert_accessible(page, "desk with the knowledge base")
    await page.get_by_role("button", name="Disponible").click()
    await expect(page.locator("#state")).to_have_text(re.compile("^Disponible"), timeout=STEP)
    driver = await Driver.connect(asterisk_rig)
    try:
        await driver.call("0321000401", "Jeanne Martin", __ADVISOR_TALK="3", __GPS_TOPIC="taxes")
        await expect(page.locator("#caller-name")).to_have_text("Jeanne Martin", timeout=STEP)
        # the suggestion of the voice menu's topic, asked once the pop is shown
        suggestion = page.locator("#kb-suggestions button.link", has_text="Payer ses impôts locaux par mensualités")
        await expect(suggestion).to_be_visible(timeout=STEP)
        await expect(page.locator("#kb-suggestions")).to_contain_text("thème de l'appel")
        # the whole desk still fits a 1366×768 screen: the call and the qualification's button
        for element in ("#pop", "#q-save"):
            box = await page.locator(element).bounding_box()
            assert box is not None and box["y"] + box["height"] <= 768, (element, box)
        await suggestion.click()
        await expect(page.locator("#kb-panel-title")).to_be_focused()
        await expect(page.locator("#kb-panel-body")).to_contain_text("Le prélèvement mensuel.")
        await expect(page.locator("#pop")).to_be_visible()  # beside the call: the page did not change
        await assert_accessible(page, "suggestion open in the panel")
        use = page.locator("#kb-panel").get_by_role("button", name="Utilisé pour cet appel")
        await use.click()
        await expect(use).to_have_attribute("aria-pressed", "true")
        await page.keyboard.press("Escape")
        await expect(page.locator("#kb-panel")).to_be_hidden()
        await expect(suggestion).to_be_focused()  # the focus is back where it was
        await expect(page.locator("#kb-used")).to_contain_text("Payer ses impôts locaux par mensualités")
        await assert_accessible(page, "article marked as used")
        # the advisor picks the theme: the suggestions follow it
        await page.get_by_label("Thème", exact=True).select_option("social_aid")
        await expect(page.locator("#kb-suggestions")).to_contain_text("Demander le RSA", timeout=STEP)
        await page.get_by_label("Sous-thème").select_option("rsa")
        await expect(page.locator("#kb-suggestions")).to_contain_text("sous-thème choisi", timeout=STEP)
        await expect(page.locator("#kb-suggestions")).not_to_contain_text("Payer ses impôts")
        ended = await served.expect(r"call ended linkedid=(\S+) status=\w+ caller=\+33321000401", within=60)
        linkedid = ended.group(1)
        await page.get_by_label("Issue").select_option("advice")
        save = page.get_by_role("button", name="Enregistrer la qualification")
        # « pas de réponse trouvée » wants its question, and not with an article used
        await page.get_by_label("Pas de réponse trouvée").check()
        await save.click()
        await expect(page.locator("#kb-used-msg")).to_contain_text("écrivez la question", timeout=STEP)
        await expect(page.get_by_label("La question en quelques mots")).to_be_focused()
        await assert_accessible(page, "no answer without its question")
        await page.get_by_label("La question en quelques mots").fill("aide au permis")
        await save.click()
        await expect(page.locator("#q-msg")).to_contain_text("choisissez l'un ou l'autre", timeout=STEP)
        await page.get_by_label("Pas de réponse trouvée").uncheck()
        await save.click()
        await expect(page.locator("#q-msg")).to_have_text(re.compile("^Qualification enregistrée"), timeout=STEP)
    finally:
        await driver.close()
    conn = await asyncpg.connect(fresh_database)
    try:
        rows = await conn.fetch(
            "SELECT a.title FROM knowledge_call_articles AS k JOIN knowledge_articles AS a ON a.id = k.article_id"
            " WHERE k.linkedid = $1",
            linkedid,
        )
    finally:
        await conn.close()
    assert [r["title"] for r in rows] == ["Payer ses impôts locaux par mensualités"]
