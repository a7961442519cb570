"""What the `gps-admin` commands share: where the stores are (configured, embedded, or those of a running `serve`),
a database checked before use, plain-text tables and the one-line refusal.

Every command module imports from here (and from the composition root); this module imports no command, so the
commands form a tree under `gps_admin.cli`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import TypeAlias

import asyncpg

from config.settings import Settings, SettingsError
from gps_admin.app import Endpoints, prepare_database
from storage.pool import create_pool

# what each command's `add_parser` receives: the `gps-admin` subparsers
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


@contextmanager
def endpoints(settings: Settings, *, embedded_ok: bool = True, attach: bool = False) -> Iterator[Endpoints]:
    """The database and Redis endpoints: configured ones, or embedded servers under data_dir.

    `attach`: for one-shot commands, use the embedded servers of a `gps-admin serve` already running on
    this data folder rather than refusing (a second `serve` on one folder is still refused)."""
    if settings.database_url is not None and settings.redis_url is not None:
        yield Endpoints(settings.database_url.get_secret_value(), settings.redis_url.get_secret_value(), False)
        return
    if not embedded_ok:
        raise SettingsError("GPS_ADMIN_DATABASE_URL and GPS_ADMIN_REDIS_URL are required here")
    from storage.embedded import EmbeddedServers

    attached = EmbeddedServers.running_urls(settings.data_dir) if attach else None
    if attached is not None:  # `gps-admin serve` runs on this folder: use its servers
        db_url, redis_url = attached
        yield Endpoints(
            settings.database_url.get_secret_value() if settings.database_url else db_url,
            settings.redis_url.get_secret_value() if settings.redis_url else redis_url,
            False,
        )
        return
    print(f"starting embedded PostgreSQL and Redis under {settings.data_dir} …", file=sys.stderr, flush=True)
    with EmbeddedServers(settings.data_dir) as servers:
        db = settings.database_url.get_secret_value() if settings.database_url else servers.database_url
        rd = settings.redis_url.get_secret_value() if settings.redis_url else servers.redis_url
        yield Endpoints(db, rd, settings.database_url is None)


@asynccontextmanager
async def database(ep: Endpoints, *, max_size: int = 2, command_timeout: float = 10.0) -> AsyncIterator[asyncpg.Pool]:
    """A small pool on a database whose schema is this version's: the migrations are applied on the embedded
    database, checked on any other (StartupError when it is behind: run `gps-admin migrate`)."""
    await prepare_database(ep.database_url, apply=ep.auto_migrate)
    pool = await create_pool(ep.database_url, max_size=max_size, command_timeout=command_timeout)
    try:
        yield pool
    finally:
        await pool.close()


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table, columns padded to their widest cell."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in (headers, *rows)
    )


def refuse(message: object, command: str = "gps-admin") -> int:
    """The one line a refused command prints on stderr (`gps-admin: …`); its exit code, 2."""
    print(f"{command}: {message}", file=sys.stderr)
    return 2
