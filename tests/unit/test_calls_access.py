"""Who may read a caller's history (`screenpop.calls.access`), as a table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from screenpop.calls.access import may_read_history
from storage.users import Role, User
from telephony.effects import AdvisorRingEnded, AdvisorRinging, CallAnswered, CallStarted, CallTransferred
from telephony.live import LiveCall, LiveView
from telephony.records import RingResult

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NUMBER, OTHER = "+33321000001", "+33321000002"
MINE, THEIRS = "PJSIP/201", "PJSIP/202"


def call(*steps: str, number: str = NUMBER) -> LiveCall:
    """A call of `number` through the live view: "ring" (on MINE), "missed", "answer", "transfer"."""
    view = LiveView()
    view.apply(CallStarted(linkedid="1.1", at=AT, caller_number=number, caller_name=None, line_open=True))
    for step in steps:
        if step == "ring":
            view.apply(
                AdvisorRinging(
                    linkedid="1.1",
                    at=AT,
                    interface=MINE,
                    member_name="Moi",
                    caller_number=number,
                    caller_name=None,
                    queue_entered_at=AT,
                )
            )
        elif step == "missed":
            view.apply(AdvisorRingEnded(linkedid="1.1", at=AT, interface=MINE, result=RingResult.NO_ANSWER))
        elif step == "answer":
            view.apply(CallAnswered(linkedid="1.1", at=AT, interface=MINE, advisor_channel=MINE + "-1"))
        elif step == "transfer":
            view.apply(CallTransferred(linkedid="1.1", at=AT, transfer_kind="blind", target="2001"))
    found = view.call("1.1")
    assert found is not None
    return found


ADVISOR = User(id=1, login="moi", name="Moi", role=Role.ADVISOR, advisor_id=1)
NO_PHONE = User(id=2, login="sans", name="Sans poste", role=Role.ADVISOR, advisor_id=None)
SUPERVISOR = User(id=3, login="sup", name="Sup", role=Role.SUPERVISOR)
ADMIN = User(id=4, login="adm", name="Adm", role=Role.ADMIN)

TABLE = [
    # user, its phone, the live calls, the desk's current call, may read NUMBER's history
    ("ringing on my desk", ADVISOR, MINE, [call("ring")], None, True),
    ("talking with me", ADVISOR, MINE, [call("ring", "answer")], None, True),
    ("transferred by me", ADVISOR, MINE, [call("ring", "answer", "transfer")], None, True),
    ("rang me, I missed it", ADVISOR, MINE, [call("ring", "missed")], None, False),
    ("another advisor's call", ADVISOR, THEIRS, [call("ring", "answer")], None, False),
    ("another number on my line", ADVISOR, MINE, [call("ring", "answer", number=OTHER)], None, False),
    ("no call at all", ADVISOR, MINE, [], None, False),
    ("my call not yet qualified", ADVISOR, MINE, [], NUMBER, True),
    ("my call of another number to qualify", ADVISOR, MINE, [], OTHER, False),
    ("an advisor account without a phone", NO_PHONE, None, [call("ring", "answer")], None, False),
    ("a supervisor", SUPERVISOR, None, [], None, True),
    ("an admin", ADMIN, None, [], None, True),
]


@pytest.mark.parametrize(
    ("user", "phone", "calls", "current", "allowed"), [r[1:] for r in TABLE], ids=[r[0] for r in TABLE]
)
def test_who_may_read_a_callers_history(
    user: User, phone: str | None, calls: list[LiveCall], current: str | None, allowed: bool
) -> None:
    assert may_read_history(user, phone, NUMBER, calls, current) is allowed
