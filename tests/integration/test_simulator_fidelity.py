"""The PBX simulator's fidelity: for every scenario captured from the real Asterisk rig (`tests/captures/`), the
simulator, driven the way `scripts/capture_ami.py` drives Asterisk, emits AMI bytes that the service's own edge and
tracker turn into the same call record as the real capture (every field but ids and times).

The simulator runs in real time with short timers; the test waits on the simulator's events, never on sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import time
from pathlib import Path
from typing import Any

import pytest

from config.settings import WEEKDAYS, LineSettings, OpeningHours, OpeningSpan
from simulator.frames import parse_action
from simulator.pbx import CallSpec, Pbx, Phone, QueueConfig
from telephony.calls import CallTracker
from telephony.effects import CallEnded
from telephony.records import CallRecord
from telephony.replay import replay

RIG = Path(__file__).resolve().parents[1] / "captures"
ALWAYS = OpeningHours(week={d: (OpeningSpan(start=time(0), end=time(23, 59, 59)),) for d in WEEKDAYS})
CLOSED = OpeningHours(week={})
TIMES = {
    "arrived_at",
    "transferred_at",
    "queue_entered_at",
    "queue_left_at",
    "answered_at",
    "talk_ended_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
    "hold_seconds",
}


def records_of(data: bytes, hours: OpeningHours) -> list[CallRecord]:
    tracker = CallTracker(LineSettings(), hours)
    return [fx.record for e in replay([data]) for fx in tracker.apply(e) if isinstance(fx, CallEnded)]


def shape(record: CallRecord) -> dict[str, Any]:
    """The record without its ids and times."""
    out = record.model_dump(mode="json", exclude=TIMES | {"linkedid"})
    out["rings"] = [(r["interface"], r["member_name"], r["result"]) for r in out["rings"]]
    return out


class Sim:
    """The simulator, its bytes, and a way to wait for one of its events."""

    def __init__(self, hours: OpeningHours = ALWAYS, phones: dict[str, Phone] | None = None) -> None:
        known = phones or {}
        self.pbx = Pbx(
            hours=hours,
            queue=QueueConfig(ring_timeout=0.4, retry=0.05),
            phone_of=lambda interface: known.get(interface, Phone()),
        )
        self.data = bytearray()
        self._seen: list[dict[str, str]] = []
        self._changed = asyncio.Event()
        self.pbx.listeners.add(self._on)

    def _on(self, data: bytes) -> None:
        self.data += data
        self._seen.append(parse_action(data))
        self._changed.set()

    async def event(self, name: str, **headers: str) -> dict[str, str]:
        index = 0
        while True:
            for e in self._seen[index:]:
                if e.get("event") == name and all(e.get(k.lower()) == v for k, v in headers.items()):
                    return e
            index = len(self._seen)
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), 10)

    def act(self, **fields: str) -> dict[str, str]:
        replies = self.pbx.action(fields["Action"], {k.lower(): v for k, v in fields.items()}, "t-1")
        reply = parse_action(replies[0])
        assert reply["response"] == "Success", reply
        return reply

    def add(self, interface: str, name: str, **extra: str) -> None:
        self.act(Action="QueueAdd", Queue="gps", Interface=interface, MemberName=name, Penalty="0", **extra)


async def answered(s: Sim) -> CallSpec:
    s.add("Local/adv1@advisors", "Advisor 1")
    return CallSpec("0321000001", "Hélène Lefèvre", talk=0.2)


async def abandoned(s: Sim) -> CallSpec:
    s.add("Local/adv1@advisors", "Advisor 1")
    s.act(Action="QueuePause", Queue="gps", Interface="Local/adv1@advisors", Paused="true", Reason="lunch")
    return CallSpec("0321000002", "Marie Martin", patience=0.3)


async def abandoned_ringing(s: Sim) -> CallSpec:
    s.add("Local/ring1@advisors", "Advisor R1")
    return CallSpec("0321000003", "Paul Durand", patience=0.2)


async def ring_no_answer(s: Sim) -> CallSpec:
    s.add("Local/ring1@advisors", "Advisor R1")

    async def second_member() -> None:
        await s.event("AgentCalled", Interface="Local/ring1@advisors")
        s.add("Local/adv2@advisors", "Advisor 2")

    asyncio.get_running_loop().create_task(second_member())
    return CallSpec("0321000004", "Luc Petit", talk=0.2)


async def closed(s: Sim) -> CallSpec:
    return CallSpec("0321000005", "Anne Moreau", talk=0.1)


async def blind_transfer(s: Sim) -> CallSpec:
    s.add("Local/adv1@advisors", "Advisor 1")

    async def transfer() -> None:
        connect = await s.event("AgentConnect")
        s.act(Action="BlindTransfer", Channel=connect["destchannel"], Exten="2001", Context="services")

    asyncio.get_running_loop().create_task(transfer())
    return CallSpec("0321000006", "Louis Girard", talk=60, service_talk=0.2)


async def attended_transfer(s: Sim) -> CallSpec:
    s.add("Local/adv1@advisors", "Advisor 1")

    async def transfer_when_consulting() -> None:
        connect = await s.event("AgentConnect")
        advisor = connect["destchannel"]
        s.act(Action="Atxfer", Channel=advisor, Exten="2001", Context="services")
        await s.event("BridgeEnter", Channel="Local/2001@services-00000003;2")  # both halves bridged
        s.act(Action="Hangup", Channel=advisor)

    asyncio.get_running_loop().create_task(transfer_when_consulting())
    return CallSpec("0321000007", "Julie Roux", talk=60, service_talk=0.2)


async def attended_transfer_cancelled(s: Sim) -> CallSpec:
    s.add("Local/adv1@advisors", "Advisor 1")

    async def consult_then_cancel() -> None:
        connect = await s.event("AgentConnect")
        advisor = connect["destchannel"]
        s.act(Action="Atxfer", Channel=advisor, Exten="2001", Context="services")
        await s.event("BridgeEnter", Channel="Local/2001@services-00000003;2")
        s.act(Action="CancelAtxfer", Channel=advisor)
        await s.event("Hangup", Channel="Local/2001@services-00000003;2")  # the consultation is gone
        s.act(Action="Hangup", Channel=advisor)

    asyncio.get_running_loop().create_task(consult_then_cancel())
    return CallSpec("0321000008", "Léa Petit", talk=60, service_talk=60)


async def anonymous(s: Sim) -> CallSpec:
    s.add("Local/adv1@advisors", "Advisor 1")
    return CallSpec(None, "<script>alert(1)</script>", talk=0.2)


Scenario = Callable[[Sim], Awaitable[CallSpec]]
SCENARIOS: list[tuple[str, Scenario, OpeningHours, dict[str, Phone]]] = [
    ("answered", answered, ALWAYS, {}),
    ("abandoned", abandoned, ALWAYS, {}),
    ("abandoned_ringing", abandoned_ringing, ALWAYS, {"Local/ring1@advisors": Phone(answers=False)}),
    ("ring_no_answer", ring_no_answer, ALWAYS, {"Local/ring1@advisors": Phone(answers=False)}),
    ("closed", closed, CLOSED, {}),
    ("blind_transfer", blind_transfer, ALWAYS, {}),
    ("attended_transfer", attended_transfer, ALWAYS, {}),
    ("attended_transfer_cancelled", attended_transfer_cancelled, ALWAYS, {}),
    ("anonymous", anonymous, ALWAYS, {}),
]


@pytest.mark.parametrize(("name", "scenario", "hours", "phones"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
async def test_simulator_gives_the_records_of_the_real_asterisk(
    name: str, scenario: Scenario, hours: OpeningHours, phones: dict[str, Phone]
) -> None:
    real = records_of((RIG / f"{name}.ami").read_bytes(), hours)
    assert len(real) == 1

    sim = Sim(hours, phones)
    spec = await scenario(sim)
    outcome = await asyncio.wait_for(sim.pbx.start_call(spec), 30)
    await asyncio.wait_for(asyncio.gather(*sim.pbx.tasks), 30)  # a transferred call ends at the service
    simulated = records_of(bytes(sim.data), hours)
    await sim.pbx.close()

    assert len(simulated) == 1, outcome
    assert shape(simulated[0]) == shape(real[0])
    assert not sim.pbx.channels, "every simulated channel was hung up"


@pytest.mark.parametrize(("answers", "response", "reason"), [(True, "Success", "4"), (False, "Failure", "3")])
async def test_originate_rings_the_advisor_then_dials_the_citizen(answers: bool, response: str, reason: str) -> None:
    """What a callback will send: Originate of the advisor's phone into the dialplan that dials the citizen."""
    sim = Sim(phones={"Local/adv1@advisors": Phone(answers=answers, answer_after=0.05)})
    sim.pbx.originate_talk = 0.1
    sim.pbx.citizen_answers = lambda: 0.05
    sim.act(
        Action="Originate",
        Channel="Local/adv1@advisors",
        Context="outbound",
        Exten="0321000099",
        CallerID='"GPS administration" <0800123456>',
        Timeout="300",
        Async="true",
    )
    result = await sim.event("OriginateResponse")
    assert (result["response"], result["reason"], result["actionid"]) == (response, reason, "t-1")
    await asyncio.wait_for(asyncio.gather(*sim.pbx.tasks), 10)
    if answers:  # the citizen's leg was dialled, answered and bridged with the advisor
        await sim.event("DialEnd", DestChannel="Local/0321000099@outbound-00000001;1", DialStatus="ANSWER")
        await sim.event("BridgeEnter", Channel="Local/0321000099@outbound-00000001;1")
    assert not sim.pbx.channels, "every channel hung up"
    assert records_of(bytes(sim.data), ALWAYS) == []  # not a call of the public line
    assert parse_action(sim.pbx.action("Originate", {"channel": ""}, "t-2")[0])["response"] == "Error"


async def test_the_demos_advisor_puts_a_caller_on_hold() -> None:
    """`CallSpec.hold` (the demo's `Mix.hold`): Hold then Unhold on the member's channel during the talk, the
    frames Asterisk 22 sends for a transferer (tests/captures/attended_transfer_cancelled.ami); the tracker counts
    the span within the talk."""
    sim = Sim()
    sim.add("Local/adv1@advisors", "Advisor 1")
    spec = CallSpec("0321000009", "Inès Fournier", talk=0.6, hold=(0.1, 0.3))
    assert await asyncio.wait_for(sim.pbx.start_call(spec), 30) == "answered"
    held = await sim.event("Hold")
    resumed = await sim.event("Unhold")
    records = records_of(bytes(sim.data), ALWAYS)
    await sim.pbx.close()
    assert held["channel"] == resumed["channel"] and held["channel"].startswith("Local/adv1@advisors-")
    assert len(records) == 1 and records[0].hold_count == 1
    span = float(resumed["timestamp"]) - float(held["timestamp"])
    assert records[0].hold_seconds == pytest.approx(span, abs=1e-6)
    assert records[0].talk_seconds is not None and 0 < records[0].hold_seconds < records[0].talk_seconds
