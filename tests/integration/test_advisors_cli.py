"""`gps-admin advisors` as an administrator runs it: the real console script on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg

from tests.fixtures_db import fresh_database
from tests.servers import redis_url

__all__ = ["fresh_database"]  # fixture used by name below

GPS_ADMIN = str(Path(sys.executable).with_name("gps-admin"))
WITHIN = 60.0  # seconds: an upper bound for one command, never a pause


async def gps_admin(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPS_ADMIN_")}
    env |= {"GPS_ADMIN_DATABASE_URL": database_url, "GPS_ADMIN_REDIS_URL": redis_url(0)}
    proc = await asyncio.create_subprocess_exec(
        GPS_ADMIN, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), WITHIN)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def rows(table: str) -> list[list[str]]:
    return [line.split() for line in table.splitlines()[1:]]


async def test_advisors_are_managed_from_the_command_line(fresh_database: str) -> None:
    code, _, err = await gps_admin(fresh_database, "advisors", "list")
    assert code == 2 and "gps-admin migrate" in err  # an un-migrated external database is refused
    code, out, err = await gps_admin(fresh_database, "migrate")
    assert code == 0, err
    assert "0002_advisors" in out

    code, out, err = await gps_admin(fresh_database, "advisors", "list")
    assert (code, out.strip()) == (0, "no advisors"), err
    code, out, err = await gps_admin(
        fresh_database,
        "advisors", "add", "--login", "alice", "--name", "Alice Martin", "--interface", "PJSIP/101",
        "--skill", "taxes", "--skill", "health",
    )  # fmt: skip
    assert code == 0, err
    assert rows(out) == [["1", "alice", "Alice", "Martin", "PJSIP/101", "health,taxes", "yes"]]
    code, _, err = await gps_admin(
        fresh_database, "advisors", "add", "--login", "bob", "--name", "Bob", "--interface", "Local/102@advisors"
    )
    assert code == 0, err

    code, out, err = await gps_admin(fresh_database, "advisors", "list")
    assert code == 0, err
    assert out.splitlines()[0].split() == ["id", "login", "name", "interface", "skills", "active"]
    assert rows(out) == [
        ["1", "alice", "Alice", "Martin", "PJSIP/101", "health,taxes", "yes"],
        ["2", "bob", "Bob", "Local/102@advisors", "-", "yes"],
    ]

    code, out, err = await gps_admin(fresh_database, "advisors", "set", "bob", "--skill", "roads", "--active", "no")
    assert code == 0, err
    assert rows(out) == [["2", "bob", "Bob", "Local/102@advisors", "roads", "no"]]
    code, out, err = await gps_admin(fresh_database, "advisors", "list", "--active-only")
    assert [row[1] for row in rows(out)] == ["alice"]


async def test_refused_changes_exit_2_with_one_clear_line(fresh_database: str) -> None:
    code, _, err = await gps_admin(fresh_database, "migrate")
    assert code == 0, err
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute("TRUNCATE advisor_events, advisors RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    code, _, err = await gps_admin(
        fresh_database, "advisors", "add", "--login", "carol", "--name", "Carol Petit", "--interface", "PJSIP/201"
    )
    assert code == 0, err

    code, out, err = await gps_admin(
        fresh_database, "advisors", "add", "--login", "dave", "--name", "Dave", "--interface", "PJSIP/201"
    )
    assert (code, out) == (2, "")
    assert err.strip() == "gps-admin: interface PJSIP/201 is already the phone of advisor 'carol' (#1, Carol Petit)"

    code, out, err = await gps_admin(
        fresh_database,
        "advisors", "add", "--login", "dave", "--name", "Dave", "--interface", "PJSIP/202", "--skill", "cooking",
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err.startswith("gps-admin: unknown skill(s) cooking; configured skills: childhood, disability")
    assert len(err.strip().splitlines()) == 1

    code, _, err = await gps_admin(fresh_database, "advisors", "set", "carol", "--interface", "phone")
    assert code == 2 and "invalid interface 'phone'" in err
    code, _, err = await gps_admin(fresh_database, "advisors", "set", "nobody", "--name", "X")
    assert code == 2 and "no advisor with login 'nobody'" in err

    code, out, err = await gps_admin(fresh_database, "advisors", "list")
    assert code == 0, err
    assert [row[1] for row in rows(out)] == ["carol"]  # nothing else written


async def test_skills_lists_the_configured_skills(fresh_database: str) -> None:
    code, out, err = await gps_admin(fresh_database, "advisors", "skills")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["skill", "label"]
    assert [line.split(maxsplit=1) for line in lines[1:]] == sorted(
        [
            ["taxes", "Impôts et fiscalité"],
            ["secondary_schools", "Collèges"],
            ["health", "Santé"],
            ["elderly", "Personnes âgées"],
            ["disability", "Handicap (MDPH)"],
            ["social_aid", "Aide sociale, RSA"],
            ["childhood", "Enfance et famille"],
            ["roads", "Routes et transports"],
        ]
    )
