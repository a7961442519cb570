"""The call pipeline under test against the real Asterisk rig, and a driver that places real calls.

`ServiceUnderTest` runs the production pieces (AmiClient → CallPipeline → CallTracker → RecordWriter →
PostgreSQL) exactly as `gps_admin.app` wires them. `Driver` is a second AMI session (events off) that
plays the citizens and the PBX administrator: queue members, Originate, transfers, hang-ups.
Tests wait on the pipeline's effects and on the writer, never on sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time

import asyncpg
import redis.asyncio as aioredis
from pydantic import SecretStr

from config.settings import LineSettings, OpeningHours, OpeningSpan, RoutingSettings
from storage.advisors import AdvisorRepository
from storage.calls import CallRecordRepository
from storage.pool import create_pool
from storage.redis.claims import RedisClaims
from storage.redis.lease import RedisLease
from storage.redis.rounds import Rounds
from storage.spool import Spool
from storage.writer import RecordWriter
from telephony import events as ev
from telephony.ami import AmiClient, AmiConfig
from telephony.calls import CallTracker
from telephony.effects import AnyEffect, CallEnded
from telephony.events import AmiEvent
from telephony.members import MemberTracker
from telephony.pipeline import CallPipeline
from telephony.ports import ActionSender, AdvisorStore
from telephony.records import CallRecord
from telephony.router import Router
from tests.rig.asterisk import AmiConnection, AmiFrame, AsteriskRig
from tests.servers import redis_url as test_redis_url

WITHIN = 30.0  # seconds: an upper bound for any one step, never a pause

ALWAYS_OPEN = OpeningHours(
    week={
        d: (OpeningSpan(start=time(0), end=time(23, 59, 59, 999999)),)
        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    },
    holidays_country="FR",
    open_dates=(),
)
ALWAYS_CLOSED = OpeningHours(week={})


def always_open() -> OpeningHours:
    """Open every second of every day, holidays included (the tests run on any date)."""
    from datetime import date, timedelta

    today = date.today()
    return ALWAYS_OPEN.model_copy(update={"open_dates": tuple(today + timedelta(days=d) for d in range(-2, 3))})


@dataclass
class ServiceUnderTest:
    rig: AsteriskRig
    dsn: str
    spool: Spool
    hours: OpeningHours = field(default_factory=always_open)
    ping_interval: float = 1.0
    ping_timeout: float = 1.0
    reconnect_min: float = 0.2
    reconnect_max: float = 1.0
    routing: RoutingSettings | None = None  # set: the router runs too (advisors from the database)
    redis_url: str = test_redis_url(7)
    store: Callable[[AdvisorRepository], AdvisorStore] | None = None  # wraps the router's store (e.g. to slow it)
    sender: Callable[[ActionSender], ActionSender] | None = None  # wraps the router's AMI sender (e.g. to crash it)
    effects: list[AnyEffect] = field(default_factory=list)
    events: list[AmiEvent] = field(default_factory=list)  # everything the pipeline received, for diagnosis
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pipeline = CallPipeline(CallTracker(LineSettings(), self.hours), self._submit, MemberTracker("gps"))
        self.pipeline.listen(self._on_effect)
        self.router: Router | None = None
        self.pool: asyncpg.Pool | None = None
        self.redis: aioredis.Redis | None = None
        self.ami = AmiClient(
            AmiConfig(
                host=self.rig.host,
                port=self.rig.port,
                username=self.rig.username,
                secret=SecretStr(self.rig.secret),
                ping_interval=self.ping_interval,
                ping_timeout=self.ping_timeout,
                reconnect_min=self.reconnect_min,
                reconnect_max=self.reconnect_max,
            ),
            self._sink,
        )

        async def factory() -> asyncpg.Pool:
            return await create_pool(self.dsn)

        self.writer = RecordWriter(self.spool, factory, submit_timeout=0.0)

    def _sink(self, event: AmiEvent) -> None:
        self.events.append(event)
        self.pipeline.sink(event)

    def dump(self) -> str:
        """The events received, one a line (printed by failing tests)."""
        return "\n".join(f"{e.at.time()} {e!r}"[:1200] for e in self.events)

    def live_channels(self) -> list[str]:
        """Channels seen created and not seen hung up, in the events received (for failure messages)."""
        live: dict[str, str] = {}
        for e in self.events:
            if isinstance(e, ev.Newchannel):
                live[e.uniqueid] = e.channel
            elif isinstance(e, ev.Hangup):
                live.pop(e.uniqueid, None)
        return sorted(live.values())

    async def _submit(self, record: CallRecord) -> None:
        await self.writer.accept(record)  # as build_app

    async def _on_effect(self, effect: AnyEffect) -> None:
        self.effects.append(effect)
        self._changed.set()

    async def start(self) -> ServiceUnderTest:
        await self.writer.start()
        if self.routing is not None:
            self.pool = await create_pool(self.dsn)
            self.redis = aioredis.from_url(self.redis_url)
            self.router = Router(
                ami=(self.sender or (lambda ami: ami))(self.ami),
                store=(self.store or (lambda repository: repository))(
                    AdvisorRepository(self.pool, self.routing.skills)
                ),
                lease=RedisLease(self.redis, "gps", rounds := Rounds(self.redis)),
                claims=RedisClaims(self.redis, "gps", rounds),
                routing=self.routing,
                queue="gps",
                lease_ttl=1.5,
            )
            self.pipeline.listen(self.router.on_effect)
        self._tasks = [
            asyncio.create_task(self.pipeline.run(), name="pipeline"),
            asyncio.create_task(self.ami.run(), name="ami"),
        ]
        await asyncio.wait_for(self.ami.ready.wait(), WITHIN)
        if self.router is not None:
            self._tasks.append(asyncio.create_task(self.router.run(), name="router"))
        return self

    async def stop(self, *, resign: bool = True) -> None:
        """Stop everything; `resign=False` leaves the lease to expire, as a crash would."""
        for task in reversed(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.router is not None and resign:
            await self.router.resign()
        await self.writer.stop()
        if self.redis is not None:
            await self.redis.aclose()
        if self.pool is not None:
            await self.pool.close()

    async def effect(self, match: Callable[[AnyEffect], bool], within: float = WITHIN) -> AnyEffect:
        """The first effect (past or future) that matches."""

        async def scan() -> AnyEffect:
            seen = 0
            while True:
                for effect in self.effects[seen:]:
                    if match(effect):
                        return effect
                seen = len(self.effects)
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), within)

    async def record(self, caller_number: str | None, within: float = WITHIN) -> CallRecord:
        """The call record of this caller, as committed in PostgreSQL."""
        try:
            ended = await self.effect(
                lambda e: isinstance(e, CallEnded) and e.record.caller_number == caller_number, within
            )
        except TimeoutError:
            raise AssertionError(
                f"no record for {caller_number} within {within} s; channels not hung up: {self.live_channels()}"
            ) from None
        assert isinstance(ended, CallEnded)
        await asyncio.wait_for(self.writer.wait_drained(), within)
        pool = await create_pool(self.dsn)
        try:
            stored = await CallRecordRepository(pool).get(ended.linkedid)
        finally:
            await pool.close()
        assert stored is not None, f"record {ended.linkedid} not in PostgreSQL"
        return stored


class Driver:
    """Plays the citizens and the PBX side through a second AMI session (events off)."""

    _ids = itertools.count(1)

    def __init__(self, conn: AmiConnection) -> None:
        self.conn = conn

    @classmethod
    async def connect(cls, rig: AsteriskRig) -> Driver:
        conn = await AmiConnection.connect(rig.host, rig.port)
        reply = await conn.action({"Action": "Login", "Username": rig.username, "Secret": rig.secret, "Events": "off"})
        assert reply.get("Response") == "Success", reply
        driver = cls(conn)
        await driver.clear_queue()
        return driver

    async def close(self) -> None:
        await self.conn.close()

    async def act(self, fields: dict[str, str] | list[tuple[str, str]]) -> AmiFrame:
        reply = await self.conn.action(fields, WITHIN)
        assert reply.get("Response") == "Success", (fields, reply)
        return reply

    async def list_action(self, fields: dict[str, str], complete: str) -> list[AmiFrame]:
        action_id = await self.conn.send(fields)
        frames: list[AmiFrame] = []

        async def scan() -> list[AmiFrame]:
            while True:
                frame = await self.conn.read_frame()
                if frame.get("ActionID") != action_id:
                    continue
                if frame.get("Event") == complete:
                    return frames
                frames.append(frame)

        return await asyncio.wait_for(scan(), WITHIN)

    async def clear_queue(self, queue: str = "gps") -> None:
        """Remove every member and hang up every channel left by an earlier test."""
        for frame in await self.list_action({"Action": "QueueStatus", "Queue": queue}, "QueueStatusComplete"):
            if frame.get("Event") == "QueueMember":
                await self.act({"Action": "QueueRemove", "Queue": queue, "Interface": frame["Location"]})
        for frame in await self.list_action({"Action": "CoreShowChannels"}, "CoreShowChannelsComplete"):
            if frame.get("Event") == "CoreShowChannel":
                with contextlib.suppress(AssertionError):
                    await self.act({"Action": "Hangup", "Channel": frame["Channel"]})

    async def add_member(self, interface: str, name: str, *, paused: bool = False, penalty: int = 0) -> None:
        await self.act(
            {
                "Action": "QueueAdd",
                "Queue": "gps",
                "Interface": interface,
                "MemberName": name,
                "Paused": "true" if paused else "false",
                "Penalty": str(penalty),
            }
        )

    async def call(self, number: str, name: str, channel_id: str | None = None, **variables: str) -> None:
        """A citizen calls the public number (the Local/<number>@callers leg holds the handset). `channel_id`: the
        Uniqueid of that leg, hence the call's Linkedid (Originate's ChannelId, up to 149 characters)."""
        fields: list[tuple[str, str]] = [
            ("Action", "Originate"),
            ("Channel", f"Local/{number}@callers"),
            ("Application", "Wait"),
            ("Data", "600"),
            ("CallerID", f'"{name}" <{number if number != "anonymous" else ""}>'),
            ("Async", "true"),
            ("ActionID", f"call-{next(self._ids)}"),
        ]
        if channel_id is not None:
            fields.append(("ChannelId", channel_id))
        fields += [("Variable", f"{k}={v}") for k, v in variables.items()]
        await self.act(fields)

    async def hangup(self, channel: str) -> None:
        await self.act({"Action": "Hangup", "Channel": channel})

    async def channels(self) -> list[AmiFrame]:
        frames = await self.list_action({"Action": "CoreShowChannels"}, "CoreShowChannelsComplete")
        return [f for f in frames if f.get("Event") == "CoreShowChannel"]
