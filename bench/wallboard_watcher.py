"""The supervisor's browser of `python -m bench.wallboard --live`, in a process of its own (a browser is not in the
service's process).

    python -m bench.wallboard_watcher URL LOGIN PASSWORD

Logs in through the login form (its CSRF token and cookie, as a browser), opens the wallboard's websocket
(`/ws/supervision`) and does what `supervision.js` does: at each `{"type": "wallboard"}` message, reads the snapshot
(`GET /api/supervision`); a message that comes while a read is in flight asks for one more read after it.

Reports on stdout, one JSON object a line: `{"ready": true}` once the socket is open and a first snapshot is read;
then one line per snapshot read: `done` = the client's `time.perf_counter()` when the snapshot's body is parsed
(CLOCK_MONOTONIC on Linux: the same clock in every process of the machine, so the bench compares it with the
instants it sent its AMI events), `get_ms` = the request's time, `waiting` = the linkedids of the calls waiting,
`offered` = today's offered calls (the figure's numerator). Stops when stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from typing import Any

import aiohttp
from yarl import URL

HTML = {"Accept": "text/html,application/xhtml+xml"}
JSON = {"Accept": "application/json"}


def _report(body: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(body) + "\n")
    sys.stdout.flush()


async def _log_in(session: aiohttp.ClientSession, url: str, login: str, password: str) -> None:
    page = await (await session.get(url + "/login", headers=HTML)).text()
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    if token is None:
        raise SystemExit("bench.wallboard_watcher: no CSRF token on the login page")
    form = {"csrf": token[1], "next": "/supervision", "login": login, "password": password}
    response = await session.post(url + "/login", data=form, allow_redirects=False)
    if response.status != 303:
        raise SystemExit(f"bench.wallboard_watcher: login refused ({response.status})")


class Page:
    """`supervision.js`'s refresh(): one read at a time, one more if a message came meanwhile."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.fetching: asyncio.Task[None] | None = None
        self.again = False

    def changed(self) -> None:
        if self.fetching is not None:
            self.again = True
            return
        self.fetching = asyncio.create_task(self._reads())

    async def _reads(self) -> None:
        try:
            while True:
                self.again = False
                await self.read()
                if not self.again:
                    return
        finally:
            self.fetching = None

    async def read(self) -> None:
        start = time.perf_counter()
        async with self.session.get(self.url + "/api/supervision", headers=JSON) as response:
            body = await response.json()
        done = time.perf_counter()
        offered = next((f["numerator"] for f in body["figures"] if f["name"] == "offered"), None)
        _report(
            {
                "done": done,
                "get_ms": (done - start) * 1000,
                "waiting": [w["linkedid"] for w in body["waiting"]],
                "offered": offered,
            }
        )


async def _stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass


async def run(url: str, login: str, password: str) -> None:
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[URL(url), URL(url.replace("http", "ws", 1))])
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        await _log_in(session, url, login, password)
        page = Page(session, url)
        ws = await session.ws_connect(url.replace("http", "ws", 1) + "/ws/supervision", headers={"Origin": url})
        await page.read()
        _report({"ready": True})

        async def listen() -> None:
            async for frame in ws:
                if frame.type is aiohttp.WSMsgType.TEXT and json.loads(frame.data).get("type") == "wallboard":
                    page.changed()

        listening = asyncio.create_task(listen())
        await _stdin_closed()
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        if page.fetching is not None:
            await asyncio.gather(page.fetching, return_exceptions=True)
        await ws.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m bench.wallboard_watcher URL LOGIN PASSWORD", file=sys.stderr)
        return 2
    asyncio.run(run(*args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
