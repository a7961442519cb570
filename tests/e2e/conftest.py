"""What every browser test shares: Debian's chromium driven by Playwright (a test tool's own browser download
fails here), started with the flags this closed network needs; and the tests against `gps-admin serve`: its
environment (`serve_env`), the accounts (`seed_agnes`), the running service (`serving`), the login (`log_in`)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.fixtures_db import throwaway_database
from tests.rig.asterisk import AsteriskRig, free_loopback_port
from tests.serve import GPS_ADMIN, Process, clean_env, cli

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        await b.close()


# ---- the served application, as every browser test against `gps-admin serve` starts it ----

PASSWORD = "motdepasse-" + secrets.token_hex(6)  # every account's
STEP = 30_000  # ms, Playwright's unit: an upper bound for one step, never a pause
AGNES_PHONE = "Local/adv1@advisors"
# what a page shows once its script has started (buttons wired, websocket open): a click before does nothing
STARTED = {"/desk": ("#link", "connecté"), "/supervision": ("#wb-live", "Mis à jour en direct.")}
User = tuple[str, str, str, list[str]]  # login, name, role, the `users add` options of that role


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """Each browser test starts `gps-admin serve` on its own database."""
    with throwaway_database() as dsn:
        yield dsn


async def serve_env(rig: AsteriskRig, dsn: str, redis: str, data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a `gps-admin serve` on a free loopback port, on `dsn` and `redis` (emptied first), the
    rig's AMI, wrap-ups of 2 s at most; `settings` (GPS_ADMIN_… variables) add to it or override it."""
    client = aioredis.from_url(redis)
    await client.flushdb()
    await client.aclose()
    return clean_env(
        GPS_ADMIN_DATABASE_URL=dsn,
        GPS_ADMIN_REDIS_URL=redis,
        GPS_ADMIN_DATA_DIR=str(data_dir),
        GPS_ADMIN_HTTP_HOST="127.0.0.1",
        GPS_ADMIN_HTTP_PORT=str(free_loopback_port()),
        GPS_ADMIN_AMI_PORT=str(rig.port),
        GPS_ADMIN_AMI_USERNAME=rig.username,
        GPS_ADMIN_AMI_SECRET=rig.secret,
        GPS_ADMIN_ROUTING__WRAPUP_MAX="2",
        **settings,
    )


async def add_user(env: dict[str, str], login: str, name: str, role: str, extra: list[str]) -> None:
    await cli(env, "users", "add", "--login", login, "--name", name, "--role", role, *extra, "--password-stdin",
              stdin=PASSWORD + "\n")  # fmt: skip


async def seed_agnes(env: dict[str, str], *users: User) -> None:
    """The database migrated, the advisor agnes (her phone the rig's adv1) with her account, the supervisor sam,
    then `users`; every account's password is PASSWORD."""
    await cli(env, "migrate")
    await cli(env, "advisors", "add", "--login", "agnes", "--name", "Agnès Roussel", "--interface", AGNES_PHONE)
    for login, name, role, extra in (
        ("agnes", "Agnès Roussel", "advisor", ["--advisor", "agnes"]),
        ("sam", "Sam Carpentier", "supervisor", []),
        *users,
    ):
        await add_user(env, login, name, role, extra)


@contextlib.asynccontextmanager
async def serving(env: dict[str, str]) -> AsyncIterator[Process]:
    """`gps-admin serve` with `env`, once its router leads the queue (its URL in `env["URL"]`); stopped after, its
    last lines printed (shown when a test fails)."""
    proc = await asyncio.create_subprocess_exec(
        GPS_ADMIN, "serve", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    process = Process(proc, env)
    process.env["URL"] = f"http://localhost:{env['GPS_ADMIN_HTTP_PORT']}"
    try:
        await process.expect(r"router \S+ leads queue gps")
        yield process
    finally:
        print("--- gps-admin serve, last lines ---", *process.lines[-150:], sep="\n")
        if proc.returncode is None:
            proc.send_signal(2)
            await asyncio.wait_for(proc.wait(), 30)


async def log_in(
    page: Page, url: str, login: str = "agnes", *, lands_on: str = "/desk", ask: str | None = None, started: bool = True
) -> None:
    """Log in as `login` on the login form: open `ask` (default `lands_on`; the form comes first), fill it, and wait
    to land on `lands_on`; `started`: then wait until that page's script has started (the desk, the wallboard)."""
    await page.goto(url + (ask or lands_on))
    await expect(page).to_have_url(re.compile(r"/login"), timeout=STEP)
    await page.get_by_label("Identifiant").fill(login)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name=re.compile("connecter", re.I)).click()
    await expect(page).to_have_url(re.compile(re.escape(lands_on) + "$"), timeout=STEP)
    if started and lands_on in STARTED:
        selector, text = STARTED[lands_on]
        await expect(page.locator(selector)).to_have_text(text, timeout=STEP)
