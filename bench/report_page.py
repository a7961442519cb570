"""The size of the statistics report page (`/statistiques/rapport`) for a month of the demo's example history.

    python -m bench.report_page [--db gps_bench_report] [--months 2] [--dsn postgresql://postgres@127.0.0.1:5432]

Writes the demo's example history (`gps_admin.history`, the demo's own volume and mix, over `--months` months
before today, with what `gps_admin.demo.seed` writes: advisors, services, directory, knowledge base) into the
database `--db` once (kept between runs), then asks the report page of the last finished month (grouped by day,
compared with the month before) as a supervisor, and the CSV and JSON of the same report, and prints their sizes,
each breakdown's rows on the page, and the time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings
from gps_admin import demo, history
from screenpop.statistics import http as statistics_http
from screenpop.statistics.service import StatisticsService
from screenpop.web import http as web_http
from screenpop.web.keys import USER
from storage import history as store
from storage.communes import ensure_communes
from storage.migrate import migrate
from storage.pool import create_pool
from storage.users import Role, User

SETTINGS = Settings()
TZ = ZoneInfo(SETTINGS.hours.timezone)
SUPERVISOR = User(id=1, login="superviseur", name="Superviseur", role=Role.SUPERVISOR)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def run(args: argparse.Namespace) -> int:
    import asyncpg

    admin = await asyncpg.connect(f"{args.dsn}/postgres")
    try:
        if not await admin.fetchval("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", args.db):
            await admin.execute(f'CREATE DATABASE "{args.db}"')
    finally:
        await admin.close()
    pool = await create_pool(f"{args.dsn}/{args.db}", command_timeout=600.0)
    try:
        await migrate(pool)
        today = datetime.now(TZ).date()
        if not await pool.fetchval("SELECT EXISTS (SELECT 1 FROM call_records)"):
            await ensure_communes(pool)
            await demo.seed(pool, SETTINGS)  # the demo's advisors, services, directory, knowledge base, accounts
            logins = [demo.HUMAN[0], *(login for login, _, _ in demo.CREW)]
            inputs = await store.inputs(pool, SETTINGS.desk.departement, logins)
            plan = history.plan_for(inputs, SETTINGS, history.months_before(today, args.months), today)
            loaded = await history.load(pool, plan)
            print(f"demo history written: {loaded.calls:,} calls in {loaded.seconds:.0f} s")
        service = StatisticsService(pool, SETTINGS, lambda: datetime.now(TZ))
        while await service.refresh(limit=31):
            pass
        month_end = today.replace(day=1) - timedelta(days=1)
        period = {
            "start": month_end.replace(day=1).isoformat(),
            "end": month_end.isoformat(),
            "grouping": "day",
            "compare": "month",
        }

        @web.middleware
        async def supervisor(request: web.Request, handler: Handler) -> web.StreamResponse:
            request[USER] = SUPERVISOR
            return await handler(request)

        app = web.Application()
        web_http.setup(app, web_http.WebDeps())
        app.middlewares.append(supervisor)
        statistics_http.setup(app, statistics_http.StatisticsDeps(service))
        async with TestClient(TestServer(app)) as client:
            calls = await pool.fetchval(
                "SELECT count(*) FROM call_records WHERE arrived_at >= $1 AND arrived_at < $2",
                datetime.fromisoformat(period["start"]).replace(tzinfo=TZ),
                (datetime.fromisoformat(period["end"]) + timedelta(days=1)).replace(tzinfo=TZ),
            )
            print(f"month {period['start']} – {period['end']}: {calls:,} calls; load {os.getloadavg()}")
            for path in ("/statistiques/rapport", "/statistiques/rapport.csv", "/api/statistics/report"):
                started = time.perf_counter()
                response = await client.get(path, params=period)
                body = await response.read()
                ms = (time.perf_counter() - started) * 1000
                print(f"{path}: HTTP {response.status}, {len(body):,} bytes ({len(body) / 1024:,.0f} KiB), {ms:.0f} ms")
                if path == "/statistiques/rapport":
                    text = body.decode()
                    if args.save:
                        await asyncio.to_thread(Path(args.save).write_text, text)
                    for section in re.split(r'<h2 id="by-', text)[1:]:
                        name = section.split('"', 1)[0]
                        rows = section.split("</table>", 1)[0].count("<tr>") - 1
                        print(f"  by {name}: {max(rows, 0)} rows shown")
    finally:
        await pool.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--db", default="gps_bench_report")
    parser.add_argument("--months", type=int, default=2)
    parser.add_argument("--save", help="write the report page's HTML to this file")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
