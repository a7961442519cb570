"""`gps-admin communes load`: the communes of France, the desk's reference data (Etalab, Licence Ouverte)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from config.settings import Settings
from gps_admin.app import Endpoints, StartupError
from gps_admin.console import Subparsers, database, endpoints, refuse
from storage.communes import load_communes


def add_parser(subparsers: Subparsers) -> None:
    """Register `communes` and its action on the `gps-admin` subparsers."""
    communes = subparsers.add_parser("communes", help="load the communes of France (reference data)")
    communes_actions = communes.add_subparsers(dest="action", required=True)
    load = communes_actions.add_parser("load", help="load (or refresh) the communes from the CSV")
    load.add_argument("--file", type=Path, help="a CSV in the format of storage/data/communes-france.csv")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run `gps-admin communes load`; exit code 2 with a one-line message when refused."""
    with endpoints(settings, attach=True) as ep:
        try:
            output = asyncio.run(_load(args.file, ep))
        except StartupError as exc:
            return refuse(exc)
        except (OSError, TimeoutError) as exc:
            return refuse(f"cannot read the file or reach PostgreSQL: {exc}")
    print(output)
    return 0


async def _load(path: Path | None, ep: Endpoints) -> str:
    async with database(ep, command_timeout=60.0) as pool:
        count = await load_communes(pool, path)
    return f"communes loaded: {count}"
