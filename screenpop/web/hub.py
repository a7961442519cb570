"""The websocket hub: each advisor's browser gets its desk messages, whichever instance holds the socket.

One Redis subscription per instance (`gps:<db>:desk:*`, `storage.redis.desk.DeskMessages.relay`) feeds the local
sockets. The hub reads only each message's envelope (id, type, advisor, time); the messages themselves are built by
the slices' notifiers (`screenpop.pops.notifier`). Each socket has a bounded queue and
its own writer task: a slow browser fills only its own queue, and when it overflows the socket is closed (the
browser reconnects and gets what it missed from the pending messages). Browsers send only acknowledgements.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import redis.asyncio as aioredis
from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from screenpop.web.errors import Forbidden
from screenpop.web.keys import USER
from storage.redis.desk import DeskMessages
from storage.redis.rounds import Rounds
from storage.users import User

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
LATENCY_BUCKETS_MS = (25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0)  # pop → ack, /metrics
MAX_INCOMING = 4096  # bytes: an ack is tiny


class Envelope(BaseModel):
    """What the hub reads of a desk message (the rest is the browser's)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(max_length=200)
    type: str = Field(max_length=40)
    advisor_id: int
    event_at: datetime


def _envelope(payload: bytes | str) -> Envelope:
    return Envelope.model_validate_json(payload)


class Ack(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["ack"]
    id: str = Field(min_length=1, max_length=200)


class RecentIds:
    """The last `size` message ids sent on a socket: a replayed pending message and its live publication arrive
    close together, so a bounded memory dedupes them without growing over a long shift."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._ids: dict[str, None] = {}  # insertion-ordered

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, message_id: str) -> None:
        self._ids[message_id] = None
        if len(self._ids) > self._size:
            del self._ids[next(iter(self._ids))]


@dataclass(eq=False)
class _Socket:
    advisor_id: int | None  # None: a watcher (a supervisor's wallboard), told of changes, never of desk messages
    ws: web.WebSocketResponse
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))  # JSON text frames
    sent: RecentIds = field(default_factory=RecentIds)  # message ids recently sent on this socket (dedupe)


@dataclass
class HubStats:
    sockets: int = 0
    delivered: int = 0
    acked: int = 0
    rejected: int = 0  # forged, malformed or foreign acknowledgements
    overflows: int = 0
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))  # AMI event → ack
    # the same latencies since the start, counted per bucket (cumulative, as Prometheus histograms are)
    latency_buckets: dict[float, int] = field(default_factory=lambda: dict.fromkeys(LATENCY_BUCKETS_MS, 0))
    latency_count: int = 0
    latency_sum_ms: float = 0.0

    def pop_acked(self, latency_ms: float) -> None:
        self.latencies_ms.append(latency_ms)
        self.latency_count += 1
        self.latency_sum_ms += latency_ms
        for bound in LATENCY_BUCKETS_MS:
            if latency_ms <= bound:
                self.latency_buckets[bound] += 1

    def as_dict(self) -> dict[str, float]:
        out: dict[str, float] = {
            "sockets": self.sockets,
            "delivered": self.delivered,
            "acked": self.acked,
            "rejected": self.rejected,
            "overflows": self.overflows,
        }
        if self.latencies_ms:
            ordered = sorted(self.latencies_ms)
            out["pop_ack_p50_ms"] = ordered[len(ordered) // 2]
            out["pop_ack_p99_ms"] = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return out


class NotAnAdvisor(Forbidden):
    error_id = "not-an-advisor"
    default_message = "Seuls les conseillers ont un poste."


class Hub:
    def __init__(self, redis: aioredis.Redis, rounds: Rounds | None = None) -> None:
        self._messages = DeskMessages(redis, rounds)
        self._sockets: dict[int, set[_Socket]] = defaultdict(set)
        self._watchers: set[_Socket] = set()  # the wallboards open on this instance
        self._closing: set[asyncio.Task[None]] = set()
        self.stats = HubStats()
        self.ready = asyncio.Event()  # the Redis subscription is live
        self.subscriptions = 0  # times the subscription was made (again after a Redis failure)
        self.activity = asyncio.Event()  # set (then replaced) at each acknowledgement handled

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait until `condition()` holds, re-checked after each acknowledgement handled and each subscription."""
        while not condition():
            await self.activity.wait()

    def _signal(self) -> None:
        self.activity.set()
        self.activity = asyncio.Event()

    # ---- the instance's Redis subscription ----

    async def run(self) -> None:
        """Relay published desk messages to the local sockets, until cancelled."""
        me = asyncio.current_task()
        while me is None or not me.cancelling():
            try:
                await self._messages.relay(self._dispatch, self._subscribed)
            except (aioredis.RedisError, OSError) as exc:
                self.ready.clear()
                log.warning("desk hub: Redis unavailable (%s), retrying", exc)
                await asyncio.sleep(1.0)

    def _subscribed(self) -> None:
        self.subscriptions += 1
        self.ready.set()
        self._signal()

    def _dispatch(self, advisor_id: int, data: bytes | str) -> None:
        if not self._sockets.get(advisor_id):
            return  # no desk of this advisor here: the message is not even parsed
        try:
            message = _envelope(data)
        except ValidationError:
            log.warning("desk hub: malformed message ignored")
            return
        sockets = self._sockets.get(message.advisor_id)
        if not sockets:
            return
        payload = data.decode() if isinstance(data, bytes) else data  # valid: sent as published
        for socket in list(sockets):
            self._offer(socket, message.id, payload)

    def _offer(self, socket: _Socket, message_id: str, payload: str) -> None:
        if message_id in socket.sent:
            return
        try:
            socket.queue.put_nowait(payload)
            socket.sent.add(message_id)
        except asyncio.QueueFull:
            self.stats.overflows += 1
            log.warning("desk socket of advisor %s too slow: closed (it will reconnect)", socket.advisor_id)
            if socket.advisor_id is None:
                self._watchers.discard(socket)
            else:
                self._sockets[socket.advisor_id].discard(socket)
            task = asyncio.get_running_loop().create_task(self._close(socket, WSCloseCode.TRY_AGAIN_LATER))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    # ---- one browser ----

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        user: User | None = request.get(USER, None)
        if user is None or user.advisor_id is None:
            raise NotAnAdvisor()
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_INCOMING)
        await ws.prepare(request)
        socket = _Socket(user.advisor_id, ws)
        self._sockets[user.advisor_id].add(socket)
        self.stats.sockets += 1
        writer = asyncio.create_task(self._writer(socket), name=f"desk-writer-{user.advisor_id}")
        try:
            for message, payload in await self._pending(user.advisor_id):  # replay what was not acknowledged
                self._offer(socket, message.id, payload)
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    await self._incoming(socket, frame.data)
                elif frame.type is WSMsgType.ERROR:
                    break
        finally:
            self._sockets[user.advisor_id].discard(socket)
            self.stats.sockets -= 1
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    # ---- the wallboards ----

    def broadcast(self, message_id: str, payload: str) -> None:
        """Offer a message (JSON text, built by a slice's notifier) to every watcher of this instance."""
        for socket in list(self._watchers):
            self._offer(socket, message_id, payload)

    @property
    def watchers(self) -> int:
        return len(self._watchers)

    async def watch(self, request: web.Request, user: User) -> web.WebSocketResponse:
        """A wallboard's socket (the caller decided `user` may watch): it gets what `broadcast` offers; anything
        the browser sends is ignored."""
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_INCOMING)
        await ws.prepare(request)
        socket = _Socket(None, ws)
        self._watchers.add(socket)
        writer = asyncio.create_task(self._writer(socket), name=f"wallboard-writer-{user.login}")
        self._signal()
        try:
            async for frame in ws:
                if frame.type is WSMsgType.ERROR:
                    break
        finally:
            self._watchers.discard(socket)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._signal()
        return ws

    async def _pending(self, advisor_id: int) -> list[tuple[Envelope, str]]:
        """The advisor's messages not yet acknowledged, oldest first."""
        found = []
        for raw in await self._messages.pending(advisor_id):
            payload = raw.decode() if isinstance(raw, bytes) else raw
            found.append((_envelope(payload), payload))
        return sorted(found, key=lambda m: (m[0].event_at, m[0].id))

    @staticmethod
    async def _close(socket: _Socket, code: int) -> None:
        with contextlib.suppress(Exception):
            await socket.ws.close(code=code)

    async def _writer(self, socket: _Socket) -> None:
        while True:
            payload = await socket.queue.get()
            await socket.ws.send_str(payload)
            self.stats.delivered += 1

    async def _incoming(self, socket: _Socket, data: str) -> None:
        advisor_id = socket.advisor_id
        if advisor_id is None:  # a watcher's socket reads nothing
            return
        try:
            ack = Ack.model_validate_json(data)
        except ValidationError:
            self.stats.rejected += 1
            self._signal()
            with contextlib.suppress(asyncio.QueueFull):
                socket.queue.put_nowait('{"type":"error","error":"message non reconnu"}')
            return
        raw = await self._messages.acknowledge(advisor_id, ack.id)
        if raw is None:  # not this advisor's, or already acknowledged
            self.stats.rejected += 1
            self._signal()
            return
        self.stats.acked += 1
        message = _envelope(raw)
        if message.type == "pop":
            self.stats.pop_acked((datetime.now(UTC) - message.event_at).total_seconds() * 1000)
        self._signal()

    async def close_all(self) -> None:
        """Graceful shutdown: browsers are told the server is going away (they reconnect elsewhere)."""
        for sockets in [*self._sockets.values(), self._watchers]:
            for socket in list(sockets):
                await self._close(socket, WSCloseCode.GOING_AWAY)
        await asyncio.gather(*self._closing, return_exceptions=True)
