"""French search ranking tables, run the same on the machine's PostgreSQL (15, with contrib) and on the demo's
embedded PostgreSQL 16 (pgserver, no contrib extension): one code path, the same answers."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from config.settings import DeskSettings
from screenpop.knowledge.fiches import SECONDARY_TYPES
from screenpop.knowledge.models import ArticleInput
from screenpop.knowledge.search import KnowledgeSearch
from screenpop.knowledge.service import KnowledgeService
from screenpop.knowledge.workflow import Action, Actor
from storage.embedded import EmbeddedServers
from storage.knowledge.articles import ArticleRepository, FicheInput
from storage.migrate import migrate
from storage.pool import create_pool
from storage.users import Role, User
from tests.fixtures_db import throwaway_database

pytestmark = pytest.mark.asyncio(loop_scope="module")  # one corpus per server for the module's tests

DESK = DeskSettings()
ADMIN = User(id=1, login="admin", name="Admin", role=Role.ADMIN)
ADVISOR = Actor(Role.ADVISOR)


@pytest.fixture(scope="module", params=["machine", "embedded"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(kind, DSN): the machine's PostgreSQL (a throw-away database) or an embedded PostgreSQL 16."""
    if request.param == "machine":
        with throwaway_database() as dsn:
            yield "machine", dsn
        return
    with tempfile.TemporaryDirectory(prefix="gps-kb-") as tmp, EmbeddedServers(Path(tmp)) as servers:
        yield "embedded", servers.database_url


def fiche(fiche_id: str, title: str, body: str, kind: str = "Fiche d'information") -> FicheInput:
    return FicheInput(fiche_id=fiche_id, fiche_type=kind, title=title, summary="", body=body, body_text=body,
                      fiche_date=date(2020, 12, 1), source_url=f"https://www.service-public.fr/particuliers/vosdroits/{fiche_id}",
                      breadcrumb=("Social - Santé",), topics=(), topic_text="", content_hash=fiche_id,
                      rank_factor=0.5 if kind in SECONDARY_TYPES else 1.0)  # as the import sets it  # fmt: skip


LOCAL = {
    "rsa": ("Le RSA dans le Pas-de-Calais", "Où déposer la demande : la Maison du Département Solidarité."),
    "agees": ("Aide aux personnes âgées à domicile", "L'aide ménagère et le portage de repas."),
    "handicap": ("Transport adapté", "Pour les élèves en situation de handicap qui ne peuvent pas prendre le car."),
    "alloc_title": ("Allocation de rentrée", "Une aide versée en août."),
    "alloc_body": ("Aides de rentrée scolaire", "Une allocation versée en août aux familles."),
    "used": ("Assistante maternelle : trouver une place", "La liste des assistantes maternelles agréées."),
    "unused": ("Assistante maternelle : les horaires", "Les assistantes maternelles fixent leurs horaires."),
    "draft": ("Brouillon sur la téléassistance", "Un boîtier pour alerter en cas de chute."),
    "hostile": ("<script>alert('rsa')</script> Éducation", "Un titre hostile sur l'éducation."),
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def corpus(server: tuple[str, str]) -> AsyncIterator[tuple[asyncpg.Pool, dict[str, int]]]:
    pool = await create_pool(server[1])
    try:
        await migrate(pool)
        await pool.execute("TRUNCATE knowledge_articles, organisations, users RESTART IDENTITY CASCADE")
        await pool.execute(
            "INSERT INTO users (id, login, name, role, password_hash) VALUES (1, 'admin', 'Admin', 'admin', $1)",
            "$argon2id$test",
        )
        add = (
            "INSERT INTO organisations (kind, owner, name, extension) VALUES ('service', 'admin', $1, $2) RETURNING id"
        )
        owner = await pool.fetchval(add, "Action sociale", "2004")
        other = await pool.fetchval(add, "Routes", "2001")
        await ArticleRepository(pool).import_fiches(
            [fiche("F19778", "RSA demandeur de 25 ans et plus", "Le revenu de solidarité active (RSA) est versé…"),
             fiche("R1350", "Formulaire : demande de RSA", "Le formulaire de demande de RSA.", "Formulaire"),
             fiche("F10009", "Allocation personnalisée d'autonomie (Apa)", "L'Apa aide les personnes âgées.")],
            file_name="test.jsonl", sha256="0" * 64, file_date=date(2020, 12, 26), imported_by="test",
        )  # fmt: skip
        service = KnowledgeService(pool, DESK)
        ids: dict[str, int] = {}
        for key, (title, body) in LOCAL.items():
            topics = ("social_aid/rsa",) if key == "rsa" else ()  # the topic's label is « Aide sociale, RSA »
            data = ArticleInput(title=title, body=body, review_by=date(2027, 1, 1), topics=topics)
            view = await service.create(ADMIN, owner, data)
            ids[key] = view.id
            if key != "draft":
                for action in (Action.SUBMIT, Action.PUBLISH):
                    view = await service.transition(ADMIN, view.id, view.revision, action)
        await pool.execute(
            "INSERT INTO knowledge_call_articles (linkedid, article_id, used_by)"
            " SELECT 'call.' || n, $1, 'agnes' FROM generate_series(1, 5) AS n",
            ids["used"],
        )
        ids["_owner"], ids["_other"] = owner, other
        yield pool, ids
    finally:
        await pool.close()


async def titles(pool: asyncpg.Pool, query: str, actor: Actor = ADVISOR, **options: object) -> list[str]:
    results = await KnowledgeSearch(pool, DESK).search(actor, query, **options)  # type: ignore[arg-type]
    return [hit.title for hit in results.hits]


async def test_it_runs_on_both_servers(corpus: tuple[asyncpg.Pool, dict[str, int]], server: tuple[str, str]) -> None:
    pool, _ = corpus
    version = int(await pool.fetchval("SHOW server_version_num"))
    extensions = {r["name"] for r in await pool.fetch("SELECT name FROM pg_available_extensions")}
    if server[0] == "embedded":
        assert version // 10000 == 16
        assert not {"unaccent", "pg_trgm"} & extensions  # the constraint this design answers
    installed = {r["extname"] for r in await pool.fetch("SELECT extname FROM pg_extension")}
    assert installed == {"plpgsql"}  # no extension used, wherever it runs


@pytest.mark.parametrize(
    ("query", "first"),
    [
        # accents and case aside, both ways
        ("personnes agees", "Aide aux personnes âgées à domicile"),
        ("PERSONNES ÂGÉES", "Aide aux personnes âgées à domicile"),
        ("handicapé", "Transport adapté"),
        ("education", "<script>alert('rsa')</script> Éducation"),
        # typos: a word found in no article is widened to its closest words
        ("alocation rentree", "Allocation de rentrée"),
        ("asistante maternele", "Assistante maternelle : trouver une place"),
        ("handicpa", "Transport adapté"),
        # the département's own articles first, then the national fiches
        ("rsa", "Le RSA dans le Pas-de-Calais"),
        # the title weighs more than the body
        ("allocation", "Allocation de rentrée"),
        # used articles first among equals
        ("assistante maternelle", "Assistante maternelle : trouver une place"),
        # national fiches found by their words
        ("autonomie", "Allocation personnalisée d'autonomie (Apa)"),
    ],
)
async def test_first_result(corpus: tuple[asyncpg.Pool, dict[str, int]], query: str, first: str) -> None:
    pool, _ = corpus
    found = await titles(pool, query)
    assert found and found[0] == first, found


async def test_local_first_then_fiches_that_explain_then_forms(corpus: tuple[asyncpg.Pool, dict[str, int]]) -> None:
    pool, _ = corpus
    found = await titles(pool, "rsa")
    assert found[0] == "Le RSA dans le Pas-de-Calais"
    assert found.index("RSA demandeur de 25 ans et plus") < found.index("Formulaire : demande de RSA")


async def test_typing_matches_a_prefix(corpus: tuple[asyncpg.Pool, dict[str, int]]) -> None:
    pool, _ = corpus
    assert "Assistante maternelle : trouver une place" in await titles(pool, "assistante mat", typing=True)
    assert await titles(pool, "assistante mat") == []  # a finished word is not a prefix


async def test_drafts_are_seen_by_their_service_only(corpus: tuple[asyncpg.Pool, dict[str, int]]) -> None:
    pool, ids = corpus
    draft = "Brouillon sur la téléassistance"
    assert draft not in await titles(pool, "téléassistance")
    assert draft in await titles(pool, "téléassistance", Actor(Role.EDITOR, ids["_owner"]))
    assert draft not in await titles(pool, "téléassistance", Actor(Role.EDITOR, ids["_other"]))
    assert draft in await titles(pool, "teleassistance", Actor(Role.SUPERVISOR))


async def test_results_are_highlighted_and_escaped(corpus: tuple[asyncpg.Pool, dict[str, int]]) -> None:
    pool, _ = corpus
    results = await KnowledgeSearch(pool, DESK).search(ADVISOR, "education hostile")
    hit = results.hits[0]
    assert "<script>" not in hit.title_html
    assert hit.title_html == "&lt;script&gt;alert(&#x27;rsa&#x27;)&lt;/script&gt; <mark>Éducation</mark>"
    assert hit.snippet_html == "Un titre <mark>hostile</mark> sur l&#x27;<mark>éducation</mark>."
    results = await KnowledgeSearch(pool, DESK).search(ADVISOR, "personnes agees")
    assert "<mark>personnes</mark> <mark>âgées</mark>" in results.hits[0].title_html


async def test_corrections_and_stop_words_are_reported(corpus: tuple[asyncpg.Pool, dict[str, int]]) -> None:
    pool, _ = corpus
    search = KnowledgeSearch(pool, DESK)
    results = await search.search(ADVISOR, "alocation des")
    assert [(c.term, "allocation" in c.alternatives) for c in results.corrections] == [("alocation", True)]
    assert results.ignored == ("des",)
    nothing = await search.search(ADVISOR, "des du pour")
    assert (nothing.total, nothing.hits) == (0, ())


@pytest.mark.parametrize("query", ["rsa & !", "'); DROP TABLE knowledge_articles; --", "a:* | b", "(((", "ü" * 500, ""])
async def test_hostile_queries_are_only_words(corpus: tuple[asyncpg.Pool, dict[str, int]], query: str) -> None:
    pool, _ = corpus
    await titles(pool, query)  # no error
    assert await pool.fetchval("SELECT count(*) FROM knowledge_articles") == len(LOCAL) + 3


async def test_national_hits_carry_the_credit(corpus: tuple[asyncpg.Pool, dict[str, int]]) -> None:
    pool, _ = corpus
    results = await KnowledgeSearch(pool, DESK).search(ADVISOR, "autonomie")
    hit = results.hits[0]
    assert hit.kind == "national" and hit.source_url and hit.source_url.startswith("https://www.service-public.fr/")
    assert hit.credit == (
        "Source : Service-public.fr / DILA — fiches Vos droits et démarches (Licence Ouverte 2.0) — "
        "fichier du 26 décembre 2020 — fiche mise à jour le 1er décembre 2020"
    )


async def test_the_vocabulary_follows_the_articles(corpus: tuple[asyncpg.Pool, dict[str, int]]) -> None:
    pool, ids = corpus
    count = "SELECT ndoc FROM knowledge_words WHERE word = $1"
    assert await pool.fetchval(count, "teleassistance") == 1
    service = KnowledgeService(pool, DESK)
    view = await service.article(ADMIN, ids["draft"])
    data = ArticleInput(title="Brouillon sur le portage de repas", body="Un repas livré.", review_by=date(2027, 1, 1))
    view = await service.edit(ADMIN, ids["draft"], view.revision, data)
    assert await pool.fetchval(count, "teleassistance") is None  # gone with its last article
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM knowledge_trigrams WHERE word_id NOT IN (SELECT id FROM knowledge_words)"
        )
        == 0
    )
    assert await pool.fetchval(count, "portage") == 2


# 0011's knowledge_words_of, which 0018 replaced by a faster one: the same words, whatever the text
WORDS_0011 = (
    "SELECT coalesce(array_agg(DISTINCT w ORDER BY w), '{}') FROM regexp_split_to_table(gps_fold($1), '[^a-z0-9]+')"
    " AS w WHERE length(w) BETWEEN 3 AND 40"
)
WORDS_NOW = "SELECT coalesce(array_agg(w ORDER BY w), '{}') FROM knowledge_words_of($1, NULL, '', $2) AS w"


@pytest.mark.parametrize(
    "text",
    [
        "Élève, ÉLÈVES et élèves : l’allocation d’éducation (AEEH) — 1,5 € ; n°42",
        "Œuvre, cœur, ŒUF, æquo, STRASSE, Straße, œœ, ßß, ŀl, Ŀ",
        "İstanbul İİİ, Kelvin \u212a ou K, e\u0301cole (décomposé), ﬁnances, ǅ, Ǆ, ǎ, ǒ, ĳ, ß",
        "abc" * 20 + " " + "é" * 41 + " " + "é" * 40 + " x y zz zzz 12 123 a1b2",
        "",
        "\n\t  ",
        "Ἀθῆναι, Москва, 東京, ٣٤٥, ①②③, ＡＢＣ, ａｂｃ",
    ],
)
async def test_the_vocabulary_words_are_0011s(corpus: tuple[asyncpg.Pool, dict[str, int]], text: str) -> None:
    pool, _ = corpus
    half = len(text) // 2  # split over two fields, joined by a space as the trigger joins them
    expected = await pool.fetchval(WORDS_0011, text[:half] + " " + text[half:])
    assert await pool.fetchval(WORDS_NOW, text[:half], text[half:]) == expected


async def test_the_vocabulary_words_are_folded(corpus: tuple[asyncpg.Pool, dict[str, int]]) -> None:
    pool, _ = corpus
    words = await pool.fetchval(WORDS_NOW, "Élève, ÉLÈVES : l’allocation d’Œuvre", "STRASSE et Straße, ŀl a1b2")
    assert words == ["a1b2", "allocation", "eleve", "eleves", "oeuvre", "strasse"]


async def test_the_vocabulary_words_of_every_article_are_0011s(corpus: tuple[asyncpg.Pool, dict[str, int]]) -> None:
    pool, _ = corpus
    rows = await pool.fetch("SELECT title, summary, topic_text, body_text FROM knowledge_articles")
    assert rows
    for row in rows:
        joined = " ".join(v for v in row.values() if v is not None)
        words = await pool.fetchval(
            "SELECT coalesce(array_agg(w ORDER BY w), '{}') FROM knowledge_words_of($1, $2, $3, $4) AS w", *row.values()
        )
        assert words == await pool.fetchval(WORDS_0011, joined)


async def test_the_vocabulary_is_the_articles_words_with_their_trigrams(
    corpus: tuple[asyncpg.Pool, dict[str, int]],
) -> None:
    pool, _ = corpus
    counted = await pool.fetch(
        "SELECT w AS word, count(*)::integer AS ndoc FROM knowledge_articles AS r,"
        " knowledge_words_of(r.title, r.summary, r.topic_text, r.body_text) AS w GROUP BY w ORDER BY w"
    )
    kept = await pool.fetch("SELECT word, ndoc FROM knowledge_words ORDER BY word")
    assert [tuple(r) for r in kept] == [tuple(r) for r in counted] and kept
    wrong = await pool.fetchval(
        "SELECT count(*) FROM knowledge_words AS w WHERE w.ntrgm <> cardinality(gps_trigrams(w.word))"
        " OR ARRAY(SELECT t.trigram FROM knowledge_trigrams AS t WHERE t.word_id = w.id AND t.len = length(w.word)"
        "          ORDER BY t.trigram) <> ARRAY(SELECT g FROM unnest(gps_trigrams(w.word)) AS g ORDER BY g)"
    )
    assert wrong == 0
