"""`gps-admin directory …`: import (DILA, CSV), export (CSV), search, show (with its history), the partners of a
commune, who a number is, and the classification of the callers of past calls. Also the demo's directory.

Exit codes: 0 done; 1 an import with refused lines (the others written, unless --strict or --dry-run); 2 refused
as a whole (unreadable file, unknown entry…), nothing changed.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg

from config.settings import Settings
from gps_admin.app import StartupError, prepare_database
from gps_admin.console import Subparsers, endpoints, refuse
from screenpop.directory.errors import DirectoryError
from screenpop.directory.files import export_file, import_file
from screenpop.directory.models import Actor, Entry, ImportReport, Kind
from screenpop.directory.service import DirectoryService
from storage.pool import create_pool

DEMO_FILE = Path(__file__).with_name("data") / "annuaire-demo-62.csv"
log = logging.getLogger("gps_admin.directory")


def add_parser(subparsers: Subparsers) -> None:
    """Register `directory` on the `gps-admin` subparsers."""
    directory = subparsers.add_parser("directory", help="the directory of services and partners")
    actions = directory.add_subparsers(dest="action", required=True)
    imp = actions.add_parser("import", help="import a DILA « base de données locales » JSON file or a CSV")
    imp.add_argument("--format", choices=("dila", "csv"), required=True)
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    imp.add_argument("--strict", action="store_true", help="change nothing if a line is refused")
    imp.add_argument("--departement", help="DILA: keep the offices of this département (or serving it), e.g. 62")
    imp.add_argument("--owner", default="admin", help="owner of the entries created (default: admin)")
    exp = actions.add_parser("export", help="export every entry to a CSV for spreadsheets (UTF-8, ';')")
    exp.add_argument("file", type=Path)
    search = actions.add_parser("search", help="search as the desk does (name, kind, commune, postal code)")
    search.add_argument("query")
    search.add_argument("--kind", choices=[k.value for k in Kind])
    search.add_argument("--all", action="store_true", help="deactivated entries too")
    show = actions.add_parser("show", help="an entry and its history")
    show.add_argument("id", type=int)
    partners = actions.add_parser("partners", help="the partners serving a commune (INSEE code)")
    partners.add_argument("commune")
    identify = actions.add_parser("identify", help="who a phone number is, by the directory")
    identify.add_argument("number")
    reclassify = actions.add_parser("reclassify", help="classify again the callers of the calls since a date")
    reclassify.add_argument("--since", type=date.fromisoformat, required=True, help="YYYY-MM-DD")


def run(args: argparse.Namespace, settings: Settings) -> int:
    with endpoints(settings, attach=True) as ep:
        try:
            return asyncio.run(_run(args, settings, ep.database_url, ep.auto_migrate))
        except (DirectoryError, StartupError) as exc:
            return refuse(exc)
        except (OSError, TimeoutError) as exc:
            return refuse(f"cannot reach PostgreSQL: {exc}")


def directory_service(pool: asyncpg.Pool, settings: Settings) -> DirectoryService:
    return DirectoryService(pool, settings.hours, topics=settings.desk.topics, departement=settings.desk.departement)


def cli_actor() -> Actor:
    return Actor(login=f"cli:{getpass.getuser()}"[:100], role="admin")


async def _run(args: argparse.Namespace, settings: Settings, database_url: str, auto_migrate: bool) -> int:
    await prepare_database(database_url, apply=auto_migrate)
    pool = await create_pool(database_url, max_size=2, command_timeout=600.0)
    try:
        directory = directory_service(pool, settings)
        if args.action == "import":
            report = await import_file(
                directory,
                args.file,
                args.format,
                actor=cli_actor(),
                owner=args.owner,
                dry_run=args.dry_run,
                strict=args.strict,
                departement=args.departement,
                progress=lambda n: print(f"… {n} lus", file=sys.stderr, flush=True),
            )
            print(report_text(report, args.file))
            return 1 if report.refused else 0
        if args.action == "export":
            count = await export_file(directory, args.file)
            print(f"{count} fiches exportées dans {args.file}")
        elif args.action == "search":
            kind = None if args.kind is None else Kind(args.kind)
            print(entries_table(await directory.search(args.query, kind=kind, active_only=not args.all)))
        elif args.action == "show":
            entry = await directory.get(args.id)
            print(entry_text(entry))
            for change in await directory.history(args.id):
                fields = ", ".join(change.changes) or "-"
                print(f"  {change.at:%Y-%m-%d %H:%M} {change.actor} {change.action}: {fields}")
        elif args.action == "partners":
            found = await directory.partners_of(args.commune)
            print(f"{found.commune_name} ({found.commune}), {found.epci_name or 'sans intercommunalité'}")
            for partner in found.partners:
                print(f"- [{partner.entry.kind_label} — {partner.reach_label}] {partner.read_out}")
        elif args.action == "identify":
            from telephony.identity import e164

            who = await directory.identify(e164(args.number, settings.line.default_region), args.number)
            name = f" : {who.organisation.name} (n° {who.organisation.id})" if who.organisation else ""
            print(f"{who.kind_label}{name}")
        elif args.action == "reclassify":
            since = datetime.combine(args.since, datetime.min.time(), tzinfo=UTC)
            print(f"appels reclassés : {await directory.store.reclassify(since)}")
        return 0
    finally:
        await pool.close()


def report_text(report: ImportReport, path: Path) -> str:
    skipped = sum(report.skipped.values())
    lines = [
        f"import {report.format} de {path} : {report.read} lus, {report.created} créés, {report.updated} mis à jour, "
        f"{report.unchanged} inchangés, {skipped} ignorés, {len(report.refused)} refusés"
    ]
    if report.skipped:
        lines.append("ignorés : " + ", ".join(f"{reason} ({n})" for reason, n in report.skipped.items()))
    for kind, items in (("refusé", report.refused), ("averti", report.warnings)):
        for item in items:
            who = ", ".join(x for x in (item.ref, f"« {item.name} »" if item.name else None) if x)
            lines.append(f"{kind} ligne {item.line}{f' ({who})' if who else ''} : {item.reason}")
    if report.dry_run:
        lines.append("essai à blanc : rien n'a été écrit")
    elif not report.committed:
        lines.append("--strict : des lignes sont refusées, rien n'a été écrit")
    return "\n".join(lines)


def entries_table(entries: list[Entry]) -> str:
    if not entries:
        return "aucune fiche"
    lines = []
    for e in entries:
        phones = ", ".join(p.display for p in e.phones if p.public) or "-"
        where = " ".join(x for x in (e.postal_code, e.city) if x) or "-"
        lines.append(f"{e.id}\t{e.kind.value}\t{e.name}\t{where}\t{phones}\t{e.opening.summary}")
    return "\n".join(lines)


def entry_text(e: Entry) -> str:
    lines = [
        f"n° {e.id} (version {e.version}) — {e.kind_label} — {e.name}" + ("" if e.active else " [désactivée]"),
        f"responsable : {e.owner} ; source : {e.source}" + (f" ; référence : {e.ref}" if e.ref else ""),
    ]
    if e.phones:
        shown = (p.display + (f" ({p.label})" if p.label else "") + ("" if p.public else " [agents]") for p in e.phones)
        lines.append("téléphones : " + " | ".join(shown))
    if e.extension:
        lines.append(f"poste : {e.extension} ; thèmes : {', '.join(e.topics) or '-'}")
    address = ", ".join(x for x in (e.street, " ".join(y for y in (e.postal_code, e.city) if y)) if x)
    if address:
        lines.append(f"adresse : {address}")
    lines.append(f"horaires : {e.hours_text or 'non renseignés'} — {e.opening.summary}")
    for label, value in (("à dire à l'usager", e.public_note), ("contact agents", e.staff_contact),
                         ("escalade", e.escalation_contact)):  # fmt: skip
        if value:
            lines.append(f"{label} : {value}")
    territory = [*e.communes, *e.epcis, *e.departements]
    if territory:
        lines.append(f"territoire : {len(e.communes)} commune(s), EPCI {' '.join(e.epcis) or '-'}, "
                     f"département(s) {' '.join(e.departements) or '-'}")  # fmt: skip
    if e.verified_on:
        lines.append(f"vérifié le {e.verified_on:%d/%m/%Y}")
    return "\n".join(lines)


async def seed_demo(pool: asyncpg.Pool, settings: Settings) -> ImportReport | None:
    """The demo's directory of the Pas-de-Calais (made-up contacts), imported once: None when already there."""
    if await pool.fetchval("SELECT EXISTS (SELECT 1 FROM organisations WHERE source = 'demo')"):
        return None
    directory = directory_service(pool, settings)
    actor = Actor(login="demo", role="admin")
    report = await import_file(directory, DEMO_FILE, "csv", actor=actor, owner="admin", source="demo")
    log.info("demo directory: %d entries of the Pas-de-Calais (made-up contacts) loaded", report.created)
    if report.refused or report.warnings:  # the data file and the code disagree: say so, the demo goes on
        log.warning("demo directory: %s", report_text(report, DEMO_FILE))
    return report
