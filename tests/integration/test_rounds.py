"""storage.redis.rounds against a real Redis: calls made during a round leave together, in order, each with its own
answer or error; a script Redis forgot is sent again; a cancelled driver does not strand the others' calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from storage.redis.rounds import Rounds
from tests.servers import redis_url

REDIS = redis_url(8)
WITHIN = 10.0

# Appends ARGV[1] to the list KEYS[1]; returns the list's length.
PUSH = "return redis.call('rpush', KEYS[1], ARGV[1])"
# Fails when ARGV[1] is "fail".
MAYBE_FAIL = "if ARGV[1] == 'fail' then return redis.error_reply('asked to fail') end return ARGV[1]"


async def held_by_pause(admin: aioredis.Redis) -> None:
    """Until a client's EVAL/EVALSHA waits in Redis's CLIENT PAUSE (flag b)."""
    while not any("b" in c["flags"] and c["cmd"] in ("evalsha", "eval") for c in await admin.client_list()):
        pass


@pytest.fixture
async def redis() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(REDIS)
    await client.flushdb()
    yield client
    await client.aclose()


async def test_calls_made_during_a_round_leave_together_in_order(redis: aioredis.Redis) -> None:
    rounds = Rounds(redis)
    push = rounds.script(PUSH)
    lengths = await asyncio.gather(*(push(keys=["l"], args=[str(n)]) for n in range(20)))
    assert lengths == list(range(1, 21))  # each call its own answer
    assert await redis.lrange("l", 0, -1) == [str(n).encode() for n in range(20)]  # in the order made
    assert rounds.calls == 20 and rounds.rounds == 2  # the first alone, the 19 made meanwhile together


async def test_a_lone_call_leaves_at_once_and_the_script_is_loaded_by_its_first_use(redis: aioredis.Redis) -> None:
    await redis.script_flush()
    rounds = Rounds(redis)
    push = rounds.script(PUSH)
    assert await push(keys=["l"], args=["a"]) == 1  # EVAL: loads it
    assert await redis.script_exists(push.sha) == [True]
    assert await push(keys=["l"], args=["b"]) == 2  # EVALSHA
    assert rounds.rounds == 2


async def test_each_call_gets_its_own_error(redis: aioredis.Redis) -> None:
    rounds = Rounds(redis)
    maybe = rounds.script(MAYBE_FAIL)
    results = await asyncio.gather(*(maybe(args=[v]) for v in ("a", "b", "fail", "c")), return_exceptions=True)
    assert results[:2] == [b"a", b"b"] and results[3] == b"c"
    assert isinstance(results[2], ResponseError) and "asked to fail" in str(results[2])


async def test_a_script_redis_forgot_is_sent_again(redis: aioredis.Redis) -> None:
    rounds = Rounds(redis)
    push = rounds.script(PUSH)
    await push(keys=["l"], args=["before"])
    await redis.script_flush()  # as a restart of a Redis that keeps nothing does
    assert list(await asyncio.gather(push(keys=["l"], args=["x"]), push(keys=["l"], args=["y"]))) == [2, 3]
    assert await redis.lrange("l", 0, -1) == [b"before", b"x", b"y"]


async def test_sends_are_not_waited_for_keep_their_order_and_drain(redis: aioredis.Redis) -> None:
    rounds = Rounds(redis)
    push = rounds.script(PUSH)
    for n in range(5):
        rounds.send(push, ["l"], [str(n)], f"push {n}")
    assert await push(keys=["l"], args=["last"]) == 6  # a call made after the sends is answered after them
    rounds.send(push, ["l"], ["after"], "push after")
    await asyncio.wait_for(rounds.drained(), WITHIN)
    assert await redis.lrange("l", 0, -1) == [b"0", b"1", b"2", b"3", b"4", b"last", b"after"]
    await asyncio.wait_for(rounds.drained(), WITHIN)  # nothing in flight: returns at once


async def test_a_failed_send_is_logged_with_what_it_was_and_counted(
    redis: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    rounds = Rounds(redis)
    maybe = rounds.script(MAYBE_FAIL)
    with caplog.at_level(logging.WARNING, logger="storage.redis.rounds"):
        rounds.send(maybe, [], ["fail"], "desk message 1.2:7:pop")
        rounds.send(maybe, [], ["fine"], "desk message 1.2:7:answered")
        await asyncio.wait_for(rounds.drained(), WITHIN)
    assert rounds.failed == 1
    assert [r.getMessage() for r in caplog.records] == ["desk message 1.2:7:pop not sent to Redis: asked to fail"]


async def test_a_cancelled_driver_does_not_strand_the_calls_queued_behind_it(redis: aioredis.Redis) -> None:
    rounds = Rounds(redis)
    push = rounds.script(PUSH)
    await push(keys=["warm"], args=["x"])  # a connection in the pool, the script loaded
    admin = aioredis.from_url(REDIS)
    await admin.client_pause(5000, all=False)  # Redis holds the writes: rounds stay in flight
    try:
        driver = asyncio.create_task(push(keys=["l"], args=["driver"]))
        # the driver's command reached Redis, which holds it: cancelling now interrupts its read (a cancellation
        # during redis-py's write is swallowed on Python 3.11, CPython gh-86296, and the call then completes)
        await asyncio.wait_for(held_by_pause(admin), WITHIN)
        others = [asyncio.create_task(push(keys=["l"], args=[str(n)])) for n in range(3)]
        await asyncio.sleep(0)  # one yield: the three tasks, scheduled before this one resumes, queue their calls
        assert rounds.calls == 5 and rounds.rounds == 2 and not driver.done()
        driver.cancel()
        with pytest.raises(asyncio.CancelledError):
            await driver
    finally:
        await admin.client_unpause()
        await admin.aclose()
    assert await asyncio.wait_for(asyncio.gather(*others), WITHIN)  # answered by a round task of their own
    assert (await redis.lrange("l", 0, -1))[-3:] == [b"0", b"1", b"2"]  # the driver's may or may not be there


async def test_a_round_redis_does_not_answer_fails_within_its_bound(redis: aioredis.Redis) -> None:
    """A Redis that holds the connection open without answering (here: CLIENT PAUSE) fails the round after
    `within`, rather than holding its callers (the service loop, for a claim) for ever; then a new connection."""
    rounds = Rounds(redis, within=0.3)
    push = rounds.script(PUSH)
    await push(keys=["warm"], args=["x"])  # a connection in the pool, the script loaded
    admin = aioredis.from_url(REDIS)
    await admin.client_pause(10_000, all=False)  # Redis holds the writes
    try:
        with pytest.raises(aioredis.TimeoutError, match=r"did not answer within 0\.3 s"):
            await push(keys=["l"], args=["held"])
        rounds.send(push, ["l"], ["sent"], "push sent")
        await rounds.drained()
        assert rounds.failed == 1
    finally:
        await admin.client_unpause()
        await admin.aclose()
    assert await push(keys=["l"], args=["after"]) >= 1  # answered again, on a new connection
    assert (await redis.lrange("l", 0, -1))[-1] == b"after"


async def test_redis_unreachable_fails_every_call_of_the_round() -> None:
    client = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    rounds = Rounds(client)
    push = rounds.script(PUSH)
    results = await asyncio.gather(*(push(keys=["l"], args=[str(n)]) for n in range(3)), return_exceptions=True)
    assert all(isinstance(r, aioredis.ConnectionError) for r in results), results
    rounds.send(push, ["l"], ["x"], "push x")
    await asyncio.wait_for(rounds.drained(), WITHIN)
    assert rounds.failed == 1
    await client.aclose()
