"""Import into the directory (DILA's local offices in JSON, or our CSV) and export (CSV).

An import is one transaction: a file that cannot be read as a whole (not the format, not UTF-8, cut short)
changes nothing; each line refused (with its reason) is left out and the others are written, unless `strict`
(then nothing is written when a line is refused); a dry run reports the same and writes nothing. A line that
updates an entry changes only the fields its format carries (see `dila.UPDATED_FIELDS`; a CSV's columns), and
each change goes in the entry's history as an import. Long imports report their progress.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import asyncpg
from pydantic import ValidationError

from screenpop.directory import csvfile, dila
from screenpop.directory.errors import DirectoryError, NotAllowed, UnreadableFile, french_reasons
from screenpop.directory.models import Actor, Draft, Entry, ImportLine, ImportReport, Source
from screenpop.directory.parsed import Parsed, Refused, Skipped
from screenpop.directory.service import DirectoryService

PROGRESS_EVERY = 1000
Format = Literal["dila", "csv"]


class _Rollback(Exception):
    """Leave the import's transaction without writing (a dry run, or strict with refused lines)."""


class _Import:
    def __init__(self, directory: DirectoryService, actor: Actor, owner: str, source: Source | None) -> None:
        self.directory = directory
        self.actor = actor
        self.owner = owner
        self.source = source
        self.counts: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.refused: list[ImportLine] = []
        self.warnings: list[ImportLine] = []

    async def line(self, conn: asyncpg.Connection, item: Parsed | Refused | Skipped) -> None:
        self.counts["read"] += 1
        if isinstance(item, Skipped):
            self.skipped[item.reason] += 1
            return
        if isinstance(item, Refused):
            self.refused.append(ImportLine(line=item.line, ref=item.ref, name=item.name, reason=item.reason))
            return
        ref, name = item.values.get("ref"), item.values.get("name")
        try:
            outcome = await self._write(conn, item)
        except DirectoryError as exc:
            self.refused.append(ImportLine(line=item.line, ref=ref, name=name, reason=exc.message))
            return
        except ValidationError as exc:
            self.refused.append(ImportLine(line=item.line, ref=ref, name=name, reason=french_reasons(exc)))
            return
        except asyncpg.PostgresError as exc:  # a check of the database the draft did not foresee
            reason = f"refusé par la base : {str(exc).splitlines()[0]}"
            self.refused.append(ImportLine(line=item.line, ref=ref, name=name, reason=reason))
            return
        self.counts[outcome] += 1

    async def _write(self, conn: asyncpg.Connection, item: Parsed) -> str:
        store = self.directory.store
        values = dict(item.values)
        existing = None
        if item.organisation_id is not None:
            existing = await store.get(item.organisation_id, conn)
            if existing is None:
                raise DirectoryError(f"fiche n° {item.organisation_id} inconnue (id)")
        elif values.get("ref"):
            existing = await store.by_ref(str(values["ref"]), conn)
        if existing is None:
            values.setdefault("owner", self.owner)
            if self.source is not None:
                values["source"] = self.source
        else:
            kept = Draft.of(existing.data()).model_dump()
            values = {**kept, **{k: v for k, v in values.items() if k in item.updated_fields}}
        draft = Draft.model_validate(await self._known_communes(conn, item.line, values))
        self.directory.check_topics(draft)
        data = draft.data()
        self.directory.check_allowed(self.actor, None if existing is None else existing.data(), data)
        async with conn.transaction():  # a savepoint: a refused line leaves the others
            if existing is None:
                await self.directory.write_new(conn, data, self.actor.login, "import")
                return "created"
            changed = await self.directory.write_over(conn, existing, data, self.actor.login, None, "import")
        return "updated" if changed else "unchanged"

    async def _known_communes(self, conn: asyncpg.Connection, line: int, values: dict[str, Any]) -> dict[str, Any]:
        """Commune codes not in the official list (merged communes…) are left out, with a warning."""
        served = [c for c in values.get("communes") or () if isinstance(c, str)]
        here = values.get("commune_insee")
        codes = [*served, *([here] if isinstance(here, str) else [])]
        if not codes:
            return values
        known = await self.directory.store.known_communes(codes, conn)
        unknown = sorted(set(codes) - known)
        if not unknown:
            return values
        self.warnings.append(
            ImportLine(
                line=line,
                ref=values.get("ref"),
                name=values.get("name"),
                reason=f"commune(s) inconnue(s) laissée(s) de côté : {', '.join(unknown[:10])}"
                + (f" et {len(unknown) - 10} autre(s)" if len(unknown) > 10 else ""),
            )
        )
        return {
            **values,
            "communes": [c for c in served if c in known],
            "commune_insee": here if here in known else None,
        }


async def import_file(
    directory: DirectoryService,
    path: Path,
    fmt: Format,
    *,
    actor: Actor,
    owner: str,
    dry_run: bool = False,
    strict: bool = False,
    departement: str | None = None,
    source: Source | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import `path`; `owner`: of the entries created (a CSV's « responsable » column wins); `departement`: keep
    only the DILA's offices in it or serving it; `source`: what the entries created say they come from (by
    default the format). Raises `UnreadableFile` (nothing changed) or `NotAllowed`."""
    if actor.role != "admin":
        raise NotAllowed("seul un administrateur importe des fichiers dans l'annuaire")
    run = _Import(directory, actor, owner, source)
    committed = False
    try:
        async with directory.store.transaction() as conn:
            with path.open(encoding="utf-8-sig", newline="" if fmt == "csv" else None) as stream:
                items = dila.read(stream, departement) if fmt == "dila" else csvfile.read(stream)
                for item in items:
                    await run.line(conn, item)
                    if progress is not None and run.counts["read"] % PROGRESS_EVERY == 0:
                        progress(run.counts["read"])
            if dry_run or (strict and run.refused):
                raise _Rollback
            committed = True
        if run.counts["created"] + run.counts["updated"]:
            await directory.store.analyze()  # fresh statistics: the callers' look-up plans on them at once
    except _Rollback:
        committed = False
    except UnicodeDecodeError:
        raise UnreadableFile("le fichier n'est pas en UTF-8 : rien n'a été importé") from None
    except OSError as exc:
        raise UnreadableFile(f"lecture de {path} impossible : {exc.strerror or exc}") from None
    return ImportReport(
        format=fmt,
        dry_run=dry_run,
        committed=committed,
        read=run.counts["read"],
        created=run.counts["created"],
        updated=run.counts["updated"],
        unchanged=run.counts["unchanged"],
        skipped=dict(run.skipped.most_common()),
        refused=tuple(run.refused),
        warnings=tuple(run.warnings),
    )


async def export_file(directory: DirectoryService, path: Path) -> int:
    """Write every entry (deactivated ones too) to `path` as CSV for spreadsheets; how many. The file appears
    whole or not at all (written beside it, then renamed)."""
    entries = await directory.entries()
    return await asyncio.to_thread(_write_csv, path, entries)


def _write_csv(path: Path, entries: list[Entry]) -> int:
    handle, temporary = tempfile.mkstemp(prefix=".directory-", suffix=".csv", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            count = csvfile.write(stream, entries)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count
