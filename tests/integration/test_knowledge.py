"""The knowledge base against a real PostgreSQL: the workflow with its permissions and revisions, the imports
(national fiches with malformed lines, local articles in and out), the loop fed by the qualification."""

from __future__ import annotations

import gzip
import json
import zipfile
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from config.settings import DeskSettings
from screenpop.calls.errors import UnknownArticle
from screenpop.calls.models import Qualification
from screenpop.calls.service import QualificationService
from screenpop.knowledge.diff import Op
from screenpop.knowledge.errors import ArticleConflict, ArticleNotFound, ImportRefused, InvalidArticle, NotAllowed
from screenpop.knowledge.imports import (
    DEMO_ARTICLES,
    SUBSET,
    check_import,
    export_local,
    import_fiches,
    import_local,
    load_demo,
    write_export,
)
from screenpop.knowledge.models import ArticleInput
from screenpop.knowledge.service import KnowledgeService
from screenpop.knowledge.workflow import Action, Status
from storage.calls import CallRecordRepository
from storage.users import InvalidRole, Role, User, UserRepository
from tests.fixtures_db import fresh_database, make_record, migrated_pool

__all__ = ["fresh_database", "migrated_pool"]

DESK = DeskSettings()
TODAY = date(2026, 12, 5)


@pytest.fixture
async def pool(migrated_pool: asyncpg.Pool) -> asyncpg.Pool:
    await migrated_pool.execute(
        "TRUNCATE knowledge_articles, knowledge_sources, knowledge_unanswered, knowledge_call_articles,"
        " organisations, users, advisors RESTART IDENTITY CASCADE"
    )
    await migrated_pool.execute(
        "INSERT INTO organisations (kind, owner, name, extension, topics) VALUES"
        " ('service', 'admin', 'Action sociale — RSA', '2004', '{social_aid}'),"
        " ('service', 'admin', 'Service des routes', '2001', '{roads}'),"
        " ('service', 'admin', 'Autonomie — personnes âgées et handicapées', '2003', '{elderly,disability}'),"
        " ('service', 'admin', 'Collèges — transports scolaires', '2002', '{secondary_schools}')"
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


SOCIAL, ROADS = 1, 2
EDITOR = User(id=11, login="ed.social", name="Élise Social", role=Role.EDITOR, service_id=SOCIAL)
ROADS_EDITOR = User(id=12, login="ed.routes", name="Rémi Routes", role=Role.EDITOR, service_id=ROADS)
ADVISOR = User(id=13, login="agnes", name="Agnès", role=Role.ADVISOR, advisor_id=1)
SUPERVISOR = User(id=14, login="sup", name="Sam", role=Role.SUPERVISOR)


def data(**changes: object) -> ArticleInput:
    base: dict[str, object] = {
        "title": "Le RSA dans le Pas-de-Calais",
        "body": "## Où déposer la demande\n\nÀ la Caf, ou en **MDS**.\n\nLe montant est de 564,78 €.",
        "review_by": date(2027, 6, 30),
        "topics": ["social_aid/rsa"],
        "linked_partners": ["caf"],
        "linked_fiches": ["F19778"],
        "linked_services": [SOCIAL],
    }
    return ArticleInput.model_validate({**base, **changes})


def service(pool: asyncpg.Pool) -> KnowledgeService:
    return KnowledgeService(pool, DESK, today=lambda: TODAY)


async def test_the_workflow_with_every_revision_kept(pool: asyncpg.Pool) -> None:
    kb = service(pool)
    view = await kb.create(EDITOR, SOCIAL, data())
    assert (view.status, view.revision, view.topics[0].label, view.topics[1].label) == (
        Status.DRAFT, 1, "Aide sociale, RSA", "Aide sociale, RSA › RSA")  # fmt: skip
    assert "<strong>MDS</strong>" in view.body_html and view.linked_partners[0].label == "CAF"
    assert view.actions == (Action.READ, Action.EDIT, Action.SUBMIT, Action.ARCHIVE)
    # an advisor does not see a draft; an editor of another service neither
    for other in (ADVISOR, ROADS_EDITOR):
        with pytest.raises(ArticleNotFound):
            await kb.article(other, view.id)
    view = await kb.transition(EDITOR, view.id, 1, Action.SUBMIT)
    # the editor of another service cannot publish it, nor can an advisor (even once it is published, edit)
    with pytest.raises(ArticleNotFound):
        await kb.transition(ROADS_EDITOR, view.id, view.revision, Action.PUBLISH)
    view = await kb.transition(EDITOR, view.id, view.revision, Action.PUBLISH, comment="relu par le chef de service")
    assert view.status is Status.PUBLISHED and view.revision == 3
    seen = await kb.article(ADVISOR, view.id)
    assert seen.actions == (Action.READ,)
    with pytest.raises(NotAllowed, match="conseiller"):
        await kb.edit(ADVISOR, view.id, view.revision, data(title="Modifié par un conseiller"))
    with pytest.raises(NotAllowed, match="autre service"):
        await kb.edit(ROADS_EDITOR, view.id, view.revision, data(title="Modifié par les routes"))
    # an edit of the published article, then the diff between the revisions
    view = await kb.edit(EDITOR, view.id, view.revision, data(body=data().body.replace("564,78", "607,75")))
    assert view.status is Status.PUBLISHED and view.revision == 4
    history = await kb.revisions(EDITOR, view.id)
    assert [(r.revision, r.action, r.status, r.author) for r in history] == [
        (4, "edit", Status.PUBLISHED, "ed.social"),
        (3, "publish", Status.PUBLISHED, "ed.social"),
        (2, "submit", Status.REVIEW, "ed.social"),
        (1, "create", Status.DRAFT, "ed.social"),
    ]
    assert history[1].comment == "relu par le chef de service"
    comparison = await kb.compare(ADVISOR, view.id, 3, 4)
    changed = [line for line in comparison.diff.lines if line.op is None]
    assert len(changed) == 1
    assert [(p.op, p.text) for p in changed[0].pieces if p.op is not Op.EQUAL] == [
        (Op.DELETE, "564"), (Op.INSERT, "607"), (Op.DELETE, "78"), (Op.INSERT, "75")]  # fmt: skip
    # a stale save is refused: someone saved since this revision was read
    with pytest.raises(ArticleConflict):
        await kb.edit(SUPERVISOR, view.id, 3, data(title="Une autre version"))
    view = await kb.transition(SUPERVISOR, view.id, view.revision, Action.ARCHIVE)
    with pytest.raises(ArticleNotFound):
        await kb.article(ADVISOR, view.id)


async def test_creation_rules(pool: asyncpg.Pool) -> None:
    kb = service(pool)
    with pytest.raises(NotAllowed, match="votre service"):
        await kb.create(EDITOR, ROADS, data())
    with pytest.raises(NotAllowed, match="conseiller"):
        await kb.create(ADVISOR, SOCIAL, data())
    with pytest.raises(InvalidArticle, match="thème « taxes/rsa » inconnu"):
        await kb.create(EDITOR, SOCIAL, data(topics=["taxes/rsa"]))
    with pytest.raises(InvalidArticle, match="partenaire"):
        await kb.create(EDITOR, SOCIAL, data(linked_partners=["inconnu"]))
    with pytest.raises(InvalidArticle, match="service"):
        await kb.create(EDITOR, SOCIAL, data(linked_services=[99]))
    with pytest.raises(InvalidArticle, match="fiche"):
        await kb.create(EDITOR, SOCIAL, data(linked_fiches=["javascript:x"]))
    assert await pool.fetchval("SELECT count(*) FROM knowledge_articles") == 0


async def test_editor_accounts_are_bound_to_a_service(pool: asyncpg.Pool) -> None:
    users = UserRepository(pool)
    await pool.execute("DELETE FROM users")
    editor = await users.add("elise", "Élise", Role.EDITOR, "un mot de passe long", service_id=SOCIAL)
    assert (editor.role, editor.service_id) == (Role.EDITOR, SOCIAL)
    assert (await users.verify("elise", "un mot de passe long")) == editor
    with pytest.raises(InvalidRole, match="editor needs the service"):
        await users.add("remi", "Rémi", Role.EDITOR, "un mot de passe long")
    with pytest.raises(InvalidRole):
        await users.add("sam", "Sam", Role.SUPERVISOR, "un mot de passe long", service_id=SOCIAL)
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("UPDATE users SET service_id = NULL WHERE login = 'elise'")


# -- the national fiches ---------------------------------------------------------------------------------------


def subset_lines(count: int) -> list[bytes]:
    with gzip.open(SUBSET, "rb") as f:
        return [line for _, line in zip(range(count), f, strict=False)]


async def test_fiches_import_is_all_or_nothing_and_idempotent(pool: asyncpg.Pool, tmp_path: Path) -> None:
    lines = subset_lines(20)
    bad = tmp_path / "bad.jsonl.gz"
    with gzip.open(bad, "wb") as out:
        out.writelines([*lines[:5], b'{"id": "F1", "children": [\n', b"not json\n", *lines[5:], lines[3]])
    with pytest.raises(ImportRefused) as refused:
        await import_fiches(pool, DESK, bad)
    assert [where for where, _ in refused.value.problems] == ["line 6", "line 7", "line 23"]
    assert "already on line 4" in refused.value.problems[2][1]
    assert await pool.fetchval("SELECT count(*) FROM knowledge_articles") == 0  # nothing half-imported
    assert await pool.fetchval("SELECT count(*) FROM knowledge_sources") == 0
    # the good lines only, when asked
    report = await import_fiches(pool, DESK, bad, skip_malformed=True)
    assert (report.fiches, report.created, len(report.refused)) == (20, 20, 3)
    # the clean file: idempotent on the fiche id, unchanged fiches not rewritten
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"".join(lines))
    report = await import_fiches(pool, DESK, good)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 20)
    again = await import_fiches(pool, DESK, good)
    assert again.already_imported
    changed = json.loads(lines[0])
    changed["children"][0]["children"][0]["children"][0]["text"] = "Titre mis à jour"
    newer = tmp_path / "newer.jsonl"
    newer.write_bytes(json.dumps(changed).encode() + b"\n" + b"".join(lines[1:]))
    report = await import_fiches(pool, DESK, newer, file_date=date(2021, 1, 15))
    assert (report.created, report.updated, report.unchanged, report.file_date) == (0, 1, 19, date(2021, 1, 15))
    assert await pool.fetchval("SELECT count(*) FROM knowledge_articles") == 20
    row = await pool.fetchrow(
        "SELECT a.title, s.file_date FROM knowledge_articles a JOIN knowledge_sources s ON s.id = a.source_id"
        " WHERE a.fiche_id = $1",
        changed["id"],
    )
    assert (row["title"], row["file_date"]) == ("Titre mis à jour", date(2021, 1, 15))


async def test_national_fiches_are_read_only(pool: asyncpg.Pool) -> None:
    await import_fiches(pool, DESK, SUBSET)
    kb = service(pool)
    article_id = await pool.fetchval("SELECT id FROM knowledge_articles WHERE fiche_id = 'F10009'")
    view = await kb.article(ADVISOR, article_id)
    assert view.kind == "national" and view.credit and "Licence Ouverte 2.0" in view.credit
    assert view.source_url == "https://www.service-public.fr/particuliers/vosdroits/F10009"
    assert [t.key for t in view.topics][:2] == ["elderly", "elderly/apa"]
    for user in (SUPERVISOR, EDITOR):
        assert view.actions == (Action.READ,) or user is EDITOR
        with pytest.raises(NotAllowed, match="lecture seule"):
            await kb.edit(user, article_id, view.revision, data())


# -- local articles in and out ---------------------------------------------------------------------------------


async def test_demo_articles_load_export_and_import_back(pool: asyncpg.Pool, tmp_path: Path) -> None:
    fiches, articles = await load_demo(pool, DESK)
    assert fiches.created > 300 and 28 <= articles.created <= 35
    assert await pool.fetchval("SELECT bool_and(example) FROM knowledge_articles WHERE kind = 'local'")
    fiches, articles = await load_demo(pool, DESK)  # a second start changes nothing
    assert fiches.already_imported and (articles.created, articles.updated) == (0, 0)
    for dest in (tmp_path / "out", tmp_path / "out.zip", tmp_path / "out.json"):
        assert write_export(await export_local(pool), dest) == articles.unchanged
        report = await import_local(pool, DESK, dest)
        assert (report.created, report.updated, report.unchanged) == (0, 0, articles.unchanged)
    revisions = await pool.fetchval("SELECT count(*) FROM knowledge_revisions")
    assert revisions == articles.unchanged  # nothing rewritten


async def test_an_import_with_a_bad_file_changes_nothing(pool: asyncpg.Pool, tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    for source in sorted(DEMO_ARTICLES.glob("*.md"))[:3]:
        (folder / source.name).write_text(source.read_text("utf-8"), "utf-8")
    (folder / "zz-no-front-matter.md").write_text("# Sans en-tête", "utf-8")
    (folder / "zz-unknown-service.md").write_text(
        "---\ntitle: Un article\nservice: Service inconnu\nreview_by: 2027-01-01\n---\nCorps", "utf-8"
    )
    (folder / "zz-latin1.md").write_bytes("---\ntitle: Été\n---\n".encode("latin-1"))
    with pytest.raises(ImportRefused) as refused:
        await import_local(pool, DESK, folder)
    assert sorted(where for where, _ in refused.value.problems) == [
        "zz-latin1.md", "zz-no-front-matter.md", "zz-unknown-service.md"]  # fmt: skip
    assert await pool.fetchval("SELECT count(*) FROM knowledge_articles") == 0
    for name in ("zz-no-front-matter.md", "zz-unknown-service.md", "zz-latin1.md"):
        (folder / name).unlink()
    assert (await check_import(pool, DESK, folder)).created == 3
    assert await pool.fetchval("SELECT count(*) FROM knowledge_articles") == 0  # a check writes nothing
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in folder.iterdir():
            z.write(path, path.name)
    assert (await import_local(pool, DESK, archive)).created == 3


# -- the loop --------------------------------------------------------------------------------------------------


async def test_the_qualification_records_articles_used_or_the_question(pool: asyncpg.Pool) -> None:
    await load_demo(pool, DESK)
    rsa = await pool.fetchval("SELECT id FROM knowledge_articles WHERE title LIKE 'Demander le RSA%'")
    fiche = await pool.fetchval("SELECT id FROM knowledge_articles WHERE fiche_id = 'F19778'")
    draft = await pool.fetchval("SELECT id FROM knowledge_articles WHERE status = 'draft' LIMIT 1")
    records, quals = CallRecordRepository(pool), QualificationService(pool, DESK)
    for linkedid in ("10.1", "10.2", "10.3"):
        await records.upsert(make_record(linkedid, caller_number="+33321000001"))
    adv = ADVISOR
    base = {"topic": "social_aid", "subtopic": "rsa", "outcome": "advice"}
    await quals.save("10.1", Qualification.model_validate({**base, "articles_used": [rsa, fiche]}), adv, "PJSIP/adv1")
    await quals.save("10.1", Qualification.model_validate({**base, "articles_used": [rsa, fiche]}), adv, "PJSIP/adv1")
    await quals.save("10.2", Qualification.model_validate({**base, "articles_used": [rsa]}), adv, "PJSIP/adv1")
    uses = "SELECT uses FROM knowledge_articles WHERE id = $1"
    assert (await pool.fetchval(uses, rsa), await pool.fetchval(uses, fiche)) == (2, 1)  # a resave counts once
    await quals.save("10.2", Qualification.model_validate({**base, "articles_used": [fiche]}), adv, "PJSIP/adv1")
    assert (await pool.fetchval(uses, rsa), await pool.fetchval(uses, fiche)) == (1, 2)  # a correction moves it
    question = "Aide pour payer la cantine du collège quand on est au RSA ?"
    await quals.save("10.3", Qualification.model_validate({**base, "no_answer_question": question}), adv, "PJSIP/adv1")
    # refused: unknown or unpublished article, both at once
    with pytest.raises(UnknownArticle, match="non publié"):
        await quals.save("10.3", Qualification.model_validate({**base, "articles_used": [draft]}), adv, "PJSIP/adv1")
    with pytest.raises(ValueError, match="l'un ou l'autre"):
        Qualification.model_validate({**base, "articles_used": [rsa], "no_answer_question": question})
    # a call in progress (its record not written yet): recorded at once
    pending = Qualification.model_validate({**base, "no_answer_question": "Carte de transport perdue ?"})
    await quals.save("10.9", pending, adv, "PJSIP/adv1", taken_by="PJSIP/adv1")
    # the editors' to-do list
    kb = service(pool)
    editor = EDITOR
    todo = await kb.todo(editor)
    assert [q.question for q in todo.unanswered] == ["Carte de transport perdue ?", question]
    assert [a.title for a in todo.to_review] == ["RSA : le référent et le contrat d'engagements"]  # past its date
    assert [(a.title, a.uses) for a in todo.most_used] == [("Demander le RSA dans le Pas-de-Calais : où et comment", 1)]
    with pytest.raises(NotAllowed):
        await kb.todo(User(id=12, login="r", name="R", role=Role.EDITOR, service_id=2), service_id=1)
    assert await kb.loop.resolve("10.3", "ed", rsa)
    assert [q.linkedid for q in (await kb.todo(editor)).unanswered] == ["10.9"]
    # the weekly count of themes without an answer
    weeks = await kb.loop.unanswered_by_week(date(2020, 1, 1), datetime.now(ZoneInfo("Europe/Paris")).date())
    assert [(w.topic, w.questions) for w in weeks] == [("social_aid", 2)]
    assert weeks[0].week.weekday() == 0
    # suggestions for a pop: the caller's history first, then the chosen sub-topic, then the menu topic
    suggested = await kb.suggestions("+33321000001", "social_aid", "rsa")
    assert [s.reason for s in suggested] == ["history", "history", "subtopic"]
    assert {s.id for s in suggested[:2]} == {rsa, fiche}
    fresh = await kb.suggestions("+33699999999", "elderly")
    assert len(fresh) == 3 and all(s.reason == "topic" for s in fresh)
    assert fresh[0].kind == "local"
    assert await kb.suggestions(None, "unknown-topic") == []
