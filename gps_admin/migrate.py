"""`gps-admin migrate`: apply the SQL migrations to the configured (or embedded) database."""

from __future__ import annotations

import argparse
import asyncio

import asyncpg

from config.settings import Settings
from gps_admin.console import Subparsers, endpoints
from storage.migrate import migrate


def add_parser(sub: Subparsers) -> None:
    sub.add_parser("migrate", help="apply the database migrations")


def run(args: argparse.Namespace, settings: Settings) -> int:
    with endpoints(settings, attach=True) as ep:
        applied = asyncio.run(_migrate(ep.database_url))
    print("migrations applied: " + (", ".join(applied) if applied else "none (up to date)"))
    return 0


async def _migrate(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
