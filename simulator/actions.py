"""The AMI actions the simulated PBX obeys, answered as Asterisk 22 answers them.

Each action is validated here (an action Asterisk would refuse gets its error message) and carried out by the
concern it belongs to: members by the queue, transfers and hang-ups by the call they name (as a command its task
picks up), Originate by the originator, the two listings by the queue and the switch. The events an action causes
are emitted to the listeners before its response is returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from simulator.calls import Calls
from simulator.channels import Switch
from simulator.frames import response
from simulator.legs import Call
from simulator.originate import Originator
from simulator.queue import Member, Queue
from simulator.stats import PbxStats

Action = dict[str, str]  # header → value, headers lower-cased
Handler = Callable[[Action, str | None], list[bytes]]


class ActionError(Exception):
    """An action Asterisk would refuse: the message is Asterisk's."""


class Actions:
    def __init__(self, *, switch: Switch, queue: Queue, calls: Calls, originator: Originator, stats: PbxStats) -> None:
        self.switch = switch
        self.queue = queue
        self.calls = calls
        self.originator = originator
        self.stats = stats
        self.handlers: dict[str, Handler] = {
            "ping": self._ping,
            "events": self._events,
            "queueadd": self._queue_add,
            "queueremove": self._queue_remove,
            "queuepause": self._queue_pause,
            "queuepenalty": self._queue_penalty,
            "blindtransfer": self._blind_transfer,
            "atxfer": self._atxfer,
            "cancelatxfer": self._cancel_atxfer,
            "hangup": self._hangup,
            "originate": self._originate,
            "queuestatus": self._queue_status,
            "coreshowchannels": self._core_show_channels,
        }

    def answer(self, name: str, a: Action, action_id: str | None) -> list[bytes]:
        """Answer one AMI action (keys lower-cased); the events it causes are emitted to the listeners."""
        self.stats.actions += 1
        handler = self.handlers.get(name.lower())
        if handler is None:
            self.stats.refused_actions += 1
            unknown = f"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands."
            return [response(action_id, [("Message", unknown)], success=False)]
        try:
            return handler(a, action_id)
        except ActionError as exc:
            self.stats.refused_actions += 1
            return [response(action_id, [("Message", str(exc))], success=False)]

    # -- the session ---------------------------------------------------------------------------------

    def _ping(self, a: Action, aid: str | None) -> list[bytes]:
        return [response(aid, [("Ping", "Pong"), ("Timestamp", f"{self.switch.clock():.6f}")])]

    def _events(self, a: Action, aid: str | None) -> list[bytes]:
        return [response(aid, [("Events", "On")])]

    # -- queue members -------------------------------------------------------------------------------

    def _queue_add(self, a: Action, aid: str | None) -> list[bytes]:
        self._check_queue(a)
        interface = a.get("interface", "")
        if not interface:
            raise ActionError("'Interface' not specified.")
        if interface in self.queue.members:
            raise ActionError("Unable to add interface: Already there")
        paused = _bool(a.get("paused"))
        member = Member(
            interface=interface,
            name=a.get("membername") or interface,
            penalty=_int(a.get("penalty"), 0),
            paused=paused,
            reason=a.get("reason", "") if paused else "",
            free_since=time.monotonic(),
        )
        self.queue.add(member)
        return [response(aid, [("Message", "Added interface to queue")])]

    def _queue_remove(self, a: Action, aid: str | None) -> list[bytes]:
        self._check_queue(a)
        if self.queue.remove(a.get("interface", "")) is None:
            raise ActionError("Unable to remove interface: Not there")
        return [response(aid, [("Message", "Removed interface from queue")])]

    def _queue_pause(self, a: Action, aid: str | None) -> list[bytes]:
        member = self._member(a)
        paused = _bool(a.get("paused"))
        self.queue.pause(member, paused, a.get("reason", ""))
        message = "Interface paused successfully" if paused else "Interface unpaused successfully"
        return [response(aid, [("Message", message)])]

    def _queue_penalty(self, a: Action, aid: str | None) -> list[bytes]:
        member = self._member(a)
        self.queue.set_penalty(member, _int(a.get("penalty"), member.penalty))
        return [response(aid, [("Message", "Interface penalty set successfully")])]

    def _check_queue(self, a: Action) -> None:
        if a.get("queue", self.queue.config.name) != self.queue.config.name:
            raise ActionError("Unable to add interface to queue: No such queue")

    def _member(self, a: Action) -> Member:
        member = self.queue.members.get(a.get("interface", ""))
        if member is None:
            raise ActionError("Interface not found")
        return member

    # -- calls: commands to the call's task ----------------------------------------------------------

    def _blind_transfer(self, a: Action, aid: str | None) -> list[bytes]:
        call, role = self._call_of(a)
        if role != "a1" or "agent" not in call.bridges:
            raise ActionError("Transfer failed")
        call.commands.put_nowait(("blind", a.get("exten", "")))
        return [response(aid, [("Message", "Transfer succeeded")])]

    def _atxfer(self, a: Action, aid: str | None) -> list[bytes]:
        call, role = self._call_of(a)
        if role != "a1" or "agent" not in call.bridges:
            raise ActionError("Atxfer failed")
        call.commands.put_nowait(("atxfer", a.get("exten", "")))
        return [response(aid, [("Message", "Atxfer successfully queued")])]

    def _cancel_atxfer(self, a: Action, aid: str | None) -> list[bytes]:
        call, role = self._call_of(a)
        if role != "a1" or not call.consulting:
            raise ActionError("No attended transfer in progress on this channel")
        call.commands.put_nowait(("cancel", ""))
        return [response(aid, [("Message", "CancelAtxfer successfully queued")])]

    def _hangup(self, a: Action, aid: str | None) -> list[bytes]:
        """Hangup of the advisor's leg (which completes a consultation) or of the caller's side."""
        call, role = self._call_of(a)
        call.commands.put_nowait(("hangup_agent" if role in ("a1", "a2") else "hangup_caller", ""))
        return [response(aid, [("Message", "Channel Hungup")])]

    def _call_of(self, a: Action) -> tuple[Call, str]:
        found = self.calls.of_channel(a.get("channel", ""))
        if found is None:
            raise ActionError("No such channel")
        return found

    # -- originate -----------------------------------------------------------------------------------

    def _originate(self, a: Action, aid: str | None) -> list[bytes]:
        channel = a.get("channel", "")
        if not channel or "/" not in channel:
            raise ActionError("Channel not specified")
        context, exten = a.get("context", ""), a.get("exten", "")
        if not context or not exten:
            raise ActionError("Originate with Context/Exten only in this simulator (no Application)")
        timeout = _int(a.get("timeout"), 30000) / 1000
        self.originator.start(channel, context, exten, a.get("callerid", ""), aid, timeout)
        return [response(aid, [("Message", "Originate successfully queued")])]

    # -- listings ------------------------------------------------------------------------------------

    def _queue_status(self, a: Action, aid: str | None) -> list[bytes]:
        return self.queue.status(aid)

    def _core_show_channels(self, a: Action, aid: str | None) -> list[bytes]:
        return self.switch.show_channels(aid)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        raise ActionError(f"Invalid number: {str(value)[:20]!r}") from None


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")
