"""The live view (telephony.live), as tables: effects in, the call's facts out; the eviction rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from telephony.advisors import AdvisorState, StateChange
from telephony.effects import (
    AdvisorReleased,
    AdvisorRingEnded,
    AdvisorRinging,
    AnyEffect,
    CallAnswered,
    CallEnded,
    CallHeld,
    CallLeftQueue,
    CallQueued,
    CallStarted,
    CallTransferred,
    CallUnheld,
    ConsultationEnded,
    ConsultationStarted,
    MemberUpdate,
)
from telephony.live import CallPhase, LiveView
from telephony.records import CallStatus, RingResult, TransferKind
from tests.fixtures_db import make_record

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LID = "1700000000.1"
ADV1, ADV2 = "PJSIP/adv1", "PJSIP/adv2"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def started(s: float = 0) -> CallStarted:
    return CallStarted(linkedid=LID, at=at(s), caller_number="+33321000001", caller_name="Hélène", line_open=True)


def queued(s: float = 1) -> CallQueued:
    return CallQueued(linkedid=LID, at=at(s), queue="gps", caller_number="+33321000001", topic="taxes")


def ringing(interface: str, s: float) -> AdvisorRinging:
    return AdvisorRinging(
        linkedid=LID,
        at=at(s),
        interface=interface,
        member_name=interface,
        caller_number="+33321000001",
        caller_name="Hélène",
        queue_entered_at=at(1),
        menu_topic="taxes",
    )


def ring_ended(interface: str, s: float, result: RingResult) -> AdvisorRingEnded:
    return AdvisorRingEnded(linkedid=LID, at=at(s), interface=interface, result=result)


def answered(interface: str, s: float) -> CallAnswered:
    return CallAnswered(linkedid=LID, at=at(s), interface=interface, advisor_channel=f"{interface}-0001")


def ended(s: float, status: CallStatus = CallStatus.ANSWERED, linkedid: str = LID) -> CallEnded:
    return CallEnded(linkedid=linkedid, at=at(s), record=make_record(linkedid, status=status))


@dataclass(frozen=True)
class Case:
    name: str
    effects: list[AnyEffect]
    expected: dict[str, Any]  # LiveCall attribute (or property) → value


CASES = [
    Case("arrived", [started()], {"phase": CallPhase.ARRIVED, "caller_number": "+33321000001", "desk": None}),
    Case(
        "waiting in the queue",
        [started(), queued()],
        {"phase": CallPhase.WAITING, "queue": "gps", "queued_at": at(1), "menu_topic": "taxes"},
    ),
    Case(
        "ringing an advisor",
        [started(), queued(), ringing(ADV1, 3)],
        {"phase": CallPhase.RINGING, "desk": ADV1, "caller_display": "03 21 00 00 01", "advisor": None},
    ),
    Case(
        "a ring no answer: waiting again, no desk follows it",
        [started(), queued(), ringing(ADV1, 3), ring_ended(ADV1, 18, RingResult.NO_ANSWER)],
        {"phase": CallPhase.WAITING, "desk": None},
    ),
    Case(
        "then the next advisor rings",
        [started(), queued(), ringing(ADV1, 3), ring_ended(ADV1, 18, RingResult.NO_ANSWER), ringing(ADV2, 19)],
        {"phase": CallPhase.RINGING, "desk": ADV2},
    ),
    Case(
        "an older ring's end changes nothing",
        [started(), queued(), ringing(ADV2, 19), ring_ended(ADV1, 20, RingResult.NO_ANSWER)],
        {"phase": CallPhase.RINGING, "desk": ADV2},
    ),
    Case(
        "answered",
        [started(), queued(), ringing(ADV1, 3), ring_ended(ADV1, 5, RingResult.ANSWERED), answered(ADV1, 5)],
        {"phase": CallPhase.TALKING, "desk": ADV1, "advisor": ADV1, "advisor_channel": f"{ADV1}-0001"},
    ),
    Case(
        "left the queue when answered: still talking",
        [started(), queued(), ringing(ADV1, 3), answered(ADV1, 5), CallLeftQueue(linkedid=LID, at=at(5))],
        {"phase": CallPhase.TALKING, "with_advisor": True},
    ),
    Case(
        "left the queue unanswered (timeout)",
        [started(), queued(), CallLeftQueue(linkedid=LID, at=at(300))],
        {"phase": CallPhase.ARRIVED},
    ),
    Case(
        "consulting a service",
        [
            started(),
            ringing(ADV1, 3),
            answered(ADV1, 5),
            ConsultationStarted(linkedid=LID, at=at(30), interface=ADV1, target="2001"),
        ],
        {"phase": CallPhase.CONSULTING, "consulting": "2001", "with_advisor": True},
    ),
    Case(
        "back with the caller",
        [
            started(),
            ringing(ADV1, 3),
            answered(ADV1, 5),
            ConsultationStarted(linkedid=LID, at=at(30), interface=ADV1, target="2001"),
            ConsultationEnded(linkedid=LID, at=at(40), interface=ADV1),
        ],
        {"phase": CallPhase.TALKING, "consulting": None},
    ),
    Case(
        "transferred: the advisor's part is over",
        [
            started(),
            ringing(ADV1, 3),
            answered(ADV1, 5),
            AdvisorReleased(linkedid=LID, at=at(50), interface=ADV1),
            CallTransferred(linkedid=LID, at=at(50), transfer_kind=TransferKind.BLIND, target="2001"),
        ],
        {"phase": CallPhase.TRANSFERRED, "transferred_to": "2001", "with_advisor": False, "advisor": ADV1},
    ),
    Case(
        "ended",
        [started(), ringing(ADV1, 3), answered(ADV1, 5), ended(60)],
        {"phase": CallPhase.ENDED, "status": CallStatus.ANSWERED, "in_progress": False, "advisor": ADV1},
    ),
    Case(
        "a call seen first ringing (adopted after a restart)",
        [ringing(ADV1, 3)],
        {"phase": CallPhase.RINGING, "queued_at": at(1), "menu_topic": "taxes", "arrived_at": at(3)},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_effects_make_the_call(case: Case) -> None:
    view = LiveView()
    for effect in case.effects:
        view.apply(effect)
    call = view.call(LID)
    assert call is not None
    assert {k: getattr(call, k) for k in case.expected} == case.expected


def test_queue_members_are_not_calls_and_an_unseen_end_keeps_nothing() -> None:
    view = LiveView()
    view.apply(
        MemberUpdate(
            linkedid="",
            at=T0,
            queue="gps",
            interface=ADV1,
            present=True,
            paused=False,
            paused_reason="",
            penalty=2,
            in_call=False,
            device_state=1,
        )
    )
    view.apply(ended(10))
    assert len(view) == 0


def test_who_took_a_call_is_known_until_it_leaves_the_view() -> None:
    view = LiveView(ended_kept=timedelta(minutes=2))
    for effect in (started(), ringing(ADV1, 3), answered(ADV1, 5)):
        view.apply(effect)
    assert view.taken_by(LID) == ADV1
    view.apply(ended(60))
    assert view.taken_by(LID) == ADV1  # just ended: its record may not be written yet
    assert [c.linkedid for c in view.calls()] == []  # not in progress any more
    other = "1700000100.1"
    view.apply(CallStarted(linkedid=other, at=at(100), caller_number=None, caller_name=None, line_open=True))
    view.apply(ended(179, CallStatus.ABANDONED, other))  # 1:59 after the first call's end: it stays
    assert view.taken_by(LID) == ADV1
    third = "1700000200.1"
    view.apply(CallStarted(linkedid=third, at=at(150), caller_number=None, caller_name=None, line_open=True))
    view.apply(ended(181, CallStatus.ABANDONED, third))  # 2:01 after: it leaves, the second stays
    assert view.call(LID) is None and view.taken_by(LID) is None
    assert view.call(other) is not None and len(view) == 2
    assert view.taken_by("unknown") is None


def test_past_its_bound_the_oldest_calls_leave_first() -> None:
    view = LiveView(max_calls=3)
    for n in range(5):
        view.apply(CallStarted(linkedid=f"{n}.1", at=at(n), caller_number=None, caller_name=None, line_open=True))
    assert [c.linkedid for c in view.calls()] == ["2.1", "3.1", "4.1"]


def test_advisors_states_follow_the_presence_changes() -> None:
    view = LiveView()
    view.on_presence(
        [
            StateChange(advisor_id=7, state=AdvisorState.AVAILABLE, at=at(0)),
            StateChange(advisor_id=7, state=AdvisorState.RINGING, at=at(3), linkedid=LID),
            StateChange(advisor_id=8, state=AdvisorState.PAUSED, at=at(4), reason="meal"),
        ]
    )
    seven, eight = view.advisor(7), view.advisor(8)
    assert seven is not None and (seven.state, seven.since, seven.linkedid) == (AdvisorState.RINGING, at(3), LID)
    assert eight is not None and (eight.state, eight.reason) == (AdvisorState.PAUSED, "meal")
    assert view.advisor(9) is None


# ---- hold: CallHeld/CallUnheld (the tracker's reading of Asterisk's Hold/Unhold) ----


def held(s: float) -> CallHeld:
    return CallHeld(linkedid=LID, at=at(s))


def unheld(s: float) -> CallUnheld:
    return CallUnheld(linkedid=LID, at=at(s))


TALKING: list[AnyEffect] = [started(), queued(), ringing(ADV1, 3), answered(ADV1, 5)]


@dataclass(frozen=True)
class HoldCase:
    name: str
    effects: list[AnyEffect]
    now: float  # seconds: when the hold so far is read
    on_hold_since: datetime | None
    hold_count: int
    so_far: float  # seconds of hold at `now`, the current span included


HOLD_CASES = [
    HoldCase("never held", TALKING, 30, None, 0, 0),
    HoldCase("on hold: since when, and counting", [*TALKING, held(20)], 32.5, at(20), 1, 12.5),
    HoldCase("held then taken off hold", [*TALKING, held(20), unheld(32.5)], 60, None, 1, 12.5),
    HoldCase(
        "held twice: the spans add up",
        [*TALKING, held(10), unheld(20), held(30)],
        35,
        at(30),
        2,
        15,
    ),
    HoldCase("a second hold within the span is the same span", [*TALKING, held(10), held(15)], 20, at(10), 1, 10),
    HoldCase("an unhold without a hold changes nothing", [*TALKING, unheld(10)], 30, None, 0, 0),
    HoldCase(
        "an unhold after the span ended changes nothing", [*TALKING, held(10), unheld(20), unheld(25)], 30, None, 1, 10
    ),
    HoldCase(
        "hang-up while on hold: the span ends with the call",
        [*TALKING, held(40), ended(45)],
        100,
        None,
        1,
        5,
    ),
    HoldCase(
        "the advisor hangs up while on hold: the span ends with their part",
        [*TALKING, held(50), AdvisorReleased(linkedid=LID, at=at(65), interface=ADV1)],
        80,
        None,
        1,
        15,
    ),
    HoldCase(
        "a transfer while on hold ends the span",
        [*TALKING, held(20), CallTransferred(linkedid=LID, at=at(30), transfer_kind=TransferKind.BLIND, target="2001")],
        90,
        None,
        1,
        10,
    ),
    HoldCase(
        "on hold while consulting a service (the attended transfer's hold)",
        [*TALKING, held(20), ConsultationStarted(linkedid=LID, at=at(20), interface=ADV1, target="2001")],
        25,
        at(20),
        1,
        5,
    ),
    HoldCase("a hold before the answer is not the conversation's", [started(), queued(), held(2)], 10, None, 0, 0),
]


@pytest.mark.parametrize("case", HOLD_CASES, ids=[c.name for c in HOLD_CASES])
def test_the_hold_of_a_live_call(case: HoldCase) -> None:
    view = LiveView()
    for effect in case.effects:
        view.apply(effect)
    call = view.call(LID)
    assert call is not None
    assert (call.on_hold_since, call.on_hold, call.hold_count) == (
        case.on_hold_since,
        case.on_hold_since is not None,
        case.hold_count,
    )
    assert call.hold_so_far(at(case.now)) == timedelta(seconds=case.so_far)


def test_a_hold_of_a_call_the_view_never_saw_answered_is_not_kept() -> None:
    view = LiveView()
    view.apply(held(10))  # adopted mid-call (a restart): not known to be with an advisor
    call = view.call(LID)
    assert call is not None and not call.on_hold
