"""`gps-admin communes load` and `gps-admin services add|list`: the desk's reference data."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from config.settings import Settings
from gps_admin.advisors_cli import table
from gps_admin.app import StartupError, prepare_database
from storage.communes import load_communes
from storage.pool import create_pool
from storage.services import InvalidHours, Service, ServiceError, ServiceRepository


def add_parser(subparsers: Any) -> None:
    """Register `communes` and `services` on the `gps-admin` subparsers."""
    communes = subparsers.add_parser("communes", help="load the communes of France (reference data)")
    communes_actions = communes.add_subparsers(dest="action", required=True)
    load = communes_actions.add_parser("load", help="load (or refresh) the communes from the CSV")
    load.add_argument("--file", type=Path, help="a CSV in the format of storage/data/communes-france.csv")

    services = subparsers.add_parser("services", help="the département's services calls are transferred to")
    services_actions = services.add_subparsers(dest="action", required=True)
    add = services_actions.add_parser("add", help="add a service")
    add.add_argument("--name", required=True)
    add.add_argument("--extension", required=True, help="its phone extension, 2 to 10 digits")
    add.add_argument("--topic", action="append", default=[], help="a desk topic key (repeat for several)")
    add.add_argument("--hours", help='weekly hours as JSON, e.g. {"mon": [["08:30", "17:00"]]}; default: always')
    services_actions.add_parser("list", help="list the services")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run `gps-admin communes|services <action>`; exit code 2 with a one-line message when refused."""
    from gps_admin.cli import endpoints  # here: gps_admin.cli imports this module

    with endpoints(settings, attach=True) as ep:
        try:
            output = asyncio.run(_run(args, settings, ep.database_url, ep.auto_migrate))
        except (ServiceError, StartupError) as exc:
            print(f"gps-admin: {exc}", file=sys.stderr)
            return 2
        except (OSError, TimeoutError) as exc:
            print(f"gps-admin: cannot read the file or reach PostgreSQL: {exc}", file=sys.stderr)
            return 2
    print(output)
    return 0


async def _run(args: argparse.Namespace, settings: Settings, database_url: str, auto_migrate: bool) -> str:
    hours = _hours(args.hours) if getattr(args, "hours", None) else None
    await prepare_database(database_url, apply=auto_migrate)
    pool = await create_pool(database_url, max_size=2, command_timeout=60.0)
    try:
        if args.command == "communes":
            count = await load_communes(pool, args.file)
            return f"communes loaded: {count}"
        repo = ServiceRepository(pool, settings.desk.topics)
        if args.action == "add":
            return services_table([await repo.add(args.name, args.extension, args.topic, hours)])
        return services_table(await repo.list())
    finally:
        await pool.close()


def _hours(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidHours(f"--hours is not JSON: {exc}") from None


def services_table(services: Sequence[Service]) -> str:
    if not services:
        return "no services"
    rows = [
        (
            str(s.id),
            s.name,
            s.extension,
            ",".join(s.topics) or "-",
            "always" if s.hours is None else json.dumps({d: spans for d, spans in s.hours.items() if spans}),
            "yes" if s.active else "no",
        )
        for s in services
    ]
    return table(("id", "name", "extension", "topics", "hours", "active"), rows)
