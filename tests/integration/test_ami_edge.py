"""The AMI edge against the real Asterisk: panoramisk's defects (ASTERISK-AMI-NOTES §1) worked around."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from telephony.ami import AmiActionFailed, AmiClient, AmiConfig, AmiNotConnected
from telephony.events import AmiEvent, Snapshot
from tests.integration.harness import WITHIN
from tests.rig.asterisk import AsteriskRig, free_loopback_port

pytestmark = pytest.mark.asterisk


def config(rig: AsteriskRig, port: int | None = None, secret: str | None = None) -> AmiConfig:
    return AmiConfig(
        host=rig.host,
        port=port or rig.port,
        username=rig.username,
        secret=SecretStr(secret if secret is not None else rig.secret),
        ping_interval=1.0,
        ping_timeout=1.0,
        reconnect_min=0.1,
        reconnect_max=0.5,
    )


@contextlib.asynccontextmanager
async def running(client: AmiClient) -> AsyncIterator[AmiClient]:
    task = asyncio.create_task(client.run())
    try:
        yield client
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def client(asterisk_rig: AsteriskRig) -> AsyncIterator[AmiClient]:
    events: list[AmiEvent] = []
    async with running(AmiClient(config(asterisk_rig), events.append)) as c:
        await asyncio.wait_for(c.ready.wait(), WITHIN)
        assert isinstance(events[0], Snapshot)  # the snapshot comes before any live event
        yield c


async def test_queue_add_and_remove_resolve(client: AmiClient) -> None:
    """D1: QueueAdd's reply is read as complete (panoramisk would wait forever)."""
    added = await client.send({"Action": "QueueAdd", "Queue": "gps", "Interface": "Local/adv7@advisors"})
    assert "added" in added.get("Message", "").lower()
    removed = await client.send({"Action": "QueueRemove", "Queue": "gps", "Interface": "Local/adv7@advisors"})
    assert "removed" in removed.get("Message", "").lower()
    assert client.stats.disconnects == 0


async def test_originate_without_async_header_does_not_drop_the_link(client: AmiClient) -> None:
    """D2: "successfully queued" to an action without Async used to raise inside data_received."""
    reply = await client.send(
        {"Action": "Originate", "Channel": "Local/adv8@advisors", "Application": "Wait", "Data": "1"}
    )
    assert reply.get("Response") == "Success"
    pong = await client.send({"Action": "Ping"})
    assert pong.get("Response") == "Success"
    assert client.stats.disconnects == 0 and client.stats.callback_errors == 0


async def test_a_refused_action_is_a_clear_error_and_the_link_stays(client: AmiClient) -> None:
    with pytest.raises(AmiActionFailed, match="Asterisk refused Atxfer"):
        await client.send({"Action": "Atxfer", "Channel": "PJSIP/nobody-00000000", "Exten": "2001"})
    with pytest.raises(AmiActionFailed, match="QueueAdd"):
        await client.send({"Action": "QueueAdd", "Queue": "no-such-queue", "Interface": "Local/adv1@advisors"})
    assert (await client.send({"Action": "Ping"})).get("Response") == "Success"
    assert client.stats.disconnects == 0


async def test_actions_while_the_link_is_down_fail_at_once(asterisk_rig: AsteriskRig) -> None:
    """D6: no silent queue of actions that would be replayed later (or never)."""
    client = AmiClient(config(asterisk_rig, port=free_loopback_port()), lambda e: None)
    with pytest.raises(AmiNotConnected):
        await client.send({"Action": "Ping"})


async def test_wrong_secret_is_counted_and_retried_without_crashing(asterisk_rig: AsteriskRig) -> None:
    client = AmiClient(config(asterisk_rig, secret="wrong"), lambda e: None)
    async with running(client):
        while client.stats.login_failures < 2:
            await asyncio.wait_for(client.changed(), WITHIN)
    assert not client.ready.is_set()


async def test_started_before_asterisk_connects_once_it_is_up() -> None:
    """D8: the service may start first; one reconnection loop (ours) brings it up, no stacked sessions."""
    port = free_loopback_port()
    rig = AsteriskRig(port=port)
    events: list[AmiEvent] = []
    client = AmiClient(config(rig, port=port), events.append)
    async with running(client):
        for _ in range(2):  # two refused attempts
            await asyncio.wait_for(client.changed(), WITHIN)
        assert not client.ready.is_set()
        await asyncio.to_thread(rig.start)
        try:
            client_config = config(rig, port=port)
            client._config = client_config  # the rig's credentials are known only once it runs
            await asyncio.wait_for(client.ready.wait(), WITHIN)
            sessions = rig.cli("manager show connected")
        finally:
            await asyncio.to_thread(rig.stop)
    assert client.stats.connects == 1
    assert sessions.count(rig.username) == 1, sessions
    assert isinstance(events[0], Snapshot)
