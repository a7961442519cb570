"""The simulator's AMI server: Asterisk's manager protocol over TCP on loopback.

Banner, Login (username/secret checked), then any number of actions answered in order, with every event of the
simulated PBX written to each logged-in connection. Writes are bounded: a connection that stops reading for
`max_buffer` bytes is closed, as Asterisk drops a stuck manager session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from simulator.frames import parse_action, response
from simulator.pbx import Pbx

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
MAX_ACTION = 64 * 1024


class AmiServer:
    def __init__(self, pbx: Pbx, username: str, secret: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.pbx = pbx
        self.username = username
        self.secret = secret
        self.host = host
        self.port = port
        self.max_buffer = 8 * 1024 * 1024
        self.sessions = 0
        self.logins = 0
        self.logged_in = asyncio.Event()  # set at the first successful Login
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._session, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("PBX simulator: AMI listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    def drop_connections(self) -> None:
        """Cut every AMI connection (a PBX restart as the service sees it)."""
        for writer in list(self._writers):
            writer.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1
        self._writers.add(writer)
        logged_in = False

        def push(data: bytes) -> None:
            transport = writer.transport
            if transport.is_closing():
                return
            if transport.get_write_buffer_size() > self.max_buffer:
                log.warning("PBX simulator: AMI client not reading, connection closed")
                transport.close()
                return
            writer.write(data)

        try:
            writer.write(BANNER)
            while True:
                try:
                    block = await reader.readuntil(b"\r\n\r\n")
                except asyncio.LimitOverrunError:
                    log.warning("PBX simulator: oversized action, connection closed")
                    return
                if len(block) > MAX_ACTION:
                    return
                action = parse_action(block)
                name = action.get("action", "")
                action_id = action.get("actionid")
                if name.lower() == "login":
                    ok = secrets.compare_digest(action.get("username", ""), self.username) and secrets.compare_digest(
                        action.get("secret", ""), self.secret
                    )
                    if ok:
                        logged_in = True
                        self.logins += 1
                        self.logged_in.set()
                        writer.write(response(action_id, [("Message", "Authentication accepted")]))
                        writer.write(
                            b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 0\r\nLastReload: 0\r\n"
                            b"Status: Fully Booted\r\n\r\n"
                        )
                        self.pbx.listeners.add(push)
                    else:
                        writer.write(response(action_id, [("Message", "Authentication failed")], success=False))
                elif name.lower() == "logoff":
                    writer.write(response(action_id, [("Message", "Thanks for all the fish.")], success=True))
                    await writer.drain()
                    return
                elif not logged_in:
                    writer.write(response(action_id, [("Message", "Permission denied")], success=False))
                else:
                    for data in self.pbx.action(name, action, action_id):
                        writer.write(data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.pbx.listeners.discard(push)
            self._writers.discard(writer)
            writer.close()
