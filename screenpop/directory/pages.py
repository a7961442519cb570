"""The directory's administration pages (`/annuaire…`, HTML from `templates/admin_*.html`): the list with its search
and filters, an entry with its history, creating and editing one (refused if someone changed it meanwhile),
deactivating and reactivating, importing a file (a dry run first, then the import the user confirms) and the CSV
export. For supervisors and administrators: the rules of `DirectoryService` decide who changes what (an admin any
entry, a supervisor the entries they own). Plain forms (they work without scripts), posted with the session's
CSRF token; French messages; refusals show the form again with what was typed.
"""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import hdrs, web
from aiohttp.web_request import FileField

from screenpop.directory import csvfile
from screenpop.directory.errors import DirectoryError, UnreadableFile
from screenpop.directory.files import Format, import_file
from screenpop.directory.forms import GENERAL, EntryForm, draft_of
from screenpop.directory.models import KIND_LABELS, KIND_ORDER, Actor, Entry, ImportReport, Kind
from screenpop.directory.service import CommuneNotPicked, DirectoryService
from screenpop.directory.views import change_view
from screenpop.web import nav
from screenpop.web.errors import BadRequest, Forbidden
from screenpop.web.keys import user_of
from screenpop.web.openapi import Operations, declare, operation
from screenpop.web.pages import render
from storage.communes import normalise
from storage.redis.uploads import UploadStore
from storage.users import Role, User

log = logging.getLogger(__name__)

PAGE_SIZE = 50
UPLOAD_MAX = 1024**2  # the application's request size: larger files go through `gps-admin directory import`
ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
DONE = {  # ?fait=… after a change: fixed texts, never the query's own
    "creee": "Fiche créée.",
    "modifiee": "Fiche enregistrée.",
    "inchangee": "Aucun changement : rien n'a été enregistré.",
    "desactivee": "Fiche désactivée : elle n'est plus proposée sur le poste ni reconnue à l'appel.",
    "reactivee": "Fiche réactivée.",
}
STATES = {"actives": "Actives", "desactivees": "Désactivées", "toutes": "Toutes"}
FORMATS: dict[str, str] = {"csv": "CSV (tableur, format de l'export)", "dila": "DILA — base de données locales (JSON)"}
ENTRY_ID = r"{id:[0-9]{1,18}}"
SERVED_SHOWN = 200  # communes served named on an entry's page (a département's CAF serves 887)
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}}
TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{32}$"},
}


@dataclass(frozen=True)
class PagesDeps:
    uploads: UploadStore
    topics: Mapping[str, str]  # the desk's topics: key → French label (a service's topics)
    departement: str | None = None  # a DILA import keeps this département's offices by default
    timezone: str = "Europe/Paris"


@dataclass(frozen=True)
class Admin:
    service: DirectoryService
    deps: PagesDeps


ADMIN = web.AppKey("directory_admin", Admin)


def _actor(request: web.Request) -> tuple[User, Actor]:
    user = user_of(request)
    if user.role not in ROLES:
        raise Forbidden("L'annuaire est tenu par les superviseurs et les administrateurs.")
    return user, Actor(login=user.login, role=user.role.value)


def _may_edit(actor: Actor, entry: Entry) -> bool:
    return actor.role == "admin" or entry.owner == actor.login


def _entry_id(request: web.Request) -> int:
    return int(request.match_info["id"])


def _kinds() -> list[tuple[str, str]]:
    return [(k.value, label) for k, label in sorted(KIND_LABELS.items(), key=lambda kv: KIND_ORDER[kv[0]])]


# -- the list ----------------------------------------------------------------------------------------------------


async def list_page(request: web.Request) -> web.Response:
    _, actor = _actor(request)
    admin = request.app[ADMIN]
    q = request.query.get("q", "")[:200]
    kind_value = request.query.get("type", "")
    kind = Kind(kind_value) if kind_value in {k.value for k in Kind} else None
    state = request.query.get("etat", "actives")
    state = state if state in STATES else "actives"
    mine = request.query.get("mes") == "1"
    page_text = request.query.get("page", "1")
    page = int(page_text) if page_text.isdigit() and len(page_text) < 6 else 1
    if q.strip():
        found = await admin.service.search(q, kind=kind, active_only=state == "actives", limit=50)
        limited = len(found) >= 50
    else:  # the kinds in the order the desk shows them (town halls first), then by name
        found = await admin.service.entries(kind, active_only=state == "actives")
        found.sort(key=lambda e: (KIND_ORDER[e.kind], normalise(e.name), e.id))
        limited = False
    if state == "desactivees":
        found = [e for e in found if not e.active]
    if mine:
        found = [e for e in found if e.owner == actor.login]
    pages = max(1, -(-len(found) // PAGE_SIZE))
    page = max(1, min(page, pages))
    shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    query = {"q": q, "type": kind_value if kind else "", "etat": state, "mes": "1" if mine else ""}
    return render(
        request,
        "directory/admin_list.html",
        {
            "entries": shown,
            "count": len(found),
            "limited": limited,
            "page": page,
            "pages": pages,
            "query": query,
            "page_url": lambda n: "/annuaire?" + _query_string({**query, "page": str(n)}),
            "kinds": _kinds(),
            "states": STATES,
            "actor": actor,
        },
    )


def _query_string(values: Mapping[str, str]) -> str:
    return urlencode({k: v for k, v in values.items() if v})


# -- one entry -----------------------------------------------------------------------------------------------------


async def _entry_context(request: web.Request, actor: Actor, entry: Entry) -> dict[str, Any]:
    admin = request.app[ADMIN]
    history = [change_view(c, admin.deps.timezone) for c in reversed(await admin.service.history(entry.id))]
    shown = entry.communes[:SERVED_SHOWN]
    named = await admin.service.communes_of(shown)
    served = [f"{named[code].name} ({code})" if code in named else code for code in shown]
    return {
        "entry": entry,
        "commune": None if entry.commune_insee is None else await admin.service.commune(entry.commune_insee),
        "served": served,
        "more_served": max(0, len(entry.communes) - SERVED_SHOWN),
        "history": history,
        "may_edit": _may_edit(actor, entry),
        "topics": admin.deps.topics,
        "done": None,
        "error": None,
    }


async def entry_page(request: web.Request) -> web.Response:
    _, actor = _actor(request)
    entry = await request.app[ADMIN].service.get(_entry_id(request))
    context = await _entry_context(request, actor, entry)
    context["done"] = DONE.get(request.query.get("fait", ""))
    return render(request, "directory/admin_entry.html", context)


async def set_active(request: web.Request) -> web.Response:
    _, actor = _actor(request)
    admin = request.app[ADMIN]
    organisation_id = _entry_id(request)
    active = request.path.endswith("/reactiver")
    form = await request.post()
    try:
        await admin.service.set_active(organisation_id, active, actor, _version(form.get("version")))
    except DirectoryError as exc:
        context = await _entry_context(request, actor, await admin.service.get(organisation_id))
        context["error"] = exc.message
        return render(request, "directory/admin_entry.html", context, status=exc.status)
    raise web.HTTPSeeOther(f"/annuaire/{organisation_id}?fait={'reactivee' if active else 'desactivee'}")


def _version(value: Any) -> int | None:
    text = value if isinstance(value, str) else ""
    return int(text) if text.isdigit() and len(text) < 10 else None


# -- create and edit ------------------------------------------------------------------------------------------------


def _form_page(
    request: web.Request,
    form: EntryForm,
    actor: Actor,
    *,
    entry: Entry | None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    return render(
        request,
        "directory/admin_form.html",
        {
            "form": form,
            "entry": entry,
            "errors": errors or {},
            "kinds": _kinds(),
            "topics": request.app[ADMIN].deps.topics,
            "actor": actor,
            "action": "/annuaire/nouvelle" if entry is None else f"/annuaire/{entry.id}/modifier",
        },
        status=status,
    )


async def new_page(request: web.Request) -> web.Response:
    _, actor = _actor(request)
    kind = request.query.get("type", "")
    form = EntryForm(values={"kind": kind if kind in {k.value for k in Kind} else "", "owner": actor.login})
    return _form_page(request, form, actor, entry=None)


async def edit_page(request: web.Request) -> web.Response:
    _, actor = _actor(request)
    admin = request.app[ADMIN]
    entry = await admin.service.get(_entry_id(request))
    if not _may_edit(actor, entry):
        raise Forbidden(f"Cette fiche est tenue par {entry.owner} : seul un administrateur peut la modifier.")
    commune = None if entry.commune_insee is None else await admin.service.commune(entry.commune_insee)
    return _form_page(request, EntryForm.of(entry, None if commune is None else commune.name), actor, entry=entry)


async def _commune(service: DirectoryService, form: EntryForm) -> tuple[str | None, str | None]:
    """The commune where the entry is: the one picked from the list if the field still shows its name, else the
    one the text designates; (code, None) or (None, the French reason)."""
    typed = form.get("commune").strip()
    if not typed:
        return None, None
    if form.commune_code:
        picked = await service.commune(form.commune_code)
        if picked is not None and normalise(picked.name) == normalise(typed):
            return picked.code, None
    try:
        return (await service.resolve_commune(typed)).code, None
    except CommuneNotPicked as exc:
        return None, str(exc)


async def _save(request: web.Request, entry: Entry | None) -> web.Response:
    _, actor = _actor(request)
    admin = request.app[ADMIN]
    form = EntryForm.posted(await request.post(), admin.deps.topics)
    if entry is not None:
        if not _may_edit(actor, entry):
            raise Forbidden(f"Cette fiche est tenue par {entry.owner} : seul un administrateur peut la modifier.")
        if form.version is None:
            raise BadRequest("Formulaire incomplet (version de la fiche manquante) : rechargez la page.")
    owner = form.get("owner").strip() if actor.role == "admin" else (entry.owner if entry else actor.login)
    commune, commune_error = await _commune(admin.service, form)
    draft, errors = draft_of(form, commune_insee=commune, owner=owner, active=entry.active if entry else True)
    if commune_error:
        errors = {**errors, "commune": commune_error}
    if draft is None or commune_error:
        return _form_page(request, form, actor, entry=entry, errors=errors, status=422)
    try:
        if entry is None:
            saved = await admin.service.create(draft, actor)
            done = "creee"
        else:
            saved = await admin.service.update(entry.id, draft, actor, form.version)
            done = "inchangee" if saved.version == entry.version else "modifiee"
    except DirectoryError as exc:
        return _form_page(request, form, actor, entry=entry, errors={GENERAL: exc.message}, status=exc.status)
    log.info("directory entry %s %s by %s", saved.id, done, actor.login)
    raise web.HTTPSeeOther(f"/annuaire/{saved.id}?fait={done}")


async def create(request: web.Request) -> web.Response:
    return await _save(request, None)


async def update(request: web.Request) -> web.Response:
    _actor(request)
    return await _save(request, await request.app[ADMIN].service.get(_entry_id(request)))


# -- import and export ------------------------------------------------------------------------------------------------


def _admin_only(actor: Actor) -> None:
    if actor.role != "admin":
        raise Forbidden("Seul un administrateur importe des fichiers dans l'annuaire.")


def _import_page(
    request: web.Request,
    *,
    report: ImportReport | None = None,
    token: str | None = None,
    filename: str = "",
    error: str | None = None,
    values: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    deps = request.app[ADMIN].deps
    return render(
        request,
        "directory/admin_import.html",
        {
            "report": report,
            "token": token,
            "filename": filename,
            "error": error,
            "formats": FORMATS,
            "values": {"format": "csv", "departement": deps.departement or "", "owner": "admin", **(values or {})},
            "upload_max_mb": UPLOAD_MAX // 1024**2,
        },
        status=status,
    )


async def import_page(request: web.Request) -> web.Response:
    _, actor = _actor(request)
    _admin_only(actor)
    return _import_page(request)


async def import_check(request: web.Request) -> web.Response:
    """The file uploaded: kept (in Redis, for an hour), and its dry run shown, with the button that imports it."""
    _, actor = _actor(request)
    _admin_only(actor)
    admin = request.app[ADMIN]
    form = await request.post()
    values = {name: form.get(name) for name in ("format", "departement", "owner")}
    fmt = values["format"] if values["format"] in FORMATS else None
    departement = values["departement"] if isinstance(values["departement"], str) else ""
    owner = values["owner"] if isinstance(values["owner"], str) else ""
    shown = {"format": fmt or "csv", "departement": departement[:3], "owner": owner[:100]}
    upload = form.get("fichier")
    if fmt is None:
        return _import_page(request, error="Choisissez le format du fichier.", values=shown, status=422)
    if not isinstance(upload, FileField) or not upload.filename:
        return _import_page(request, error="Choisissez le fichier à importer.", values=shown, status=422)
    if fmt == "dila" and departement and not (len(departement) <= 3 and departement.isalnum()):
        return _import_page(request, error="Département invalide (par exemple 62).", values=shown, status=422)
    if not owner.strip():
        return _import_page(request, error="Indiquez le responsable des fiches créées.", values=shown, status=422)
    content = await asyncio.to_thread(upload.file.read, UPLOAD_MAX + 1)
    filename = Path(upload.filename).name[:200]
    meta = {"format": fmt, "departement": departement or None, "owner": owner.strip()[:100], "filename": filename}
    token = await admin.deps.uploads.put(actor.login, meta, content)
    return await _run_import(request, actor, token, meta, content, dry_run=True)


async def import_run(request: web.Request) -> web.Response:
    """The import the user confirmed after its dry run."""
    _, actor = _actor(request)
    _admin_only(actor)
    admin = request.app[ADMIN]
    token = request.match_info["token"]
    upload = await admin.deps.uploads.get(token, actor.login)
    if upload is None:
        return _import_page(
            request, error="Ce fichier n'est plus disponible (plus d'une heure) : envoyez-le de nouveau.", status=404
        )
    form = await request.post()
    strict = form.get("strict") == "1"
    response = await _run_import(request, actor, token, upload.meta, upload.content, dry_run=False, strict=strict)
    await admin.deps.uploads.drop(token)
    return response


async def _run_import(
    request: web.Request,
    actor: Actor,
    token: str,
    meta: Mapping[str, Any],
    content: bytes,
    *,
    dry_run: bool,
    strict: bool = False,
) -> web.Response:
    admin = request.app[ADMIN]
    fmt: Format = "dila" if meta.get("format") == "dila" else "csv"
    filename = str(meta.get("filename") or "")
    shown = {"format": fmt, "departement": str(meta.get("departement") or ""), "owner": str(meta.get("owner") or "")}
    with tempfile.TemporaryDirectory(prefix="gps-directory-") as folder:
        path = Path(folder) / ("import.json" if fmt == "dila" else "import.csv")
        await asyncio.to_thread(path.write_bytes, content)
        try:
            report = await import_file(
                admin.service,
                path,
                fmt,
                actor=actor,
                owner=str(meta.get("owner") or actor.login),
                dry_run=dry_run,
                strict=strict,
                departement=meta.get("departement") or None,
            )
        except UnreadableFile as exc:
            await admin.deps.uploads.drop(token)
            message = exc.message.replace(str(path), f"« {filename} »")
            return _import_page(request, error=f"Fichier illisible : {message}", values=shown, status=exc.status)
    if not dry_run:
        log.info(
            "directory import of %s by %s: %d created, %d updated, %d refused",
            filename,
            actor.login,
            report.created,
            report.updated,
            len(report.refused),
        )
    return _import_page(request, report=report, token=token if dry_run else None, filename=filename, values=shown)


async def export(request: web.Request) -> web.StreamResponse:
    _actor(request)
    entries = await request.app[ADMIN].service.entries()
    stream = io.StringIO(newline="")
    await asyncio.to_thread(csvfile.write, stream, entries)
    return web.Response(
        body=stream.getvalue().encode("utf-8"),
        headers={
            hdrs.CONTENT_TYPE: "text/csv; charset=utf-8",
            hdrs.CONTENT_DISPOSITION: 'attachment; filename="annuaire.csv"',
            hdrs.CACHE_CONTROL: "no-store",
        },
    )


OPERATIONS: Operations = {
    "/annuaire": {
        "get": operation("The directory's entries (HTML page): search (q), type, etat, mes, page", errors=(403,))
    },
    "/annuaire/nouvelle": {
        "get": operation("Form of a new directory entry (HTML)", errors=(403,)),
        "post": operation(
            "Create a directory entry (form; 303 to the entry, or the form again with the reasons)",
            csrf=True,
            errors=(403, 422),
        ),
    },
    "/annuaire/{id}": {
        "get": operation("A directory entry and its history (HTML)", errors=(403, 404), path_parameters=(ID,))
    },
    "/annuaire/{id}/modifier": {
        "get": operation("Form to edit a directory entry (HTML)", errors=(403, 404), path_parameters=(ID,)),
        "post": operation(
            "Save a directory entry (form with the version read: 409 when it changed meanwhile)",
            csrf=True,
            errors=(400, 403, 404, 409, 422),
            path_parameters=(ID,),
        ),
    },
    "/annuaire/{id}/desactiver": {
        "post": operation(
            "Deactivate a directory entry (form; 303 to the entry)",
            csrf=True,
            errors=(403, 404, 409),
            path_parameters=(ID,),
        )
    },
    "/annuaire/{id}/reactiver": {
        "post": operation(
            "Reactivate a directory entry (form; 303 to the entry)",
            csrf=True,
            errors=(403, 404, 409),
            path_parameters=(ID,),
        )
    },
    "/annuaire/import": {
        "get": operation("Import form: a CSV or a DILA file (HTML, admin)", errors=(403,)),
        "post": operation(
            "Upload a file and show its dry run (multipart form, admin)", csrf=True, errors=(403, 413, 422)
        ),
    },
    "/annuaire/import/{token}": {
        "post": operation(
            "Import the file whose dry run was shown (form, admin)",
            csrf=True,
            errors=(403, 404),
            path_parameters=(TOKEN,),
        )
    },
    "/annuaire/export.csv": {"get": operation("Every entry as CSV for spreadsheets (UTF-8, ';')", errors=(403,))},
}


def setup(app: web.Application, service: DirectoryService, deps: PagesDeps) -> None:
    app[ADMIN] = Admin(service, deps)
    app.router.add_get("/annuaire", list_page)
    app.router.add_get("/annuaire/nouvelle", new_page)
    app.router.add_post("/annuaire/nouvelle", create)
    app.router.add_get("/annuaire/import", import_page)
    app.router.add_post("/annuaire/import", import_check)
    app.router.add_post(r"/annuaire/import/{token:[A-Za-z0-9_-]{32}}", import_run)
    app.router.add_get("/annuaire/export.csv", export)
    app.router.add_get(f"/annuaire/{ENTRY_ID}", entry_page)
    app.router.add_get(f"/annuaire/{ENTRY_ID}/modifier", edit_page)
    app.router.add_post(f"/annuaire/{ENTRY_ID}/modifier", update)
    app.router.add_post(f"/annuaire/{ENTRY_ID}/desactiver", set_active)
    app.router.add_post(f"/annuaire/{ENTRY_ID}/reactiver", set_active)
    declare(app, OPERATIONS)
    nav.register(app, nav.item("Annuaire", "/annuaire", ROLES, order=40))
