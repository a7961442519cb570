"""`gps-admin advisors`: list, add and change advisors; list the configured skills."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import redis.asyncio as aioredis

from config.settings import Settings
from gps_admin.app import Endpoints, StartupError
from gps_admin.console import Subparsers, database, endpoints, refuse, table
from storage.advisors import AdvisorError, AdvisorRepository, UnknownAdvisor
from storage.pool import create_pool
from storage.redis.commands import RedisRouterCommands
from telephony.advisors import Advisor
from telephony.ports import RouterUnavailable
from telephony.presence import PresenceError

HEADERS = ("id", "login", "name", "interface", "skills", "active")


def add_parser(subparsers: Subparsers) -> None:
    """Register `advisors` and its actions on the `gps-admin` subparsers."""
    parser = subparsers.add_parser("advisors", help="list, add and change advisors")
    actions = parser.add_subparsers(dest="action", required=True)

    listing = actions.add_parser("list", help="list the advisors")
    listing.add_argument("--active-only", action="store_true", help="leave out deactivated advisors")

    add = actions.add_parser("add", help="add an advisor")
    add.add_argument("--login", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--interface", required=True, help="their phone, e.g. PJSIP/101")
    add.add_argument("--skill", action="append", default=[], help="a configured skill key (repeat for several)")

    change = actions.add_parser("set", help="change an advisor")
    change.add_argument("login")
    change.add_argument("--name")
    change.add_argument("--interface")
    skills = change.add_mutually_exclusive_group()
    skills.add_argument("--skill", action="append", help="replaces the skills (repeat for several)")
    skills.add_argument("--no-skills", action="store_true", help="remove every skill")
    change.add_argument("--active", choices=("yes", "no"))

    actions.add_parser("skills", help="list the configured skills")

    presence = actions.add_parser("presence", help="log an advisor in or out, pause, make available (needs serve)")
    presence.add_argument("login")
    presence.add_argument("state", choices=("login", "logout", "pause", "available"))
    presence.add_argument("--reason", help="pause reason key (see settings routing.pause_reasons)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run `gps-admin advisors <action>`; exit code 2 with a one-line message on a refused change."""
    if args.action == "skills":
        skills = settings.routing.skills
        print(table(("skill", "label"), [(key, skills[key]) for key in sorted(skills)]))
        return 0

    with endpoints(settings, attach=True) as ep:
        try:
            if args.action == "presence":
                lines = asyncio.run(_presence(args, settings, ep.database_url, ep.redis_url))
            else:
                lines = asyncio.run(_run(args, settings, ep))
        except (AdvisorError, StartupError, PresenceError, RouterUnavailable) as exc:
            return refuse(exc)
        except (OSError, TimeoutError) as exc:
            return refuse(f"cannot reach PostgreSQL: {exc}")
    print(lines)
    return 0


async def _run(args: argparse.Namespace, settings: Settings, ep: Endpoints) -> str:
    async with database(ep) as pool:  # StartupError: the schema is not this version's
        repo = AdvisorRepository(pool, settings.routing.skills)
        if args.action == "list":
            return advisors_table(await repo.list(active_only=args.active_only))
        if args.action == "add":
            advisor = await repo.add(args.login, args.name, args.interface, args.skill)
            return advisors_table([advisor])
        if args.action == "set":
            found = await repo.by_login(args.login)
            if found is None:
                raise UnknownAdvisor(f"no advisor with login {args.login!r}")
            advisor = await repo.update(
                found.id,
                name=args.name,
                interface=args.interface,
                skills=[] if args.no_skills else args.skill,
                active=None if args.active is None else args.active == "yes",
            )
            return advisors_table([advisor])
        raise AssertionError(f"unhandled action {args.action!r}")


async def _presence(args: argparse.Namespace, settings: Settings, database_url: str, redis_url: str) -> str:
    """Send a presence command to the running service's router, through Redis."""
    pool = await create_pool(database_url, max_size=1)
    try:
        advisor = await AdvisorRepository(pool, settings.routing.skills).by_login(args.login)
    finally:
        await pool.close()
    if advisor is None:
        raise UnknownAdvisor(f"no advisor with login {args.login!r}")
    client = aioredis.from_url(redis_url)
    try:
        await RedisRouterCommands(client, settings.line.queue).send(advisor.id, args.state, args.reason)
    finally:
        await client.aclose()
    return f"{advisor.login}: {args.state} done"


def advisors_table(advisors: Sequence[Advisor]) -> str:
    if not advisors:
        return "no advisors"
    rows = [
        (str(a.id), a.login, a.name, a.interface, ",".join(sorted(a.skills)) or "-", "yes" if a.active else "no")
        for a in advisors
    ]
    return table(HEADERS, rows)
