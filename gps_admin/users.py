"""`gps-admin users`: list and add desk accounts, change a password (never on the command line)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence

from config.settings import Settings
from gps_admin.app import Endpoints, StartupError
from gps_admin.console import Subparsers, database, endpoints, refuse, table
from storage.advisors import AdvisorRepository
from storage.services import ServiceRepository
from storage.users import Role, UnknownAdvisor, UnknownService, UnknownUser, User, UserError, UserRepository

HEADERS = ("id", "login", "name", "role", "advisor")


class PasswordInputError(UserError):
    error_id = "password-input"


def add_parser(subparsers: Subparsers) -> None:
    """Register `users` and its actions on the `gps-admin` subparsers."""
    parser = subparsers.add_parser("users", help="list and add desk accounts, change passwords")
    actions = parser.add_subparsers(dest="action", required=True)

    actions.add_parser("list", help="list the accounts")

    add = actions.add_parser("add", help="add an account")
    add.add_argument("--login", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--advisor", metavar="ADVISOR_LOGIN", help="the advisor this account is (required for advisor)")
    add.add_argument("--service", metavar="SERVICE_NAME", help="the service an editor writes for (required for editor)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")

    passwd = actions.add_parser("passwd", help="change an account's password")
    passwd.add_argument("login")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run `gps-admin users <action>`; exit code 2 with a one-line message on a refused change."""
    try:
        password = read_password(args.password_stdin) if args.action in {"add", "passwd"} else ""
    except UserError as exc:
        return refuse(exc)
    with endpoints(settings, attach=True) as ep:
        try:
            lines = asyncio.run(_run(args, settings, ep, password))
        except (UserError, StartupError) as exc:
            return refuse(exc)
        except (OSError, TimeoutError) as exc:
            return refuse(f"cannot reach PostgreSQL: {exc}")
    print(lines)
    return 0


def read_password(from_stdin: bool) -> str:
    """The first line of stdin (`--password-stdin`), or typed twice at a terminal without echo."""
    if from_stdin:
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise PasswordInputError("no terminal to ask the password on: pipe it in with --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password (again): ") != first:
        raise PasswordInputError("the two passwords differ")
    return first


async def _run(args: argparse.Namespace, settings: Settings, ep: Endpoints, password: str) -> str:
    async with database(ep) as pool:  # StartupError: the schema is not this version's
        users = UserRepository(pool)
        advisors = AdvisorRepository(pool, settings.routing.skills)
        if args.action == "list":
            return users_table(await users.list(), {a.id: a.login for a in await advisors.list()})
        if args.action == "add":
            logins: dict[int, str] = {}
            if args.advisor is not None:
                advisor = await advisors.by_login(args.advisor)
                if advisor is None:
                    raise UnknownAdvisor(f"no advisor with login {args.advisor!r} (see `gps-admin advisors list`)")
                logins[advisor.id] = advisor.login
            service_id = None
            if args.service is not None:
                known = await ServiceRepository(pool, settings.desk.topics).list()
                service = next((s for s in known if s.name == args.service), None)
                if service is None:
                    raise UnknownService(f"no service named {args.service!r} (see `gps-admin services list`)")
                service_id = service.id
            user = await users.add(args.login, args.name, args.role, password, next(iter(logins), None), service_id)
            return users_table([user], logins)
        if args.action == "passwd":
            found = await users.by_login(args.login)
            if found is None:
                raise UnknownUser(f"no user with login {args.login!r}")
            await users.set_password(found.id, password)
            return f"{found.login}: password changed"
        raise AssertionError(f"unhandled action {args.action!r}")


def users_table(users: Sequence[User], advisor_logins: dict[int, str]) -> str:
    if not users:
        return "no users"
    rows = [
        (
            str(u.id),
            u.login,
            u.name,
            u.role.value,
            "-" if u.advisor_id is None else advisor_logins.get(u.advisor_id, f"#{u.advisor_id}"),
        )
        for u in users
    ]
    return table(HEADERS, rows)
