"""`gps-admin`: the entry point. Each command is a module of `gps_admin` with `add_parser(sub)` and
`run(args, settings) -> exit code`; this module reads the settings once, sets up logging and dispatches.

Imports go one way: this module → the command modules → `gps_admin.console` (and `crew` for the two that run the
simulated crew) → `gps_admin.app`; `tests/unit/test_cli_imports.py` fails on a cycle.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Protocol

from config.settings import Settings, SettingsError, load_settings
from gps_admin import advisors, communes, demo, directory, knowledge, migrate, serve, services, simulate, users
from gps_admin.console import Subparsers, refuse


class Command(Protocol):
    """What a command module provides."""

    def add_parser(self, sub: Subparsers) -> None: ...

    def run(self, args: argparse.Namespace, settings: Settings) -> int: ...


# name → module, in the order `gps-admin --help` lists them
COMMANDS: dict[str, Command] = {
    "serve": serve,
    "migrate": migrate,
    "demo": demo,
    "simulate": simulate,
    "advisors": advisors,
    "communes": communes,
    "directory": directory,
    "knowledge": knowledge,
    "services": services,
    "users": users,
}


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every command it runs at INFO


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gps-admin", description="GPS administration: citizen phone line")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS.values():
        command.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        return refuse(exc)
    _configure_logging(settings.log_level)
    from storage.embedded import EmbeddedServerError

    try:
        return COMMANDS[args.command].run(args, settings)
    except (SettingsError, EmbeddedServerError) as exc:
        return refuse(exc)


if __name__ == "__main__":
    sys.exit(main())
