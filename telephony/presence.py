"""Advisors' presence and the calls waiting for them: pure, fed by commands, call effects and the clock value
passed in. It says what Asterisk's queue membership should be (`desired_members`) and what routing sees
(`views`, `waiting`). The router (`telephony.router`) executes; nothing here does I/O.

Member mapping (see README, "Routing"): logged out = not a member; available = unpaused with penalty
STANDBY, or OFFERED while the service offers that advisor to the head call; ringing and on call = unpaused
(Asterisk knows they are busy); wrap-up and pause = paused with a reason.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from config.settings import RoutingSettings
from telephony.advisors import MISSED_CALL, Advisor, AdvisorState, StateChange
from telephony.effects import (
    AdvisorReleased,
    AdvisorRingEnded,
    AdvisorRinging,
    AnyEffect,
    CallAnswered,
    CallEnded,
    CallLeftQueue,
    CallQueued,
    MemberUpdate,
)
from telephony.records import RingResult
from telephony.routing import AdvisorView, WaitingCall

OFFERED = 1  # callers enter with QUEUE_MAX_PENALTY=1: only offered members ring
STANDBY = 2  # reachable by the queue rule's fail-safe only
WRAP_UP_REASON = "wrap_up"
DEVICE_INVALID = 4


class PresenceError(Exception):
    """A presence command that does not apply now; the message is for the advisor (French)."""

    error_id = "presence-refused"


class CallInProgress(PresenceError):
    """Refused because the advisor's phone rings or is in a call (logging out, pausing)."""

    error_id = "call-in-progress"


@dataclass(frozen=True)
class MemberConfig:
    """What the queue member of one advisor should look like (or does, as Asterisk says)."""

    name: str
    paused: bool
    reason: str
    penalty: int


@dataclass
class _Presence:
    advisor: Advisor
    state: AdvisorState = AdvisorState.LOGGED_OUT
    since: datetime | None = None
    reason: str | None = None
    linkedid: str | None = None
    idle_since: datetime | None = None  # kept across a ring that did not end in a call (fairness)
    wrapup_until: datetime | None = None
    offered_for: str | None = None
    qualified: str | None = None  # the call in progress was qualified already: no wrap-up after it
    after: tuple[AdvisorState, str | None] | None = None  # a pause that a ring overtook: resumed after it
    rank: int = 0  # position among the advisors loaded (the order of the board's outputs)
    view: AdvisorView | None = None  # routing's view, built again after any change to the fields it shows


@dataclass
class _Waiting:
    linkedid: str
    queued_at: datetime
    topic: str | None
    caller_number: str | None
    preferred: int | None = None
    ringing: bool = False
    offered_to: int | None = None
    looking_up: bool = False  # the caller's previous advisor is being looked up

    @property
    def key(self) -> tuple[datetime, str]:
        """Its place in the queue: oldest first, ties by linkedid (as `routing.plan` sorts)."""
        return (self.queued_at, self.linkedid)

    @property
    def undecided(self) -> bool:
        """Neither ringing nor offered: `routing.plan` would decide for it once it is the head."""
        return not self.ringing and self.offered_to is None


def _count(counts: dict[int, int], key: int | None, delta: int) -> None:
    """Add `delta` to `counts[key]` (None: nothing); a count that falls to 0 leaves the dict."""
    if key is None:
        return
    n = counts.get(key, 0) + delta
    if n:
        counts[key] = n
    else:
        del counts[key]


@dataclass
class PresenceBoard:
    routing: RoutingSettings
    _by_id: dict[int, _Presence] = field(default_factory=dict)
    _by_interface: dict[str, _Presence] = field(default_factory=dict)
    _waiting: dict[str, _Waiting] = field(default_factory=dict)  # in the order the calls joined (`waiting()`)
    # Indexes of the waiting calls, kept by `_enter`/`_leave` at each change of a call (join, leave, ring, offer,
    # look-up answer: a bisect and a list insertion or deletion), so that a step costs O(1), not O(n), with n calls
    # waiting (with 300 calls waiting and no advisor, rebuilding and sorting all of them at every effect held the
    # service loop: bench/README.md): the undecided calls' keys, sorted (the head is the first), and how many
    # waiting calls name each advisor as offered to them or as preferred.
    _undecided: list[tuple[datetime, str]] = field(default_factory=list)
    _offered_calls: dict[int, int] = field(default_factory=dict)
    _preferred: dict[int, int] = field(default_factory=dict)
    invalid_interfaces: set[str] = field(default_factory=set)
    dirty: set[str] = field(default_factory=set)  # interfaces whose desired membership may have changed
    # Indexes kept by `_index` and `offer`/`withdraw`, so that a step reads only what can matter (with hundreds
    # of advisors, scanning all of them at every event was most of the router's time at 100 calls/s).
    _available: dict[int, _Presence] = field(default_factory=dict)
    _wrapping: dict[int, _Presence] = field(default_factory=dict)
    _offered: dict[int, _Presence] = field(default_factory=dict)
    # offers cancelled since the router last took them (call, advisor): their claims must be released, or the call
    # cannot be offered again until the claim expires (take_withdrawn)
    _withdrawn: list[tuple[str, int]] = field(default_factory=list)

    # ---- configuration and rebuild ----

    def load(self, advisors: Iterable[Advisor], last: dict[int, StateChange]) -> None:
        """Advisors from the database with their last recorded presence (after a start or a takeover)."""
        self._by_id.clear()
        self._by_interface.clear()
        self._available.clear()
        self._wrapping.clear()
        self._offered.clear()
        for advisor in advisors:
            if not advisor.active:
                continue
            p = _Presence(advisor, rank=len(self._by_id))
            change = last.get(advisor.id)
            if change is not None:
                p.state, p.since, p.reason, p.linkedid = change.state, change.at, change.reason, change.linkedid
                p.idle_since = change.at if change.state is AdvisorState.AVAILABLE else None
                if change.state is AdvisorState.WRAP_UP:
                    p.wrapup_until = change.at + timedelta(seconds=self.routing.wrapup_max)
            self._by_id[advisor.id] = p
            self._by_interface[advisor.interface] = p
            self._index(p)
        self.dirty.update(self._by_interface)

    def add(self, advisor: Advisor) -> None:
        """An advisor created (or re-activated) since the last load: logged out until they log in."""
        if advisor.active and advisor.id not in self._by_id:
            p = _Presence(advisor, rank=max((q.rank for q in self._by_id.values()), default=-1) + 1)
            self._by_id[advisor.id] = p
            self._by_interface[advisor.interface] = p
            self.dirty.add(advisor.interface)

    def update(self, advisor: Advisor) -> None:
        """An advisor as the directory holds it now (read again at each login): routing uses their new name and
        skills from now on. A changed interface or a deactivation waits for the next load (a takeover or start)."""
        p = self._by_id.get(advisor.id)
        if p is not None and advisor.active and advisor.interface == p.advisor.interface and advisor != p.advisor:
            p.advisor = advisor
            p.view = None

    def knows(self, advisor_id: int) -> bool:
        return advisor_id in self._by_id

    def adopt_members(self, members: Iterable[MemberUpdate], now: datetime) -> list[StateChange]:
        """Reconcile with what Asterisk holds after a (re)connect: a member in a call is on call, whatever
        the log said; an advisor the log calls ringing/on call but who is idle in Asterisk is in wrap-up."""
        changes: list[StateChange] = []
        seen = {m.interface: m for m in members if m.present}
        for p in self._by_id.values():
            member = seen.get(p.advisor.interface)
            if member is not None and member.in_call and p.state is not AdvisorState.ON_CALL:
                changes += self._set(p, AdvisorState.ON_CALL, now)
            elif p.state in (AdvisorState.ON_CALL, AdvisorState.RINGING) and (member is None or not member.in_call):
                changes += self._set(p, AdvisorState.WRAP_UP, now, reason=WRAP_UP_REASON)
                p.wrapup_until = now + timedelta(seconds=self.routing.wrapup_max)
        return changes

    # ---- read side ----

    def presence(self, advisor_id: int) -> tuple[AdvisorState, str | None]:
        p = self._require(advisor_id)
        return p.state, p.reason

    def advisor_of(self, interface: str) -> Advisor | None:
        p = self._by_interface.get(interface)
        return p.advisor if p is not None else None

    def views(self, *, relevant_only: bool = False) -> list[AdvisorView]:
        """Routing's view of the advisors. `relevant_only`: just those a decision can name or wait for (available
        ones and the waiting callers' previous advisors), which keeps a decision cheap with many advisors busy.
        Each view is kept until its advisor changes (built without re-validation: the board's data is valid)."""
        if not relevant_only:
            return [self._view(p) for p in self._by_id.values()]
        extra = [self._by_id[i] for i in self._preferred if i in self._by_id and i not in self._available]
        chosen = sorted([*self._available.values(), *extra], key=_by_rank)  # the board's order, as without indexes
        return [self._view(p) for p in chosen]

    def _view(self, p: _Presence) -> AdvisorView:
        claimed = p.offered_for is not None or p.advisor.interface in self.invalid_interfaces
        view = p.view
        if view is None or view.claimed is not claimed:
            view = p.view = AdvisorView(
                advisor_id=p.advisor.id,
                interface=p.advisor.interface,
                state=p.state,
                since=(p.idle_since if p.state is AdvisorState.AVAILABLE else p.since) or _EPOCH,
                skills=p.advisor.skills,
                claimed=claimed,
            )
        return view

    def needs_decision(self) -> bool:
        """Whether some waiting call is neither ringing nor offered (else planning would decide nothing). O(1)."""
        return bool(self._undecided)

    def head(self) -> WaitingCall | None:
        """The call `routing.plan(self.waiting(), …)` would decide for: the oldest waiting call (by `queued_at`,
        then linkedid) neither ringing nor offered; None if there is none. O(1): the order is kept as calls change."""
        if not self._undecided:
            return None
        return _call(self._waiting[self._undecided[0][1]])

    def offered_advisors(self) -> Set[int]:
        """The advisors named as offered (`offered_to`) by some waiting call, as `routing.plan` gathers them (a live
        view: read it before the board changes again)."""
        return self._offered_calls.keys()

    def waiting(self) -> list[WaitingCall]:
        """Every waiting call, in the order they joined. O(n): for tests and tools; the router uses `head`."""
        return [_call(w) for w in self._waiting.values()]

    def waiting_call(self, linkedid: str) -> tuple[str | None, datetime] | None:
        w = self._waiting.get(linkedid)
        return (w.caller_number, w.queued_at) if w is not None else None

    def desired_members(self, only: set[str] | None = None) -> dict[str, MemberConfig]:
        """Desired membership of every advisor (or of the interfaces in `only`)."""
        out: dict[str, MemberConfig] = {}
        chosen = (
            self._by_id.values() if only is None else [self._by_interface[i] for i in only if i in self._by_interface]
        )
        for p in chosen:
            name = p.advisor.name
            if p.state is AdvisorState.LOGGED_OUT:
                continue
            if p.state in (AdvisorState.PAUSED, AdvisorState.WRAP_UP):
                out[p.advisor.interface] = MemberConfig(name, True, p.reason or WRAP_UP_REASON, STANDBY)
            else:
                penalty = OFFERED if p.offered_for is not None else STANDBY
                out[p.advisor.interface] = MemberConfig(name, False, "", penalty)
        return out

    def next_deadline(self) -> datetime | None:
        deadlines = [p.wrapup_until for p in self._wrapping.values() if p.wrapup_until is not None]
        return min(deadlines) if deadlines else None

    # ---- commands (from the advisor's desk or the CLI) ----

    def login(self, advisor_id: int, now: datetime) -> list[StateChange]:
        p = self._require(advisor_id)
        if p.state is not AdvisorState.LOGGED_OUT:
            return []
        return self._set(p, AdvisorState.AVAILABLE, now)

    def logout(self, advisor_id: int, now: datetime) -> list[StateChange]:
        p = self._require(advisor_id)
        if p.state in (AdvisorState.RINGING, AdvisorState.ON_CALL):
            raise CallInProgress("Impossible de se déconnecter pendant un appel.")
        return self._set(p, AdvisorState.LOGGED_OUT, now) if p.state is not AdvisorState.LOGGED_OUT else []

    def pause(self, advisor_id: int, reason: str, now: datetime) -> list[StateChange]:
        p = self._require(advisor_id)
        if reason not in self.routing.pause_reasons:
            raise PresenceError(f"Motif de pause inconnu : {reason[:40]!r}.")
        if p.state is AdvisorState.LOGGED_OUT:
            raise PresenceError("La pause n'est possible qu'en étant disponible ou en fin d'appel.")
        if p.state in (AdvisorState.RINGING, AdvisorState.ON_CALL):
            raise CallInProgress("La pause n'est possible qu'en étant disponible ou en fin d'appel.")
        return self._set(p, AdvisorState.PAUSED, now, reason=reason)

    def available(self, advisor_id: int, now: datetime) -> list[StateChange]:
        """Back to available: ends a pause, a missed-call pause or the wrap-up, at once (the advisor's own
        « Disponible », the CLI's `presence … available`: the wrap-up's minimum is for the end a save brings)."""
        p = self._require(advisor_id)
        if p.state in (AdvisorState.PAUSED, AdvisorState.WRAP_UP, AdvisorState.LOGGED_OUT):
            p.after = None
            return self._set(p, AdvisorState.AVAILABLE, now)
        return []

    def wrapup_done(self, advisor_id: int, now: datetime) -> list[StateChange]:
        """The call record is qualified: the wrap-up ends, but not before its minimum (`wrapup_min` after the
        call ended: the advisor finishes a sentence before the next call rings); a pause asked meanwhile applies
        at once. Qualified during the call: the advisor has the minimum wrap-up only when the call ends."""
        p = self._require(advisor_id)
        if p.state is AdvisorState.ON_CALL:
            p.qualified = p.linkedid
            return []
        if p.state is not AdvisorState.WRAP_UP:
            return []
        floor = self._wrapup_floor(p)
        if p.after is None and floor is not None and now < floor:
            p.wrapup_until = floor if p.wrapup_until is None else min(p.wrapup_until, floor)
            return []  # `expire` ends it at the floor
        return self._resume(p, now)

    def expire(self, now: datetime) -> list[StateChange]:
        """Wrap-ups past their maximum end."""
        changes: list[StateChange] = []
        due = [p for p in self._wrapping.values() if p.wrapup_until is not None and p.wrapup_until <= now]
        for p in sorted(due, key=_by_rank):
            changes += self._resume(p, now)
        return changes

    # ---- routing bookkeeping ----

    def offer(self, linkedid: str, advisor_id: int) -> None:
        p = self._require(advisor_id)
        p.offered_for = linkedid
        p.view = None
        self._offered[advisor_id] = p
        self.dirty.add(p.advisor.interface)
        w = self._waiting.get(linkedid)
        if w is not None:
            self._leave(w)
            w.offered_to = advisor_id
            self._enter(w)

    def withdraw(self, advisor_id: int) -> str | None:
        """Cancel an offer (the call went elsewhere or ended); returns the call it was for."""
        p = self._by_id.get(advisor_id)
        if p is None or p.offered_for is None:
            return None
        linkedid, p.offered_for = p.offered_for, None
        p.view = None
        self._offered.pop(advisor_id, None)
        self.dirty.add(p.advisor.interface)
        self._withdrawn.append((linkedid, advisor_id))
        w = self._waiting.get(linkedid)
        if w is not None and w.offered_to == advisor_id:
            self._leave(w)
            w.offered_to = None
            self._enter(w)
        return linkedid

    def take_withdrawn(self) -> list[tuple[str, int]]:
        """The offers cancelled since the last call, as (call, advisor), each once: by `withdraw`, by the advisor
        ringing (for that call or, as app_queue may do, for another one), pausing or logging out."""
        taken, self._withdrawn = self._withdrawn, []
        return taken

    def look_up(self, linkedid: str) -> None:
        """The caller's previous advisor is being looked up: the call is not decided until `set_preferred`."""
        w = self._waiting.get(linkedid)
        if w is not None:
            w.looking_up = True

    def set_preferred(self, linkedid: str, advisor_id: int | None) -> None:
        """The look-up's answer (None: no previous advisor, or the look-up failed): the call can be decided."""
        w = self._waiting.get(linkedid)
        if w is not None:
            self._leave(w)
            w.preferred = advisor_id
            w.looking_up = False
            self._enter(w)

    def stale_offers(self) -> list[int]:
        """Offers for calls that no longer wait (answered elsewhere, abandoned)."""
        stale = [p for p in self._offered.values() if p.offered_for is not None and p.offered_for not in self._waiting]
        return [p.advisor.id for p in sorted(stale, key=_by_rank)]

    def offered_call(self, advisor_id: int) -> str | None:
        """The call this advisor is offered for, if any."""
        p = self._by_id.get(advisor_id)
        return p.offered_for if p is not None else None

    # ---- call effects ----

    def on_effect(self, effect: AnyEffect) -> list[StateChange]:
        if isinstance(effect, CallQueued):
            self._join(_Waiting(effect.linkedid, effect.at, effect.topic, effect.caller_number))
            return []
        if isinstance(effect, MemberUpdate):
            if effect.device_state == DEVICE_INVALID:
                self.invalid_interfaces.add(effect.interface)
            else:
                self.invalid_interfaces.discard(effect.interface)
            return []
        if isinstance(effect, CallEnded | CallLeftQueue):
            self._drop(effect.linkedid)
            return []
        p = self._by_interface.get(getattr(effect, "interface", ""))
        w = self._waiting.get(effect.linkedid)
        if isinstance(effect, AdvisorRinging):
            if w is not None:
                self._leave(w)
                w.ringing = True
                self._enter(w)
            if p is None:
                return []
            if p.offered_for is not None:
                self.withdraw(p.advisor.id)
            if p.state is AdvisorState.PAUSED:  # the pause had not reached Asterisk yet: keep it for after
                p.after = (p.state, p.reason)
            return self._set(p, AdvisorState.RINGING, effect.at, linkedid=effect.linkedid, keep_idle=True)
        if isinstance(effect, AdvisorRingEnded):
            if effect.result is RingResult.CALLER_GONE:  # nobody to offer any more
                self._drop(effect.linkedid)
            elif w is not None and effect.result is not RingResult.ANSWERED:  # answered: CallAnswered follows
                self._leave(w)
                w.ringing = False
                self._enter(w)
            if p is None or p.state is not AdvisorState.RINGING or p.linkedid != effect.linkedid:
                return []
            if effect.result is RingResult.NO_ANSWER:
                return self._set(p, AdvisorState.PAUSED, effect.at, reason=MISSED_CALL)
            if effect.result is RingResult.ANSWERED:
                return []  # CallAnswered follows
            return self._resume(p, effect.at, keep_idle=True)
        if isinstance(effect, CallAnswered):
            self._drop(effect.linkedid)
            if p is None:
                return []
            p.qualified = None
            return self._set(p, AdvisorState.ON_CALL, effect.at, linkedid=effect.linkedid)
        if isinstance(effect, AdvisorReleased):
            if p is None or p.state is not AdvisorState.ON_CALL:
                return []
            qualified, p.qualified = p.qualified == effect.linkedid, None
            if qualified and (p.after is not None or self._wrapup_min() <= 0):
                return self._resume(p, effect.at)  # qualified during the call: its wrap-up is done already
            changes = self._set(p, AdvisorState.WRAP_UP, effect.at, reason=WRAP_UP_REASON, linkedid=effect.linkedid)
            # qualified during the call: the minimum wrap-up only
            wrap = self._wrapup_min() if qualified else self.routing.wrapup_max
            p.wrapup_until = effect.at + timedelta(seconds=wrap)
            return changes
        return []

    # ---- internals ----

    def _join(self, w: _Waiting) -> None:
        """A call joins the queue (joining again: it replaces the earlier entry, keeping its place in `waiting()`)."""
        old = self._waiting.get(w.linkedid)
        if old is not None:
            self._leave(old)
        self._waiting[w.linkedid] = w
        self._enter(w)

    def _drop(self, linkedid: str) -> None:
        """A call no longer waits (answered, gone, left the queue)."""
        w = self._waiting.pop(linkedid, None)
        if w is not None:
            self._leave(w)

    def _enter(self, w: _Waiting) -> None:
        """Count a waiting call in the indexes (after it joined or changed). O(log n) plus a list insertion."""
        if w.undecided:
            insort(self._undecided, w.key)
        _count(self._offered_calls, w.offered_to, 1)
        _count(self._preferred, w.preferred, 1)

    def _leave(self, w: _Waiting) -> None:
        """Take a waiting call out of the indexes (before it changes or leaves); the reverse of `_enter`."""
        if w.undecided:
            i = bisect_left(self._undecided, w.key)
            assert self._undecided[i] == w.key  # entered when it became undecided
            del self._undecided[i]
        _count(self._offered_calls, w.offered_to, -1)
        _count(self._preferred, w.preferred, -1)

    def _resume(self, p: _Presence, at: datetime, *, keep_idle: bool = False) -> list[StateChange]:
        """After a ring or a wrap-up: available, unless a pause was asked meanwhile."""
        if p.after is not None:
            (state, reason), p.after = p.after, None
            return self._set(p, state, at, reason=reason)
        return self._set(p, AdvisorState.AVAILABLE, at, keep_idle=keep_idle)

    def _wrapup_min(self) -> float:
        """Seconds of wrap-up at least: `wrapup_min`, never longer than `wrapup_max`."""
        return min(self.routing.wrapup_min, self.routing.wrapup_max)

    def _wrapup_floor(self, p: _Presence) -> datetime | None:
        """When the wrap-up of `p` may end at the earliest (None: no minimum)."""
        minimum = self._wrapup_min()
        if minimum <= 0 or p.since is None:
            return None
        return p.since + timedelta(seconds=minimum)

    def _require(self, advisor_id: int) -> _Presence:
        p = self._by_id.get(advisor_id)
        if p is None:
            raise PresenceError("Conseiller inconnu ou inactif.")
        return p

    def _set(
        self,
        p: _Presence,
        state: AdvisorState,
        at: datetime,
        *,
        reason: str | None = None,
        linkedid: str | None = None,
        keep_idle: bool = False,
    ) -> list[StateChange]:
        if state is AdvisorState.AVAILABLE:
            p.idle_since = p.idle_since if keep_idle and p.idle_since is not None else at
        elif not keep_idle:
            p.idle_since = None
        if state is not AdvisorState.AVAILABLE and p.offered_for is not None:
            self.withdraw(p.advisor.id)
        p.state, p.since, p.reason, p.linkedid = state, at, reason, linkedid
        self.dirty.add(p.advisor.interface)
        if state is not AdvisorState.WRAP_UP:
            p.wrapup_until = None
        self._index(p)
        return [StateChange(advisor_id=p.advisor.id, state=state, at=at, reason=reason, linkedid=linkedid)]

    def _index(self, p: _Presence) -> None:
        """After a change of `p.state` (or `idle_since`): the view is stale, the indexes follow the state."""
        p.view = None
        advisor_id = p.advisor.id
        if p.state is AdvisorState.AVAILABLE:
            self._available[advisor_id] = p
        else:
            self._available.pop(advisor_id, None)
        if p.state is AdvisorState.WRAP_UP:
            self._wrapping[advisor_id] = p
        else:
            self._wrapping.pop(advisor_id, None)


_EPOCH = datetime(1970, 1, 1).astimezone()


def _call(w: _Waiting) -> WaitingCall:
    return WaitingCall(
        linkedid=w.linkedid,
        queued_at=w.queued_at,
        topic=w.topic,
        preferred_advisor=w.preferred,
        ringing=w.ringing,
        offered_to=w.offered_to,
        looking_up=w.looking_up,
    )


def _by_rank(p: _Presence) -> int:
    return p.rank


def reconcile(desired: dict[str, MemberConfig], actual: dict[str, MemberConfig], queue: str) -> list[dict[str, str]]:
    """AMI actions that make Asterisk's members of `queue` match `desired` (pure)."""
    actions: list[dict[str, str]] = []
    for interface in sorted(actual.keys() - desired.keys()):
        actions.append({"Action": "QueueRemove", "Queue": queue, "Interface": interface})
    for interface, want in sorted(desired.items()):
        have = actual.get(interface)
        if have is None:
            actions.append(
                {
                    "Action": "QueueAdd",
                    "Queue": queue,
                    "Interface": interface,
                    "MemberName": want.name,
                    "Penalty": str(want.penalty),
                    "Paused": "true" if want.paused else "false",
                    "Reason": want.reason,
                }
            )
            continue
        if (have.paused, have.reason if have.paused else "") != (want.paused, want.reason if want.paused else ""):
            actions.append(
                {
                    "Action": "QueuePause",
                    "Queue": queue,
                    "Interface": interface,
                    "Paused": "true" if want.paused else "false",
                    "Reason": want.reason,
                }
            )
        if have.penalty != want.penalty:
            actions.append(
                {"Action": "QueuePenalty", "Queue": queue, "Interface": interface, "Penalty": str(want.penalty)}
            )
    return actions
