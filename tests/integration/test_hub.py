"""Desk websockets over two service instances and a real Redis: fan-out, ack, replay, isolation, slow browsers.

The user is set by a test middleware (the real session middleware is tested in test_auth.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestServer

from screenpop.pops.models import CallerContext, DeskMessage
from screenpop.pops.notifier import ContextOf, PopPublisher, PresencePublisher, no_context
from screenpop.pops.service import Acknowledger, call_done, current_call, pending
from screenpop.web.hub import Hub
from screenpop.web.keys import USER
from screenpop.web.middleware import errors
from storage.users import Role, User
from telephony.advisors import AdvisorState, StateChange
from telephony.effects import (
    AdvisorRingEnded,
    AdvisorRinging,
    AnyEffect,
    CallAnswered,
    CallEnded,
    CallQueued,
    CallStarted,
)
from telephony.records import RingResult
from tests.fixtures_db import make_record
from tests.servers import redis_url

REDIS = redis_url(12)
WITHIN = 10.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def fake_login(request: web.Request, handler: Handler) -> web.StreamResponse:
    advisor = request.headers.get("X-Test-Advisor")
    if advisor is not None:
        request[USER] = User(
            id=int(advisor), login=f"a{advisor}", name="Test", role=Role.ADVISOR, advisor_id=int(advisor)
        )
    return await handler(request)


class Instance:
    """One service instance: a hub with its Redis subscription, serving /ws."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.hub = Hub(redis)
        app = web.Application(middlewares=[errors, fake_login])  # the error mapping, as every app has
        app.router.add_get("/ws", self.hub.handle)
        self.server = TestServer(app)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> Instance:
        await self.server.start_server()
        self.task = asyncio.create_task(self.hub.run())
        return self

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.hub.close_all()
        await self.server.close()


@pytest.fixture
async def redis() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(REDIS)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def two(redis: aioredis.Redis) -> AsyncIterator[tuple[Instance, Instance]]:
    a, b = await Instance(redis).start(), await Instance(redis).start()
    yield a, b
    await a.stop()
    await b.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def connect(session: aiohttp.ClientSession, instance: Instance, advisor: int) -> aiohttp.ClientWebSocketResponse:
    return await session.ws_connect(instance.server.make_url("/ws"), headers={"X-Test-Advisor": str(advisor)})


async def subscribed(instance: Instance, redis: aioredis.Redis) -> None:
    """Wait until the instance's Redis subscription is live."""
    await asyncio.wait_for(instance.hub.ready.wait(), WITHIN)


def ringing(linkedid: str, interface: str = "PJSIP/adv7") -> AdvisorRinging:
    now = datetime.now(UTC)
    return AdvisorRinging(
        linkedid=linkedid,
        at=now,
        interface=interface,
        member_name="Agnès",
        caller_number="+33321000001",
        caller_name="<b>Hélène</b> Lefèvre",
        queue_entered_at=now - timedelta(seconds=12),
        menu_topic="taxes",
    )


class FedPublisher(PopPublisher):
    """The publisher with its live view fed by each effect first, as the service loop (`CallPipeline`) does."""

    async def on_effect(self, effect: AnyEffect) -> None:
        self.live.apply(effect)
        await super().on_effect(effect)


def publisher(redis: aioredis.Redis, context_of: ContextOf = no_context) -> PopPublisher:
    return FedPublisher(
        redis, advisor_of=lambda i: int(i.removeprefix("PJSIP/adv")), is_leader=lambda: True, context_of=context_of
    )


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), WITHIN)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def test_a_pop_reaches_the_advisor_on_the_other_instance_and_is_acknowledged(
    two: tuple[Instance, Instance], redis: aioredis.Redis, session: aiohttp.ClientSession
) -> None:
    _, b = two
    ws = await connect(session, b, 7)
    await subscribed(b, redis)
    await publisher(redis).on_effect(ringing("100.1"))  # produced on "instance a"
    pop = await receive(ws)
    assert pop["type"] == "pop" and pop["linkedid"] == "100.1"
    assert pop["caller_display"] == "03 21 00 00 01"
    assert pop["caller_name"] == "<b>Hélène</b> Lefèvre"  # data, rendered as text by the page
    assert 11 <= pop["wait_seconds"] <= 13
    assert pop["menu_topic"] == "taxes"  # the voice-menu choice: the page shows it and starts the qualification there
    await ws.send_str(json.dumps({"type": "ack", "id": pop["id"]}))
    await asyncio.wait_for(b.hub.until(lambda: b.hub.stats.acked == 1), WITHIN)
    assert await pending(redis, 7) == []
    assert b.hub.stats.latencies_ms
    await ws.close()


async def test_unacknowledged_pops_are_replayed_after_a_reconnect(
    two: tuple[Instance, Instance], redis: aioredis.Redis, session: aiohttp.ClientSession
) -> None:
    a, _ = two
    pub = publisher(redis)
    await pub.on_effect(ringing("200.1"))  # nobody connected: kept pending
    now = datetime.now(UTC)
    await pub.on_effect(CallAnswered(linkedid="200.1", at=now, interface="PJSIP/adv7", advisor_channel="PJSIP/adv7-1"))
    await pub.drained()  # both in Redis before the browser connects
    ws = await connect(session, a, 7)
    first, second = await receive(ws), await receive(ws)
    assert [first["type"], second["type"]] == ["pop", "answered"]  # in order
    await ws.send_str(json.dumps({"type": "ack", "id": first["id"]}))
    await ws.close()  # the browser drops before acknowledging the second one
    ws = await connect(session, a, 7)
    replayed = await receive(ws)
    assert replayed["id"] == second["id"]
    await ws.close()


async def test_an_advisor_gets_only_their_own_pops_and_cannot_acknowledge_others(
    two: tuple[Instance, Instance], redis: aioredis.Redis, session: aiohttp.ClientSession
) -> None:
    a, _ = two
    mine, other = await connect(session, a, 7), await connect(session, a, 8)
    await subscribed(a, redis)
    await publisher(redis).on_effect(ringing("300.1", "PJSIP/adv8"))
    pop = await receive(other)
    assert pop["advisor_id"] == 8
    await mine.send_str(json.dumps({"type": "ack", "id": pop["id"]}))  # a forged acknowledgement
    await asyncio.wait_for(a.hub.until(lambda: a.hub.stats.rejected == 1), WITHIN)
    await mine.send_str("{not json")
    error = await receive(mine)  # the malformed one is answered with an error; nothing else arrives
    assert error == {"type": "error", "error": "message non reconnu"}
    assert [m.id for m in await pending(redis, 8)] == [pop["id"]]  # still pending for advisor 8
    assert a.hub.stats.rejected == 2
    await mine.close()
    await other.close()


async def test_acknowledgements_arriving_together_go_in_one_round(redis: aioredis.Redis) -> None:
    pub = publisher(redis)
    for n in range(3):
        await pub.on_effect(ringing(f"500.{n}"))  # advisor 7
    await pub.on_effect(ringing("500.9", "PJSIP/adv8"))
    await pub.drained()
    ids = [m.id for m in await pending(redis, 7)]
    ack = Acknowledger(redis)
    found = await asyncio.gather(*(ack(7, i) for i in ids), ack(7, "500.9:8:pop"), ack(7, ids[0]))
    assert [m.id if m is not None else None for m in found] == [*ids, None, None]  # foreign, then already done
    assert ack.rounds == 2  # the first alone, the four that queued meanwhile together
    assert await pending(redis, 7) == []
    assert [m.id for m in await pending(redis, 8)] == ["500.9:8:pop"]


async def test_the_current_call_is_kept_acknowledged_or_not_until_it_is_qualified(redis: aioredis.Redis) -> None:
    """What a desk page opened again shows (`/api/desk`): the advisor's latest call, its pop and the latest
    message of each kind, whatever was acknowledged; a newer call replaces it; qualifying it forgets it."""
    pub = publisher(redis)
    await pub.on_effect(ringing("600.1"))  # advisor 7
    now = datetime.now(UTC)
    await pub.on_effect(CallAnswered(linkedid="600.1", at=now, interface="PJSIP/adv7", advisor_channel="PJSIP/adv7-1"))
    await pub.drained()
    for message in await pending(redis, 7):
        await Acknowledger(redis)(7, message.id)  # the browser saw them all
    assert [(m.linkedid, m.type) for m in await current_call(redis, 7)] == [("600.1", "pop"), ("600.1", "answered")]
    await pub.on_effect(ringing("600.2"))  # the next call
    await pub.on_effect(CallEnded(linkedid="600.1", at=now, record=make_record("600.1")))  # no pop for it: not kept
    await pub.on_effect(ringing("600.3", "PJSIP/adv8"))  # another advisor's
    await pub.drained()
    assert [(m.linkedid, m.type) for m in await current_call(redis, 7)] == [("600.2", "pop")]
    await call_done(redis, 7, "600.1")  # an older call qualified: the current one stays
    assert [m.linkedid for m in await current_call(redis, 7)] == ["600.2"]
    await call_done(redis, 7, "600.2")
    assert await current_call(redis, 7) == []
    assert [m.linkedid for m in await current_call(redis, 8)] == ["600.3"]


async def test_the_presence_changes_of_a_step_reach_each_desk(
    two: tuple[Instance, Instance], redis: aioredis.Redis, session: aiohttp.ClientSession
) -> None:
    a, b = two
    seven, eight = await connect(session, a, 7), await connect(session, b, 8)
    await subscribed(a, redis)
    await subscribed(b, redis)
    now = datetime.now(UTC)
    presence = PresencePublisher(redis)
    await presence(
        [
            StateChange(advisor_id=7, state=AdvisorState.RINGING, at=now, linkedid="600.1"),
            StateChange(advisor_id=8, state=AdvisorState.PAUSED, at=now, reason="meal"),
        ],
    )
    first, second = await receive(seven), await receive(eight)
    assert (first["type"], first["detail"], first["linkedid"]) == ("presence", "ringing", "600.1")
    assert (second["type"], second["detail"]) == ("presence", "paused")
    await presence([])  # nothing to send: no command
    await seven.close()
    await eight.close()


async def test_a_slow_browser_never_delays_the_others(
    two: tuple[Instance, Instance], redis: aioredis.Redis, session: aiohttp.ClientSession
) -> None:
    a, _ = two
    slow = await connect(session, a, 7)  # never reads
    fast = await connect(session, a, 8)
    await subscribed(a, redis)
    pub = publisher(redis)
    big = "x" * 60_000
    for n in range(400):  # far more than the slow socket's queue and TCP buffers hold
        await pub.publish(
            DeskMessage(
                id=f"flood-{n}",
                type="pop",
                linkedid=f"9.{n}",
                advisor_id=7,
                event_at=datetime.now(UTC),
                caller_name=big[:80],
                caller_display=big,
            )
        )
    await pub.on_effect(ringing("400.1", "PJSIP/adv8"))
    pop = await receive(fast)
    assert pop["linkedid"] == "400.1"
    await fast.close()
    await slow.close()


async def test_a_socket_without_a_user_is_refused(
    two: tuple[Instance, Instance], session: aiohttp.ClientSession
) -> None:
    a, _ = two
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(a.server.make_url("/ws"))
    assert refused.value.status == 403


async def test_the_callers_context_is_looked_up_as_the_call_queues_and_reused_by_its_rings(
    redis: aioredis.Redis,
) -> None:
    looked_up: list[str | None] = []
    answer = asyncio.Event()

    async def context_of(number: str | None, raw: str = "") -> CallerContext:
        looked_up.append(number)
        await answer.wait()  # the database answers when the test says so
        return CallerContext(commune="Arras (62041)")

    pub = publisher(redis, context_of)
    now = datetime.now(UTC)
    await pub.on_effect(CallQueued(linkedid="700.1", at=now, queue="gps", caller_number="+33321000001", topic=None))
    # on_effect returned while the look-up waits for its answer: the service loop did not wait for it
    await asyncio.sleep(0)  # one yield: the look-up's task takes its first step
    assert looked_up == ["+33321000001"]  # started at queue time
    answer.set()
    await pub.on_effect(ringing("700.1"))
    await pub.on_effect(AdvisorRingEnded(linkedid="700.1", at=now, interface="PJSIP/adv7", result=RingResult.NO_ANSWER))
    await pub.on_effect(ringing("700.1", "PJSIP/adv8"))  # the next advisor after a ring-no-answer
    await pub.drained()
    pops = [m for m in await pending(redis, 7) + await pending(redis, 8) if m.type == "pop"]
    assert [(m.advisor_id, m.context and m.context.commune) for m in pops] == [
        (7, "Arras (62041)"),
        (8, "Arras (62041)"),
    ]
    assert looked_up == ["+33321000001"]  # one look-up for the call's two rings
    await pub.on_effect(CallEnded(linkedid="700.1", at=now, record=make_record("700.1")))
    await pub.on_effect(ringing("700.2", "PJSIP/adv9"))  # a call whose queueing was not seen (service restarted)
    assert looked_up == ["+33321000001", "+33321000001"]  # looked up at ring time instead
    assert pub.prefetched == 0  # the ended call's context is let go


async def test_an_internal_extension_s_context_is_looked_up_by_the_number_asterisk_gave(
    redis: aioredis.Redis,
) -> None:
    """An extension has no E.164 form: the look-up gets the raw number (the directory names the service)."""
    looked_up: list[tuple[str | None, str]] = []

    async def context_of(number: str | None, raw: str = "") -> CallerContext:
        looked_up.append((number, raw))
        return CallerContext(commune="Arras (62041)")

    pub = publisher(redis, context_of)
    now = datetime.now(UTC)
    await pub.on_effect(
        CallStarted(
            linkedid="710.1", at=now, caller_number=None, caller_name=None, caller_number_raw="4321", line_open=True
        )
    )
    await pub.on_effect(CallQueued(linkedid="710.1", at=now, queue="gps", caller_number=None, topic=None))
    await pub.on_effect(ringing("710.1").model_copy(update={"caller_number": None}))
    await pub.drained()
    assert looked_up == [(None, "4321")]  # at queue time, reused by the ring
    pops = [m for m in await pending(redis, 7) if m.type == "pop"]
    assert [(m.linkedid, m.context and m.context.commune) for m in pops] == [("710.1", "Arras (62041)")]
    await pub.on_effect(CallStarted(linkedid="711.1", at=now, caller_number=None, caller_name=None, line_open=True))
    await pub.on_effect(CallQueued(linkedid="711.1", at=now, queue="gps", caller_number=None, topic=None))
    assert looked_up == [(None, "4321")]  # withheld: nothing to look up


async def test_the_subscription_is_made_again_when_redis_drops_it(
    two: tuple[Instance, Instance], redis: aioredis.Redis, session: aiohttp.ClientSession
) -> None:
    a, _ = two
    ws = await connect(session, a, 7)
    await subscribed(a, redis)
    assert a.hub.subscriptions == 1
    await redis.client_kill_filter(_type="pubsub")  # Redis restarted, or the connection cut
    await asyncio.wait_for(a.hub.until(lambda: a.hub.subscriptions == 2), WITHIN)
    await publisher(redis).on_effect(ringing("800.1"))
    pop = await receive(ws)
    assert pop["linkedid"] == "800.1"
    await ws.close()
