"""`gps-admin users` as an administrator runs it: the real console script on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg

from storage.users import UserRepository
from tests.fixtures_db import fresh_database
from tests.servers import redis_url

__all__ = ["fresh_database"]  # fixture used by name below

GPS_ADMIN = str(Path(sys.executable).with_name("gps-admin"))
WITHIN = 60.0  # seconds: an upper bound for one command, never a pause
PASSWORD = "une phrase de passe solide"


async def gps_admin(database_url: str, *args: str, stdin: str = "") -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPS_ADMIN_")}
    env |= {"GPS_ADMIN_DATABASE_URL": database_url, "GPS_ADMIN_REDIS_URL": redis_url(11)}
    proc = await asyncio.create_subprocess_exec(
        GPS_ADMIN,
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), WITHIN)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def rows(table: str) -> list[list[str]]:
    return [line.split() for line in table.splitlines()[1:]]


async def test_accounts_are_managed_from_the_command_line(fresh_database: str) -> None:
    code, out, err = await gps_admin(fresh_database, "migrate")
    assert code == 0, err
    assert "0005_users" in out
    code, _, err = await gps_admin(
        fresh_database, "advisors", "add", "--login", "alice", "--name", "Alice", "--interface", "PJSIP/101"
    )
    assert code == 0, err
    code, out, err = await gps_admin(fresh_database, "users", "list")
    assert (code, out.strip()) == (0, "no users"), err

    code, out, err = await gps_admin(
        fresh_database,
        "users", "add", "--login", "alice", "--name", "Alice", "--role", "advisor", "--advisor", "alice",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, err
    assert rows(out) == [["1", "alice", "Alice", "advisor", "alice"]]
    assert PASSWORD not in out + err
    code, _, err = await gps_admin(
        fresh_database,
        "users", "add", "--login", "sam", "--name", "Sam", "--role", "supervisor", "--password-stdin",
        stdin=PASSWORD,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = await gps_admin(fresh_database, "users", "list")
    assert code == 0, err
    assert out.splitlines()[0].split() == ["id", "login", "name", "role", "advisor"]
    assert rows(out) == [["1", "alice", "Alice", "advisor", "alice"], ["2", "sam", "Sam", "supervisor", "-"]]

    code, out, err = await gps_admin(
        fresh_database, "users", "passwd", "sam", "--password-stdin", stdin="un autre secret solide\n"
    )
    assert (code, out.strip()) == (0, "sam: password changed"), err
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=1)
    assert pool is not None
    try:
        users = UserRepository(pool)
        assert await users.verify("sam", "un autre secret solide") is not None
        assert await users.verify("sam", PASSWORD) is None
        assert await users.verify("alice", PASSWORD) is not None  # the newline is not part of the password
    finally:
        await pool.close()


async def test_refused_changes_exit_2_with_one_clear_line(fresh_database: str) -> None:
    code, _, err = await gps_admin(fresh_database, "migrate")
    assert code == 0, err
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute("TRUNCATE users, advisor_events, advisors RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    base = ("users", "add", "--name", "Zoé", "--role", "admin", "--password-stdin")

    code, _, err = await gps_admin(fresh_database, *base, "--login", "zoe", stdin="court\n")
    assert code == 2
    assert err.count("\n") == 1 and "10 to 1024 characters" in err
    assert "court" not in err  # the refused password is not echoed

    code, _, err = await gps_admin(fresh_database, *base, "--login", "zoe", stdin=PASSWORD)
    assert code == 0, err
    code, _, err = await gps_admin(fresh_database, *base, "--login", "zoe", stdin=PASSWORD)
    assert code == 2 and "already taken" in err and err.count("\n") == 1

    code, _, err = await gps_admin(
        fresh_database, "users", "add", "--login", "adv", "--name", "A", "--role", "advisor", "--password-stdin",
        stdin=PASSWORD,
    )  # fmt: skip
    assert code == 2 and "needs the advisor" in err
    code, _, err = await gps_admin(
        fresh_database,
        "users", "add", "--login", "adv", "--name", "A", "--role", "advisor", "--advisor", "ghost",
        "--password-stdin",
        stdin=PASSWORD,
    )  # fmt: skip
    assert code == 2 and "no advisor with login 'ghost'" in err
    code, _, err = await gps_admin(fresh_database, "users", "passwd", "ghost", "--password-stdin", stdin=PASSWORD)
    assert code == 2 and "no user" in err
    code, _, err = await gps_admin(fresh_database, "users", "passwd", "zoe", "--password-stdin", stdin="")
    assert code == 2 and "password refused" in err
