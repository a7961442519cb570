"""The advisors' browsers of bench.screenpop, in a process of their own (browsers are not in the service's process).

    python -m bench.desk_clients URL ADVISOR_ID...

One aiohttp websocket per advisor on URL (the advisor named by the `X-Bench-Advisor` header, which the bench's
test middleware turns into the request's user). Like the desk page (`screenpop/static/desk.js`), each client
acknowledges every message that has an id, except presence messages (never kept pending, not acknowledged).

Reports on stdout, one line each: `ready` once every socket is open; `pop <linkedid> <advisor> <t1>` with t1 the
client's `time.perf_counter()` taken as the frame arrives (CLOCK_MONOTONIC on Linux: the same clock in every process
of the machine, so the bench compares it with its own t0); `ended <linkedid> <advisor>`. Stops when stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence

import aiohttp

ADVISOR_HEADER = "X-Bench-Advisor"
CONNECT_WITHIN = 120.0


def _report(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _browser(advisor_id: int, ws: aiohttp.ClientWebSocketResponse) -> None:
    async for frame in ws:
        if frame.type is not aiohttp.WSMsgType.TEXT:
            continue
        received = time.perf_counter()
        message = json.loads(frame.data)
        kind = message.get("type")
        if kind == "presence":
            continue
        if "id" in message:
            await ws.send_str(json.dumps({"type": "ack", "id": message["id"]}))
        if kind == "pop":
            _report(f"pop {message['linkedid']} {advisor_id} {received!r}")
        elif kind == "ended":
            _report(f"ended {message['linkedid']} {advisor_id}")


async def _stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass


async def run(url: str, advisors: Sequence[int]) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = []
        for advisor_id in advisors:
            async with asyncio.timeout(CONNECT_WITHIN):
                ws = await session.ws_connect(url, headers={ADVISOR_HEADER: str(advisor_id)})
            sockets.append((advisor_id, ws))
        tasks = [asyncio.create_task(_browser(a, ws), name=f"browser-{a}") for a, ws in sockets]
        _report("ready")
        try:
            await _stdin_closed()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for _, ws in sockets:
                await ws.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print("usage: python -m bench.desk_clients URL ADVISOR_ID...", file=sys.stderr)
        return 2
    asyncio.run(run(args[0], [int(a) for a in args[1:]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
