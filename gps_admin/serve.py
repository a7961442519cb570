"""`gps-admin serve`: the service (embedded PostgreSQL/Redis unless their URLs are configured)."""

from __future__ import annotations

import argparse
import sys

from aiohttp import web

from config.settings import Settings
from gps_admin.app import StartupError, build_app
from gps_admin.console import Subparsers, endpoints


def add_parser(sub: Subparsers) -> None:
    sub.add_parser("serve", help="run the service (embedded PostgreSQL/Redis unless URLs are configured)")


def run(args: argparse.Namespace, settings: Settings) -> int:
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
