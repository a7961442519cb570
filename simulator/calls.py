"""Calls to the public line, from the caller's dial to the last hang-up, in the event orders of the rig captures.

One task per call: the caller's side dials the public number (`Local/<number>@callers` → `<public>@<context>`), the
line plays the closed message or enters the queue (with the voice-menu topic as UserEvent GpsTopic); the queue
offers a member (`simulator.queue`), whose phone rings (AgentCalled, DialBegin) until it answers, the ring timeout
passes (AgentRingNoAnswer, then `retry` s before the next turn) or the caller gives up; once answered, the call
lasts the caller's `talk` s or until a command from the service's actions (transfer, hang-up).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from config.settings import LineSettings, OpeningHours
from simulator.channels import Switch
from simulator.frames import UNKNOWN, Chan, Fields
from simulator.legs import Call, Command, caller_side_down, member_leg_down, next_command
from simulator.people import CallSpec, People
from simulator.queue import Entry, Member, Queue
from simulator.stats import PbxStats
from simulator.tasks import Spawn
from simulator.transfers import Transfers
from telephony.hours import is_open

Outcome = str  # "answered" | "abandoned" | "closed" | "transferred" ("no_answer": one ring, the call goes on)


class Calls:
    def __init__(
        self,
        *,
        switch: Switch,
        queue: Queue,
        stats: PbxStats,
        line: LineSettings,
        hours: OpeningHours | None,
        people: People,
        spawn: Spawn,
    ) -> None:
        self.switch = switch
        self.queue = queue
        self.stats = stats
        self.line = line
        self.hours = hours  # None: always open
        self.people = people
        self.spawn = spawn
        self.transfers = Transfers(switch, queue, spawn)
        self.calls: dict[str, Call] = {}  # linkedid → call in progress

    def start(self, spec: CallSpec) -> asyncio.Task[Outcome]:
        """Place a call on the public line; the task's result is its outcome."""
        return self.spawn(self._run(spec))

    def of_channel(self, channel: str) -> tuple[Call, str] | None:
        """The call a live channel belongs to, and its role there."""
        for call in self.calls.values():
            for role, chan in call.chans.items():
                if chan.name == channel and chan.name in self.switch.channels:
                    return call, role
        return None

    async def _run(self, spec: CallSpec) -> Outcome:
        sw = self.switch
        self.stats.calls += 1
        linkedid = sw.uid()
        number = spec.number or "anonymous"
        # the caller's side, as the rig's originate builds it: Local/<number>@callers then the public number
        c1 = Chan(f"Local/{number}@callers-{sw.suffix()};1", linkedid, linkedid, "callers", number, 0)
        c2 = Chan(c1.name[:-1] + "2", sw.uid(), linkedid, "callers", number, 4)
        call = Call(spec, linkedid, {"c1": c1, "c2": c2})
        self.calls[linkedid] = call
        try:
            return await self._arrive(call)
        finally:
            self.calls.pop(linkedid, None)
            if call.entry is not None:
                self.queue.discard(call.entry)
            if call.member is not None and call.member.busy == linkedid:
                self.queue.free(call.member)

    async def _arrive(self, call: Call) -> Outcome:
        """The caller's side dials the public number; the line answers, then is closed or queues the caller."""
        sw = self.switch
        public = self.line.public_numbers[0]
        context = self.line.inbound_contexts[0]
        cid = (call.spec.number or UNKNOWN, call.spec.name or UNKNOWN)
        c1, c2 = call.chans["c1"], call.chans["c2"]
        sw.add(c1)
        sw.add(c2)
        sw.caller_id(c1, cid)
        sw.caller_id(c2, cid, connected=cid)
        sw.dial("DialBegin", None, c1, [("DialString", f"{c1.exten}@callers")])
        p1, p2 = sw.local_pair(f"{public}@{context}", call.linkedid, cid, cid)
        call.chans |= {"p1": p1, "p2": p2}
        sw.dial("DialBegin", c2, p1, [("DialString", f"{public}@{context}")])
        sw.state(p2, 6)
        sw.state(p1, 6)
        sw.dial("DialEnd", c2, p1, [("DialStatus", "ANSWER")])
        sw.state(c2, 6)
        sw.state(c1, 6)
        sw.dial("DialEnd", None, c1, [("DialStatus", "ANSWER")])
        sw.enter(call.bridges, "callers", p1)
        sw.enter(call.bridges, "callers", c2)
        p2.priority = 4

        if self.hours is not None and not is_open(datetime.fromtimestamp(sw.clock(), UTC), self.hours):
            await asyncio.sleep(min(call.spec.talk, 1.0))  # the closed message
            self.stats.closed += 1
            sw.hangup(p2)
            caller_side_down(sw, call)
            return "closed"

        if call.spec.topic:
            sw.emit("UserEvent", "user,all", [*p2.headers(), ("UserEvent", "GpsTopic"), ("Topic", call.spec.topic)])
        entry = call.entry = self.queue.join(call.linkedid, p2)
        self.stats.max_waiting = max(self.stats.max_waiting, entry.position)
        failsafe = self.queue.arm_failsafe(entry)
        try:
            return await self._wait_in_queue(call, entry)
        finally:
            failsafe.cancel()

    async def _wait_in_queue(self, call: Call, entry: Entry) -> Outcome:
        """The caller's turns: a member offered by the queue rings, until one answers or the caller gives up."""
        deadline = entry.joined_at + min(call.spec.patience, self.queue.config.max_wait)
        while True:
            entry.offer = asyncio.get_running_loop().create_future()
            self.queue.dispatch()
            remaining = deadline - time.monotonic()
            try:
                member = await asyncio.wait_for(asyncio.shield(entry.offer), max(0.0, remaining))
            except TimeoutError:
                if entry.offer.done() and not entry.offer.cancelled():
                    self.queue.free(entry.offer.result())
                entry.offer = None
                self._abandon(call, entry)
                return "abandoned"
            entry.offer = None
            result = await self._ring(call, entry, member, deadline)
            if result == "no_answer":
                await asyncio.sleep(self.queue.config.retry)
                continue
            return result

    async def _ring(self, call: Call, entry: Entry, member: Member, deadline: float) -> Outcome:
        """The member's phone rings: answered, not answered within the ring timeout, or the caller hangs up."""
        sw = self.switch
        p2 = call.chans["p2"]
        caller = (p2.cid_num, p2.cid_name)
        target = member.interface.removeprefix("Local/") if member.interface.startswith("Local/") else None
        if target is not None:
            a1, a2 = sw.local_pair(target, call.linkedid, caller, (UNKNOWN, UNKNOWN))
        else:  # a SIP phone: one channel
            a1 = Chan(f"{member.interface}-{sw.suffix()}", sw.uid(), call.linkedid, "from-queue", "s", 0)
            sw.add(a1)
            a2 = None
        call.chans["a1"] = a1
        if a2 is not None:
            call.chans["a2"] = a2
        call.member = member
        queue_fields: Fields = [
            ("Queue", self.queue.config.name),
            ("Interface", member.interface),
            ("MemberName", member.name),
        ]
        sw.dial("AgentCalled", p2, a1, queue_fields)
        sw.dial("DialBegin", p2, a1, [("DialString", member.interface.removeprefix("Local/"))])
        sw.state(a1, 5)
        sw.dial("DialState", p2, a1, [("DialStatus", "RINGING")])
        self.queue.ringing(member, local=target is not None)
        phone = self.people.phone_of(member.interface)
        rang = time.monotonic()
        answer_at = rang + phone.answer_after if phone.answers else float("inf")
        timeout_at = rang + self.queue.config.ring_timeout
        wake = min(answer_at, timeout_at, deadline)
        cmd = await next_command(call, wake - time.monotonic())
        now = time.monotonic()
        if (cmd is not None and cmd[0] == "hangup_caller") or (cmd is None and now >= deadline and wake == deadline):
            self._abandon_ringing(call, entry, member)
            return "abandoned"
        if wake == timeout_at and now >= timeout_at and cmd is None:
            self.stats.no_answer_rings += 1
            ring_ms = int((now - rang) * 1000)
            sw.dial("AgentRingNoAnswer", p2, a1, [*queue_fields, ("RingTime", str(ring_ms))])
            sw.dial("DialEnd", p2, a1, [("DialStatus", "NOANSWER")])
            sw.dial("DialEnd", p2, a1, [("DialStatus", "CANCEL")])
            member_leg_down(sw, call, cause=0)
            self.queue.member_done(member)
            call.member = None
            return "no_answer"
        return await self._answered(call, entry, member, queue_fields, rang)

    async def _answered(self, call: Call, entry: Entry, member: Member, queue_fields: Fields, rang: float) -> Outcome:
        """Connected: AgentConnect, the advisor's bridge, the conversation, then its end (AgentComplete)."""
        sw = self.switch
        p2, a1 = call.chans["p2"], call.chans["a1"]
        a2 = call.chans.get("a2")
        if a2 is not None:
            sw.state(a2, 6)
        sw.state(a1, 6)
        sw.dial("DialEnd", p2, a1, [("DialStatus", "ANSWER")])
        self.queue.leave(entry)
        hold = int(time.monotonic() - entry.joined_at)
        ring = int(time.monotonic() - rang)
        sw.dial("AgentConnect", p2, a1, [*queue_fields, ("HoldTime", str(hold)), ("RingTime", str(ring))])
        sw.enter(call.bridges, "agent", a1)
        sw.enter(call.bridges, "agent", p2)
        self.stats.answered += 1
        answered = time.monotonic()
        self.stats.waits.append(answered - entry.joined_at)
        member.calls_taken += 1
        member.last_call = int(sw.clock())

        def complete(reason: str) -> None:
            talk = int(time.monotonic() - answered)
            sw.dial(
                "AgentComplete",
                p2,
                a1,
                [*queue_fields, ("HoldTime", str(hold)), ("TalkTime", str(talk)), ("Reason", reason)],
            )

        spec = call.spec
        talk_ends = time.monotonic() + spec.talk
        pending = await self._hold_during_talk(call, a1) if spec.hold is not None else None
        while True:
            cmd = pending or await next_command(call, talk_ends - time.monotonic()) or _talk_over(spec)
            pending = None
            if cmd[0] != "atxfer":
                break
            if await self.transfers.attended(call, member, cmd[1], complete):
                self.stats.transferred += 1
                return "transferred"
            # cancelled: the advisor talks to the caller again
        kind, exten = cmd
        if kind == "blind":
            self.transfers.blind(call, member, exten, complete)
        elif kind == "hangup_caller":
            caller_side_down(sw, call, leave_first=True)
            sw.leave(p2)
            complete("caller")
            sw.hangup(p2)
            sw.leave(a1)
            member_leg_down(sw, call)
            self.queue.member_done(member)
            return "answered"
        else:  # the advisor hangs up
            if a2 is not None:
                sw.hangup(a2)
            sw.leave(a1)
            self.queue.member_done(member)
            complete("agent")
            sw.hangup(a1)
            sw.leave(p2)
            sw.hangup(p2)
            caller_side_down(sw, call)
            return "answered"
        self.stats.transferred += 1
        return "transferred"

    async def _hold_during_talk(self, call: Call, a1: Chan) -> Command | None:
        """The advisor's phone puts the caller on hold for a while during the talk (Hold/Unhold on the member's
        channel, as a phone's hold key gives); a command arriving first or meanwhile ends it and is returned."""
        assert call.spec.hold is not None
        after, length = call.spec.hold
        cmd = await next_command(call, after)
        if cmd is not None:
            return cmd
        self.switch.hold(a1, True)
        cmd = await next_command(call, length)
        self.switch.hold(a1, False)
        return cmd

    def _abandon(self, call: Call, entry: Entry) -> None:
        """The caller hangs up while waiting, no member ringing."""
        sw = self.switch
        p1, c2, c1 = call.chans["p1"], call.chans["c2"], call.chans["c1"]
        sw.leave(p1)
        sw.hangup(p1)
        sw.leave(c2)
        self._caller_abandons(call, entry)
        sw.hangup(c2)
        sw.hangup(c1)

    def _abandon_ringing(self, call: Call, entry: Entry, member: Member) -> None:
        """The caller hangs up while a member's phone rings: the ring is cancelled (Asterisk 22 says it twice)."""
        sw = self.switch
        p2, a1 = call.chans["p2"], call.chans["a1"]
        p1, c2, c1 = call.chans["p1"], call.chans["c2"], call.chans["c1"]
        sw.leave(p1)
        sw.hangup(p1)
        sw.leave(c2)
        sw.hangup(c2)
        sw.dial("DialEnd", p2, a1, [("DialStatus", "CANCEL")])
        sw.dial("DialEnd", p2, a1, [("DialStatus", "CANCEL")])
        sw.hangup(a1, 0)
        sw.hangup(c1)
        a2 = call.chans.get("a2")
        if a2 is not None:
            sw.hangup(a2, 0)
        self.queue.member_done(member)
        call.member = None
        self._caller_abandons(call, entry)

    def _caller_abandons(self, call: Call, entry: Entry) -> None:
        """QueueCallerAbandon, QueueCallerLeave, then the queue leg hangs up (the order of the rig captures)."""
        self.queue.abandon(entry)
        self.switch.hangup(call.chans["p2"])
        self.stats.abandoned += 1


def _talk_over(spec: CallSpec) -> Command:
    """The end of the conversation the caller came for: the transfer it asks for, or a hang-up."""
    if spec.transfer is not None:
        return ("blind", spec.transfer[1])
    return ("hangup_agent", "") if spec.hangup_by == "agent" else ("hangup_caller", "")
