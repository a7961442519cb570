"""Versioned schema migrations: `NNNN_name.sql` files applied in order, once each.

`migrate()` (run by `gps-admin migrate`) applies what is missing; `check()` (run at service start) only
verifies and raises `MigrationError` when the database is behind the code, ahead of it, or when an
already-applied file was edited afterwards (its checksum changed).

Each file runs in its own transaction, together with its row in `schema_migrations`, so a failed file
leaves nothing half-applied. The whole run holds a session-level advisory lock: two instances started
together serialise, the second one finds everything applied.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

_log = logging.getLogger(__name__)

# Arbitrary, stable 64-bit key for pg_advisory_lock: "gps-admin migrations".
ADVISORY_LOCK_KEY = 0x6770_735F_6D69_6772
# A migration may rewrite a table (0018 rewrites the knowledge articles: 10 s for 25,000 on a loaded core): not
# bounded by the pool's command timeout, meant for queries.
MIGRATION_TIMEOUT = 3600.0
_FILE_NAME = re.compile(r"^(?P<version>[0-9]{4})_(?P<label>[a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(Exception):
    """The schema is not what this code expects; the message says what to do."""

    error_id = "migration-error"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str  # file stem, e.g. "0001_call_records"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """The migration files, sorted by version; the package's own `storage/migrations/` by default."""
    root = Path(__file__).with_name("migrations") if directory is None else directory
    found: dict[int, Migration] = {}
    for entry in root.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        version = int(match["version"])
        if version in found:
            raise MigrationError(f"two migration files share version {version:04d}: {entry.name}")
        found[version] = Migration(version, entry.name.removesuffix(".sql"), entry.read_text("utf-8"))
    return [found[v] for v in sorted(found)]


async def migrate(pool_or_conn: asyncpg.Pool | asyncpg.Connection, *, directory: Path | None = None) -> list[str]:
    """Apply the missing migrations in order; return the names applied (empty when up to date)."""
    migrations = load_migrations(directory)
    if isinstance(pool_or_conn, asyncpg.Pool):
        async with pool_or_conn.acquire() as conn:
            return await _migrate(conn, migrations)
    return await _migrate(pool_or_conn, migrations)


async def _migrate(conn: asyncpg.Connection, migrations: list[Migration]) -> list[str]:
    await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
    try:
        await conn.execute(_CREATE_TABLE)
        applied = await _applied(conn)
        _verify_applied(applied, migrations)
        done: list[str] = []
        for migration in migrations:
            if migration.version in applied:
                continue
            _log.info("applying migration %s", migration.name)
            async with conn.transaction():
                await conn.execute(migration.sql, timeout=MIGRATION_TIMEOUT)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)


async def check(conn: asyncpg.Connection, *, directory: Path | None = None) -> None:
    """Raise `MigrationError` unless every migration is applied, unchanged, and none is unknown."""
    migrations = load_migrations(directory)
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    applied = await _applied(conn) if exists else {}
    _verify_applied(applied, migrations)
    missing = [m.name for m in migrations if m.version not in applied]
    if missing:
        raise MigrationError(
            f"the database schema is behind this version of gps-admin: {len(missing)} migration(s) "
            f"not applied ({', '.join(missing)}); run `gps-admin migrate`"
        )


async def _applied(conn: asyncpg.Connection) -> dict[int, tuple[str, str]]:
    rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    return {int(r["version"]): (str(r["name"]), str(r["checksum"])) for r in rows}


def _verify_applied(applied: dict[int, tuple[str, str]], migrations: list[Migration]) -> None:
    known = {m.version: m for m in migrations}
    unknown = [name for version, (name, _) in applied.items() if version not in known]
    if unknown:
        raise MigrationError(
            f"the database has migration(s) this version of gps-admin does not know: {', '.join(unknown)}; "
            "it was migrated by a newer release"
        )
    for version, (name, checksum) in applied.items():
        migration = known[version]
        if checksum != migration.checksum:
            raise MigrationError(
                f"migration {name} was edited after it was applied (checksum differs); "
                "write a new migration file instead of changing an applied one"
            )
