"""A simulated Asterisk: the public line, queue `gps` as app_queue runs it, phones, services.

It produces the AMI event sequences of the project's real Asterisk 22 rig (`tests/captures/*.ami`, same channels,
same order, same headers) and obeys the AMI actions the service sends (QueueAdd/Remove/Pause/Penalty,
BlindTransfer, Atxfer, Hangup, Originate, QueueStatus, CoreShowChannels). Its time is real time: a call that rings
2 s rings 2 s. The service talks to it over TCP exactly as to Asterisk (see `simulator.server`).

Queue model (as `config/asterisk` configures app_queue): callers enter with QUEUE_MAX_PENALTY=1, the rule
`gps-failsafe` raises it to 2 after `failsafe_after` s; strategy leastrecent, ringinuse=no, member timeout
`ring_timeout`, `retry` between attempts; a paused member never rings.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from config.settings import LineSettings, OpeningHours
from simulator.frames import UNKNOWN, Chan, Fields, bridge_headers, event, response
from telephony.hours import is_open

log = logging.getLogger(__name__)

CALL = "call,all"
AGENT = "agent,all"


@dataclass(frozen=True)
class Phone:
    """How a member's phone behaves when it rings: answers after `answer_after` s, or never."""

    answers: bool = True
    answer_after: float = 0.0


@dataclass(frozen=True)
class CallSpec:
    """One caller: who, and how they behave."""

    number: str | None  # national format as the operator presents it ("0321000001"); None: withheld
    name: str | None
    patience: float = 120.0  # hangs up after this long unanswered
    talk: float = 2.0  # conversation length once answered
    hangup_by: Literal["caller", "agent"] = "agent"
    topic: str | None = None  # voice-menu choice (UserEvent GpsTopic)
    transfer: tuple[Literal["blind"], str] | None = None  # the advisor's phone transfers at the end of `talk`
    service_talk: float = 2.0


@dataclass
class QueueConfig:
    name: str = "gps"
    ring_timeout: float = 15.0
    retry: float = 1.0  # as config/asterisk/queues.conf (app_queue's smallest: whole seconds, ≥ 1)
    failsafe_after: float = 30.0
    failsafe_penalty: int = 2
    start_penalty: int = 1
    max_wait: float = 1800.0
    # app_queue's autofill: yes (config/asterisk and the rig) lets every waiting caller ring a free member in
    # parallel; no (Asterisk's own default) lets only the head caller ring until it is connected.
    autofill: bool = True


@dataclass
class Member:
    interface: str
    name: str
    penalty: int = 0
    paused: bool = False
    reason: str = ""
    status: int = 1
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = field(default_factory=lambda: int(time.time()))
    busy: str | None = None  # linkedid of the call it rings for or talks to
    free_since: float = 0.0

    def fields(self, queue: str, *, listing: bool = False) -> Fields:
        """The member's headers in QueueMember* events, or (`listing`) in a QueueStatus list item, which names
        two of them differently and has no Ringinuse."""
        out: Fields = [
            ("Queue", queue),
            ("Name" if listing else "MemberName", self.name),
            ("Location" if listing else "Interface", self.interface),
            ("StateInterface", self.interface),
            ("Membership", "dynamic"),
            ("Penalty", str(self.penalty)),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)),
            ("InCall", "0"),
            ("Status", str(self.status)),
            ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.reason),
            ("Ringinuse", "0"),
            ("Wrapuptime", "0"),
        ]
        return [f for f in out if f[0] != "Ringinuse"] if listing else out


class ActionError(Exception):
    """An action Asterisk would refuse: the message is Asterisk's."""


Command = tuple[str, str]  # ("blind"|"atxfer"|"hangup_agent"|"hangup_caller"|"complete", extension)


@dataclass
class _Call:
    spec: CallSpec
    linkedid: str
    chans: dict[str, Chan]  # role → channel
    bridges: dict[str, str] = field(default_factory=dict)  # role → bridge uniqueid
    joined_at: float = 0.0
    position: int = 0
    max_penalty: int = 1
    member: Member | None = None
    offer: asyncio.Future[Member] | None = None
    commands: asyncio.Queue[Command] = field(default_factory=asyncio.Queue)
    outcome: str = ""
    consulting: bool = False


@dataclass
class PbxStats:
    calls: int = 0
    answered: int = 0
    abandoned: int = 0
    closed: int = 0
    transferred: int = 0
    no_answer_rings: int = 0
    actions: int = 0
    refused_actions: int = 0
    originated: int = 0
    skipped: int = 0  # calls the load generator did not place (concurrency cap)
    waits: list[float] = field(default_factory=list)  # queue entry → answer, seconds, per answered call
    max_waiting: int = 0


class Pbx:
    def __init__(
        self,
        *,
        line: LineSettings | None = None,
        hours: OpeningHours | None = None,
        queue: QueueConfig | None = None,
        phone_of: Callable[[str], Phone] = lambda _: Phone(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.line = line or LineSettings()
        self.hours = hours  # None: always open
        self.queue = queue or QueueConfig(name=self.line.queue)
        self.phone_of = phone_of
        self.clock = clock
        self.members: dict[str, Member] = {}
        self.waiting: list[_Call] = []
        self.calls: dict[str, _Call] = {}
        self.channels: dict[str, Chan] = {}  # name → channel, while it exists
        self.listeners: set[Callable[[bytes], None]] = set()
        self.stats = PbxStats()
        self.originate_talk = 20.0  # seconds a callback conversation lasts
        # how long the citizen called back takes to answer (None: does not answer); replaced by the demo/tests
        self.citizen_answers: Callable[[], float | None] = lambda: 3.0
        self.members_changed = asyncio.Event()  # set when a member is added (cleared by whoever waits)
        self.tasks: set[asyncio.Task[str]] = set()
        self._ids = itertools.count()
        self._local = itertools.count()
        self._boot = int(clock())

    # -- output --------------------------------------------------------------------------------------

    def emit(self, name: str, privilege: str, fields: Fields) -> None:
        data = event(name, privilege, fields, self.clock())
        for listener in list(self.listeners):
            listener(data)

    def _uid(self) -> str:
        return f"{int(self.clock())}.{next(self._ids)}"

    def _local_pair(
        self,
        target: str,
        linkedid: str,
        caller: tuple[str, str],
        one_connected: tuple[str, str],
        first_uid: str | None = None,
    ) -> tuple[Chan, Chan]:
        """Local/<exten>@<context>-XXXXXXXX;1 and ;2 dialled on behalf of `caller` (number, name), with their
        caller ids as the rig shows them: ;1 "dial" + the caller's name, ;2 the caller (connected to "dial")."""
        exten, _, context = target.partition("@")
        base = f"Local/{target}-{next(self._local):08x}"
        one = Chan(f"{base};1", first_uid or self._uid(), linkedid, context, exten, 0)
        two = Chan(f"{base};2", self._uid(), linkedid, context, exten, 4)
        for chan in (one, two):
            self.channels[chan.name] = chan
            self.emit("Newchannel", CALL, chan.headers())
        number, name = caller
        one.cid_num, one.cid_name = "dial", name
        one.conn_num, one.conn_name = one_connected
        self.emit("NewCallerid", CALL, [*one.headers(), ("CID-CallingPres", _presentation("dial"))])
        two.cid_num, two.cid_name = number, name
        two.conn_num, two.conn_name = "dial", name
        self.emit("NewCallerid", CALL, [*two.headers(), ("CID-CallingPres", _presentation(number))])
        return one, two

    def _state(self, chan: Chan, state: int) -> None:
        chan.state = state
        self.emit("Newstate", CALL, chan.headers())

    def _enter(self, call: _Call, bridge: str, chan: Chan) -> None:
        key = call.bridges.setdefault(bridge, str(uuid.uuid4()))
        count = sum(1 for c in self.channels.values() if c.bridge == key) + 1
        chan.bridge = key
        self.emit("BridgeEnter", CALL, [*bridge_headers(key, count), *chan.headers()])

    def _leave(self, chan: Chan) -> None:
        key = chan.bridge
        if not key:
            return
        chan.bridge = ""
        count = sum(1 for c in self.channels.values() if c.bridge == key)
        self.emit("BridgeLeave", CALL, [*bridge_headers(key, count), *chan.headers()])

    def _hangup(self, chan: Chan, cause: int = 16) -> None:
        if self.channels.pop(chan.name, None) is None:
            return
        text = "Normal Clearing" if cause == 16 else "Unknown"
        self.emit("Hangup", CALL, [*chan.headers(), ("Cause", str(cause)), ("Cause-txt", text)])

    def _dial(self, name: str, src: Chan | None, dest: Chan, extra: Fields) -> None:
        head = src.headers() if src is not None else []
        self.emit(name, CALL, [*head, *dest.headers("Dest"), *extra])

    def _member_event(self, name: str, member: Member) -> None:
        self.emit(name, AGENT, member.fields(self.queue.name))

    # -- calls ---------------------------------------------------------------------------------------

    def start_call(self, spec: CallSpec) -> asyncio.Task[str]:
        """Place a call on the public line; the task's result is its outcome."""
        return self._spawn(self._run(spec))

    def _spawn(self, work: Coroutine[Any, Any, str]) -> asyncio.Task[str]:
        """A task of the simulated PBX (a call, a service leg, an originate), kept until done, cancelled by close."""
        task = asyncio.get_running_loop().create_task(work, name="sim-pbx")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _run(self, spec: CallSpec) -> str:
        self.stats.calls += 1
        public = self.line.public_numbers[0]
        context = self.line.inbound_contexts[0]
        linkedid = self._uid()
        number = spec.number or "anonymous"
        cid = (spec.number or UNKNOWN, spec.name or UNKNOWN)
        # the caller's side, as the rig's originate builds it: Local/<number>@callers then the public number
        c1 = Chan(f"Local/{number}@callers-{next(self._local):08x};1", linkedid, linkedid, "callers", number, 0)
        c2 = Chan(c1.name[:-1] + "2", self._uid(), linkedid, "callers", number, 4)
        call = _Call(spec, linkedid, {"c1": c1, "c2": c2})
        self.calls[linkedid] = call
        try:
            return await self._flow(call, cid, public, context)
        finally:
            self.calls.pop(linkedid, None)
            if call in self.waiting:
                self.waiting.remove(call)
            if call.member is not None and call.member.busy == linkedid:
                self._free(call.member)

    async def _flow(self, call: _Call, cid: tuple[str, str], public: str, context: str) -> str:
        c1, c2 = call.chans["c1"], call.chans["c2"]
        for chan in (c1, c2):
            self.channels[chan.name] = chan
            self.emit("Newchannel", CALL, chan.headers())
        for chan, connected in ((c1, False), (c2, True)):
            chan.cid_num, chan.cid_name = cid
            if connected:
                chan.conn_num, chan.conn_name = cid
            self.emit("NewCallerid", CALL, [*chan.headers(), ("CID-CallingPres", _presentation(cid[0]))])
        self._dial("DialBegin", None, c1, [("DialString", f"{c1.exten}@callers")])
        p1, p2 = self._local_pair(f"{public}@{context}", call.linkedid, cid, cid)
        call.chans |= {"p1": p1, "p2": p2}
        self._dial("DialBegin", c2, p1, [("DialString", f"{public}@{context}")])
        self._state(p2, 6)
        self._state(p1, 6)
        self._dial("DialEnd", c2, p1, [("DialStatus", "ANSWER")])
        self._state(c2, 6)
        self._state(c1, 6)
        self._dial("DialEnd", None, c1, [("DialStatus", "ANSWER")])
        self._enter(call, "callers", p1)
        self._enter(call, "callers", c2)
        p2.priority = 4

        if self.hours is not None and not is_open(datetime.fromtimestamp(self.clock(), UTC), self.hours):
            await asyncio.sleep(min(call.spec.talk, 1.0))  # the closed message
            self.stats.closed += 1
            self._hangup(p2)
            self._caller_side_down(call)
            return "closed"

        if call.spec.topic:
            self.emit("UserEvent", "user,all", [*p2.headers(), ("UserEvent", "GpsTopic"), ("Topic", call.spec.topic)])
        call.joined_at = time.monotonic()
        call.max_penalty = self.queue.start_penalty
        self.waiting.append(call)
        call.position = len(self.waiting)
        self.stats.max_waiting = max(self.stats.max_waiting, call.position)
        self.emit(
            "QueueCallerJoin",
            AGENT,
            [
                *p2.headers(),
                ("Queue", self.queue.name),
                ("Position", str(call.position)),
                ("Count", str(call.position)),
            ],
        )
        failsafe = asyncio.get_running_loop().call_later(self.queue.failsafe_after, self._failsafe, call)
        try:
            return await self._wait_in_queue(call)
        finally:
            failsafe.cancel()

    def _failsafe(self, call: _Call) -> None:
        call.max_penalty = self.queue.failsafe_penalty
        self.dispatch()

    async def _wait_in_queue(self, call: _Call) -> str:
        deadline = call.joined_at + min(call.spec.patience, self.queue.max_wait)
        while True:
            call.offer = asyncio.get_running_loop().create_future()
            self.dispatch()
            remaining = deadline - time.monotonic()
            try:
                member = await asyncio.wait_for(asyncio.shield(call.offer), max(0.0, remaining))
            except TimeoutError:
                if call.offer.done() and not call.offer.cancelled():
                    self._free(call.offer.result())
                call.offer = None
                self._abandon(call)
                return "abandoned"
            call.offer = None
            result = await self._ring(call, member, deadline)
            if result == "no_answer":
                await asyncio.sleep(self.queue.retry)
                continue
            return result

    def dispatch(self) -> None:
        """app_queue's turn: each waiting caller without a ringing member gets the least recently used free one
        (only the head caller with autofill off)."""
        for call in list(self.waiting) if self.queue.autofill else self.waiting[:1]:
            if call.offer is None or call.offer.done():
                continue
            free = [
                m
                for m in self.members.values()
                if m.busy is None and not m.paused and m.penalty <= call.max_penalty and m.status not in (4, 5)
            ]
            if not free:
                continue
            member = min(free, key=lambda m: (m.last_call, m.free_since, m.interface))
            member.busy = call.linkedid
            call.offer.set_result(member)

    def _free(self, member: Member) -> None:
        member.busy = None
        member.free_since = time.monotonic()
        self._soon_dispatch()

    async def _ring(self, call: _Call, member: Member, deadline: float) -> str:
        p2 = call.chans["p2"]
        caller = (p2.cid_num, p2.cid_name)
        target = member.interface.removeprefix("Local/") if member.interface.startswith("Local/") else None
        if target is not None:
            a1, a2 = self._local_pair(target, call.linkedid, caller, (UNKNOWN, UNKNOWN))
        else:  # a SIP phone: one channel
            a1 = Chan(f"{member.interface}-{next(self._local):08x}", self._uid(), call.linkedid, "from-queue", "s", 0)
            self.channels[a1.name] = a1
            self.emit("Newchannel", CALL, a1.headers())
            a2 = None
        call.chans["a1"] = a1
        if a2 is not None:
            call.chans["a2"] = a2
        call.member = member
        queue_fields: Fields = [
            ("Queue", self.queue.name),
            ("Interface", member.interface),
            ("MemberName", member.name),
        ]
        self._dial("AgentCalled", p2, a1, queue_fields)
        self._dial("DialBegin", p2, a1, [("DialString", member.interface.removeprefix("Local/"))])
        self._state(a1, 5)
        self._dial("DialState", p2, a1, [("DialStatus", "RINGING")])
        member.status = 2 if target is not None else 6
        self._member_event("QueueMemberStatus", member)
        phone = self.phone_of(member.interface)
        rang = time.monotonic()
        answer_at = rang + phone.answer_after if phone.answers else float("inf")
        timeout_at = rang + self.queue.ring_timeout
        wake = min(answer_at, timeout_at, deadline)
        cmd = await self._command(call, wake - time.monotonic())
        now = time.monotonic()
        if (cmd is not None and cmd[0] == "hangup_caller") or (cmd is None and now >= deadline and wake == deadline):
            self._abandon_ringing(call, member)
            return "abandoned"
        if wake == timeout_at and now >= timeout_at and cmd is None:
            self.stats.no_answer_rings += 1
            ring_ms = int((now - rang) * 1000)
            self._dial("AgentRingNoAnswer", p2, a1, [*queue_fields, ("RingTime", str(ring_ms))])
            self._dial("DialEnd", p2, a1, [("DialStatus", "NOANSWER")])
            self._dial("DialEnd", p2, a1, [("DialStatus", "CANCEL")])
            self._member_leg_down(call, cause=0)
            self._member_done(member)
            call.member = None
            return "no_answer"
        return await self._answered(call, member, queue_fields, rang)

    async def _command(self, call: _Call, timeout: float) -> Command | None:
        if timeout <= 0:
            return None if call.commands.empty() else call.commands.get_nowait()
        try:
            return await asyncio.wait_for(call.commands.get(), timeout)
        except TimeoutError:
            return None

    async def _answered(self, call: _Call, member: Member, queue_fields: Fields, rang: float) -> str:
        p2, a1 = call.chans["p2"], call.chans["a1"]
        a2 = call.chans.get("a2")
        if a2 is not None:
            self._state(a2, 6)
        self._state(a1, 6)
        self._dial("DialEnd", p2, a1, [("DialStatus", "ANSWER")])
        self._queue_leave(call)
        hold = int(time.monotonic() - call.joined_at)
        ring = int(time.monotonic() - rang)
        self._dial("AgentConnect", p2, a1, [*queue_fields, ("HoldTime", str(hold)), ("RingTime", str(ring))])
        self._enter(call, "agent", a1)
        self._enter(call, "agent", p2)
        self.stats.answered += 1
        answered = time.monotonic()
        self.stats.waits.append(answered - call.joined_at)
        member.calls_taken += 1
        member.last_call = int(self.clock())

        def complete(reason: str) -> None:
            talk = int(time.monotonic() - answered)
            self._dial(
                "AgentComplete",
                p2,
                a1,
                [*queue_fields, ("HoldTime", str(hold)), ("TalkTime", str(talk)), ("Reason", reason)],
            )

        spec = call.spec
        talk_ends = time.monotonic() + spec.talk
        while True:
            cmd = await self._command(call, talk_ends - time.monotonic())
            if cmd is None:
                if spec.transfer is not None:
                    cmd = ("blind", spec.transfer[1])
                else:
                    cmd = ("hangup_agent" if spec.hangup_by == "agent" else "hangup_caller", "")
            if cmd[0] != "atxfer":
                break
            if await self._attended(call, member, cmd[1], complete):
                self.stats.transferred += 1
                return "transferred"
            # cancelled: the advisor talks to the caller again
        kind, exten = cmd
        if kind == "blind":
            self._blind(call, member, exten, complete)
        elif kind == "hangup_caller":
            self._caller_side_down(call, leave_first=True)
            self._leave(p2)
            complete("caller")
            self._hangup(p2)
            self._leave(a1)
            self._member_leg_down(call)
            self._member_done(member)
            return "answered"
        else:  # the advisor hangs up
            if a2 is not None:
                self._hangup(a2)
            self._leave(a1)
            self._member_done(member)
            complete("agent")
            self._hangup(a1)
            self._leave(p2)
            self._hangup(p2)
            self._caller_side_down(call)
            return "answered"
        self.stats.transferred += 1
        return "transferred"

    def _member_done(self, member: Member) -> None:
        """The member's phone is free again: QueueMemberStatus "not in use", and it may ring for someone else."""
        member.status = 1
        self._member_event("QueueMemberStatus", member)
        self._free(member)

    def _blind(self, call: _Call, member: Member, exten: str, complete: Callable[[str], None]) -> None:
        p2, a1 = call.chans["p2"], call.chans["a1"]
        self.emit(
            "BlindTransfer",
            CALL,
            [
                ("Result", "Success"),
                *a1.headers("Transferer"),
                *p2.headers("Transferee"),
                *bridge_headers(call.bridges["agent"], 2),
                ("IsExternal", "Yes"),
                ("Context", "services"),
                ("Extension", exten),
            ],
        )
        complete("transfer")
        self._leave(a1)
        self._member_leg_down(call)
        self._leave(p2)
        self._member_done(member)
        self._spawn(self._service_call(call, exten, p2))

    async def _service_call(self, call: _Call, exten: str, p2: Chan) -> str:
        s1, s2 = self._local_pair(
            f"svc{exten}@service-phones", call.linkedid, (p2.cid_num, p2.cid_name), (UNKNOWN, UNKNOWN)
        )
        self._dial("DialBegin", p2, s1, [("DialString", f"svc{exten}@service-phones")])
        self._state(s2, 6)
        self._state(s1, 6)
        self._dial("DialEnd", p2, s1, [("DialStatus", "ANSWER")])
        self._enter(call, "service", s1)
        self._enter(call, "service", p2)
        await asyncio.sleep(call.spec.service_talk)
        self._hangup(s2)
        self._leave(s1)
        self._hangup(s1)
        self._leave(p2)
        self._hangup(p2)
        self._caller_side_down(call)
        return "done"

    async def _attended(self, call: _Call, member: Member, exten: str, complete: Callable[[str], None]) -> bool:
        """Consult the service; True when the transfer completed, False when the advisor cancelled it."""
        p2, a1 = call.chans["p2"], call.chans["a1"]
        caller = (a1.cid_num, a1.cid_name)
        t1, t2 = self._local_pair(f"{exten}@services", call.linkedid, (UNKNOWN, UNKNOWN), caller)
        s1, s2 = self._local_pair(f"svc{exten}@service-phones", call.linkedid, (UNKNOWN, UNKNOWN), caller)
        self._dial("DialBegin", t2, s1, [("DialString", f"svc{exten}@service-phones")])
        self._enter(call, "consult", t1)
        self._state(s2, 6)
        self._state(s1, 6)
        self._leave(a1)
        self._dial("DialEnd", t2, s1, [("DialStatus", "ANSWER")])
        self._enter(call, "consult", a1)
        self._state(t1, 6)
        self._dial("DialEnd", None, t1, [("DialStatus", "ANSWER")])
        self._state(t2, 6)
        self._enter(call, "service", s1)
        self._enter(call, "service", t2)
        # the consultation lasts until the advisor completes (hangs up their leg), cancels, or their talk ends
        call.consulting = True
        try:
            cmd = await self._command(call, max(call.spec.talk, 1.0))
            while cmd is not None and cmd[0] not in ("hangup_agent", "complete", "cancel"):
                cmd = await self._command(call, max(call.spec.talk, 1.0))
        finally:
            call.consulting = False
        agent_bridge, consult_bridge = call.bridges["agent"], call.bridges["consult"]
        if cmd is not None and cmd[0] == "cancel":  # back to the caller; the consultation legs hang up
            self._leave(a1)
            a1.bridge = agent_bridge
            self.emit("BridgeEnter", CALL, [*bridge_headers(agent_bridge, 2), *a1.headers()])
            self._leave(t1)
            self._hangup(t1)
            self._leave(t2)
            self._leave(s1)
            self._hangup(s2)
            self._hangup(s1)
            self._hangup(t2)
            del call.bridges["consult"], call.bridges["service"]
            return False
        self.emit(
            "BridgeMerge",
            CALL,
            [*bridge_headers(agent_bridge, 1, "To"), *bridge_headers(consult_bridge, 2, "From")],
        )
        self._leave(t1)
        t1.bridge = agent_bridge
        self.emit("BridgeEnter", CALL, [*bridge_headers(agent_bridge, 2), *t1.headers()])
        self.emit(
            "AttendedTransfer",
            CALL,
            [
                ("Result", "Success"),
                *a1.headers("OrigTransferer"),
                *bridge_headers(agent_bridge, 2, "Orig"),
                *a1.headers("SecondTransferer"),
                *bridge_headers(consult_bridge, 1, "Second"),
                *p2.headers("Transferee"),
                *t1.headers("TransferTarget"),
                ("IsExternal", "No"),
                ("DestType", "Bridge"),
                ("DestBridgeUniqueid", agent_bridge),
            ],
        )
        complete("transfer")
        self._leave(a1)
        self._member_leg_down(call)
        self._member_done(member)
        await asyncio.sleep(call.spec.service_talk)
        self._hangup(s2)
        self._leave(s1)
        self._hangup(s1)
        self._leave(t2)
        self._hangup(t2)
        self._leave(t1)
        self._hangup(t1)
        self._leave(p2)
        self._hangup(p2)
        self._caller_side_down(call)
        return True

    def _member_leg_down(self, call: _Call, cause: int = 16) -> None:
        a1 = call.chans.get("a1")
        if a1 is not None:
            self._hangup(a1, cause)
        a2 = call.chans.get("a2")
        if a2 is not None:
            self._hangup(a2, cause)

    def _caller_side_down(self, call: _Call, leave_first: bool = False) -> None:
        p1, c1, c2 = call.chans["p1"], call.chans["c1"], call.chans["c2"]
        if leave_first:  # the caller hung up: their side goes first
            self._hangup(c1)
            self._leave(c2)
            self._hangup(c2)
            self._leave(p1)
            self._hangup(p1)
            return
        self._leave(p1)
        self._hangup(p1)
        self._leave(c2)
        self._hangup(c2)
        self._hangup(c1)

    def _renumber(self) -> None:
        for i, waiting in enumerate(self.waiting, start=1):
            waiting.position = i

    def _abandon(self, call: _Call) -> None:
        p1, c2, c1 = call.chans["p1"], call.chans["c2"], call.chans["c1"]
        self._leave(p1)
        self._hangup(p1)
        self._leave(c2)
        self._caller_abandons(call)
        self._hangup(c2)
        self._hangup(c1)

    def _abandon_ringing(self, call: _Call, member: Member) -> None:
        p2, a1 = call.chans["p2"], call.chans["a1"]
        p1, c2, c1 = call.chans["p1"], call.chans["c2"], call.chans["c1"]
        self._leave(p1)
        self._hangup(p1)
        self._leave(c2)
        self._hangup(c2)
        self._dial("DialEnd", p2, a1, [("DialStatus", "CANCEL")])
        self._dial("DialEnd", p2, a1, [("DialStatus", "CANCEL")])
        self._hangup(a1, 0)
        self._hangup(c1)
        a2 = call.chans.get("a2")
        if a2 is not None:
            self._hangup(a2, 0)
        self._member_done(member)
        call.member = None
        self._caller_abandons(call)

    def _caller_abandons(self, call: _Call) -> None:
        """QueueCallerAbandon, QueueCallerLeave, then the queue leg hangs up (the order of the rig captures)."""
        p2 = call.chans["p2"]
        held = int(time.monotonic() - call.joined_at)
        self.emit(
            "QueueCallerAbandon",
            AGENT,
            [
                *p2.headers(),
                ("Queue", self.queue.name),
                ("Position", str(call.position)),
                ("OriginalPosition", str(call.position)),
                ("HoldTime", str(held)),
            ],
        )
        self._queue_leave(call)
        self._hangup(p2)
        self.stats.abandoned += 1

    def _queue_leave(self, call: _Call) -> None:
        if call in self.waiting:
            self.waiting.remove(call)
        self.emit(
            "QueueCallerLeave",
            AGENT,
            [
                *call.chans["p2"].headers(),
                ("Queue", self.queue.name),
                ("Position", str(call.position)),
                ("Count", str(len(self.waiting))),
            ],
        )
        self._renumber()

    # -- actions ------------------------------------------------------------------------------------

    def action(self, name: str, a: dict[str, str], action_id: str | None) -> list[bytes]:
        """Answer one AMI action (keys lower-cased); the events it causes are emitted to the listeners."""
        self.stats.actions += 1
        handler = getattr(self, f"_act_{name.lower()}", None)
        if handler is None:
            self.stats.refused_actions += 1
            return [
                response(
                    action_id,
                    [
                        (
                            "Message",
                            f"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands.",
                        )
                    ],
                    success=False,
                )
            ]
        try:
            out: list[bytes] = handler(a, action_id)
            return out
        except ActionError as exc:
            self.stats.refused_actions += 1
            return [response(action_id, [("Message", str(exc))], success=False)]

    def _queue_of(self, a: dict[str, str]) -> None:
        if a.get("queue", self.queue.name) != self.queue.name:
            raise ActionError("Unable to add interface to queue: No such queue")

    def _member(self, a: dict[str, str]) -> Member:
        member = self.members.get(a.get("interface", ""))
        if member is None:
            raise ActionError("Interface not found")
        return member

    def _act_ping(self, a: dict[str, str], aid: str | None) -> list[bytes]:
        return [response(aid, [("Ping", "Pong"), ("Timestamp", f"{self.clock():.6f}")])]

    def _act_events(self, a: dict[str, str], aid: str | None) -> list[bytes]:
        return [response(aid, [("Events", "On")])]

    def _act_queueadd(self, a: dict[str, str], aid: str | None) -> list[bytes]:
        self._queue_of(a)
        interface = a.get("interface", "")
        if not interface:
            raise ActionError("'Interface' not specified.")
        if interface in self.members:
            raise ActionError("Unable to add interface: Already there")
        member = Member(
            interface=interface,
            name=a.get("membername") or interface,
            penalty=_int(a.get("penalty"), 0),
            paused=_bool(a.get("paused")),
            reason=a.get("reason", "") if _bool(a.get("paused")) else "",
            free_since=time.monotonic(),
        )
        self.members[interface] = member
        self.members_changed.set()
        out = [response(aid, [("Message", "Added interface to queue")])]
        self._member_event("QueueMemberAdded", member)
        self._soon_dispatch()
        return out

    def _act_queueremove(self, a: dict[str, str], aid: str | None) -> list[bytes]:
        self._queue_of(a)
        member = self.members.pop(a.get("interface", ""), None)
        if member is None:
            raise ActionError("Unable to remove interface: Not there")
        self._member_event("QueueMemberRemoved", member)
        return [response(aid, [("Message", "Removed interface from queue")])]

    def _act_queuepause(self, a: dict[str, str], aid: str | None) -> list[bytes]:
        member = self._member(a)
        member.paused = _bool(a.get("paused"))
        member.reason = a.get("reason", "") if member.paused else ""
        if member.paused:
            member.last_pause = int(self.clock())
        self._member_event("QueueMemberPause", member)
        self._soon_dispatch()
        return [
            response(
                aid,
                [("Message", "Interface paused successfully" if member.paused else "Interface unpaused successfully")],
            )
        ]

    def _act_queuepenalty(self, a: dict[str, str], aid: str | None) -> list[bytes]:
        member = self._member(a)
        member.penalty = _int(a.get("penalty"), member.penalty)
        self._member_event("QueueMemberPenalty", member)
        self._soon_dispatch()
        return [response(aid, [("Message", "Interface penalty set successfully")])]

    def _call_of_channel(self, channel: str) -> tuple[_Call, str]:
        for call in self.calls.values():
            for role, chan in call.chans.items():
                if chan.name == channel and chan.name in self.channels:
                    return call, role
        raise ActionError("No such channel")

    def _act_blindtransfer(self, a: dict[str, str], aid: str | None) -> list[bytes]:
        call, role = self._call_of_channel(a.get("channel", ""))
        if role != "a1" or "agent" not in call.bridges:
            raise ActionError("Transfer failed")
        call.commands.put_nowait(("blind", a.get("exten", "")))
        return [response(aid, [("Message", "Transfer succeeded")])]

    def _act_atxfer(self, a: dict[str, str], aid: str | None) -> list[bytes]:
        call, role = self._call_of_channel(a.get("channel", ""))
        if role != "a1" or "agent" not in call.bridges:
            raise ActionError("Atxfer failed")
        call.commands.put_nowait(("atxfer", a.get("exten", "")))
        return [response(aid, [("Message", "Atxfer successfully queued")])]

    def _act_cancelatxfer(self, a: dict[str, str], aid: str | None) -> list[bytes]:
        call, role = self._call_of_channel(a.get("channel", ""))
        if role != "a1" or not call.consulting:
            raise ActionError("No attended transfer in progress on this channel")
        call.commands.put_nowait(("cancel", ""))
        return [response(aid, [("Message", "CancelAtxfer successfully queued")])]

    def _act_hangup(self, a: dict[str, str], aid: str | None) -> list[bytes]:
        call, role = self._call_of_channel(a.get("channel", ""))
        call.commands.put_nowait(("hangup_agent" if role in ("a1", "a2") else "hangup_caller", ""))
        return [response(aid, [("Message", "Channel Hungup")])]

    def _act_originate(self, a: dict[str, str], aid: str | None) -> list[bytes]:
        """Originate Channel=<advisor's phone> Context=<ctx> Exten=<citizen's number>: the phone rings first; once
        answered, the dialplan dials the citizen (Local/<exten>@<ctx>), who answers or not; OriginateResponse
        tells whether the first leg answered (Reason 4) or not (Reason 3), as Asterisk does."""
        channel = a.get("channel", "")
        if not channel or "/" not in channel:
            raise ActionError("Channel not specified")
        context, exten = a.get("context", ""), a.get("exten", "")
        if not context or not exten:
            raise ActionError("Originate with Context/Exten only in this simulator (no Application)")
        timeout = _int(a.get("timeout"), 30000) / 1000
        callerid = a.get("callerid", "")
        self._spawn(self._originate(channel, context, exten, callerid, aid, timeout))
        return [response(aid, [("Message", "Originate successfully queued")])]

    async def _originate(
        self, channel: str, context: str, exten: str, callerid: str, aid: str | None, timeout: float
    ) -> str:
        self.stats.originated += 1
        linkedid = self._uid()
        cid = (callerid.rpartition("<")[2].rstrip(">") or UNKNOWN, UNKNOWN)
        tech = channel.removeprefix("Local/")
        base = f"{channel}-{next(self._local):08x}" if not channel.startswith("Local/") else ""
        if base:  # a SIP phone: one channel
            o1 = Chan(base, linkedid, linkedid, "from-internal", "s", 0)
            self.channels[o1.name] = o1
            self.emit("Newchannel", CALL, o1.headers())
            o2: Chan | None = None
        else:
            o1, o2 = self._local_pair(tech, linkedid, cid, (UNKNOWN, UNKNOWN), first_uid=linkedid)
        self._dial("DialBegin", None, o1, [("DialString", tech)])
        self._state(o1, 5)
        phone = self.phone_of(channel)
        answered = phone.answers and phone.answer_after <= timeout
        await asyncio.sleep(phone.answer_after if answered else timeout)
        result: Fields = [
            ("Channel", o1.name),
            ("Context", context),
            ("Exten", exten),
            ("Application", ""),
            ("Data", ""),
            ("Uniqueid", linkedid),
            ("CallerIDNum", cid[0]),
            ("CallerIDName", cid[1]),
        ]
        head: Fields = [("ActionID", aid)] if aid is not None else []
        if not answered:
            self._dial("DialEnd", None, o1, [("DialStatus", "NOANSWER")])
            if o2 is not None:
                self._hangup(o2, 0)
            self._hangup(o1, 19)
            self.emit("OriginateResponse", CALL, [*head, ("Response", "Failure"), *result, ("Reason", "3")])
            return "no_answer"
        if o2 is not None:
            self._state(o2, 6)
        self._state(o1, 6)
        self._dial("DialEnd", None, o1, [("DialStatus", "ANSWER")])
        self.emit("OriginateResponse", CALL, [*head, ("Response", "Success"), *result, ("Reason", "4")])
        leg = o2 or o1  # the leg that runs the dialplan: Dial(Local/<exten>@<context>)
        leg.context, leg.exten = context, exten
        c1, c2 = self._local_pair(f"{exten}@{context}", linkedid, (leg.cid_num, leg.cid_name), cid)
        self._dial("DialBegin", leg, c1, [("DialString", f"{exten}@{context}")])
        self._state(c1, 5)
        citizen = self.citizen_answers()
        if citizen is None:
            await asyncio.sleep(min(timeout, 20.0))
            self._dial("DialEnd", leg, c1, [("DialStatus", "NOANSWER")])
            self._hangup(c2, 19)
            self._hangup(c1, 19)
            if o2 is not None:
                self._hangup(o2)
            self._hangup(o1)
            return "citizen_no_answer"
        await asyncio.sleep(citizen)
        self._state(c2, 6)
        self._state(c1, 6)
        self._dial("DialEnd", leg, c1, [("DialStatus", "ANSWER")])
        bridge = str(uuid.uuid4())
        for chan in (c1, leg):
            chan.bridge = bridge
            count = sum(1 for c in self.channels.values() if c.bridge == bridge)
            self.emit("BridgeEnter", CALL, [*bridge_headers(bridge, count), *chan.headers()])
        await asyncio.sleep(self.originate_talk)
        self._hangup(c2)
        self._leave(c1)
        self._hangup(c1)
        self._leave(leg)
        if o2 is not None:
            self._hangup(o2)
        self._hangup(o1)
        return "answered"

    def _act_queuestatus(self, a: dict[str, str], aid: str | None) -> list[bytes]:
        q = self.queue.name
        out = [response(aid, [("EventList", "start"), ("Message", "Queue status will follow")])]
        extra: Fields = [("ActionID", aid)] if aid is not None else []
        out.append(
            event(
                "QueueParams",
                AGENT,
                [("Queue", q), ("Max", "0"), ("Strategy", "leastrecent"), ("Calls", str(len(self.waiting))), *extra],
                self.clock(),
            )
        )
        for m in self.members.values():
            out.append(event("QueueMember", AGENT, [*m.fields(q, listing=True), *extra], self.clock()))
        for call in self.waiting:
            wait = int(time.monotonic() - call.joined_at)
            out.append(
                event(
                    "QueueEntry",
                    AGENT,
                    [
                        ("Queue", q),
                        ("Position", str(call.position)),
                        *call.chans["p2"].headers(),
                        ("Wait", str(wait)),
                        ("Priority", "0"),
                        *extra,
                    ],
                    self.clock(),
                )
            )
        out.append(
            event(
                "QueueStatusComplete",
                AGENT,
                [*extra, ("EventList", "Complete"), ("ListItems", str(len(out) - 1))],
                self.clock(),
            )
        )
        return out

    def _act_coreshowchannels(self, a: dict[str, str], aid: str | None) -> list[bytes]:
        out = [response(aid, [("EventList", "start"), ("Message", "Channels will follow")])]
        extra: Fields = [("ActionID", aid)] if aid is not None else []
        now = self.clock()
        for chan in self.channels.values():
            seconds = int(now - chan.created)
            duration = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
            out.append(
                event(
                    "CoreShowChannel",
                    CALL,
                    [
                        *extra,
                        *chan.headers(),
                        ("Application", chan.application),
                        ("ApplicationData", ""),
                        ("Duration", duration),
                        ("BridgeId", chan.bridge),
                    ],
                    now,
                )
            )
        out.append(
            event(
                "CoreShowChannelsComplete",
                CALL,
                [*extra, ("EventList", "Complete"), ("ListItems", str(len(self.channels)))],
                now,
            )
        )
        return out

    def _soon_dispatch(self) -> None:
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().call_soon(self.dispatch)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _presentation(number: str) -> str:
    if number == UNKNOWN:
        return "35 (Presentation Prohibited, Network Number)"
    return "0 (Presentation Allowed, Not Screened)"


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        raise ActionError(f"Invalid number: {str(value)[:20]!r}") from None


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")
