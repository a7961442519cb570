"""The AMI edge against a peer under the test's control (bench.ami_peer): what a real Asterisk cannot be made to do
on demand, such as refusing sessions at will or cutting one at a chosen moment."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from pydantic import SecretStr

from bench.ami_peer import AmiPeer
from telephony.ami import AmiClient, AmiConfig
from telephony.events import AmiEvent, Snapshot
from tests.integration.harness import WITHIN


def config(peer: AmiPeer, **changes: float) -> AmiConfig:
    values: dict[str, float] = {
        "ping_interval": 0.3,
        "ping_timeout": 5.0,
        "reconnect_min": 0.05,
        "reconnect_max": 0.4,
        "action_timeout": 10.0,
    }
    values.update(changes)
    return AmiConfig(host=peer.host, port=peer.port, username="gps", secret=SecretStr("s"), **values)


@contextlib.asynccontextmanager
async def running(client: AmiClient) -> AsyncIterator[AmiClient]:
    task = asyncio.create_task(client.run())
    try:
        yield client
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def next_backoff(client: AmiClient, peer: AmiPeer) -> float:
    """The wait the client chose after its current session ended (it sets it, then reports the change)."""
    sessions = peer.sessions

    async def ended() -> None:
        while True:
            await client.changed()
            if not client.ready.is_set() and peer.sessions >= sessions:
                return

    await asyncio.wait_for(ended(), WITHIN)
    return client.backoff


async def test_the_reconnect_wait_starts_over_after_a_session_that_lived(report: Callable[[str], None]) -> None:
    """Issue 11, item 11: `_session()` always ends by raising, so the reset after a healthy session never ran: after
    one bad spell every later cut cost the longest wait (30 s in production)."""
    async with AmiPeer() as peer:
        events: list[AmiEvent] = []
        client = AmiClient(config(peer), events.append)
        cfg = client._config
        peer.refuse = True  # a PBX that is not ready: each session closed right after the banner
        async with running(client):
            waits = [await next_backoff(client, peer) for _ in range(5)]
            expected = [min(cfg.reconnect_min * 2**k, cfg.reconnect_max) for k in range(5)]
            assert all(0.8 * e - 1e-9 <= w <= 1.2 * e + 1e-9 for w, e in zip(waits, expected, strict=True)), waits
            # the PBX is back: a session that lives (its watchdog got Pongs), then is cut
            peer.refuse = False
            await asyncio.wait_for(client.ready.wait(), WITHIN)
            assert isinstance(events[0], Snapshot)
            await asyncio.wait_for(peer.until(lambda: peer.pongs >= 2), WITHIN)  # the first Pong was handled
            cut_at = time.perf_counter()
            logins = peer.logins
            peer.cut()
            wait = await next_backoff(client, peer)
            assert wait <= 1.2 * cfg.reconnect_min, f"{wait:.3f} s after a session that lived (before: {waits})"
            await asyncio.wait_for(peer.until(lambda: peer.logins > logins), WITHIN)
            gap = peer.login_times[-1] - cut_at
            # a session cut before its first Pong did not live: the wait grows again (a PBX that keeps failing)
            await asyncio.wait_for(client.ready.wait(), WITHIN)
            pongs = peer.pongs
            peer.cut()
            again = await next_backoff(client, peer)
            assert peer.pongs == pongs, "the test must cut the session before its first Ping"
            assert 0.8 * 2 * cfg.reconnect_min <= again <= 1.2 * 2 * cfg.reconnect_min, again
    report(
        f"AMI reconnect waits (min {cfg.reconnect_min} s, max {cfg.reconnect_max} s): refused "
        + ", ".join(f"{w:.3f}" for w in waits)
        + f"; after a session that lived {wait:.3f} s (measured: login again {gap * 1000:.0f} ms after the cut);"
        f" after one that did not {again:.3f} s"
    )


async def test_a_peer_closing_during_the_login_is_retried_at_the_backoff_not_after_the_action_timeout() -> None:
    """The login (and the snapshot) waited for their reply until the action timeout even when the link was gone."""
    async with AmiPeer() as peer:
        peer.refuse = True
        client = AmiClient(config(peer, action_timeout=3600), lambda e: None)
        async with running(client):
            await asyncio.wait_for(peer.until(lambda: peer.sessions >= 3), WITHIN)
        assert client.stats.connects == 0
