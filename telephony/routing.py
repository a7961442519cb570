"""Routing: which advisor to offer the head waiting call to. Pure: no I/O, no clock, no globals.

How the choice reaches Asterisk (done by the service, not here): every logged-in advisor is a member of app_queue
`gps`; advisors not offered have member penalty 2 ("standby"), the advisor offered for the head waiting call gets
penalty 1, and callers enter with QUEUE_MAX_PENALTY=1, so app_queue rings only offered members. A queue rule opens
to penalty 2 after a while: the fail-safe when the service is down.

Times are passed in (`now`); `continuity_wait` is in seconds (`RoutingSettings.continuity_wait`).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from telephony.advisors import AdvisorState

# A preferred advisor in one of these states is worth waiting for (bounded by continuity_wait).
BUSY_STATES = frozenset({AdvisorState.RINGING, AdvisorState.ON_CALL, AdvisorState.WRAP_UP})


@dataclass(frozen=True, slots=True)
class AdvisorView:
    """What routing needs to know about one advisor, right now. A plain dataclass: the board builds hundreds of
    these per decision from data it already validated (pydantic construction was the decision's largest cost)."""

    advisor_id: int
    interface: str
    state: AdvisorState
    since: datetime  # when the advisor entered `state`; for AVAILABLE: idle since (timezone-aware)
    skills: frozenset[str] = frozenset()
    claimed: bool = False  # already offered to / claimed for some call

    @property
    def free(self) -> bool:
        """Can be offered a call now."""
        return self.state is AdvisorState.AVAILABLE and not self.claimed


@dataclass(frozen=True, slots=True)
class WaitingCall:
    """A call waiting in the queue."""

    linkedid: str
    queued_at: datetime  # timezone-aware
    topic: str | None = None  # voice-menu choice (a skill key)
    preferred_advisor: int | None = None  # continuity: advisor of the caller's recent record or pending callback
    ringing: bool = False  # an advisor is ringing for it now
    offered_to: int | None = None  # advisor already offered for it (penalty 1), not yet ringing
    looking_up: bool = False  # its caller's previous advisor (continuity) is being looked up: not decidable yet


class Offer(BaseModel):
    """Offer `advisor_id` for this call (member penalty 1 and a claim)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["offer"] = "offer"
    linkedid: str
    advisor_id: int
    reason: Literal["continuity", "skill", "longest_idle"]


class Hold(BaseModel):
    """Offer nobody for now; decide again at `until` (None: when an advisor frees up, or for "continuity_lookup"
    when the look-up of the caller's previous advisor ends)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["hold"] = "hold"
    linkedid: str
    until: AwareDatetime | None
    reason: Literal["continuity_wait", "continuity_lookup", "no_advisor"]


Decision = Offer | Hold


def _longest_idle(advisors: Iterable[AdvisorView]) -> AdvisorView | None:
    """The advisor idle the longest (smallest `since`), ties by smallest id."""
    return min(advisors, key=lambda a: (a.since, a.advisor_id), default=None)


def choose_advisor(
    call: WaitingCall,
    advisors: Sequence[AdvisorView],
    now: datetime,
    continuity_wait: float,
) -> Decision:
    """Decide for one waiting call. O(len(advisors)).

    1. Continuity: the preferred advisor, if free, gets it. If they are busy (ringing, on a call, in wrap-up, or
       available but claimed for another call) the call is held until `queued_at + continuity_wait`; after that, or
       if they are logged out, paused or unknown, routing goes on without them.
    2. Candidates: available and unclaimed advisors. None: hold until an advisor frees up.
    3. A topic that some candidate has as a skill: the longest idle of those skilled candidates.
    4. Otherwise the longest idle candidate. Ties are broken by the smallest advisor id.
    """
    if call.preferred_advisor is not None:
        preferred = next((a for a in advisors if a.advisor_id == call.preferred_advisor), None)
        if preferred is not None:
            if preferred.free:
                return Offer(linkedid=call.linkedid, advisor_id=preferred.advisor_id, reason="continuity")
            busy = preferred.state in BUSY_STATES or (preferred.state is AdvisorState.AVAILABLE and preferred.claimed)
            deadline = call.queued_at + timedelta(seconds=continuity_wait)
            if busy and now < deadline:
                return Hold(linkedid=call.linkedid, until=deadline, reason="continuity_wait")

    candidates = [a for a in advisors if a.free]
    if not candidates:
        return Hold(linkedid=call.linkedid, until=None, reason="no_advisor")
    if call.topic is not None:
        skilled = _longest_idle(a for a in candidates if call.topic in a.skills)
        if skilled is not None:
            return Offer(linkedid=call.linkedid, advisor_id=skilled.advisor_id, reason="skill")
    chosen = _longest_idle(candidates)
    assert chosen is not None  # candidates is not empty
    return Offer(linkedid=call.linkedid, advisor_id=chosen.advisor_id, reason="longest_idle")


def plan(
    waiting: Sequence[WaitingCall],
    advisors: Sequence[AdvisorView],
    now: datetime,
    continuity_wait: float,
) -> list[Decision]:
    """Decide for the head waiting call only: `[decision]`, or `[]` when no call needs a decision.

    Calls are taken in queue order (`queued_at`, then `linkedid`); calls already ringing an advisor or already
    offered one (`offered_to` set) are skipped. Only the first remaining call (the head) is decided, because
    app_queue hands an offered (penalty 1) member to whichever waiting caller whose turn it is tries first, not to
    the call it was offered for: with autofill=yes (our configuration) every caller within the count of available
    members (standby ones included) may take it, so the head may ring an advisor offered for a later call. The
    router then withdraws the lost offer and plans again. Call `plan` again after each offer is placed (the head is
    then skipped as offered) or when a Hold expires (`next_wakeup`).

    An advisor named in some waiting call's `offered_to` is treated as claimed, even if the view says otherwise.

    A head whose caller's previous advisor is still being looked up (`looking_up`) is held, with everyone behind
    it, until the look-up ends: the service bounds it (`RoutingSettings.continuity_lookup_within`) and plans
    again then.

    Known limitation: a Hold for the head blocks everyone behind it; nobody is offered meanwhile, even if an
    advisor is free. For a continuity Hold this is bounded by `continuity_wait` (at most 120 s by settings); a
    "no_advisor" Hold blocks nobody, since no one could be served anyway.
    """
    head = next(
        (c for c in sorted(waiting, key=lambda c: (c.queued_at, c.linkedid)) if not c.ringing and c.offered_to is None),
        None,
    )
    if head is None:
        return []
    return plan_head(head, {c.offered_to for c in waiting if c.offered_to is not None}, advisors, now, continuity_wait)


def plan_head(
    head: WaitingCall,
    offered: Container[int],
    advisors: Sequence[AdvisorView],
    now: datetime,
    continuity_wait: float,
) -> list[Decision]:
    """`plan` once its head is known: `plan(waiting, …) == plan_head(head, offered, …)` where `head` is the first call
    of `waiting` in queue order neither ringing nor offered, and `offered` the advisors named in the waiting calls'
    `offered_to`. For a caller that keeps both as the calls change (`PresenceBoard.head`, `offered_advisors`), a
    decision then costs O(len(advisors)) whatever the number of calls waiting, instead of a sort of them all."""
    if head.looking_up:  # who it should go to is not known yet (the look-up is bounded by the service)
        return [Hold(linkedid=head.linkedid, until=None, reason="continuity_lookup")]
    if any(a.advisor_id in offered and not a.claimed for a in advisors):
        advisors = [replace(a, claimed=True) if a.advisor_id in offered and not a.claimed else a for a in advisors]
    return [choose_advisor(head, advisors, now, continuity_wait)]


def next_wakeup(decisions: Iterable[Decision]) -> datetime | None:
    """When the service must plan again on its own: the earliest `Hold.until`, or None."""
    return min((d.until for d in decisions if isinstance(d, Hold) and d.until is not None), default=None)
