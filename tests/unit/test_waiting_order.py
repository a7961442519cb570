"""The waiting calls' order kept by the presence board (`head`, `offered_advisors`, `needs_decision`) and the
router's decision from it (`routing.plan_head`), against the sort-based `plan` the router used before: tables, then
random sequences of joins, leaves, rings, offers and commands compared step by step with the reference."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.settings import RoutingSettings
from telephony.advisors import Advisor, AdvisorState
from telephony.effects import (
    AdvisorReleased,
    AdvisorRingEnded,
    AdvisorRinging,
    CallAnswered,
    CallLeftQueue,
    CallQueued,
)
from telephony.presence import PresenceBoard, PresenceError
from telephony.records import RingResult
from telephony.routing import AdvisorView, Decision, Hold, WaitingCall, choose_advisor, plan, plan_head

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WAIT = 30.0
Q = "gps"

ALICE = Advisor(id=1, login="alice", name="Alice Martin", interface="PJSIP/alice", skills=frozenset({"taxes"}))
BOB = Advisor(id=2, login="bob", name="Bob Durand", interface="PJSIP/bob")
CAROL = Advisor(id=3, login="carol", name="Carol Petit", interface="PJSIP/carol", skills=frozenset({"taxes"}))
ADVISORS = (ALICE, BOB, CAROL)
INTERFACES = {a.id: a.interface for a in ADVISORS} | {9: "PJSIP/stranger"}  # 9: not an advisor's phone


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_board() -> PresenceBoard:
    board = PresenceBoard(RoutingSettings(wrapup_max=120.0, wrapup_min=5.0, continuity_wait=WAIT))
    board.load(ADVISORS, {})
    return board


# ---- the reference: routing.plan as it was, sorting every waiting call at each step ----


def reference_plan(
    waiting: list[WaitingCall], advisors: list[AdvisorView], now: datetime, continuity_wait: float
) -> list[Decision]:
    """`routing.plan` before the board kept the order (verbatim)."""
    head = next(
        (c for c in sorted(waiting, key=lambda c: (c.queued_at, c.linkedid)) if not c.ringing and c.offered_to is None),
        None,
    )
    if head is None:
        return []
    if head.looking_up:
        return [Hold(linkedid=head.linkedid, until=None, reason="continuity_lookup")]
    offered = {c.offered_to for c in waiting if c.offered_to is not None}
    if any(a.advisor_id in offered and not a.claimed for a in advisors):
        advisors = [replace(a, claimed=True) if a.advisor_id in offered and not a.claimed else a for a in advisors]
    return [choose_advisor(head, advisors, now, continuity_wait)]


def reference_views(board: PresenceBoard) -> list[AdvisorView]:
    """`views(relevant_only=True)` as it was: the available advisors and every waiting caller's previous one."""
    preferred = {w.preferred_advisor for w in board.waiting() if w.preferred_advisor is not None}
    return [v for v in board.views() if v.state is AdvisorState.AVAILABLE or v.advisor_id in preferred]


def router_decisions(board: PresenceBoard, now: datetime) -> list[Decision]:
    """What `Router._step` decides now."""
    head = board.head()
    if head is None:
        return []
    return plan_head(head, board.offered_advisors(), board.views(relevant_only=True), now, WAIT)


def check_against_reference(board: PresenceBoard, now: datetime) -> None:
    waiting = board.waiting()
    ordered = sorted(waiting, key=lambda c: (c.queued_at, c.linkedid))
    assert board.head() == next((c for c in ordered if not c.ringing and c.offered_to is None), None)
    assert board.needs_decision() == any(not c.ringing and c.offered_to is None for c in waiting)
    assert set(board.offered_advisors()) == {c.offered_to for c in waiting if c.offered_to is not None}
    views = board.views(relevant_only=True)
    assert views == reference_views(board)
    expected = reference_plan(waiting, views, now, WAIT)
    assert router_decisions(board, now) == expected
    assert plan(waiting, views, now, WAIT) == expected  # plan, now a sort then plan_head, unchanged


# ---- operations on the board (the effects and commands that change the waiting calls) ----


def apply(board: PresenceBoard, op: tuple[object, ...], when: datetime) -> None:
    kind = op[0]
    if kind == "join":  # ("join", linkedid, queued at second, topic)
        linkedid, second, topic = str(op[1]), float(str(op[2])), op[3] if len(op) > 3 else None
        assert topic is None or isinstance(topic, str)
        board.on_effect(CallQueued(linkedid=linkedid, at=at(second), queue=Q, caller_number=None, topic=topic))
    elif kind == "left":  # the caller left the queue (abandoned, answered elsewhere)
        board.on_effect(CallLeftQueue(linkedid=str(op[1]), at=when))
    elif kind == "ring":  # ("ring", linkedid, advisor id)
        board.on_effect(
            AdvisorRinging(
                linkedid=str(op[1]),
                at=when,
                interface=INTERFACES[int(str(op[2]))],
                member_name="",
                caller_number=None,
                caller_name=None,
                queue_entered_at=None,
            )
        )
    elif kind == "ring_end":  # ("ring_end", linkedid, advisor id, result)
        result = op[3]
        assert isinstance(result, RingResult)
        board.on_effect(
            AdvisorRingEnded(linkedid=str(op[1]), at=when, interface=INTERFACES[int(str(op[2]))], result=result)
        )
    elif kind == "answer":  # ("answer", linkedid, advisor id)
        interface = INTERFACES[int(str(op[2]))]
        board.on_effect(CallAnswered(linkedid=str(op[1]), at=when, interface=interface, advisor_channel=interface))
    elif kind == "release":  # ("release", linkedid, advisor id)
        board.on_effect(AdvisorReleased(linkedid=str(op[1]), at=when, interface=INTERFACES[int(str(op[2]))]))
    elif kind == "offer":  # ("offer", linkedid, advisor id)
        board.offer(str(op[1]), int(str(op[2])))
    elif kind == "withdraw":  # ("withdraw", advisor id)
        board.withdraw(int(str(op[1])))
    elif kind == "stale":  # the router's first move at each step
        for advisor_id in board.stale_offers():
            board.withdraw(advisor_id)
    elif kind == "look_up":
        board.look_up(str(op[1]))
    elif kind == "preferred":  # ("preferred", linkedid, advisor id or None)
        board.set_preferred(str(op[1]), None if op[2] is None else int(str(op[2])))
    elif kind in ("login", "logout", "available", "pause", "wrapup_done"):
        advisor_id = int(str(op[1]))
        try:
            if kind == "login":
                board.login(advisor_id, when)
            elif kind == "logout":
                board.logout(advisor_id, when)
            elif kind == "available":
                board.available(advisor_id, when)
            elif kind == "pause":
                board.pause(advisor_id, "break", when)
            else:
                board.wrapup_done(advisor_id, when)
        except PresenceError:
            pass  # refused in this state: nothing changed
    else:
        raise AssertionError(kind)


# ---- tables: the head and the offered advisors after each step ----

ORDER_CASES: list[tuple[str, list[tuple[object, ...]], list[tuple[str | None, set[int]]]]] = [
    (
        "joins out of order of queued_at",
        [("join", "L1", 30), ("join", "L2", 10), ("join", "L3", 20), ("join", "L4", 40)],
        [("L1", set()), ("L2", set()), ("L2", set()), ("L2", set())],
    ),
    (
        "same queued_at: by linkedid",
        [("join", "Lb", 10), ("join", "La", 10), ("join", "Lc", 10)],
        [("Lb", set()), ("La", set()), ("La", set())],
    ),
    (
        "leaves from the middle, then the head",
        [("join", "L1", 10), ("join", "L2", 20), ("join", "L3", 30), ("left", "L2"), ("left", "L1"), ("left", "L3")],
        [("L1", set()), ("L1", set()), ("L1", set()), ("L1", set()), ("L3", set()), (None, set())],
    ),
    (
        "a ringing call is skipped, and back after a ring not answered; gone while ringing",
        [
            ("join", "L1", 10),
            ("join", "L2", 20),
            ("ring", "L1", 1),
            ("ring_end", "L1", 1, RingResult.NO_ANSWER),
            ("ring", "L1", 2),
            ("ring_end", "L1", 2, RingResult.CALLER_GONE),
        ],
        [("L1", set()), ("L1", set()), ("L2", set()), ("L1", set()), ("L2", set()), ("L2", set())],
    ),
    (
        "an offered call is skipped until withdrawn; a call gone takes its offer out of the waiting calls",
        [
            ("join", "L1", 10),
            ("join", "L2", 20),
            ("offer", "L1", 1),
            ("withdraw", 1),
            ("offer", "L2", 2),
            ("left", "L2"),
            ("stale",),
        ],
        [("L1", set()), ("L1", set()), ("L2", {1}), ("L1", set()), ("L1", {2}), ("L1", set()), ("L1", set())],
    ),
    (
        "an offered advisor ringing for another call: that offer is withdrawn, the call back at its place",
        [("join", "L1", 10), ("join", "L2", 20), ("offer", "L2", 1), ("ring", "L1", 1)],
        [("L1", set()), ("L1", set()), ("L1", {1}), ("L2", set())],
    ),
    (
        "answered: no longer waiting",
        [("join", "L1", 10), ("join", "L2", 20), ("ring", "L1", 1), ("answer", "L1", 1), ("left", "L2")],
        [("L1", set()), ("L1", set()), ("L2", set()), ("L2", set()), (None, set())],
    ),
    (
        "joining again: the new queue entry's time",
        [("join", "L1", 10), ("join", "L2", 20), ("offer", "L1", 2), ("join", "L1", 30)],
        [("L1", set()), ("L1", set()), ("L2", {2}), ("L2", set())],
    ),
]


@pytest.mark.parametrize(("case", "ops", "rows"), ORDER_CASES, ids=[c[0] for c in ORDER_CASES])
def test_order_kept(case: str, ops: list[tuple[object, ...]], rows: list[tuple[str | None, set[int]]]) -> None:
    board = new_board()
    for advisor in ADVISORS:
        board.login(advisor.id, at(0))
    seen = []
    for i, op in enumerate(ops):
        apply(board, op, at(100 + i))
        head = board.head()
        seen.append((head.linkedid if head is not None else None, set(board.offered_advisors())))
        assert board.needs_decision() == (head is not None)
        check_against_reference(board, at(100 + i))
    assert seen == rows


def test_waiting_keeps_the_join_order() -> None:
    """`waiting()` lists the calls as they joined (not sorted); joining again keeps the call's place."""
    board = new_board()
    for op in [("join", "L1", 30), ("join", "L2", 10), ("join", "L3", 20), ("left", "L2"), ("join", "L1", 40)]:
        apply(board, op, at(100))
    assert [(w.linkedid, w.queued_at) for w in board.waiting()] == [("L1", at(40)), ("L3", at(20))]
    head = board.head()
    assert head is not None and head.linkedid == "L3"


def test_preferred_advisors_follow_the_calls() -> None:
    """A busy previous advisor is among the relevant views while a waiting call names them, not after."""
    board = new_board()
    board.login(2, at(0))
    board.on_effect(
        AdvisorRinging(
            linkedid="L0",
            at=at(1),
            interface=BOB.interface,
            member_name="",
            caller_number=None,
            caller_name=None,
            queue_entered_at=None,
        )
    )
    apply(board, ("join", "L1", 10), at(10))
    apply(board, ("preferred", "L1", 2), at(11))
    assert [v.advisor_id for v in board.views(relevant_only=True)] == [2]
    decisions = router_decisions(board, at(12))
    assert [(d.kind, d.reason) for d in decisions] == [("hold", "continuity_wait")]
    apply(board, ("preferred", "L1", None), at(13))
    assert board.views(relevant_only=True) == []
    apply(board, ("preferred", "L1", 2), at(14))
    apply(board, ("left", "L1"), at(15))
    assert board.views(relevant_only=True) == []


# ---- random sequences against the reference ----

_linkedids = st.sampled_from(["L1", "L2", "L3", "L4", "L5", "L6"])
_advisors = st.sampled_from([1, 2, 3])
_phones = st.sampled_from([1, 2, 3, 9])
_ops = st.one_of(
    st.tuples(st.just("join"), _linkedids, st.integers(0, 6), st.sampled_from([None, "taxes", "other"])),
    st.tuples(st.just("left"), _linkedids),
    st.tuples(st.just("ring"), _linkedids, _phones),
    st.tuples(st.just("ring_end"), _linkedids, _phones, st.sampled_from(list(RingResult))),
    st.tuples(st.just("answer"), _linkedids, _phones),
    st.tuples(st.just("release"), _linkedids, _phones),
    st.tuples(st.just("offer"), _linkedids, _advisors),
    st.tuples(st.just("withdraw"), _advisors),
    st.tuples(st.just("stale")),
    st.tuples(st.just("look_up"), _linkedids),
    st.tuples(st.just("preferred"), _linkedids, st.one_of(st.none(), _advisors, st.just(7))),
    st.tuples(st.sampled_from(["login", "logout", "available", "pause", "wrapup_done"]), _advisors),
)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(_ops, min_size=10, max_size=60), now_offset=st.integers(0, 60))
def test_router_decision_matches_the_sort_based_plan(ops: list[tuple[object, ...]], now_offset: int) -> None:
    """After any sequence, the head, the offered advisors, the relevant views and the decision the router takes from
    the board's kept order are those of the sort-based plan over every waiting call."""
    board = new_board()
    for i, op in enumerate(ops):
        when = at(i)
        apply(board, op, when)
        check_against_reference(board, when + timedelta(seconds=now_offset))
