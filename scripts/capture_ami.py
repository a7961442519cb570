#!/usr/bin/env python3
"""Capture real AMI traffic from the project's Asterisk rig into tests/captures/<scenario>.ami.

Each scenario runs one call on a freshly started rig (tests/rig/asterisk.py, test configuration from
tests/asterisk/ with its eventfilter in force) and writes every byte read from AMI, from the greeting on.
Needs root (the rig is a Debian sid chroot). Usage:

    .venv/bin/python scripts/capture_ami.py [--out tests/captures] [scenario ...]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.rig.asterisk import AmiConnection, AmiFrame, AsteriskRig  # noqa: E402

STEP = 15.0  # seconds allowed for each awaited frame
IDLE = 1.0  # after a scenario's last expected frame, keep reading until AMI is quiet this long

Fields = list[tuple[str, str]]


class Call:
    """Tracks the frames of one scenario: live channels and the events seen so far."""

    def __init__(self, ami: AmiConnection) -> None:
        self.ami = ami
        self.frames: list[AmiFrame] = []
        self.live: set[str] = set()
        self.created = 0

    async def frame(self) -> AmiFrame:
        frame = await self.ami.read_frame()
        self.frames.append(frame)
        event = frame.get("Event")
        if event == "Newchannel":
            self.live.add(frame["Uniqueid"])
            self.created += 1
        elif event == "Hangup":
            self.live.discard(frame.get("Uniqueid", ""))
        return frame

    async def until(self, predicate: Callable[[AmiFrame], bool], what: str) -> AmiFrame:
        async def scan() -> AmiFrame:
            while True:
                frame = await self.frame()
                if predicate(frame):
                    return frame

        try:
            return await asyncio.wait_for(scan(), STEP)
        except TimeoutError:
            raise RuntimeError(f"timed out waiting for {what}") from None

    async def event(self, name: str, **headers: str) -> AmiFrame:
        return await self.until(
            lambda f: f.get("Event") == name and all(f.get(k) == v for k, v in headers.items()),
            f"{name} {headers}",
        )

    async def action(self, fields: Fields) -> AmiFrame:
        action_id = await self.ami.send(fields)
        reply = await self.until(lambda f: f.get("ActionID") == action_id and "Response" in f, str(fields[0]))
        if reply["Response"] != "Success":
            raise RuntimeError(f"{fields} -> {reply}")
        return reply

    def seen(self, name: str) -> bool:
        return any(f.get("Event") == name for f in self.frames)

    async def finish(self, *required: str) -> None:
        """Read until every channel is gone and the required events were seen, then until idle."""

        def done(_: AmiFrame) -> bool:
            return self.created > 0 and not self.live and all(self.seen(r) for r in required)

        if not (self.created > 0 and not self.live and all(self.seen(r) for r in required)):
            await self.until(done, f"all hangups and {required}")
        while True:
            try:
                await asyncio.wait_for(self.frame(), IDLE)
            except TimeoutError:
                return

    async def add_member(self, interface: str, name: str) -> None:
        await self.action(
            [
                ("Action", "QueueAdd"),
                ("Queue", "gps"),
                ("Interface", interface),
                ("MemberName", name),
            ]
        )

    async def originate(self, number: str, caller_id: str, *variables: str) -> None:
        await self.action(
            [
                ("Action", "Originate"),
                ("Channel", f"Local/{number}@callers"),
                ("Application", "Wait"),
                ("Data", "120"),
                ("CallerID", caller_id),
                ("Async", "true"),
                *(("Variable", v) for v in variables),
            ]
        )


HELENE = '"Hélène Lefèvre" <0321000001>'


async def answered(c: Call) -> None:
    await c.add_member("Local/adv1@advisors", "Advisor 1")
    await c.originate("0321000001", HELENE, "__ADVISOR_TALK=2")
    await c.event("AgentConnect")
    await c.finish("AgentComplete")


async def abandoned(c: Call) -> None:
    await c.add_member("Local/adv1@advisors", "Advisor 1")
    await c.action(
        [
            ("Action", "QueuePause"),
            ("Queue", "gps"),
            ("Interface", "Local/adv1@advisors"),
            ("Paused", "true"),
            ("Reason", "lunch"),
        ]
    )
    await c.originate("0321000002", '"Marie Martin" <0321000002>', "CALLER_HANGUP_AFTER=2")
    await c.finish("QueueCallerAbandon")


async def abandoned_ringing(c: Call) -> None:
    await c.add_member("Local/ring1@advisors", "Advisor R1")
    await c.originate("0321000003", '"Paul Durand" <0321000003>', "CALLER_HANGUP_AFTER=2")
    await c.finish("QueueCallerAbandon")


async def ring_no_answer(c: Call) -> None:
    # With leastrecent and two never-called members the tie is broken by app_queue's internal
    # (hash) order, which rings adv2 first. To ring ring1 first whatever that order, adv2 logs in
    # while ring1 is ringing: the queue's next round (after ring1's 3 s timeout) offers the call to adv2.
    await c.add_member("Local/ring1@advisors", "Advisor R1")
    await c.originate("0321000004", '"Luc Petit" <0321000004>', "__ADVISOR_TALK=2")
    await c.event("AgentCalled", Interface="Local/ring1@advisors")
    await c.add_member("Local/adv2@advisors", "Advisor 2")
    await c.event("AgentRingNoAnswer", Interface="Local/ring1@advisors")
    await c.event("AgentConnect")
    await c.finish("AgentComplete")


async def closed(c: Call) -> None:
    await c.originate("0321000005", '"Anne Moreau" <0321000005>', "__LINE_CLOSED=1")
    await c.finish()


async def blind_transfer(c: Call) -> None:
    await c.add_member("Local/adv1@advisors", "Advisor 1")
    await c.originate("0321000006", '"Louis Girard" <0321000006>', "__ADVISOR_TALK=60", "__SERVICE_TALK=2")
    connect = await c.event("AgentConnect")
    await c.event("BridgeEnter", Channel=connect["DestChannel"])
    await c.action(
        [
            ("Action", "BlindTransfer"),
            ("Channel", connect["DestChannel"]),
            ("Exten", "2001"),
            ("Context", "services"),
        ]
    )
    await c.finish("BlindTransfer", "AgentComplete")


async def attended_transfer(c: Call) -> None:
    await c.add_member("Local/adv1@advisors", "Advisor 1")
    await c.originate("0321000007", '"Julie Roux" <0321000007>', "__ADVISOR_TALK=60", "__SERVICE_TALK=3")
    connect = await c.event("AgentConnect")
    advisor = connect["DestChannel"]
    await c.event("BridgeEnter", Channel=advisor)
    await c.action([("Action", "Atxfer"), ("Channel", advisor), ("Exten", "2001"), ("Context", "services")])
    # the consultation leg to the service is up and bridged with the advisor: complete the transfer
    await c.until(
        lambda f: f.get("Event") == "BridgeEnter" and f.get("Channel", "").startswith("Local/2001@services-"),
        "consultation leg in a bridge",
    )
    await c.action([("Action", "Hangup"), ("Channel", advisor)])
    await c.finish("AttendedTransfer", "AgentComplete")


async def attended_transfer_cancelled(c: Call) -> None:
    """The advisor consults the service, cancels (AMI CancelAtxfer: back to the caller), then hangs up."""
    await c.add_member("Local/adv1@advisors", "Advisor 1")
    await c.originate("0321000008", '"Léa Petit" <0321000008>', "__ADVISOR_TALK=60", "__SERVICE_TALK=60")
    connect = await c.event("AgentConnect")
    advisor = connect["DestChannel"]
    bridge = (await c.event("BridgeEnter", Channel=advisor))["BridgeUniqueid"]
    await c.action([("Action", "Atxfer"), ("Channel", advisor), ("Exten", "2001"), ("Context", "services")])
    await c.until(
        lambda f: f.get("Event") == "BridgeEnter" and f.get("Channel") == advisor and f["BridgeUniqueid"] != bridge,
        "advisor in the consultation bridge",
    )
    await c.action([("Action", "CancelAtxfer"), ("Channel", advisor)])
    await c.event("BridgeEnter", Channel=advisor, BridgeUniqueid=bridge)
    await c.action([("Action", "Hangup"), ("Channel", advisor)])
    await c.finish("AgentComplete")


async def anonymous(c: Call) -> None:
    await c.add_member("Local/adv1@advisors", "Advisor 1")
    await c.originate("anonymous", '"<script>alert(1)</script>" <>', "__ADVISOR_TALK=2")
    await c.event("AgentConnect")
    await c.finish("AgentComplete")


SCENARIOS: dict[str, Callable[[Call], Awaitable[None]]] = {
    "answered": answered,
    "abandoned": abandoned,
    "abandoned_ringing": abandoned_ringing,
    "ring_no_answer": ring_no_answer,
    "closed": closed,
    "blind_transfer": blind_transfer,
    "attended_transfer": attended_transfer,
    "attended_transfer_cancelled": attended_transfer_cancelled,
    "anonymous": anonymous,
}


async def capture(name: str, out: Path) -> None:
    rig = AsteriskRig()
    rig.start()
    try:
        ami = await AmiConnection.login(rig)
        call = Call(ami)
        started = time.monotonic()
        try:
            await SCENARIOS[name](call)
        finally:
            await ami.close()
            (out / f"{name}.ami").write_bytes(bytes(ami.raw))
        counts = collections.Counter(f["Event"] for f in call.frames if "Event" in f)
        print(
            f"{name}: {sum(counts.values())} events in {time.monotonic() - started:.1f} s "
            + " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        )
        if rig.process_exit_code() is not None:
            raise RuntimeError(f"Asterisk died during {name}:\n{rig.log_tail()}")
    finally:
        rig.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "tests" / "captures")
    parser.add_argument("scenarios", nargs="*", metavar="scenario", help=" ".join(SCENARIOS))
    args = parser.parse_args()
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.scenarios or list(SCENARIOS):
        asyncio.run(capture(name, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
