"""The desk's rules: the advisor's state as the page shows it, presence commands, and what qualifying a call
ends (`qualified`: the page forgets the call, the wrap-up ends). No aiohttp here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from redis.exceptions import RedisError

from screenpop.desk.day import day_bounds, my_day
from screenpop.desk.errors import (
    NotAnAdvisor,
    PresenceRefused,
    RouterDown,
    SessionEndDuringCall,
    SessionEndRouterDown,
)
from screenpop.desk.models import STATE_LABELS, DeskDay, DeskState, DeskUser, Presence
from screenpop.pops.service import DeskMessageStore
from screenpop.statistics.kpis import CallFacts, StateChangeFact, Thresholds
from storage.advisors import AdvisorRepository
from storage.desk_day import DeskDayRepository
from storage.users import User
from telephony.advisors import AdvisorState
from telephony.ports import Command, RouterCommands, RouterUnavailable
from telephony.presence import CallInProgress, PresenceError
from telephony.records import CallStatus

log = logging.getLogger(__name__)


class DeskService:
    def __init__(
        self,
        advisors: AdvisorRepository,
        messages: DeskMessageStore,
        commands: RouterCommands,
        pause_reasons: dict[str, str],
        demo: bool = False,
        *,
        day: DeskDayRepository | None = None,
        zone: str = "Europe/Paris",
        thresholds: Thresholds | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._advisors = advisors
        self._messages = messages
        self._commands = commands
        self._pause_reasons = pause_reasons
        self._demo = demo
        self._day = day
        self._zone = zone
        self._thresholds = thresholds or Thresholds()
        self._clock = clock

    async def state(self, user: User) -> DeskState:
        """The advisor's presence as the presence log has it (the router writes the log, then tells the desk), and
        their call not yet qualified."""
        state, reason, by, note = "logged_out", None, None, None
        if user.advisor_id is not None:
            last = await self._advisors.last_state(user.advisor_id)
            if last is not None:
                state, reason, by, note = last.state.value, last.reason, last.by, last.note
        current = [] if user.advisor_id is None else await self._messages.current_call(user.advisor_id)
        return DeskState(
            user=DeskUser(name=user.name, role=user.role.value, advisor_id=user.advisor_id),
            presence=Presence(state=state, label=STATE_LABELS[state], reason=reason, by=by, note=note),
            pause_reasons=self._pause_reasons,
            demo=self._demo,
            current_call=current,
        )

    async def day(self, user: User) -> DeskDay:
        """« Ma journée »: the advisor's own figures of today (their calls and presence log only)."""
        if user.advisor_id is None or self._day is None:
            raise NotAnAdvisor()
        now = self._clock()
        start, end = day_bounds(now, self._zone)
        calls = await self._day.calls(user.advisor_id, start, end)
        changes = await self._day.changes(user.advisor_id, start, end)
        advisor = str(user.advisor_id)
        figures = my_day(
            [
                CallFacts(
                    linkedid=c.linkedid,
                    arrived_at=c.arrived_at,
                    # the advisor took it, open line or not (the line's hours are the reports' concern: a call
                    # answered after closing time is « closed » there, yet it was this advisor's work)
                    line_open=True,
                    status=CallStatus(c.status),
                    answered_at=c.answered_at,
                    talk=c.talk_seconds,
                    hold=c.hold_seconds,
                    qualified_at=c.qualified_at,
                )
                for c in calls
            ],
            [StateChangeFact(advisor, AdvisorState(c.state), c.at) for c in changes],
            now,
            self._zone,
            self._thresholds,
        )
        return DeskDay(
            day=figures.day,
            calls_taken=figures.calls_taken,
            qualified=figures.qualified,
            aht_seconds=figures.aht_seconds,
            hold_seconds=figures.hold_seconds,
            pause_seconds=figures.pause_seconds,
        )

    async def set_presence(self, user: User, what: Command, reason: str | None = None) -> None:
        if user.advisor_id is None:
            raise NotAnAdvisor()
        try:
            await self._commands.send(user.advisor_id, what, reason)
        except PresenceError as exc:
            raise PresenceRefused(str(exc)) from None
        except RouterUnavailable:
            raise RouterDown() from None

    async def leave_queue(self, user: User) -> None:
        """The user ends their session: their advisor leaves the queue first (logged out of it), so no call is
        offered to a desk nobody watches. Raises `SessionEndDuringCall` while their phone rings or is in a call,
        `SessionEndRouterDown` when the router does not answer (the session then stays open: closing it would
        leave the advisor in the queue). An advisor the router does not route (inactive) just leaves."""
        if user.advisor_id is None:
            return
        try:
            await self._commands.send(user.advisor_id, "logout")
        except CallInProgress:
            raise SessionEndDuringCall() from None
        except PresenceError as exc:  # not an advisor the router routes: nothing to leave
            log.info("session end of %s: no queue to leave (%s)", user.login, exc)
        except RouterUnavailable:
            raise SessionEndRouterDown() from None
        else:
            log.info("session end of %s: advisor #%d logged out of the queue", user.login, user.advisor_id)

    async def qualified(self, advisor_id: int, linkedid: str) -> None:
        """The advisor qualified `linkedid`: the page no longer shows it at a reload, and their wrap-up ends (a pause
        asked meanwhile still applies; qualified during the call, the advisor has no wrap-up after it). Best
        effort: the qualification is saved whatever happens here."""
        try:
            await self._messages.call_done(advisor_id, linkedid)
        except (RedisError, OSError) as exc:  # the page then shows that call again at a reload
            log.warning("current call of advisor %s not cleared after qualification: %s", advisor_id, exc)
        try:
            await self._commands.send(advisor_id, "wrapup_done")
        except (PresenceError, RouterUnavailable) as exc:  # the wrap-up then ends at its maximum
            log.warning("wrap-up not ended after qualification (advisor %s): %s", advisor_id, exc)
