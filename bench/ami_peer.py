"""An AMI peer under the caller's control, for what a real Asterisk cannot be made to do on demand: refuse
sessions, cut them at a chosen moment, or send a storm of events (bench.storm; tests of the AMI edge's
reconnection and of the service loop under a storm).

It speaks just enough of the manager protocol for `telephony.ami.AmiClient`: banner, Login, Ping, and the two list
actions of the snapshot (CoreShowChannels, QueueStatus) answered with empty lists. It is not a PBX: the PBX
behaviours are tested against the real Asterisk of the rig, and the simulator (`simulator/`) is the fake PBX of
the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
_LISTS = {"coreshowchannels": "CoreShowChannelsComplete", "queuestatus": "QueueStatusComplete"}


def _parse(frame: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in frame.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep:
            headers.setdefault(key.lower(), value)
    return headers


class AmiPeer:
    """A TCP AMI server on loopback. `refuse`: close each new session right after the banner (a PBX that is not
    ready). `sessions` counts connections, `logins` successful logins, `pongs` Pings answered; `changed` is set
    (then replaced) at each of those, so a caller waits on it instead of sleeping."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.refuse = False
        self.sessions = 0
        self.logins = 0
        self.pongs = 0
        self.pong_times: list[float] = []  # perf_counter() of each Ping received
        self.login_times: list[float] = []
        self._changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> AmiPeer:
        self._server = await asyncio.start_server(self._session, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def __aenter__(self) -> AmiPeer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def changed(self) -> None:
        await self._changed.wait()

    async def until(self, condition: object) -> None:
        """Return once `condition()` holds, checked at each change (bound it with a timeout)."""
        assert callable(condition)
        while not condition():
            await self.changed()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def cut(self) -> None:
        """Cut every session now (an Asterisk restart as the client sees it)."""
        for writer in list(self._writers):
            transport = writer.transport
            transport.abort()
        self._writers.clear()

    def send(self, data: bytes) -> None:
        """Write raw bytes to every logged-in session (events, as Asterisk would send them)."""
        for writer in self._writers:
            writer.write(data)

    async def drain(self) -> None:
        for writer in list(self._writers):
            with contextlib.suppress(ConnectionError):
                await writer.drain()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1
        self._notify()
        writer.write(BANNER)
        if self.refuse:
            writer.transport.abort()
            return
        try:
            while True:
                frame = await reader.readuntil(b"\r\n\r\n")
                action = _parse(frame[:-4])
                name = action.get("action", "").lower()
                action_id = action.get("actionid", "")
                if name == "login":
                    writer.write(_reply(action_id, "Message: Authentication accepted"))
                    self._writers.add(writer)
                    self.logins += 1
                    self.login_times.append(time.perf_counter())
                elif name == "ping":
                    writer.write(_reply(action_id, "Ping: Pong", f"Timestamp: {time.time():.6f}"))
                    self.pongs += 1
                    self.pong_times.append(time.perf_counter())
                elif name in _LISTS:
                    writer.write(_reply(action_id, "EventList: start", "Message: will follow"))
                    writer.write(
                        f"Event: {_LISTS[name]}\r\nActionID: {action_id}\r\nEventList: Complete\r\n"
                        "ListItems: 0\r\n\r\n".encode()
                    )
                else:
                    writer.write(_reply(action_id, "Message: Invalid/unknown", response="Error"))
                self._notify()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
            self._notify()


def _reply(action_id: str, *lines: str, response: str = "Success") -> bytes:
    head = f"Response: {response}\r\nActionID: {action_id}\r\n"
    return (head + "".join(f"{x}\r\n" for x in lines) + "\r\n").encode()


def storm(calls: int, start: float = 1_795_888_079.0) -> Iterator[bytes]:
    """`calls` new calls on the public line (Newchannel + QueueCallerJoin each), then their hang-ups: AMI bytes,
    one chunk per call, as a misbehaving or overloaded peer would send them."""
    for n in range(calls):
        uid = f"{int(start)}.{n}"
        snap = (
            f"Channel: PJSIP/trunk-{n:08x}\r\nChannelState: 4\r\nCallerIDNum: 03210{n % 100000:05d}\r\n"
            f"CallerIDName: Appelant {n}\r\nContext: public\r\nExten: 0800123456\r\nUniqueid: {uid}\r\n"
            f"Linkedid: {uid}\r\nTimestamp: {start + n * 0.001:.6f}\r\n"
        )
        yield (
            f"Event: Newchannel\r\nPrivilege: call,all\r\n{snap}\r\n"
            f"Event: QueueCallerJoin\r\nPrivilege: agent,all\r\n{snap}Queue: gps\r\nPosition: {n + 1}\r\n"
            f"Count: {n + 1}\r\n\r\n"
        ).encode()
    for n in range(calls):
        uid = f"{int(start)}.{n}"
        yield (
            f"Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-{n:08x}\r\n"
            f"CallerIDNum: 03210{n % 100000:05d}\r\nCallerIDName: Appelant {n}\r\nContext: public\r\n"
            f"Exten: 0800123456\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\nCause: 16\r\n"
            f"Cause-txt: Normal Clearing\r\nTimestamp: {start + 60 + n * 0.001:.6f}\r\n\r\n"
        ).encode()
