"""`gps-admin services add|list`: the département's services calls are transferred to."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from typing import Any

from config.settings import Settings
from gps_admin.app import Endpoints, StartupError
from gps_admin.console import Subparsers, database, endpoints, refuse, table
from storage.services import InvalidHours, Service, ServiceError, ServiceRepository


def add_parser(subparsers: Subparsers) -> None:
    """Register `services` and its actions on the `gps-admin` subparsers."""
    services = subparsers.add_parser("services", help="the département's services calls are transferred to")
    services_actions = services.add_subparsers(dest="action", required=True)
    add = services_actions.add_parser("add", help="add a service")
    add.add_argument("--name", required=True)
    add.add_argument("--extension", required=True, help="its phone extension, 2 to 10 digits")
    add.add_argument("--topic", action="append", default=[], help="a desk topic key (repeat for several)")
    add.add_argument("--hours", help='weekly hours as JSON, e.g. {"mon": [["08:30", "17:00"]]}; default: always')
    services_actions.add_parser("list", help="list the services")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run `gps-admin services <action>`; exit code 2 with a one-line message when refused."""
    with endpoints(settings, attach=True) as ep:
        try:
            output = asyncio.run(_run(args, settings, ep))
        except (ServiceError, StartupError) as exc:
            return refuse(exc)
        except (OSError, TimeoutError) as exc:
            return refuse(f"cannot read the file or reach PostgreSQL: {exc}")
    print(output)
    return 0


async def _run(args: argparse.Namespace, settings: Settings, ep: Endpoints) -> str:
    hours = _hours(args.hours) if getattr(args, "hours", None) else None
    async with database(ep, command_timeout=60.0) as pool:
        repo = ServiceRepository(pool, settings.desk.topics)
        if args.action == "add":
            return services_table([await repo.add(args.name, args.extension, args.topic, hours)])
        return services_table(await repo.list())


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
