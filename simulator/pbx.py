"""A simulated Asterisk: the public line, queue `gps` as app_queue runs it, phones, services.

It produces the AMI event sequences of the project's real Asterisk 22 rig (`tests/captures/*.ami`, same channels,
same order, same headers) and obeys the AMI actions the service sends (QueueAdd/Remove/Pause/Penalty,
BlindTransfer, Atxfer, CancelAtxfer, Hangup, Originate, QueueStatus, CoreShowChannels). Its time is real time: a
call that rings 2 s rings 2 s. The service talks to it over TCP exactly as to Asterisk (see `simulator.server`).

`Pbx` puts the parts together; each concern has its module:

- `channels`: the switch (channels, Local pairs, bridges, and the events of their changes)
- `queue`: app_queue (members, callers waiting, penalties and the fail-safe rule, autofill, leastrecent)
- `calls`: a call of the public line from dial to hang-up (closed line, queue, ring, answer, abandon), with
  `legs` (a call's channels by role, its commands, how its sides hang up) and `transfers` (blind, attended)
- `originate`: Originate (a callback: the advisor's phone, then the citizen)
- `actions`: the AMI actions, validated and handed to the concern they belong to
- `people`: what the simulated callers, phones and citizens do; `stats`: what the PBX counts; `tasks`: its tasks
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from config.settings import LineSettings, OpeningHours
from simulator.actions import ActionError, Actions
from simulator.calls import Calls
from simulator.channels import Listener, Switch
from simulator.frames import Chan
from simulator.legs import Call
from simulator.originate import Originator
from simulator.people import CallSpec, Phone
from simulator.queue import Entry, Member, Queue, QueueConfig
from simulator.stats import PbxStats
from simulator.tasks import Tasks

__all__ = ["ActionError", "CallSpec", "Member", "Pbx", "PbxStats", "Phone", "QueueConfig"]


class Pbx:
    """The simulated PBX of one line. `phone_of`, `citizen_answers` and `originate_talk` may be replaced after it is
    built (the demo and the tests do); they are read when a phone rings or a callback is placed."""

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
        self.clock = clock
        self.phone_of = phone_of
        # how long the citizen called back takes to answer (None: does not answer); replaced by the demo/tests
        self.citizen_answers: Callable[[], float | None] = lambda: 3.0
        self.originate_talk = 20.0  # seconds a callback conversation lasts
        self.stats = PbxStats()
        self._tasks = Tasks()
        self.switch = Switch(clock)
        self.queue = Queue(queue or QueueConfig(name=self.line.queue), self.switch)
        self.line_calls = Calls(
            switch=self.switch,
            queue=self.queue,
            stats=self.stats,
            line=self.line,
            hours=hours,
            people=self,
            spawn=self._tasks.spawn,
        )
        self.originator = Originator(self.switch, self.stats, self, self._tasks.spawn)
        self.actions = Actions(
            switch=self.switch, queue=self.queue, calls=self.line_calls, originator=self.originator, stats=self.stats
        )

    def start_call(self, spec: CallSpec) -> asyncio.Task[str]:
        """Place a call on the public line; the task's result is its outcome."""
        return self.line_calls.start(spec)

    def action(self, name: str, a: dict[str, str], action_id: str | None) -> list[bytes]:
        """Answer one AMI action (keys lower-cased); the events it causes are emitted to the listeners."""
        return self.actions.answer(name, a, action_id)

    async def close(self) -> None:
        """Cancel every call, service leg and originate in progress."""
        await self._tasks.close()

    # -- what the server, the demo, the load generator and the tests look at --------------------------

    @property
    def listeners(self) -> set[Listener]:
        """Where the events go (each AMI session adds its writer)."""
        return self.switch.listeners

    @property
    def channels(self) -> dict[str, Chan]:
        """Channel name → channel, while it exists."""
        return self.switch.channels

    @property
    def calls(self) -> dict[str, Call]:
        """Linkedid → call of the public line in progress."""
        return self.line_calls.calls

    @property
    def members(self) -> dict[str, Member]:
        return self.queue.members

    @property
    def members_changed(self) -> asyncio.Event:
        """Set when a member is added (cleared by whoever waits)."""
        return self.queue.members_changed

    @property
    def waiting(self) -> list[Entry]:
        """The callers in the queue, in order."""
        return self.queue.waiting

    @property
    def tasks(self) -> set[asyncio.Task[str]]:
        """The PBX's tasks in progress: calls, service legs, originates."""
        return self._tasks.running
