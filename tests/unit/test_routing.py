"""Routing: advisor choice for the head waiting call, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephony.advisors import AdvisorState
from telephony.routing import (
    AdvisorView,
    Decision,
    Hold,
    Offer,
    WaitingCall,
    choose_advisor,
    next_wakeup,
    plan,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WAIT = 10.0

AV = AdvisorState.AVAILABLE
RINGING = AdvisorState.RINGING
ON_CALL = AdvisorState.ON_CALL
WRAP_UP = AdvisorState.WRAP_UP
PAUSED = AdvisorState.PAUSED
LOGGED_OUT = AdvisorState.LOGGED_OUT


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def adv(
    advisor_id: int,
    state: AdvisorState = AV,
    idle_since: float = 0,
    skills: str = "",
    claimed: bool = False,
) -> AdvisorView:
    """An advisor in `state` since T0 + `idle_since` seconds; skills comma-separated."""
    return AdvisorView(
        advisor_id=advisor_id,
        interface=f"PJSIP/adv{advisor_id}",
        state=state,
        since=at(idle_since),
        skills=frozenset(s for s in skills.split(",") if s),
        claimed=claimed,
    )


def call(
    linkedid: str = "c1",
    queued: float = 100,
    topic: str | None = None,
    preferred: int | None = None,
    ringing: bool = False,
    offered_to: int | None = None,
    looking_up: bool = False,
) -> WaitingCall:
    return WaitingCall(
        linkedid=linkedid,
        queued_at=at(queued),
        topic=topic,
        preferred_advisor=preferred,
        ringing=ringing,
        offered_to=offered_to,
        looking_up=looking_up,
    )


def offer(advisor_id: int, reason: str, linkedid: str = "c1") -> Offer:
    return Offer.model_validate({"linkedid": linkedid, "advisor_id": advisor_id, "reason": reason})


def hold(until: float | None, reason: str, linkedid: str = "c1") -> Hold:
    return Hold.model_validate({"linkedid": linkedid, "until": None if until is None else at(until), "reason": reason})


NOW = at(101)  # one second after the default call was queued

# (case, call, advisors, now, expected)
# fmt: off
CHOOSE_CASES: list[tuple[str, WaitingCall, list[AdvisorView], datetime, Decision]] = [
    # Longest idle, ties, claims.
    ("longest idle wins", call(), [adv(1, idle_since=50), adv(2, idle_since=10), adv(3, idle_since=30)], NOW,
     offer(2, "longest_idle")),
    ("tie broken by smallest id", call(), [adv(7, idle_since=10), adv(3, idle_since=10), adv(5, idle_since=10)], NOW,
     offer(3, "longest_idle")),
    ("claimed advisor skipped", call(), [adv(1, idle_since=0, claimed=True), adv(2, idle_since=40)], NOW,
     offer(2, "longest_idle")),
    ("all claimed: no advisor", call(), [adv(1, claimed=True), adv(2, claimed=True)], NOW,
     hold(None, "no_advisor")),
    ("no advisors at all", call(), [], NOW, hold(None, "no_advisor")),
    # States never offered.
    ("paused never offered", call(), [adv(1, PAUSED, idle_since=0), adv(2, idle_since=50)], NOW,
     offer(2, "longest_idle")),
    ("wrap_up never offered", call(), [adv(1, WRAP_UP, idle_since=0), adv(2, idle_since=50)], NOW,
     offer(2, "longest_idle")),
    ("ringing never offered", call(), [adv(1, RINGING, idle_since=0), adv(2, idle_since=50)], NOW,
     offer(2, "longest_idle")),
    ("on_call never offered", call(), [adv(1, ON_CALL, idle_since=0), adv(2, idle_since=50)], NOW,
     offer(2, "longest_idle")),
    ("logged_out never offered", call(), [adv(1, LOGGED_OUT, idle_since=0), adv(2, idle_since=50)], NOW,
     offer(2, "longest_idle")),
    ("nobody available", call(), [adv(1, PAUSED), adv(2, ON_CALL), adv(3, WRAP_UP), adv(4, RINGING),
                                  adv(5, LOGGED_OUT)], NOW,
     hold(None, "no_advisor")),
    # Skills.
    ("skilled advisor preferred over longer idle", call(topic="taxes"),
     [adv(1, idle_since=0), adv(2, idle_since=50, skills="taxes")], NOW, offer(2, "skill")),
    ("longest idle among skilled", call(topic="taxes"),
     [adv(1, idle_since=0), adv(2, idle_since=50, skills="taxes"), adv(3, idle_since=20, skills="health,taxes")],
     NOW, offer(3, "skill")),
    ("skilled tie by id", call(topic="taxes"),
     [adv(9, idle_since=20, skills="taxes"), adv(4, idle_since=20, skills="taxes")], NOW, offer(4, "skill")),
    ("skilled advisor busy: longest idle", call(topic="taxes"),
     [adv(1, idle_since=30), adv(2, ON_CALL, idle_since=0, skills="taxes"), adv(3, idle_since=10)], NOW,
     offer(3, "longest_idle")),
    ("skilled advisor claimed: longest idle", call(topic="taxes"),
     [adv(1, idle_since=30), adv(2, idle_since=0, skills="taxes", claimed=True)], NOW, offer(1, "longest_idle")),
    ("topic nobody has: longest idle", call(topic="roads"),
     [adv(1, idle_since=30, skills="taxes"), adv(2, idle_since=10, skills="health")], NOW,
     offer(2, "longest_idle")),
    ("no topic: skills ignored", call(topic=None),
     [adv(1, idle_since=30, skills="taxes"), adv(2, idle_since=10)], NOW, offer(2, "longest_idle")),
    # Continuity.
    ("preferred free beats longer idle", call(preferred=2),
     [adv(1, idle_since=0), adv(2, idle_since=90)], NOW, offer(2, "continuity")),
    ("preferred free beats skilled", call(topic="taxes", preferred=2),
     [adv(1, idle_since=0, skills="taxes"), adv(2, idle_since=90)], NOW, offer(2, "continuity")),
    ("preferred on call, within wait: hold", call(preferred=2),
     [adv(1, idle_since=0), adv(2, ON_CALL)], NOW, hold(100 + WAIT, "continuity_wait")),
    ("preferred ringing, within wait: hold", call(preferred=2),
     [adv(1, idle_since=0), adv(2, RINGING)], NOW, hold(100 + WAIT, "continuity_wait")),
    ("preferred in wrap-up, within wait: hold", call(preferred=2),
     [adv(1, idle_since=0), adv(2, WRAP_UP)], NOW, hold(100 + WAIT, "continuity_wait")),
    ("preferred claimed elsewhere, within wait: hold", call(preferred=2),
     [adv(1, idle_since=0), adv(2, claimed=True)], NOW, hold(100 + WAIT, "continuity_wait")),
    ("preferred busy, nobody else: still continuity hold", call(preferred=2),
     [adv(2, ON_CALL)], NOW, hold(100 + WAIT, "continuity_wait")),
    ("preferred busy, wait just over: someone else", call(preferred=2),
     [adv(1, idle_since=0), adv(2, ON_CALL)], at(100 + WAIT), offer(1, "longest_idle")),
    ("preferred busy, long after wait: skill applies", call(topic="health", preferred=2),
     [adv(1, idle_since=0), adv(3, idle_since=5, skills="health"), adv(2, WRAP_UP)], at(200), offer(3, "skill")),
    ("preferred busy after wait, nobody else: no advisor", call(preferred=2),
     [adv(2, ON_CALL)], at(200), hold(None, "no_advisor")),
    ("preferred paused: someone else now", call(preferred=2),
     [adv(1, idle_since=0), adv(2, PAUSED)], NOW, offer(1, "longest_idle")),
    ("preferred logged out: someone else now", call(preferred=2),
     [adv(1, idle_since=0), adv(2, LOGGED_OUT)], NOW, offer(1, "longest_idle")),
    ("preferred unknown: someone else now", call(preferred=42),
     [adv(1, idle_since=0)], NOW, offer(1, "longest_idle")),
]
# fmt: on


@pytest.mark.parametrize(
    ("case", "waiting_call", "advisors", "now", "expected"), CHOOSE_CASES, ids=[c[0] for c in CHOOSE_CASES]
)
def test_choose_advisor(
    case: str, waiting_call: WaitingCall, advisors: list[AdvisorView], now: datetime, expected: Decision
) -> None:
    assert choose_advisor(waiting_call, advisors, now, WAIT) == expected


def test_continuity_wait_zero_never_holds() -> None:
    decision = choose_advisor(call(preferred=2), [adv(1), adv(2, ON_CALL)], at(100), 0.0)
    assert decision == offer(1, "longest_idle")


# (case, waiting calls, advisors, expected)
# fmt: off
PLAN_CASES: list[tuple[str, list[WaitingCall], list[AdvisorView], list[Decision]]] = [
    ("no waiting call", [], [adv(1)], []),
    ("FIFO: oldest call decided first, whatever the list order",
     [call("c2", queued=90), call("c1", queued=50), call("c3", queued=95)], [adv(1)],
     [offer(1, "longest_idle", "c1")]),
    ("same queued_at: by linkedid",
     [call("b", queued=50), call("a", queued=50)], [adv(1)], [offer(1, "longest_idle", "a")]),
    ("ringing head skipped",
     [call("c1", queued=10, ringing=True), call("c2", queued=20)], [adv(1)], [offer(1, "longest_idle", "c2")]),
    ("offered head skipped, its advisor not offered again",
     [call("c1", queued=10, offered_to=1), call("c2", queued=20)], [adv(1, idle_since=0), adv(2, idle_since=5)],
     [offer(2, "longest_idle", "c2")]),
    ("every call ringing or offered: nothing to decide",
     [call("c1", queued=10, ringing=True), call("c2", queued=20, offered_to=1)], [adv(1), adv(2)], []),
    ("head continuity hold blocks the rest",
     [call("c1", queued=95, preferred=2), call("c2", queued=99)], [adv(1), adv(2, ON_CALL)],
     [hold(95 + WAIT, "continuity_wait", "c1")]),
    ("head with no advisor: one hold",
     [call("c1", queued=10), call("c2", queued=20)], [adv(1, PAUSED)], [hold(None, "no_advisor", "c1")]),
    ("head whose previous advisor is being looked up: held, with the calls behind it",
     [call("c1", queued=10, looking_up=True), call("c2", queued=20)], [adv(1), adv(2)],
     [hold(None, "continuity_lookup", "c1")]),
    ("a call behind the head being looked up does not hold the head",
     [call("c1", queued=10), call("c2", queued=20, looking_up=True)], [adv(1)], [offer(1, "longest_idle", "c1")]),
    ("a ringing call being looked up (ring before the answer) is skipped as ringing",
     [call("c1", queued=10, ringing=True, looking_up=True), call("c2", queued=20)], [adv(1)],
     [offer(1, "longest_idle", "c2")]),
    ("skill of the head decides, not of later calls",
     [call("c1", queued=10, topic="taxes"), call("c2", queued=20, topic="health")],
     [adv(1, idle_since=0, skills="health"), adv(2, idle_since=50, skills="taxes")], [offer(2, "skill", "c1")]),
]
# fmt: on


@pytest.mark.parametrize(("case", "waiting", "advisors", "expected"), PLAN_CASES, ids=[c[0] for c in PLAN_CASES])
def test_plan(case: str, waiting: list[WaitingCall], advisors: list[AdvisorView], expected: list[Decision]) -> None:
    assert plan(waiting, advisors, NOW, WAIT) == expected


# (case, decisions, expected)
# fmt: off
WAKEUP_CASES: list[tuple[str, list[Decision], datetime | None]] = [
    ("nothing", [], None),
    ("offers only", [offer(1, "skill")], None),
    ("no-advisor hold has no time", [hold(None, "no_advisor")], None),
    ("one continuity hold", [hold(110, "continuity_wait")], at(110)),
    ("earliest of several",
     [hold(130, "continuity_wait", "a"), offer(1, "longest_idle", "b"), hold(None, "no_advisor", "c"),
      hold(110, "continuity_wait", "d")], at(110)),
]
# fmt: on


@pytest.mark.parametrize(("case", "decisions", "expected"), WAKEUP_CASES, ids=[c[0] for c in WAKEUP_CASES])
def test_next_wakeup(case: str, decisions: list[Decision], expected: datetime | None) -> None:
    assert next_wakeup(decisions) == expected


def test_next_wakeup_of_plan() -> None:
    decisions = plan([call("c1", queued=95, preferred=2)], [adv(1), adv(2, WRAP_UP)], NOW, WAIT)
    assert next_wakeup(decisions) == at(95 + WAIT)


# Property: whatever the inputs, an offer names a free advisor, and plan decides at most once.

advisor_views = st.builds(
    AdvisorView,
    advisor_id=st.integers(1, 6),
    interface=st.just("PJSIP/x"),
    state=st.sampled_from(AdvisorState),
    since=st.integers(0, 200).map(at),
    skills=st.frozensets(st.sampled_from(["taxes", "health", "roads"]), max_size=2),
    claimed=st.booleans(),
)
waiting_calls = st.builds(
    WaitingCall,
    linkedid=st.sampled_from(["a", "b", "c", "d"]),
    queued_at=st.integers(0, 200).map(at),
    topic=st.none() | st.sampled_from(["taxes", "health", "elderly"]),
    preferred_advisor=st.none() | st.integers(1, 7),
    ringing=st.booleans(),
    offered_to=st.none() | st.integers(1, 6),
)


@given(
    waiting=st.lists(waiting_calls, max_size=5, unique_by=lambda c: c.linkedid),
    advisors=st.lists(advisor_views, max_size=6, unique_by=lambda a: a.advisor_id),
    now=st.integers(0, 300).map(at),
    wait=st.floats(0, 120),
)
def test_offers_name_only_free_advisors(
    waiting: list[WaitingCall], advisors: list[AdvisorView], now: datetime, wait: float
) -> None:
    by_id = {a.advisor_id: a for a in advisors}
    offered_elsewhere = {c.offered_to for c in waiting}
    decisions = plan(waiting, advisors, now, wait)
    assert len(decisions) <= 1
    for decision in decisions:
        head = next(c for c in waiting if c.linkedid == decision.linkedid)
        assert not head.ringing and head.offered_to is None
        if isinstance(decision, Offer):
            chosen = by_id[decision.advisor_id]
            assert chosen.state is AdvisorState.AVAILABLE and not chosen.claimed
            assert chosen.advisor_id not in offered_elsewhere
    for waiting_call in waiting:
        decision = choose_advisor(waiting_call, advisors, now, wait)
        if isinstance(decision, Offer):
            chosen = by_id[decision.advisor_id]
            assert chosen.state is AdvisorState.AVAILABLE and not chosen.claimed
