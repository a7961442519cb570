"""`gps-admin`: serve, migrate, advisors, users."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from aiohttp import web

from config.settings import Settings, SettingsError, load_settings
from gps_admin import advisors_cli, demo, desk_cli, knowledge_cli, simulate, users_cli
from gps_admin.app import Endpoints, StartupError, build_app

log = logging.getLogger("gps_admin")


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every command it runs at INFO


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


def cmd_serve(settings: Settings) -> int:
    with endpoints(settings) as ep:
        try:
            web.run_app(
                build_app(settings, ep),
                host=settings.http_host,
                port=settings.http_port,
                print=lambda _: print(
                    f"gps-admin ready on http://{settings.http_host}:{settings.http_port}/", flush=True
                ),
            )
        except StartupError as exc:
            print(f"gps-admin: cannot start: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(
                f"gps-admin: cannot listen on {settings.http_host}:{settings.http_port}: {exc}",
                file=sys.stderr,
            )
            return 2
    return 0


def cmd_migrate(settings: Settings) -> int:
    import asyncpg

    from storage.migrate import migrate

    async def run(url: str) -> list[str]:
        conn = await asyncpg.connect(url)
        try:
            return await migrate(conn)
        finally:
            await conn.close()

    with endpoints(settings, attach=True) as ep:
        applied = asyncio.run(run(ep.database_url))
    print("migrations applied: " + (", ".join(applied) if applied else "none (up to date)"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gps-admin", description="GPS administration: citizen phone line")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the service (embedded PostgreSQL/Redis unless URLs are configured)")
    sub.add_parser("migrate", help="apply the database migrations")
    demo.add_parser(sub)
    simulate.add_parser(sub)
    advisors_cli.add_parser(sub)
    desk_cli.add_parser(sub)
    users_cli.add_parser(sub)
    knowledge_cli.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"gps-admin: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    commands: dict[str, Callable[[Settings], int]] = {
        "serve": cmd_serve,
        "demo": partial(demo.run, args),
        "simulate": partial(simulate.run, args),
        "migrate": cmd_migrate,
        "advisors": partial(advisors_cli.run, args),
        "communes": partial(desk_cli.run, args),
        "services": partial(desk_cli.run, args),
        "users": partial(users_cli.run, args),
        "knowledge": partial(knowledge_cli.run, args),
    }
    from storage.embedded import EmbeddedServerError

    try:
        return commands[args.command](settings)
    except (SettingsError, EmbeddedServerError) as exc:
        print(f"gps-admin: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
