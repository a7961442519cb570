"""The queue `gps` as app_queue runs it with the project's `config/asterisk`: members and callers.

Callers enter with QUEUE_MAX_PENALTY=`start_penalty`; the rule `gps-failsafe` raises it to `failsafe_penalty` after
`failsafe_after` s. Strategy leastrecent (the member whose last call is oldest rings), ringinuse=no (a member rings
for one caller at a time), a paused member never rings, and with autofill every waiting caller rings a free member
in parallel. Member changes come from the AMI actions (QueueAdd/Remove/Pause/Penalty) and are told by QueueMember*
events; callers' arrivals and departures by QueueCaller* events.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from simulator.channels import AGENT, Switch
from simulator.frames import Chan, Fields, event, response


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


@dataclass
class Entry:
    """A caller waiting in the queue: the leg app_queue runs on, since when, where, and the penalty it may reach.
    `offer` is the caller's turn: a future the queue resolves with the member that is to ring."""

    linkedid: str
    channel: Chan  # `;2` of the public number's Local pair
    joined_at: float  # time.monotonic()
    max_penalty: int
    position: int = 0
    offer: asyncio.Future[Member] | None = None


class Queue:
    def __init__(self, config: QueueConfig, switch: Switch) -> None:
        self.config = config
        self.switch = switch
        self.members: dict[str, Member] = {}  # interface → member
        self.waiting: list[Entry] = []  # in order of arrival
        self.members_changed = asyncio.Event()  # set when a member is added (cleared by whoever waits)

    # -- callers -------------------------------------------------------------------------------------

    def join(self, linkedid: str, channel: Chan) -> Entry:
        """The caller enters the queue at its end: QueueCallerJoin."""
        entry = Entry(linkedid, channel, time.monotonic(), self.config.start_penalty)
        self.waiting.append(entry)
        entry.position = len(self.waiting)
        self.switch.emit(
            "QueueCallerJoin",
            AGENT,
            [
                *channel.headers(),
                ("Queue", self.config.name),
                ("Position", str(entry.position)),
                ("Count", str(entry.position)),
            ],
        )
        return entry

    def arm_failsafe(self, entry: Entry) -> asyncio.TimerHandle:
        """The rule `gps-failsafe`: after `failsafe_after` s the caller may ring members up to `failsafe_penalty`."""

        def failsafe() -> None:
            entry.max_penalty = self.config.failsafe_penalty
            self.dispatch()

        return asyncio.get_running_loop().call_later(self.config.failsafe_after, failsafe)

    def leave(self, entry: Entry) -> None:
        """The caller leaves the queue (answered or gone): QueueCallerLeave, and the others move up."""
        self.discard(entry)
        self.switch.emit(
            "QueueCallerLeave",
            AGENT,
            [
                *entry.channel.headers(),
                ("Queue", self.config.name),
                ("Position", str(entry.position)),
                ("Count", str(len(self.waiting))),
            ],
        )
        for i, waiting in enumerate(self.waiting, start=1):
            waiting.position = i

    def abandon(self, entry: Entry) -> None:
        """The caller hung up while waiting: QueueCallerAbandon, then QueueCallerLeave (the rig's order)."""
        held = int(time.monotonic() - entry.joined_at)
        self.switch.emit(
            "QueueCallerAbandon",
            AGENT,
            [
                *entry.channel.headers(),
                ("Queue", self.config.name),
                ("Position", str(entry.position)),
                ("OriginalPosition", str(entry.position)),
                ("HoldTime", str(held)),
            ],
        )
        self.leave(entry)

    def discard(self, entry: Entry) -> None:
        """Forget the caller without an event (its call is over)."""
        if entry in self.waiting:
            self.waiting.remove(entry)

    # -- ringing -------------------------------------------------------------------------------------

    def dispatch(self) -> None:
        """app_queue's turn: each waiting caller without a ringing member gets the least recently used free one
        (only the head caller with autofill off)."""
        for entry in list(self.waiting) if self.config.autofill else self.waiting[:1]:
            if entry.offer is None or entry.offer.done():
                continue
            free = [
                m
                for m in self.members.values()
                if m.busy is None and not m.paused and m.penalty <= entry.max_penalty and m.status not in (4, 5)
            ]
            if not free:
                continue
            member = min(free, key=lambda m: (m.last_call, m.free_since, m.interface))
            member.busy = entry.linkedid
            entry.offer.set_result(member)

    def soon_dispatch(self) -> None:
        """Dispatch once the current step is over (an action's events are out first)."""
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().call_soon(self.dispatch)

    def free(self, member: Member) -> None:
        """The member may ring for another caller."""
        member.busy = None
        member.free_since = time.monotonic()
        self.soon_dispatch()

    def ringing(self, member: Member, local: bool) -> None:
        """QueueMemberStatus: the member's device rings (2 "in use" for a Local channel, 6 "ringing" for a phone)."""
        member.status = 2 if local else 6
        self.member_event("QueueMemberStatus", member)

    def member_done(self, member: Member) -> None:
        """The member's phone is free again: QueueMemberStatus "not in use", and it may ring for someone else."""
        member.status = 1
        self.member_event("QueueMemberStatus", member)
        self.free(member)

    def member_event(self, name: str, member: Member) -> None:
        self.switch.emit(name, AGENT, member.fields(self.config.name))

    # -- membership (the AMI actions) ----------------------------------------------------------------

    def add(self, member: Member) -> None:
        """QueueAdd: QueueMemberAdded; the member may ring at once."""
        self.members[member.interface] = member
        self.members_changed.set()
        self.member_event("QueueMemberAdded", member)
        self.soon_dispatch()

    def remove(self, interface: str) -> Member | None:
        """QueueRemove: QueueMemberRemoved; None when the interface is not a member."""
        member = self.members.pop(interface, None)
        if member is not None:
            self.member_event("QueueMemberRemoved", member)
        return member

    def pause(self, member: Member, paused: bool, reason: str) -> None:
        """QueuePause: QueueMemberPause with the reason (kept only while paused)."""
        member.paused = paused
        member.reason = reason if paused else ""
        if paused:
            member.last_pause = int(self.switch.clock())
        self.member_event("QueueMemberPause", member)
        self.soon_dispatch()

    def set_penalty(self, member: Member, penalty: int) -> None:
        """QueuePenalty: QueueMemberPenalty."""
        member.penalty = penalty
        self.member_event("QueueMemberPenalty", member)
        self.soon_dispatch()

    # -- listing -------------------------------------------------------------------------------------

    def status(self, aid: str | None) -> list[bytes]:
        """The answer to QueueStatus: QueueParams, a QueueMember per member, a QueueEntry per caller, the end."""
        q = self.config.name
        clock = self.switch.clock
        out = [response(aid, [("EventList", "start"), ("Message", "Queue status will follow")])]
        extra: Fields = [("ActionID", aid)] if aid is not None else []
        out.append(
            event(
                "QueueParams",
                AGENT,
                [("Queue", q), ("Max", "0"), ("Strategy", "leastrecent"), ("Calls", str(len(self.waiting))), *extra],
                clock(),
            )
        )
        for m in self.members.values():
            out.append(event("QueueMember", AGENT, [*m.fields(q, listing=True), *extra], clock()))
        for entry in self.waiting:
            wait = int(time.monotonic() - entry.joined_at)
            out.append(
                event(
                    "QueueEntry",
                    AGENT,
                    [
                        ("Queue", q),
                        ("Position", str(entry.position)),
                        *entry.channel.headers(),
                        ("Wait", str(wait)),
                        ("Priority", "0"),
                        *extra,
                    ],
                    clock(),
                )
            )
        out.append(
            event(
                "QueueStatusComplete",
                AGENT,
                [*extra, ("EventList", "Complete"), ("ListItems", str(len(out) - 1))],
                clock(),
            )
        )
        return out
