"""Presence board: commands, call effects, waiting calls, desired members and reconcile, as tables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.settings import RoutingSettings
from telephony.advisors import MISSED_CALL, Advisor, AdvisorState, StateChange
from telephony.effects import (
    AdvisorReleased,
    AdvisorRingEnded,
    AdvisorRinging,
    AnyEffect,
    CallAnswered,
    CallEnded,
    CallQueued,
    MemberUpdate,
)
from telephony.presence import (
    OFFERED,
    STANDBY,
    CallInProgress,
    MemberConfig,
    PresenceBoard,
    PresenceError,
    reconcile,
)
from telephony.records import CallRecord, CallStatus, HangupBy, RingResult
from telephony.routing import Offer, plan

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WRAPUP_MAX = 120.0
WRAPUP_MIN = 5.0
Q = "gps"

LOGGED_OUT = AdvisorState.LOGGED_OUT
AV = AdvisorState.AVAILABLE
RINGING = AdvisorState.RINGING
ON_CALL = AdvisorState.ON_CALL
WRAP_UP = AdvisorState.WRAP_UP
PAUSED = AdvisorState.PAUSED

ALICE = Advisor(id=1, login="alice", name="Alice Martin", interface="PJSIP/alice")
BOB = Advisor(id=2, login="bob", name="Bob Durand", interface="PJSIP/bob")
GONE = Advisor(id=3, login="carol", name="Carol Petit", interface="PJSIP/carol", active=False)
CAROL = GONE.model_copy(update={"active": True})
A = ALICE.interface
B = BOB.interface

MSG_LOGOUT = "Impossible de se déconnecter pendant un appel."
MSG_PAUSE_STATE = "La pause n'est possible qu'en étant disponible ou en fin d'appel."
MSG_UNKNOWN = "Conseiller inconnu ou inactif."


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


T1 = at(1000)  # when the action under test happens; every setup step is earlier


def sc(
    state: AdvisorState, when: datetime, reason: str | None = None, linkedid: str | None = None, advisor_id: int = 1
) -> StateChange:
    return StateChange(advisor_id=advisor_id, state=state, at=when, reason=reason, linkedid=linkedid)


# ---- effects ----


def queued(linkedid: str, when: datetime, caller: str | None = "+33321000001", topic: str | None = None) -> CallQueued:
    return CallQueued(linkedid=linkedid, at=when, queue=Q, caller_number=caller, topic=topic)


def ringing(linkedid: str, when: datetime, interface: str = A) -> AdvisorRinging:
    return AdvisorRinging(
        linkedid=linkedid,
        at=when,
        interface=interface,
        member_name="Alice Martin",
        caller_number=None,
        caller_name=None,
        queue_entered_at=None,
    )


def ring_ended(linkedid: str, when: datetime, result: RingResult, interface: str = A) -> AdvisorRingEnded:
    return AdvisorRingEnded(linkedid=linkedid, at=when, interface=interface, result=result)


def answered(linkedid: str, when: datetime, interface: str = A) -> CallAnswered:
    return CallAnswered(linkedid=linkedid, at=when, interface=interface, advisor_channel=f"{interface}-00000001")


def released(linkedid: str, when: datetime, interface: str = A) -> AdvisorReleased:
    return AdvisorReleased(linkedid=linkedid, at=when, interface=interface)


def ended(linkedid: str, when: datetime) -> CallEnded:
    record = CallRecord(
        linkedid=linkedid,
        arrived_at=T0,
        line_open=True,
        ended_at=when,
        hangup_by=HangupBy.CALLER,
        status=CallStatus.ABANDONED,
    )
    return CallEnded(linkedid=linkedid, at=when, record=record)


def member(
    interface: str = A, *, in_call: bool = False, present: bool = True, device_state: int = 1, when: datetime = T1
) -> MemberUpdate:
    return MemberUpdate(
        linkedid="",
        at=when,
        queue=Q,
        interface=interface,
        present=present,
        paused=False,
        paused_reason="",
        penalty=STANDBY,
        in_call=in_call,
        device_state=device_state,
    )


# ---- boards ----


def new_board(
    *advisors: Advisor, last: dict[int, StateChange] | None = None, wrapup_min: float = WRAPUP_MIN
) -> PresenceBoard:
    board = PresenceBoard(RoutingSettings(wrapup_max=WRAPUP_MAX, wrapup_min=wrapup_min))
    board.load(advisors or (ALICE, BOB, GONE), last or {})
    return board


def drive(board: PresenceBoard, start: str) -> None:
    """Bring Alice (advisor 1) to `start` through real transitions, all before T1.

    logged_out | available (login at 0) | paused (break at 10) | missed (rang at 10, no answer at 25)
    | ringing (call L0 rings at 10) | on_call (answered at 15) | wrap_up (released at 75).
    """
    if start == "logged_out":
        return
    board.login(1, at(0))
    if start == "available":
        return
    if start == "paused":
        board.pause(1, "break", at(10))
        return
    board.on_effect(ringing("L0", at(10)))
    if start == "missed":
        board.on_effect(ring_ended("L0", at(25), RingResult.NO_ANSWER))
        return
    if start == "ringing":
        return
    board.on_effect(answered("L0", at(15)))
    if start == "on_call":
        return
    assert start == "wrap_up"
    board.on_effect(released("L0", at(75)))


def board_in(start: str) -> PresenceBoard:
    board = new_board()
    drive(board, start)
    return board


def view_of(board: PresenceBoard, advisor_id: int = 1) -> tuple[AdvisorState, datetime, bool]:
    view = next(v for v in board.views() if v.advisor_id == advisor_id)
    return view.state, view.since, view.claimed


def waiting_rows(board: PresenceBoard) -> list[tuple[str, bool, int | None, int | None]]:
    return [(w.linkedid, w.ringing, w.offered_to, w.preferred_advisor) for w in board.waiting()]


# ---- the drive helper itself ----


@pytest.mark.parametrize(
    ("start", "state", "reason"),
    [
        ("logged_out", LOGGED_OUT, None),
        ("available", AV, None),
        ("paused", PAUSED, "break"),
        ("missed", PAUSED, MISSED_CALL),
        ("ringing", RINGING, None),
        ("on_call", ON_CALL, None),
        ("wrap_up", WRAP_UP, "wrap_up"),
    ],
)
def test_drive_reaches_state(start: str, state: AdvisorState, reason: str | None) -> None:
    assert board_in(start).presence(1) == (state, reason)


# ---- commands ----

Command = Callable[[PresenceBoard], list[StateChange]]


def login(b: PresenceBoard) -> list[StateChange]:
    return b.login(1, T1)


def logout(b: PresenceBoard) -> list[StateChange]:
    return b.logout(1, T1)


def pause(reason: str) -> Command:
    def run(b: PresenceBoard) -> list[StateChange]:
        return b.pause(1, reason, T1)

    run.__name__ = f"pause_{reason or 'empty'}"
    return run


def available(b: PresenceBoard) -> list[StateChange]:
    return b.available(1, T1)


@pytest.mark.parametrize(
    ("start", "command", "changes", "after"),
    [
        # login
        ("logged_out", login, [sc(AV, T1)], (AV, None)),
        ("available", login, [], (AV, None)),
        ("paused", login, [], (PAUSED, "break")),
        ("on_call", login, [], (ON_CALL, None)),
        # logout
        ("available", logout, [sc(LOGGED_OUT, T1)], (LOGGED_OUT, None)),
        ("paused", logout, [sc(LOGGED_OUT, T1)], (LOGGED_OUT, None)),
        ("missed", logout, [sc(LOGGED_OUT, T1)], (LOGGED_OUT, None)),
        ("wrap_up", logout, [sc(LOGGED_OUT, T1)], (LOGGED_OUT, None)),
        ("logged_out", logout, [], (LOGGED_OUT, None)),
        # pause
        ("available", pause("break"), [sc(PAUSED, T1, "break")], (PAUSED, "break")),
        ("wrap_up", pause("meal"), [sc(PAUSED, T1, "meal")], (PAUSED, "meal")),
        ("paused", pause("training"), [sc(PAUSED, T1, "training")], (PAUSED, "training")),
        ("missed", pause("back_office"), [sc(PAUSED, T1, "back_office")], (PAUSED, "back_office")),
        # available
        ("paused", available, [sc(AV, T1)], (AV, None)),
        ("missed", available, [sc(AV, T1)], (AV, None)),
        ("wrap_up", available, [sc(AV, T1)], (AV, None)),
        ("available", available, [], (AV, None)),
        ("ringing", available, [], (RINGING, None)),
        ("on_call", available, [], (ON_CALL, None)),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_command(
    start: str, command: Command, changes: list[StateChange], after: tuple[AdvisorState, str | None]
) -> None:
    board = board_in(start)
    assert command(board) == changes
    assert board.presence(1) == after
    assert board.presence(2) == (LOGGED_OUT, None)  # nobody else moves


REFUSED, IN_CALL = "presence-refused", "call-in-progress"


@pytest.mark.parametrize(
    ("start", "command", "message", "error_id"),
    [
        # a call up: the refusal says so (`CallInProgress`: « Fermer la session » keeps the session then)
        ("ringing", logout, MSG_LOGOUT, IN_CALL),
        ("on_call", logout, MSG_LOGOUT, IN_CALL),
        ("available", pause("nap"), "Motif de pause inconnu : 'nap'.", REFUSED),
        ("available", pause(MISSED_CALL), "Motif de pause inconnu : 'missed_call'.", REFUSED),
        ("wrap_up", pause(""), "Motif de pause inconnu : ''.", REFUSED),
        ("logged_out", pause("break"), MSG_PAUSE_STATE, REFUSED),
        ("ringing", pause("break"), MSG_PAUSE_STATE, IN_CALL),
        ("on_call", pause("break"), MSG_PAUSE_STATE, IN_CALL),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_command_refused(start: str, command: Command, message: str, error_id: str) -> None:
    board = board_in(start)
    before = board.presence(1)
    with pytest.raises(PresenceError) as caught:
        command(board)
    assert str(caught.value) == message
    assert caught.value.error_id == error_id
    assert isinstance(caught.value, CallInProgress) is (error_id == IN_CALL)
    assert board.presence(1) == before


def test_unknown_reason_is_truncated_in_message() -> None:
    with pytest.raises(PresenceError) as caught:
        board_in("available").pause(1, "x" * 60, T1)
    assert str(caught.value) == f"Motif de pause inconnu : {'x' * 40!r}."


@pytest.mark.parametrize("advisor_id", [3, 99], ids=["inactive", "unknown"])
@pytest.mark.parametrize(
    "call",
    [
        lambda b, i: b.login(i, T1),
        lambda b, i: b.logout(i, T1),
        lambda b, i: b.pause(i, "break", T1),
        lambda b, i: b.available(i, T1),
        lambda b, i: b.presence(i),
        lambda b, i: b.offer("L1", i),
    ],
    ids=["login", "logout", "pause", "available", "presence", "offer"],
)
def test_unknown_or_inactive_advisor_refused(advisor_id: int, call: Callable[[PresenceBoard, int], object]) -> None:
    with pytest.raises(PresenceError) as caught:
        call(new_board(), advisor_id)
    assert str(caught.value) == MSG_UNKNOWN


# ---- call effects ----


@pytest.mark.parametrize(
    ("start", "effect", "changes", "after"),
    [
        ("available", ringing("L1", T1), [sc(RINGING, T1, linkedid="L1")], (RINGING, None)),
        ("ringing", ring_ended("L0", T1, RingResult.NO_ANSWER), [sc(PAUSED, T1, MISSED_CALL)], (PAUSED, MISSED_CALL)),
        ("ringing", ring_ended("L0", T1, RingResult.CALLER_GONE), [sc(AV, T1)], (AV, None)),
        ("ringing", ring_ended("L0", T1, RingResult.OTHER), [sc(AV, T1)], (AV, None)),
        ("ringing", ring_ended("L0", T1, RingResult.ANSWERED), [], (RINGING, None)),
        ("ringing", ring_ended("OTHER", T1, RingResult.NO_ANSWER), [], (RINGING, None)),
        ("ringing", ring_ended("L0", T1, RingResult.NO_ANSWER, interface=B), [], (RINGING, None)),
        ("available", ring_ended("L0", T1, RingResult.NO_ANSWER), [], (AV, None)),
        ("ringing", answered("L0", T1), [sc(ON_CALL, T1, linkedid="L0")], (ON_CALL, None)),
        ("on_call", released("L0", T1), [sc(WRAP_UP, T1, "wrap_up", "L0")], (WRAP_UP, "wrap_up")),
        ("available", released("L0", T1), [], (AV, None)),
        ("wrap_up", released("L0", T1), [], (WRAP_UP, "wrap_up")),
        ("available", ringing("L1", T1, interface="PJSIP/stranger"), [], (AV, None)),
        ("available", queued("L1", T1), [], (AV, None)),
        ("available", ended("L1", T1), [], (AV, None)),
        ("available", member(A, device_state=4), [], (AV, None)),
    ],
    ids=lambda v: v.kind if isinstance(v, AnyEffect) else None,
)
def test_call_effect(
    start: str, effect: AnyEffect, changes: list[StateChange], after: tuple[AdvisorState, str | None]
) -> None:
    board = board_in(start)
    assert board.on_effect(effect) == changes
    assert board.presence(1) == after


@pytest.mark.parametrize(
    ("steps", "since"),
    [
        # a ring that did not become a call keeps the pre-ring idle time (login at 0)
        ([ringing("L1", at(60)), ring_ended("L1", at(70), RingResult.CALLER_GONE)], at(0)),
        ([ringing("L1", at(60)), ring_ended("L1", at(70), RingResult.OTHER)], at(0)),
        (
            [
                ringing("L1", at(60)),
                ring_ended("L1", at(70), RingResult.OTHER),
                ringing("L2", at(80)),
                ring_ended("L2", at(90), RingResult.CALLER_GONE),
            ],
            at(0),
        ),
        # no answer: paused, idle again from `available` (at T1, below)
        ([ringing("L1", at(60)), ring_ended("L1", at(70), RingResult.NO_ANSWER)], T1),
        # a real call: idle again from the end of wrap-up (T1, below)
        ([ringing("L1", at(60)), answered("L1", at(65)), released("L1", at(200))], T1),
    ],
    ids=["caller_gone", "other", "two_failed_rings", "no_answer", "call"],
)
def test_idle_since_fairness(steps: list[AnyEffect], since: datetime) -> None:
    board = board_in("available")
    for effect in steps:
        board.on_effect(effect)
    board.available(1, T1)
    assert view_of(board) == (AV, since, False)


def test_views_since_is_state_start_when_not_available() -> None:
    board = board_in("available")
    board.on_effect(ringing("L1", at(60)))
    assert view_of(board) == (RINGING, at(60), False)
    board.on_effect(answered("L1", at(65)))
    assert view_of(board) == (ON_CALL, at(65), False)
    board.on_effect(released("L1", at(200)))
    assert view_of(board) == (WRAP_UP, at(200), False)


def test_views_of_never_logged_in_advisor_use_epoch() -> None:
    views = {v.advisor_id: v for v in new_board().views()}
    assert sorted(views) == [1, 2]  # the inactive advisor is not there
    assert views[2].state is LOGGED_OUT
    assert views[2].since == datetime(1970, 1, 1, tzinfo=UTC)


def test_wrap_up_deadline() -> None:
    board = board_in("on_call")
    assert board.next_deadline() is None
    board.on_effect(released("L0", T1))
    assert board.next_deadline() == T1 + timedelta(seconds=WRAPUP_MAX)


@pytest.mark.parametrize(
    ("offset", "changes", "after"),
    [
        (0, [], WRAP_UP),
        (WRAPUP_MAX - 1, [], WRAP_UP),
        (WRAPUP_MAX, [sc(AV, T1 + timedelta(seconds=WRAPUP_MAX))], AV),
        (WRAPUP_MAX + 30, [sc(AV, T1 + timedelta(seconds=WRAPUP_MAX + 30))], AV),
    ],
    ids=["start", "before", "at", "after"],
)
def test_expire(offset: float, changes: list[StateChange], after: AdvisorState) -> None:
    board = board_in("on_call")
    board.on_effect(released("L0", T1))
    now = T1 + timedelta(seconds=offset)
    assert board.expire(now) == changes
    assert board.presence(1)[0] is after
    assert board.expire(now) == []  # never twice
    if after is AV:
        assert board.next_deadline() is None
        assert view_of(board) == (AV, now, False)


@pytest.mark.parametrize("leave", [available, pause("break"), logout], ids=["available", "pause", "logout"])
def test_leaving_wrap_up_clears_deadline(leave: Command) -> None:
    board = board_in("wrap_up")
    leave(board)
    assert board.next_deadline() is None
    assert board.expire(at(100_000)) == []


def test_expire_only_touches_wrap_ups() -> None:
    board = new_board()
    drive(board, "wrap_up")  # Alice: wrap-up from 75
    board.login(2, at(0))
    board.pause(2, "meal", at(5))
    deadline = at(75 + WRAPUP_MAX)
    assert board.next_deadline() == deadline
    assert board.expire(deadline) == [sc(AV, deadline)]
    assert board.presence(2) == (PAUSED, "meal")


# ---- waiting calls ----


@pytest.mark.parametrize(
    ("effects", "rows"),
    [
        ([queued("L1", at(1))], [("L1", False, None, None)]),
        ([queued("L1", at(1)), ringing("L1", at(2))], [("L1", True, None, None)]),
        (
            [queued("L1", at(1)), ringing("L1", at(2)), ring_ended("L1", at(3), RingResult.NO_ANSWER)],
            [("L1", False, None, None)],
        ),
        (
            [queued("L1", at(1)), ringing("L1", at(2)), ring_ended("L1", at(3), RingResult.OTHER)],
            [("L1", False, None, None)],
        ),
        (  # the caller hung up while an advisor rang: nobody is to be offered for it any more
            [queued("L1", at(1)), ringing("L1", at(2)), ring_ended("L1", at(3), RingResult.CALLER_GONE)],
            [],
        ),
        (
            [queued("L1", at(1)), ringing("L1", at(2)), ring_ended("L1", at(3), RingResult.ANSWERED)],
            [("L1", True, None, None)],
        ),
        (
            [
                queued("L1", at(1)),
                ringing("L1", at(2)),
                ring_ended("L1", at(3), RingResult.ANSWERED),
                answered("L1", at(3)),
            ],
            [],
        ),
        ([queued("L1", at(1)), answered("L1", at(3))], []),
        ([queued("L1", at(1)), ended("L1", at(3))], []),
        ([queued("L1", at(1)), queued("L2", at(2)), ended("L1", at(3))], [("L2", False, None, None)]),
        (
            [queued("L1", at(1)), queued("L2", at(2)), ringing("L2", at(3))],
            [("L1", False, None, None), ("L2", True, None, None)],
        ),
        # the ring of an unknown interface still marks the call
        ([queued("L1", at(1)), ringing("L1", at(2), interface="PJSIP/stranger")], [("L1", True, None, None)]),
        ([ended("L9", at(3))], []),
    ],
    ids=[
        "queued",
        "ringing",
        "no_answer",
        "other",
        "caller_gone",
        "answered_ring",
        "answered_call",
        "answered_direct",
        "ended",
        "ended_one_of_two",
        "ringing_second",
        "ringing_stranger",
        "ended_unknown",
    ],
)
def test_waiting_calls(effects: list[AnyEffect], rows: list[tuple[str, bool, int | None, int | None]]) -> None:
    board = board_in("available")
    for effect in effects:
        board.on_effect(effect)
    assert waiting_rows(board) == rows


def test_waiting_call_details() -> None:
    board = new_board()
    board.on_effect(queued("L1", at(5), caller="+33321000009", topic="taxes"))
    board.on_effect(queued("L2", at(6), caller=None))
    [first, second] = board.waiting()
    assert (first.linkedid, first.queued_at, first.topic) == ("L1", at(5), "taxes")
    assert (second.linkedid, second.queued_at, second.topic) == ("L2", at(6), None)
    assert board.waiting_call("L1") == ("+33321000009", at(5))
    assert board.waiting_call("L2") == (None, at(6))
    assert board.waiting_call("L3") is None


def test_set_preferred() -> None:
    board = new_board()
    board.on_effect(queued("L1", at(1)))
    board.set_preferred("L1", 2)
    assert waiting_rows(board) == [("L1", False, None, 2)]
    board.set_preferred("L9", 1)  # a call that does not wait: nothing
    assert waiting_rows(board) == [("L1", False, None, 2)]
    board.set_preferred("L1", None)
    assert waiting_rows(board) == [("L1", False, None, None)]


def test_look_up_holds_the_call_until_its_answer() -> None:
    board = new_board()
    board.on_effect(queued("L1", at(1)))
    assert [w.looking_up for w in board.waiting()] == [False]
    board.look_up("L1")
    board.look_up("L9")  # a call that does not wait: nothing
    assert [(w.linkedid, w.looking_up) for w in board.waiting()] == [("L1", True)]
    assert board.needs_decision()  # planned, and held (routing.plan)
    board.set_preferred("L1", None)  # no previous advisor, or the look-up failed: decidable
    assert [(w.looking_up, w.preferred_advisor) for w in board.waiting()] == [(False, None)]


def test_offer_and_withdraw() -> None:
    board = board_in("available")
    board.on_effect(queued("L1", at(1)))
    board.offer("L1", 1)
    assert waiting_rows(board) == [("L1", False, 1, None)]
    assert view_of(board) == (AV, at(0), True)
    assert board.desired_members()[A].penalty == OFFERED
    assert board.stale_offers() == []
    assert board.withdraw(1) == "L1"
    assert waiting_rows(board) == [("L1", False, None, None)]
    assert view_of(board) == (AV, at(0), False)
    assert board.desired_members()[A].penalty == STANDBY
    assert board.withdraw(1) is None
    assert board.withdraw(99) is None


def test_withdraw_keeps_another_advisors_offer_on_the_call() -> None:
    board = new_board()
    board.login(1, at(0))
    board.login(2, at(0))
    board.on_effect(queued("L1", at(1)))
    board.offer("L1", 1)
    board.offer("L1", 2)  # re-offered to Bob before Alice's offer was withdrawn
    assert board.withdraw(1) == "L1"
    assert waiting_rows(board) == [("L1", False, 2, None)]
    assert board.withdraw(1) is None


@pytest.mark.parametrize(
    ("gone", "stale"),
    [
        (ended("L1", at(5)), [1]),
        (answered("L1", at(5), interface=B), [1]),
        (queued("L2", at(5)), []),
    ],
    ids=["ended", "answered_elsewhere", "other_call_queued"],
)
def test_stale_offers(gone: AnyEffect, stale: list[int]) -> None:
    board = board_in("available")
    board.on_effect(queued("L1", at(1)))
    board.offer("L1", 1)
    board.on_effect(gone)
    assert board.stale_offers() == stale
    assert board.withdraw(1) == "L1"
    assert board.stale_offers() == []


@pytest.mark.parametrize(
    ("leave", "state"),
    [
        (lambda b: b.on_effect(ringing("L1", at(5))), RINGING),
        (lambda b: b.on_effect(ringing("L2", at(5))), RINGING),  # the fail-safe rang them for another call
        (lambda b: b.pause(1, "break", at(5)), PAUSED),
        (lambda b: b.logout(1, at(5)), LOGGED_OUT),
    ],
    ids=["rings_for_it", "rings_for_other", "pause", "logout"],
)
def test_offer_ends_when_advisor_leaves_available(
    leave: Callable[[PresenceBoard], object], state: AdvisorState
) -> None:
    board = board_in("available")
    board.on_effect(queued("L1", at(1)))
    board.on_effect(queued("L2", at(2)))
    board.offer("L1", 1)
    leave(board)
    assert board.presence(1)[0] is state
    assert [offered for _, _, offered, _ in waiting_rows(board)] == [None, None]
    assert board.withdraw(1) is None
    assert board.stale_offers() == []


@pytest.mark.parametrize(
    ("event", "withdrawn", "waiting"),
    [
        (lambda b: b.on_effect(ringing("L1", at(5))), [("L1", 1)], [("L1", True, None, None), ("L2", False, 2, None)]),
        # app_queue rang the advisor offered for L2 for the head call L1: L2 lost its offer (its claim must go too)
        (
            lambda b: b.on_effect(ringing("L1", at(5), interface=B)),
            [("L2", 2)],
            [("L1", True, 1, None), ("L2", False, None, None)],
        ),
        (lambda b: b.pause(2, "break", at(5)), [("L2", 2)], [("L1", False, 1, None), ("L2", False, None, None)]),
        (lambda b: b.logout(1, at(5)), [("L1", 1)], [("L1", False, None, None), ("L2", False, 2, None)]),
        (lambda b: b.withdraw(2), [("L2", 2)], [("L1", False, 1, None), ("L2", False, None, None)]),
        (lambda b: b.on_effect(ended("L1", at(5))), [], [("L2", False, 2, None)]),  # stale: the router withdraws
        (
            lambda b: b.on_effect(queued("L3", at(5))),
            [],
            [("L1", False, 1, None), ("L2", False, 2, None), ("L3", False, None, None)],
        ),
    ],
    ids=["rings_for_its_call", "rings_for_the_other_call", "pause", "logout", "withdraw", "call_ended", "queued"],
)
def test_withdrawn_offers_are_reported_once(
    event: Callable[[PresenceBoard], object],
    withdrawn: list[tuple[str, int]],
    waiting: list[tuple[str, bool, int | None, int | None]],
) -> None:
    """Every offer the board cancels is reported (call, advisor) once, so the router releases its claim: a claim
    left behind blocks any new offer for that call until it expires."""
    board = new_board()
    board.login(1, at(0))
    board.login(2, at(0))
    board.on_effect(queued("L1", at(1)))
    board.on_effect(queued("L2", at(2)))
    board.offer("L1", 1)
    board.offer("L2", 2)
    assert board.take_withdrawn() == []
    event(board)
    assert waiting_rows(board) == waiting
    assert board.take_withdrawn() == withdrawn
    assert board.take_withdrawn() == []


def test_the_call_that_lost_its_offer_is_decided_again() -> None:
    """Head L1 rang Bob, offered for L2; Carol frees up: L2 (now the head to decide for) is offered Carol."""
    board = new_board(ALICE, BOB, CAROL)
    for advisor_id in (1, 2):
        board.login(advisor_id, at(0))
    board.on_effect(queued("L1", at(1)))
    board.on_effect(queued("L2", at(2)))
    board.offer("L1", 1)
    board.offer("L2", 2)
    board.on_effect(ringing("L1", at(5), interface=B))
    board.login(3, at(6))
    decisions = plan(board.waiting(), board.views(relevant_only=True), at(6), continuity_wait=10.0)
    assert decisions == [Offer(linkedid="L2", advisor_id=3, reason="longest_idle")]


# ---- desired members ----


@pytest.mark.parametrize(
    ("start", "offered", "config"),
    [
        ("logged_out", False, None),
        ("available", False, MemberConfig("Alice Martin", False, "", STANDBY)),
        ("available", True, MemberConfig("Alice Martin", False, "", OFFERED)),
        ("ringing", False, MemberConfig("Alice Martin", False, "", STANDBY)),
        ("on_call", False, MemberConfig("Alice Martin", False, "", STANDBY)),
        ("paused", False, MemberConfig("Alice Martin", True, "break", STANDBY)),
        ("missed", False, MemberConfig("Alice Martin", True, MISSED_CALL, STANDBY)),
        ("wrap_up", False, MemberConfig("Alice Martin", True, "wrap_up", STANDBY)),
    ],
)
def test_desired_members(start: str, offered: bool, config: MemberConfig | None) -> None:
    board = board_in(start)
    if offered:
        board.on_effect(queued("L1", at(1)))
        board.offer("L1", 1)
    assert (OFFERED, STANDBY) == (1, 2)
    assert board.desired_members() == ({} if config is None else {A: config})


def test_desired_members_of_several_advisors() -> None:
    board = new_board()
    board.login(1, at(0))
    board.login(2, at(0))
    board.pause(2, "meal", at(1))
    assert board.desired_members() == {
        A: MemberConfig("Alice Martin", False, "", STANDBY),
        B: MemberConfig("Bob Durand", True, "meal", STANDBY),
    }


# ---- device state ----


@pytest.mark.parametrize(
    ("updates", "claimed_a", "claimed_b"),
    [
        ([member(A, device_state=1)], False, False),
        ([member(A, device_state=4)], True, False),
        ([member(A, device_state=4), member(A, device_state=1)], False, False),
        ([member(A, device_state=4), member(A, device_state=5)], False, False),
        ([member(A, device_state=4), member(B, device_state=1)], True, False),
        ([member(A, device_state=4), member(B, device_state=4)], True, True),
    ],
    ids=["ok", "invalid", "invalid_then_ok", "invalid_then_unavailable", "other_ok", "both_invalid"],
)
def test_device_invalid_marks_claimed(updates: list[MemberUpdate], claimed_a: bool, claimed_b: bool) -> None:
    board = new_board()
    board.login(1, at(0))
    board.login(2, at(0))
    for update in updates:
        assert board.on_effect(update) == []
    views = {v.advisor_id: v for v in board.views()}
    assert (views[1].claimed, views[2].claimed) == (claimed_a, claimed_b)
    assert (views[1].free, views[2].free) == (not claimed_a, not claimed_b)
    assert board.presence(1) == (AV, None)


# ---- load and adopt ----


@pytest.mark.parametrize(
    ("last", "state", "reason", "since", "deadline"),
    [
        (None, LOGGED_OUT, None, datetime(1970, 1, 1, tzinfo=UTC), None),
        (sc(LOGGED_OUT, at(5)), LOGGED_OUT, None, at(5), None),
        (sc(AV, at(5)), AV, None, at(5), None),
        (sc(PAUSED, at(5), "meal"), PAUSED, "meal", at(5), None),
        (sc(RINGING, at(5), linkedid="L1"), RINGING, None, at(5), None),
        (sc(ON_CALL, at(5), linkedid="L1"), ON_CALL, None, at(5), None),
        (sc(WRAP_UP, at(5), "wrap_up", "L1"), WRAP_UP, "wrap_up", at(5), at(5 + WRAPUP_MAX)),
    ],
    ids=["none", "logged_out", "available", "paused", "ringing", "on_call", "wrap_up"],
)
def test_load(
    last: StateChange | None,
    state: AdvisorState,
    reason: str | None,
    since: datetime,
    deadline: datetime | None,
) -> None:
    board = new_board(ALICE, BOB, GONE, last={} if last is None else {1: last})
    assert board.presence(1) == (state, reason)
    assert view_of(board)[:2] == (state, since)
    assert board.next_deadline() == deadline
    assert board.presence(2) == (LOGGED_OUT, None)


def test_load_ignores_inactive_and_replaces_previous() -> None:
    board = board_in("available")
    board.load([ALICE, GONE], {3: sc(AV, at(5), advisor_id=3)})
    assert [v.advisor_id for v in board.views()] == [1]
    assert board.presence(1) == (LOGGED_OUT, None)
    assert board.advisor_of(A) == ALICE
    assert board.advisor_of(B) is None
    assert board.advisor_of(GONE.interface) is None
    assert board.desired_members() == {}


@pytest.mark.parametrize(
    ("edited", "skills", "name"),
    [
        (ALICE.model_copy(update={"skills": frozenset({"taxes"})}), {"taxes"}, "Alice Martin"),
        (ALICE.model_copy(update={"name": "Alice Martin-Dupont"}), set(), "Alice Martin-Dupont"),
        (ALICE.model_copy(update={"skills": frozenset({"taxes"}), "interface": "PJSIP/alice2"}), set(), "Alice Martin"),
        (ALICE.model_copy(update={"skills": frozenset({"taxes"}), "active": False}), set(), "Alice Martin"),
        (CAROL.model_copy(update={"id": 9, "skills": frozenset({"taxes"})}), set(), "Alice Martin"),
    ],
    ids=["skills", "name", "interface_waits_for_a_load", "deactivation_waits_for_a_load", "unknown_advisor"],
)
def test_update_applies_skills_and_name_at_once(edited: Advisor, skills: set[str], name: str) -> None:
    board = board_in("available")
    before = view_of(board)
    board.update(edited)
    view = next(v for v in board.views() if v.advisor_id == 1)
    assert view.skills == skills
    assert board.advisor_of(A) is not None and board.advisor_of(A).name == name  # type: ignore[union-attr]
    assert view_of(board) == before  # presence untouched: same state, same idle-since
    assert [v.advisor_id for v in board.views()] == [1, 2]


def test_loaded_wrap_up_expires() -> None:
    board = new_board(last={1: sc(WRAP_UP, at(5), "wrap_up", "L1")})
    deadline = at(5 + WRAPUP_MAX)
    assert board.expire(deadline - timedelta(seconds=1)) == []
    assert board.expire(deadline) == [sc(AV, deadline)]


def test_loaded_on_call_can_be_released() -> None:
    board = new_board(last={1: sc(ON_CALL, at(5), linkedid="L1")})
    assert board.on_effect(released("L1", T1)) == [sc(WRAP_UP, T1, "wrap_up", "L1")]


NOW = at(500)


@pytest.mark.parametrize(
    ("logged", "members", "changes", "after"),
    [
        (None, [member(A, in_call=True)], [sc(ON_CALL, NOW)], ON_CALL),
        (sc(AV, at(5)), [member(A, in_call=True)], [sc(ON_CALL, NOW)], ON_CALL),
        (sc(PAUSED, at(5), "meal"), [member(A, in_call=True)], [sc(ON_CALL, NOW)], ON_CALL),
        (sc(WRAP_UP, at(5), "wrap_up"), [member(A, in_call=True)], [sc(ON_CALL, NOW)], ON_CALL),
        (sc(ON_CALL, at(5), linkedid="L1"), [member(A, in_call=True)], [], ON_CALL),
        (sc(ON_CALL, at(5), linkedid="L1"), [member(A)], [sc(WRAP_UP, NOW, "wrap_up")], WRAP_UP),
        (sc(ON_CALL, at(5), linkedid="L1"), [], [sc(WRAP_UP, NOW, "wrap_up")], WRAP_UP),
        (sc(ON_CALL, at(5), linkedid="L1"), [member(A, present=False)], [sc(WRAP_UP, NOW, "wrap_up")], WRAP_UP),
        (
            sc(ON_CALL, at(5), linkedid="L1"),
            [member(B, in_call=True)],
            [sc(WRAP_UP, NOW, "wrap_up"), sc(ON_CALL, NOW, advisor_id=2)],
            WRAP_UP,
        ),
        (sc(RINGING, at(5), linkedid="L1"), [member(A)], [sc(WRAP_UP, NOW, "wrap_up")], WRAP_UP),
        (sc(RINGING, at(5), linkedid="L1"), [], [sc(WRAP_UP, NOW, "wrap_up")], WRAP_UP),
        (sc(AV, at(5)), [member(A)], [], AV),
        (sc(AV, at(5)), [], [], AV),
        (sc(PAUSED, at(5), "meal"), [member(A)], [], PAUSED),
        (None, [member(A, in_call=True, present=False)], [], LOGGED_OUT),
    ],
    ids=[
        "logged_out_in_call",
        "available_in_call",
        "paused_in_call",
        "wrap_up_in_call",
        "on_call_in_call",
        "on_call_idle",
        "on_call_absent",
        "on_call_not_present",
        "on_call_other_in_call",
        "ringing_idle",
        "ringing_absent",
        "available_idle",
        "available_absent",
        "paused_idle",
        "not_present_in_call",
    ],
)
def test_adopt_members(
    logged: StateChange | None, members: list[MemberUpdate], changes: list[StateChange], after: AdvisorState
) -> None:
    board = new_board(ALICE, BOB, last={} if logged is None else {1: logged})
    assert board.adopt_members(members, NOW) == changes
    assert board.presence(1)[0] is after
    assert board.next_deadline() == (NOW + timedelta(seconds=WRAPUP_MAX) if after is WRAP_UP else None)


def test_adopt_members_ringing_but_in_call_is_on_call() -> None:
    board = new_board(ALICE, last={1: sc(RINGING, at(5), linkedid="L1")})
    assert board.adopt_members([member(A, in_call=True)], NOW) == [sc(ON_CALL, NOW)]
    assert board.on_effect(released("L1", at(600))) == [sc(WRAP_UP, at(600), "wrap_up", "L1")]


@pytest.mark.parametrize(
    ("result", "after"),
    [(RingResult.CALLER_GONE, (PAUSED, "break")), (RingResult.OTHER, (PAUSED, "break"))],
)
def test_a_pause_overtaken_by_a_ring_is_resumed_after_it(result: RingResult, after: tuple[object, str]) -> None:
    """The advisor paused; Asterisk rang them before the pause reached it; the ring ends: still paused."""
    board = new_board(ALICE)
    board.login(1, at(0))
    board.pause(1, "break", at(10))
    board.on_effect(ringing("L1", at(11)))
    assert board.on_effect(ring_ended("L1", at(14), result)) == [sc(PAUSED, at(14), "break")]
    assert board.presence(1) == after


def test_a_pause_overtaken_by_an_answered_call_applies_after_the_wrap_up() -> None:
    board = new_board(ALICE)
    board.login(1, at(0))
    board.pause(1, "meal", at(10))
    board.on_effect(ringing("L1", at(11)))
    board.on_effect(answered("L1", at(12)))
    board.on_effect(released("L1", at(60)))
    assert board.expire(at(60 + WRAPUP_MAX)) == [sc(PAUSED, at(60 + WRAPUP_MAX), "meal")]


def test_a_call_qualified_during_the_call_has_no_wrap_up_without_a_minimum() -> None:
    board = new_board(ALICE, wrapup_min=0)
    board.login(1, at(0))
    board.on_effect(ringing("L1", at(11)))
    board.on_effect(answered("L1", at(12)))
    assert board.wrapup_done(1, at(30)) == []  # saved during the call: nothing changes yet
    assert board.on_effect(released("L1", at(60))) == [sc(AV, at(60))]
    assert board.next_deadline() is None
    # the next call, not qualified during it, has its wrap-up
    board.on_effect(ringing("L2", at(70)))
    board.on_effect(answered("L2", at(71)))
    assert board.on_effect(released("L2", at(90))) == [sc(WRAP_UP, at(90), "wrap_up", "L2")]
    assert board.next_deadline() == at(90 + WRAPUP_MAX)


# ---- the wrap-up's minimum (issue 11, item 22) ----
#
# A saved qualification ends the wrap-up, but never sooner than `wrapup_min` after the call ended: the advisor
# finishes a sentence before the next call rings (the next ring came 1.5-6 s after « Enregistrer »). Alice's call
# ends at 75 (`drive(…, "wrap_up")`); the table says what a save at `saved` does, then what `expire` does.

# (wrapup_min, save at, changes of the save, deadline after the save, (expire at, its changes))
WRAPUP_MIN_TABLE = [
    # saved at once: still in wrap-up; available at 75 + 5 exactly, not before
    (5.0, 75.0, [], at(80), [(79.9, []), (80.0, [sc(AV, at(80))])]),
    (5.0, 77.0, [], at(80), [(79.0, []), (80.0, [sc(AV, at(80))])]),
    # saved after the minimum: available at once
    (5.0, 80.0, [sc(AV, at(80))], None, [(80.0, [])]),
    (5.0, 95.0, [sc(AV, at(95))], None, [(95.0, [])]),
    # no minimum: available at once (as before)
    (0.0, 75.0, [sc(AV, at(75))], None, [(75.0, [])]),
    # a minimum longer than the maximum is the maximum
    (WRAPUP_MAX + 60, 76.0, [], at(75 + WRAPUP_MAX), [(75 + WRAPUP_MAX, [sc(AV, at(75 + WRAPUP_MAX))])]),
]


@pytest.mark.parametrize(("minimum", "saved", "changes", "deadline", "expiries"), WRAPUP_MIN_TABLE)
def test_a_qualification_saved_ends_the_wrap_up_no_sooner_than_its_minimum(
    minimum: float,
    saved: float,
    changes: list[StateChange],
    deadline: datetime | None,
    expiries: list[tuple[float, list[StateChange]]],
) -> None:
    board = new_board(ALICE, wrapup_min=minimum)
    drive(board, "wrap_up")  # the call ended at 75
    board.on_effect(queued("L9", at(70), caller=None))  # a caller waits meanwhile
    assert board.wrapup_done(1, at(saved)) == changes
    assert board.next_deadline() == deadline
    if changes == []:  # still in wrap-up: routing sees a busy advisor, no offer
        assert board.presence(1) == (WRAP_UP, "wrap_up")
        assert offers(board, at(saved)) == []
    for when, expired in expiries:
        assert board.expire(at(when)) == expired
        assert offers(board, at(when)) == ([] if board.presence(1)[0] is WRAP_UP else ["L9"])
    assert board.presence(1) == (AV, None)
    assert board.wrapup_done(1, at(200)) == []  # a second save changes nothing


def offers(board: PresenceBoard, now: datetime) -> list[str]:
    """The calls routing would offer to Alice now."""
    decisions = plan(board.waiting(), board.views(), now, 10.0)
    return [d.linkedid for d in decisions if isinstance(d, Offer) and d.advisor_id == 1]


@pytest.mark.parametrize(
    ("minimum", "at_end", "deadline"),
    [(WRAPUP_MIN, [sc(WRAP_UP, at(60), "wrap_up", "L1")], at(60 + WRAPUP_MIN)), (0.0, [sc(AV, at(60))], None)],
    ids=["minimum", "none"],
)
def test_a_call_qualified_during_the_call_has_the_minimum_wrap_up_only(
    minimum: float, at_end: list[StateChange], deadline: datetime | None
) -> None:
    board = new_board(ALICE, wrapup_min=minimum)
    board.login(1, at(0))
    board.on_effect(ringing("L1", at(11)))
    board.on_effect(answered("L1", at(12)))
    assert board.wrapup_done(1, at(30)) == []  # saved during the call
    assert board.on_effect(released("L1", at(60))) == at_end
    assert board.next_deadline() == deadline
    if deadline is not None:
        assert board.wrapup_done(1, at(61)) == []  # saved again: the minimum holds
        assert board.expire(deadline) == [sc(AV, deadline)]
    assert board.presence(1) == (AV, None)


@pytest.mark.parametrize("leave", [available, pause("break"), logout], ids=["available", "pause", "logout"])
def test_the_advisor_may_leave_the_minimum_wrap_up_at_once(leave: Command) -> None:
    """« Disponible », a pause or a logout are the advisor's own: they apply at once, minimum or not."""
    board = board_in("wrap_up")
    board.wrapup_done(1, at(76))
    assert len(leave(board)) == 1
    assert board.next_deadline() is None
    assert board.expire(at(100_000)) == []


def test_a_pause_asked_during_a_call_qualified_early_applies_when_it_ends() -> None:
    board = new_board(ALICE)
    board.login(1, at(0))
    board.pause(1, "meal", at(10))  # the pause had not reached Asterisk: the call rang all the same
    board.on_effect(ringing("L1", at(11)))
    board.on_effect(answered("L1", at(12)))
    board.wrapup_done(1, at(30))
    assert board.on_effect(released("L1", at(60))) == [sc(PAUSED, at(60), "meal")]


# ---- reconcile ----

UP2 = MemberConfig("Alice Martin", False, "", STANDBY)
UP1 = MemberConfig("Alice Martin", False, "", OFFERED)
BREAK = MemberConfig("Alice Martin", True, "break", STANDBY)
MEAL = MemberConfig("Alice Martin", True, "meal", STANDBY)
WRAP = MemberConfig("Alice Martin", True, "wrap_up", STANDBY)
SEEN_UP2 = MemberConfig("", False, "", STANDBY)  # as the router observes Asterisk: no name
BOB_UP2 = MemberConfig("Bob Durand", False, "", STANDBY)


def add(interface: str, config: MemberConfig) -> dict[str, str]:
    return {
        "Action": "QueueAdd",
        "Queue": Q,
        "Interface": interface,
        "MemberName": config.name,
        "Penalty": str(config.penalty),
        "Paused": "true" if config.paused else "false",
        "Reason": config.reason,
    }


def remove(interface: str) -> dict[str, str]:
    return {"Action": "QueueRemove", "Queue": Q, "Interface": interface}


def pause_action(interface: str, paused: bool, reason: str) -> dict[str, str]:
    return {
        "Action": "QueuePause",
        "Queue": Q,
        "Interface": interface,
        "Paused": "true" if paused else "false",
        "Reason": reason,
    }


def penalty(interface: str, value: int) -> dict[str, str]:
    return {"Action": "QueuePenalty", "Queue": Q, "Interface": interface, "Penalty": str(value)}


@pytest.mark.parametrize(
    ("desired", "actual", "actions"),
    [
        ({}, {}, []),
        ({A: UP2}, {A: UP2}, []),
        ({A: BREAK}, {A: BREAK}, []),
        ({A: UP2}, {A: SEEN_UP2}, []),  # the name is not compared
        ({A: UP2}, {A: MemberConfig("", False, "stale", STANDBY)}, []),  # reason ignored when both unpaused
        (
            {A: UP2},
            {},
            [
                {
                    "Action": "QueueAdd",
                    "Queue": Q,
                    "Interface": A,
                    "MemberName": "Alice Martin",
                    "Penalty": "2",
                    "Paused": "false",
                    "Reason": "",
                }
            ],
        ),
        (
            {A: WRAP},
            {},
            [
                {
                    "Action": "QueueAdd",
                    "Queue": Q,
                    "Interface": A,
                    "MemberName": "Alice Martin",
                    "Penalty": "2",
                    "Paused": "true",
                    "Reason": "wrap_up",
                }
            ],
        ),
        ({A: UP1}, {}, [add(A, UP1)]),
        ({}, {A: SEEN_UP2}, [{"Action": "QueueRemove", "Queue": Q, "Interface": A}]),
        ({}, {B: SEEN_UP2, A: BREAK}, [remove(A), remove(B)]),
        ({A: BREAK}, {A: UP2}, [pause_action(A, True, "break")]),
        ({A: UP2}, {A: BREAK}, [pause_action(A, False, "")]),
        ({A: MEAL}, {A: BREAK}, [pause_action(A, True, "meal")]),  # the reason alone changes
        ({A: WRAP}, {A: MemberConfig("", True, "wrap_up", STANDBY)}, []),
        ({A: UP1}, {A: UP2}, [{"Action": "QueuePenalty", "Queue": Q, "Interface": A, "Penalty": "1"}]),
        ({A: UP2}, {A: UP1}, [penalty(A, 2)]),
        ({A: BREAK}, {A: UP1}, [pause_action(A, True, "break"), penalty(A, 2)]),
        ({B: BOB_UP2, A: UP1}, {A: UP2, B: BOB_UP2}, [penalty(A, 1)]),
        ({A: UP1}, {B: SEEN_UP2}, [remove(B), add(A, UP1)]),
        ({B: BOB_UP2, A: BREAK}, {}, [add(A, BREAK), add(B, BOB_UP2)]),
    ],
    ids=[
        "empty",
        "equal",
        "equal_paused",
        "name_ignored",
        "unpaused_reason_ignored",
        "add_unpaused",
        "add_paused",
        "add_offered",
        "remove",
        "remove_sorted",
        "pause",
        "unpause",
        "reason_change",
        "equal_observed_paused",
        "penalty_up",
        "penalty_down",
        "pause_and_penalty",
        "one_of_two",
        "remove_then_add",
        "add_sorted",
    ],
)
def test_reconcile(
    desired: dict[str, MemberConfig], actual: dict[str, MemberConfig], actions: list[dict[str, str]]
) -> None:
    assert reconcile(desired, actual, Q) == actions


def _apply(actual: dict[str, MemberConfig], actions: list[dict[str, str]]) -> dict[str, tuple[bool, str, int]]:
    """What Asterisk would hold after the actions (name left out; reason only counts when paused)."""
    state = {i: (m.paused, m.reason if m.paused else "", m.penalty) for i, m in actual.items()}
    for action in actions:
        i = action["Interface"]
        if action["Action"] == "QueueRemove":
            del state[i]
        elif action["Action"] == "QueueAdd":
            paused = action["Paused"] == "true"
            state[i] = (paused, action["Reason"] if paused else "", int(action["Penalty"]))
        elif action["Action"] == "QueuePause":
            paused = action["Paused"] == "true"
            state[i] = (paused, action["Reason"] if paused else "", state[i][2])
        else:
            assert action["Action"] == "QueuePenalty"
            state[i] = (state[i][0], state[i][1], int(action["Penalty"]))
    return state


_configs = st.builds(
    MemberConfig,
    name=st.sampled_from(["", "Alice Martin"]),
    paused=st.booleans(),
    reason=st.sampled_from(["", "break", "wrap_up"]),
    penalty=st.sampled_from([OFFERED, STANDBY]),
)
_members = st.dictionaries(st.sampled_from([A, B, "PJSIP/carol"]), _configs)


@given(desired=_members, actual=_members)
def test_reconcile_converges(desired: dict[str, MemberConfig], actual: dict[str, MemberConfig]) -> None:
    actions = reconcile(desired, actual, Q)
    assert _apply(actual, actions) == {
        i: (m.paused, m.reason if m.paused else "", m.penalty) for i, m in desired.items()
    }
    assert reconcile(desired, desired, Q) == []
