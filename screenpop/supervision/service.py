"""The wallboard's rules: what a supervisor sees (`snapshot`) and what they may do to an advisor (`act`). No aiohttp.

Sources, each the one that is right on every instance:
- the calls waiting and in progress: the instance's live view (`telephony.live`), fed by its own AMI link;
- the advisors' states: the presence log in PostgreSQL (the leading router writes it, then tells the desks and the
  wallboards); the live view's advisors are exact only on the leader's instance, so they are not read here;
- today's figures: the statistics' own figures of the day (`StatisticsService.figures(today, today)`: the stored
  facts summed by the reports' SQL, kept equal to the KPI dictionary `screenpop.statistics.kpis` by its test), never
  counters kept in memory: a restart, or another instance, shows the same.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg

from screenpop.desk.models import STATE_LABELS
from screenpop.statistics import definitions, kpis
from screenpop.statistics.errors import ReportTooSlow
from screenpop.statistics.service import MONTHS, WEEKDAYS, StatisticsService
from screenpop.supervision.errors import ActionRefused, InvalidAction, RouterDown, UnknownAdvisor
from screenpop.supervision.models import ActionForm, AdvisorRow, FigureRow, Snapshot, Status, WaitingCall
from storage.advisors import AdvisorRepository
from storage.users import User
from telephony.advisors import MISSED_CALL, AdvisorState
from telephony.aio import bounded
from telephony.identity import french_display
from telephony.live import CallPhase, LiveView
from telephony.ports import RouterCommands, RouterUnavailable
from telephony.presence import WRAP_UP_REASON, PresenceError

log = logging.getLogger(__name__)

DEFINITIONS_URL = "/statistiques/definitions"
UNAVAILABLE = (
    "La base de données ne répond pas : les conseillers et les chiffres du jour reviendront avec elle ; les appels "
    "en attente restent à jour."
)
# the advisors' states in the words of their desk, in the wallboard's order
STATE_ORDER = {
    s: i
    for i, s in enumerate(
        (
            AdvisorState.AVAILABLE,
            AdvisorState.RINGING,
            AdvisorState.ON_CALL,
            AdvisorState.WRAP_UP,
            AdvisorState.PAUSED,
            AdvisorState.LOGGED_OUT,
        )
    )
}
# the figures of the wallboard, in the order shown, and the target of those that have one
SHOWN = (
    "offered",
    "answered",
    "answer_rate",
    "service_level",
    "abandoned",
    "short_abandoned",
    "asa",
    "aht",
    "occupancy",
    "transfers",
    "callbacks_requested",
)

Clock = Callable[[], datetime]
OpenCallbacks = Callable[[], Awaitable[tuple[int, int]]]  # (open now, of which past one working day)


async def _no_callbacks() -> tuple[int, int]:
    return 0, 0


def french_day(day: datetime) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def minutes_seconds(seconds: int) -> str:
    """« 1:05 », « 12:00 », « 75:10 »: a hold's length as the wallboard says it (m:ss)."""
    return f"{seconds // 60}:{seconds % 60:02d}"


def _percent(share: float) -> str:
    return definitions.percent(share).replace(",0\u00a0%", "\u00a0%")


class SupervisionService:
    def __init__(
        self,
        live: LiveView,
        advisors: AdvisorRepository,
        statistics: StatisticsService,
        commands: RouterCommands,
        *,
        thresholds: kpis.Thresholds,
        pause_reasons: Mapping[str, str],
        topics: Mapping[str, str],
        timezone: str = "Europe/Paris",
        clock: Clock | None = None,
        within: float = 3.0,
        callbacks: OpenCallbacks = _no_callbacks,
    ) -> None:
        self._live = live
        self._advisors = advisors
        self._statistics = statistics
        self._commands = commands
        self._t = thresholds
        self.pause_reasons = dict(pause_reasons)
        self._reason_labels = {MISSED_CALL: "appel manqué", WRAP_UP_REASON: "après-appel", **pause_reasons}
        self._topics = topics
        self._tz = ZoneInfo(timezone)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._within = within  # seconds: the database's answer at most, then the calls alone
        self._callbacks = callbacks

    # ---- the snapshot ----

    async def snapshot(self) -> Snapshot:
        now = self._clock()
        local = now.astimezone(self._tz)
        t = self._t
        try:  # PostgreSQL away or slow: the calls waiting (the live view) are shown all the same
            advisors, last, figures, (open_callbacks, overdue) = await bounded(
                asyncio.gather(
                    self._advisors.list(active_only=True),
                    self._advisors.last_states(),
                    self._statistics.figures(local.date(), local.date()),  # today, as the reports compute a day
                    self._callbacks(),
                ),
                self._within,
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError, ReportTooSlow) as exc:
            log.warning("wallboard: the database did not answer (%r): calls only", exc)
            return Snapshot(
                at=now,
                day=french_day(local),
                time=local.strftime("%H:%M:%S"),
                waiting=(waiting := self._waiting(now, {})),
                longest_wait_seconds=waiting[0].wait_seconds if waiting else None,
                threshold_seconds=round(t.service_level),
                in_call=sum(1 for c in self._live.calls() if c.with_advisor),
                on_hold=sum(1 for c in self._live.calls() if c.with_advisor and c.on_hold),
                advisors=[],
                figures=[*(self._figure(name, None) for name in SHOWN), self._open_callbacks(None)],
                figures_note=UNAVAILABLE,
                unavailable=UNAVAILABLE,
            )
        names = {a.interface: a.name for a in advisors}
        waiting = self._waiting(now, names)
        talking = {c.advisor: c for c in self._live.calls() if c.with_advisor and c.advisor is not None}
        rows = []
        for advisor in advisors:
            change = last.get(advisor.id)
            state = change.state if change is not None else AdvisorState.LOGGED_OUT
            reason = change.reason if change is not None and state is AdvisorState.PAUSED else None
            call = None
            if state is AdvisorState.ON_CALL:  # their call: the one the presence log names, else by their phone
                named = self._live.call(change.linkedid) if change is not None and change.linkedid else None
                call = named if named is not None and named.with_advisor else talking.get(advisor.interface)
            held = None if call is None else call.on_hold_since
            held_for = None if held is None else max(0, int((now - held).total_seconds()))
            rows.append(
                AdvisorRow(
                    advisor_id=advisor.id,
                    name=advisor.name,
                    state=state.value,
                    state_label=STATE_LABELS[state.value],
                    reason=None if reason is None else self._reason_labels.get(reason, reason),
                    since=change.at if change is not None else None,
                    seconds_in_state=None if change is None else max(0, int((now - change.at).total_seconds())),
                    by=change.by if change is not None else None,
                    note=change.note if change is not None else None,
                    on_hold_since=held,
                    on_hold_seconds=held_for,
                    hold_total_seconds=None if call is None else int(call.hold_so_far(now).total_seconds()),
                    hold_label=None if held_for is None else f"appel en attente depuis {minutes_seconds(held_for)}",
                )
            )
        rows.sort(key=lambda r: (STATE_ORDER[AdvisorState(r.state)], r.name))
        return Snapshot(
            at=now,
            day=french_day(local),
            time=local.strftime("%H:%M:%S"),
            waiting=waiting,
            longest_wait_seconds=waiting[0].wait_seconds if waiting else None,
            threshold_seconds=round(self._t.service_level),
            in_call=sum(1 for c in self._live.calls() if c.with_advisor),
            on_hold=sum(1 for c in self._live.calls() if c.with_advisor and c.on_hold),
            advisors=rows,
            figures=[
                *(self._figure(name, getattr(figures, name)) for name in SHOWN),
                self._open_callbacks((open_callbacks, overdue)),
            ],
            figures_note=(
                "Depuis minuit, sur les appels terminés (un appel en cours compte à sa fin) ; les rappels demandés "
                "sont ceux d'aujourd'hui, les rappels en attente ceux de tous les jours, maintenant."
            ),
        )

    def _waiting(self, now: datetime, names: Mapping[str, str]) -> list[WaitingCall]:
        out = []
        for call in self._live.calls():
            if call.phase not in (CallPhase.WAITING, CallPhase.RINGING) or call.queued_at is None:
                continue
            wait = max(0, int((now - call.queued_at).total_seconds()))
            ring = call.ring if call.phase is CallPhase.RINGING else None
            out.append(
                WaitingCall(
                    linkedid=call.linkedid,
                    caller=call.caller_display or french_display(call.caller_number) or "numéro masqué",
                    topic=None if call.menu_topic is None else self._topics.get(call.menu_topic, call.menu_topic),
                    queued_at=call.queued_at,
                    wait_seconds=wait,
                    ringing=None if ring is None else names.get(ring.interface, ring.interface),
                    over_target=wait > self._t.service_level,
                )
            )
        out.sort(key=lambda w: w.queued_at)
        return out

    def _figure(self, name: str, figure: kpis.Figure | None) -> FigureRow:
        """A figure as the wallboard shows it (None: not known now, the database away)."""
        definition = definitions.DEFINITIONS[name]
        target = {"answer_rate": self._t.answer_rate_target, "service_level": self._t.service_level_target}.get(name)
        status: Status = "none"
        status_label = ""
        if figure is None:
            status_label = "indisponible"
        elif target is not None:
            met = kpis.meets(figure, target)
            if met is not None:
                status = "ok" if met else "below"
                status_label = "objectif atteint" if met else "objectif non atteint"
            else:
                status_label = "pas encore d'appel"
        label = definition.label + (" aujourd'hui" if name == "callbacks_requested" else "")
        return FigureRow(
            name=name,
            label=label,
            value=None if figure is None else figure.value,
            shown=definitions.DASH if figure is None else definitions.show(name, figure),
            numerator=0 if figure is None else figure.numerator,
            denominator=None if figure is None else figure.denominator,
            target=None if target is None else f"objectif {_percent(target)}",
            status=status,
            status_label=status_label,
            definition=f"{DEFINITIONS_URL}#{definition.anchor}",
        )

    def _open_callbacks(self, found: tuple[int, int] | None) -> FigureRow:
        """« Rappels en attente »: open now, and how many are past one working day, said in words."""
        definition = definitions.DEFINITIONS["callbacks_open"]
        link = f"{DEFINITIONS_URL}#{definition.anchor}"
        if found is None:
            return FigureRow(
                name="callbacks_open",
                label=definition.label,
                value=None,
                shown=definitions.DASH,
                numerator=0,
                denominator=None,
                target=None,
                status="none",
                status_label="indisponible",
                definition=link,
            )
        n, late = found
        return FigureRow(
            name="callbacks_open",
            label=definition.label,
            value=n,
            shown=f"{definitions.count(n)} (dont {definitions.count(late)} en retard)" if n else "0",
            numerator=n,
            denominator=None,
            target="sous un jour ouvré",
            status="below" if late else "ok",
            status_label=f"{late} au-delà d'un jour ouvré" if late else "aucun en retard",
            definition=link,
        )

    # ---- actions ----

    async def act(self, user: User, form: ActionForm) -> str:
        """Pause an advisor or log them out for the supervisor `user`, with their reason; the French summary."""
        if form.action == "pause" and form.pause_reason not in self.pause_reasons:
            raise InvalidAction("Choisissez le motif de la pause.")
        advisor = await self._advisors.get(form.advisor_id)
        if advisor is None or not advisor.active:
            raise UnknownAdvisor()
        reason = form.pause_reason if form.action == "pause" else None
        try:
            await self._commands.send(advisor.id, form.action, reason, by=user.login, note=form.note)
        except PresenceError as exc:
            raise ActionRefused(str(exc)) from None
        except RouterUnavailable:
            raise RouterDown() from None
        if form.action == "pause":
            return f"{advisor.name} est en pause ({self.pause_reasons[reason or '']})."
        return f"{advisor.name} est déconnecté du poste."
