"""The directory over HTTP on a real PostgreSQL and Redis (aiohttp test server; a test middleware sets the user):
the desk's search and the partners of a commune (JSON), and the administration pages (forms as a browser without
scripts posts them: create, edit with the edit-conflict check, deactivate and reactivate, the history, import with
its dry run and report, export). The CSRF token and the session are the auth slice's (tested with the real login
in the browser tests)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient, TestServer

from config.settings import DeskSettings, OpeningHours
from screenpop.directory import http as directory_http
from screenpop.directory.models import Actor, Draft
from screenpop.directory.pages import PagesDeps
from screenpop.directory.service import DirectoryService
from screenpop.web import http as web_http
from screenpop.web.keys import USER
from storage.communes import ensure_communes
from storage.redis.uploads import UploadStore
from storage.users import Role, User
from tests.fixtures_db import fresh_database, migrated_pool
from tests.servers import redis_url

__all__ = ["fresh_database", "migrated_pool"]

DESK = DeskSettings()
WEDNESDAY_10 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # 10:00 in Paris
ADMIN = User(id=1, login="admin", name="Ada Admin", role=Role.ADMIN)
SAM = User(id=2, login="sam", name="Sam Carpentier", role=Role.SUPERVISOR)
ALICE = User(id=3, login="alice", name="Alice", role=Role.ADVISOR, advisor_id=1)
HTML = {"Accept": "text/html"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Client = TestClient[web.Request, web.Application]


class Session:
    user: User | None = ADMIN


@pytest.fixture
async def pool(migrated_pool: asyncpg.Pool) -> asyncpg.Pool:
    await ensure_communes(migrated_pool)
    await migrated_pool.execute("TRUNCATE organisations RESTART IDENTITY CASCADE")
    return migrated_pool


@pytest.fixture
def directory(pool: asyncpg.Pool) -> DirectoryService:
    return DirectoryService(pool, OpeningHours(), topics=DESK.topics, departement="62", clock=lambda: WEDNESDAY_10)


@pytest.fixture
async def session() -> Session:
    return Session()


@pytest.fixture
async def client(directory: DirectoryService, session: Session) -> AsyncIterator[Client]:
    redis = aioredis.from_url(redis_url(9))
    await redis.flushdb()

    @web.middleware
    async def test_user(request: web.Request, handler: Handler) -> web.StreamResponse:
        if session.user is not None:
            request[USER] = session.user
        return await handler(request)

    app = web.Application()
    web_http.setup(app, web_http.WebDeps())
    app.middlewares.append(test_user)
    pages = PagesDeps(UploadStore(redis), {k: t.label for k, t in DESK.topics.items()}, "62")
    directory_http.setup(app, directory_http.DirectoryDeps(directory, "62", pages))
    async with TestClient(TestServer(app)) as c:
        yield c
    await redis.aclose()


WEEK = "lun-ven 08:30-12:00 13:30-17:00"


async def seed(directory: DirectoryService) -> dict[str, int]:
    admin = Actor(login="admin", role="admin")
    entries: dict[str, dict[str, Any]] = {
        "mairie": {"kind": "town_hall", "name": "Mairie de Lens", "commune_insee": "62498", "city": "Lens",
                   "postal_code": "62300", "phones": [{"number": "03 53 01 00 10"}],
                   "hours": {d: [["08:30", "12:00"], ["13:30", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}},
        "caf": {"kind": "caf", "name": "CAF du Pas-de-Calais", "departements": ["62"], "city": "Arras",
                "commune_insee": "62041", "phones": [{"number": "3230"}, {"number": "03 53 01 00 29", "public": False}],
                "staff_contact": "Mme Agent, 03 53 01 00 29",
                "public_note": "Munissez-vous de votre numéro d'allocataire."},
        "sam": {"kind": "ccas", "name": "CCAS de Lens", "commune_insee": "62498", "owner": "sam"},
    }  # fmt: skip
    return {
        k: (await directory.create(Draft.model_validate({"owner": "admin", **v}), admin)).id for k, v in entries.items()
    }


# -- the desk's JSON ----------------------------------------------------------------------------------------------


async def test_the_desk_searches_the_directory_and_reads_a_commune_s_partners(
    client: Client, directory: DirectoryService, session: Session
) -> None:
    ids = await seed(directory)
    session.user = ALICE
    found = await (await client.get("/api/directory/search", params={"q": "caf lens"})).json()
    assert [r["name"] for r in found["results"]] == ["CAF du Pas-de-Calais"]  # serves the département, Lens in it
    caf = found["results"][0]
    assert caf["kind_label"].startswith("CAF")
    assert caf["opening"]["known"] is False  # no hours given
    assert "Munissez-vous" in caf["read_out"] and "Mme Agent" not in caf["read_out"]  # staff-only stays out
    assert caf["staff_contact"] == "Mme Agent, 03 53 01 00 29"  # shown to the advisor, marked
    accents = await (await client.get("/api/directory/search", params={"q": "MAIRIE lèns"})).json()
    assert [r["id"] for r in accents["results"]] == [ids["mairie"]]
    assert accents["results"][0]["opening"]["summary"] == "Ouvert maintenant, jusqu'à 12:00"
    by_postal = await (await client.get("/api/directory/search", params={"q": "62300"})).json()
    assert {r["id"] for r in by_postal["results"]} >= {ids["mairie"], ids["sam"]}
    assert (await client.get("/api/directory/search", params={"q": "caf", "kind": "nasa"})).status == 400
    assert (await (await client.get("/api/directory/search", params={"q": ""})).json())["results"] == []

    partners = await (await client.get("/api/directory/communes/62498/partners")).json()
    assert partners["commune_label"] == "Lens (62300)"
    assert [p["listing"]["name"] for p in partners["partners"]] == [
        "Mairie de Lens",
        "CCAS de Lens",
        "CAF du Pas-de-Calais",
    ]
    assert partners["partners"][2]["reach"] == "departement"
    assert (await client.get("/api/directory/communes/99999/partners")).status == 404
    assert (await client.get("/api/directory/communes/x'/partners")).status == 404
    session.user = None
    assert (await client.get("/api/directory/search", params={"q": "caf"})).status == 401


# -- the administration pages ------------------------------------------------------------------------------------


def form(**values: Any) -> dict[str, Any]:
    base = {"kind": "france_services", "name": "France Services de Liévin", "owner": "admin", "commune": "Liévin",
            "phones": "03 53 01 00 40 (accueil)\n03 53 01 00 49 (direct) [agents]", "hours": WEEK,
            "closed_dates": "24/12/2026 2026-12-31", "public_note": "Sans rendez-vous le matin.",
            "topics": []}  # fmt: skip
    base.update(values)
    return base


async def post(client: Client, path: str, data: dict[str, Any]) -> Any:
    fields = FormData()
    for key, value in data.items():
        for one in value if isinstance(value, list) else [value]:
            fields.add_field(key, str(one))
    return await client.post(path, data=fields, headers=HTML, allow_redirects=False)


async def text(response: Any) -> str:
    """The page's text as a reader gets it (entities such as &#39; decoded)."""
    return html.unescape(await response.text())


async def page(client: Client, path: str) -> str:
    response = await client.get(path, headers=HTML)
    assert response.status == 200, (path, response.status, await response.text())
    return await text(response)


async def test_create_edit_deactivate_and_the_history(
    client: Client, directory: DirectoryService, pool: asyncpg.Pool
) -> None:
    created = await post(client, "/annuaire/nouvelle", form(communes="62510, 62498"))
    assert created.status == 303
    location = created.headers["Location"]
    entry_id = int(re.fullmatch(r"/annuaire/([0-9]+)\?fait=creee", location).group(1))  # type: ignore[union-attr]
    entry = await directory.get(entry_id)
    assert (entry.commune_insee, entry.hours_text, [p.public for p in entry.phones]) == (
        "62510",  # Liévin, typed in full: one commune of that name
        "lun-ven 08:30-12:00 13:30-17:00",
        [True, False],
    )
    shown = await page(client, location)
    assert "Fiche créée." in shown and "France Services de Liévin" in shown
    assert "Liévin (62800) — INSEE 62510" in shown and "réservé aux agents" in shown
    assert "Lens (62498), Liévin (62510)" in shown  # the communes served, by name
    assert "Création" in shown

    # the edit form shows the entry as the CSV writes it; a change is saved with its history
    edit = await page(client, f"/annuaire/{entry_id}/modifier")
    assert "03 53 01 00 49 (direct) [agents]" in edit and 'value="1"' in edit  # its version
    saved = await post(client, f"/annuaire/{entry_id}/modifier", form(name="France Services de Liévin-centre",
                                                                       version="1"))  # fmt: skip
    assert saved.headers["Location"] == f"/annuaire/{entry_id}?fait=modifiee"
    again = await post(client, f"/annuaire/{entry_id}/modifier", form(name="France Services de Liévin-centre",
                                                                       version="2"))  # fmt: skip
    assert again.headers["Location"] == f"/annuaire/{entry_id}?fait=inchangee"  # nothing changed, nothing written
    # someone read version 1 and saves over version 2: refused, what they typed shown again
    stale = await post(client, f"/annuaire/{entry_id}/modifier", form(name="Ancien nom", version="1"))
    assert stale.status == 409
    body = await text(stale)
    assert "modifiée entre-temps" in body and 'value="Ancien nom"' in body
    assert (await directory.get(entry_id)).name == "France Services de Liévin-centre"

    # deactivated, then reactivated; each change in the history, the latest first
    off = await post(client, f"/annuaire/{entry_id}/desactiver", {"version": "2"})
    assert off.headers["Location"] == f"/annuaire/{entry_id}?fait=desactivee"
    assert not (await directory.get(entry_id)).active
    on = await post(client, f"/annuaire/{entry_id}/reactiver", {"version": "3"})
    assert on.headers["Location"] == f"/annuaire/{entry_id}?fait=reactivee"
    history = await page(client, f"/annuaire/{entry_id}")
    actions = re.findall(r"<td>(Création|Modification|Désactivation|Réactivation)</td>", history)
    assert actions == ["Réactivation", "Désactivation", "Modification", "Création"]
    assert "France Services de Liévin → France Services de Liévin-centre" in history
    stale_off = await post(client, f"/annuaire/{entry_id}/desactiver", {"version": "1"})
    assert stale_off.status == 409 and "modifiée entre-temps" in await text(stale_off)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "obligatoire"),
        ({"kind": ""}, "kind", "obligatoire"),
        ({"hours": "lundi 25h-12h"}, "hours", "n'est pas une heure"),
        ({"phones": "03 21 pas un numéro"}, "phones", "illisible"),
        ({"closed_dates": "31/02/2026"}, "closed_dates", "date illisible"),
        ({"commune": "Saint-Martin"}, "commune", "désigne plusieurs communes"),
        ({"commune": "Atlantide"}, "commune", "introuvable"),
        ({"kind": "service"}, "_", "numéro de poste"),
        ({"email": "pas@courriel"}, "email", "adresse électronique invalide"),
        ({"communes": "62041 9999"}, "communes", "code(s) INSEE invalide(s)"),
    ],
)
async def test_a_refused_form_says_why_field_by_field_and_keeps_what_was_typed(
    client: Client, pool: asyncpg.Pool, changes: dict[str, str], field: str, message: str
) -> None:
    response = await post(client, "/annuaire/nouvelle", form(**changes))
    assert response.status == 422
    body = await text(response)
    assert "La fiche n'est pas enregistrée" in body
    assert message in body
    if field != "_":
        assert f'id="e-{field}"' in body  # the field's own message, tied to it
        assert re.search(rf'aria-describedby="(h-{field} )?e-{field}" aria-invalid="true"', body)
        assert f'href="#f-{field}"' in body  # the summary links to the field
    assert "Sans rendez-vous le matin." in body  # nothing typed is lost
    assert await pool.fetchval("SELECT count(*) FROM organisations") == 0


async def test_who_may_change_what(client: Client, directory: DirectoryService, session: Session) -> None:
    ids = await seed(directory)
    session.user = ALICE  # advisors read the directory on the desk, not here
    refused = await client.get("/annuaire", headers=HTML)
    assert refused.status == 403 and "superviseurs" in await text(refused)
    session.user = SAM
    listing = await page(client, "/annuaire")
    assert "Mairie de Lens" in listing and "/annuaire/import" not in listing  # imports are for admins
    assert (await client.get(f"/annuaire/{ids['mairie']}/modifier", headers=HTML)).status == 403
    theirs = await page(client, f"/annuaire/{ids['mairie']}")
    assert "seul un administrateur ou son responsable" in theirs and "Désactiver" not in theirs
    mine = await post(client, f"/annuaire/{ids['sam']}/modifier", {"kind": "ccas", "name": "CCAS de Lens (accueil)",
                                                                    "commune": "Lens", "version": "1"})  # fmt: skip
    assert mine.status == 303
    assert (await directory.get(ids["sam"])).owner == "sam"  # a supervisor cannot hand it over
    created = await post(client, "/annuaire/nouvelle", form(owner="admin"))
    assert created.status == 303
    new_id = int(created.headers["Location"].split("/")[2].split("?")[0])
    assert (await directory.get(new_id)).owner == "sam"  # created by a supervisor: theirs
    assert (await client.get("/annuaire/import", headers=HTML)).status == 403


async def test_the_list_searches_and_filters(client: Client, directory: DirectoryService) -> None:
    ids = await seed(directory)
    await directory.set_active(ids["caf"], False, Actor(login="admin", role="admin"))
    everything = await page(client, "/annuaire")
    assert "2 fiches" in everything and "CAF du Pas-de-Calais" not in everything  # the active ones
    inactive = await page(client, "/annuaire?etat=desactivees")
    assert "1 fiche." in inactive and "CAF du Pas-de-Calais" in inactive
    search = await page(client, "/annuaire?q=mairie+lens&etat=toutes")
    assert "Mairie de Lens" in search and "CCAS de Lens" not in search
    kind = await page(client, "/annuaire?type=ccas")
    assert "CCAS de Lens" in kind and "Mairie de Lens" not in kind
    mine = await page(client, "/annuaire?mes=1&etat=toutes")
    assert "CCAS de Lens" not in mine and "Mairie de Lens" in mine  # the admin's own entries
    hostile = await client.get("/annuaire?q=%3Cscript%3Ealert(1)%3C/script%3E&type=x&etat=y&page=zz", headers=HTML)
    raw = await hostile.text()
    assert hostile.status == 200 and "<script>alert" not in raw and "&lt;script&gt;alert(1)" in raw  # escaped


async def test_import_shows_a_dry_run_then_imports_what_the_user_confirms(
    client: Client, directory: DirectoryService, pool: asyncpg.Pool, session: Session
) -> None:
    csv_text = (
        "type;nom;téléphones;commune (code INSEE);horaires\r\n"
        "caf;CAF — accueil de Béthune;03 53 01 00 50;62119;lun-ven 08:30-16:30\r\n"
        "nasa;Agence spatiale;;;\r\n"
        "mdph;MDPH du Pas-de-Calais;pas un numéro;;\r\n"
    )
    data = FormData()
    data.add_field("format", "csv")
    data.add_field("departement", "62")
    data.add_field("owner", "admin")
    data.add_field("fichier", csv_text.encode(), filename="annuaire.csv", content_type="text/csv")
    dry = await client.post("/annuaire/import", data=data, headers=HTML)
    assert dry.status == 200
    report = await text(dry)
    assert "Essai à blanc de « annuaire.csv » : rien n'a encore été écrit" in report
    assert "3 lignes lues : 1 à créer" in report and "2 refusées" in report
    assert "type « nasa » inconnu" in report and "téléphone" in report  # each refused line, with its reason
    assert await pool.fetchval("SELECT count(*) FROM organisations") == 0  # a dry run writes nothing
    token = re.search(r'action="/annuaire/import/([A-Za-z0-9_-]{32})"', report)
    assert token is not None
    session.user = SAM  # only the admin who uploaded it may import it
    assert (await post(client, f"/annuaire/import/{token.group(1)}", {})).status == 403
    session.user = ADMIN
    done = await post(client, f"/annuaire/import/{token.group(1)}", {})
    assert done.status == 200
    assert "Import de « annuaire.csv » terminé" in await text(done)
    assert [r["name"] for r in await pool.fetch("SELECT name FROM organisations")] == ["CAF — accueil de Béthune"]
    gone = await post(client, f"/annuaire/import/{token.group(1)}", {})  # once
    assert gone.status == 404 and "n'est plus disponible" in await text(gone)

    unreadable = FormData()
    unreadable.add_field("format", "dila")
    unreadable.add_field("owner", "admin")
    unreadable.add_field("fichier", b"\xff\xfe not json", filename="national.json", content_type="application/json")
    refused = await client.post("/annuaire/import", data=unreadable, headers=HTML)
    assert refused.status == 400 and "Fichier illisible" in await text(refused)
    assert await pool.fetchval("SELECT count(*) FROM organisations") == 1


async def test_export_is_a_csv_that_imports_back(client: Client, directory: DirectoryService) -> None:
    await seed(directory)
    response = await client.get("/annuaire/export.csv")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    text = (await response.read()).decode("utf-8")
    assert text.startswith("\ufeffid;référence;type;nom")
    assert "CAF du Pas-de-Calais" in text and "03 53 01 00 29 [agents]" in text
