"""The call tracker, as tables: event sequences in, call records out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from config.settings import WEEKDAYS, LineSettings, OpeningHours, OpeningSpan
from telephony.calls import CallTracker, channel_base
from telephony.effects import AdvisorRinging, CallEnded, ConsultationStarted
from telephony.events import AmiEvent
from telephony.records import CallRecord
from telephony.replay import replay
from tests.unit.scenario import T0, Scenario

SHARED = Path(__file__).resolve().parents[1] / "captures" / "shared"


RIG = Path(__file__).resolve().parents[1] / "captures"
OPEN = OpeningHours(
    week={d: (OpeningSpan(start=time(0), end=time(23, 59, 59)),) for d in WEEKDAYS},
    holidays_country="FR",
    open_dates=(date(2026, 11, 28),),
)
CLOSED = OpeningHours(week={})


def run(
    events: list[AmiEvent], line: LineSettings | None = None, hours: OpeningHours | None = None
) -> tuple[list[CallRecord], CallTracker]:
    tracker = CallTracker(line or LineSettings(), hours or OpeningHours())
    records = [fx.record for e in events for fx in tracker.apply(e) if isinstance(fx, CallEnded)]
    return records, tracker


def answered(s: Scenario, member: str = "adv1") -> tuple[Any, Any]:
    c = s.at(0).inbound()
    s.at(1).join(c)
    leg = s.at(2).ring(c, member)
    s.at(5).connect(c, leg, member)
    s.leave(c)
    return c, leg


def sc_answered_advisor_hangs_up(s: Scenario) -> None:
    c, leg = answered(s)
    s.at(65).hangup(leg)
    s.complete("adv1", c)
    s.hangup(c)


def sc_answered_caller_hangs_up(s: Scenario) -> None:
    c, leg = answered(s)
    s.at(45).hangup(c)
    s.hangup(leg)


def sc_advisor_leaves_first_but_caller_hangup_is_published_first(s: Scenario) -> None:
    c, leg = answered(s)
    s.at(30).leave_bridge(leg)  # the advisor's leg leaves the conversation first...
    s.leave_bridge(c)
    s.hangup(c)  # ...but the caller leg's Hangup is published before the advisor's (seen on Asterisk 22)
    s.hangup(leg)


def sc_abandoned(s: Scenario) -> None:
    c = s.at(0).inbound()
    s.at(1).join(c)
    s.at(9).abandon(c)
    s.leave(c)
    s.hangup(c)


def sc_abandoned_ringing(s: Scenario) -> None:
    c = s.at(0).inbound()
    s.at(1).join(c)
    leg = s.at(2).ring(c, "adv1")
    s.at(4).abandon(c)
    s.leave(c)
    s.dial_end(c, leg, "CANCEL")
    s.hangup(leg)
    s.hangup(c)


def sc_ring_no_answer_then_next(s: Scenario) -> None:
    c = s.at(0).inbound()
    s.at(1).join(c)
    leg1 = s.at(2).ring(c, "adv1")
    s.at(17).no_answer(c, leg1, "adv1")
    s.dial_end(c, leg1, "NOANSWER")
    s.hangup(leg1)
    leg2 = s.at(18).ring(c, "adv2")
    s.at(20).connect(c, leg2, "adv2")
    s.at(80).hangup(c)
    s.hangup(leg2)


def sc_closed(s: Scenario) -> None:
    s.t = T0 + timedelta(days=6)  # Sunday
    c = s.inbound()
    s.t += timedelta(seconds=8)
    s.hangup(c)


def sc_failed(s: Scenario) -> None:
    c = s.at(0).inbound()
    s.at(3).hangup(c, cause=34)


def sc_blind_transfer(s: Scenario) -> None:
    c, leg = answered(s)
    s.at(30).blind(leg, c, "2001")
    s.complete("adv1", c, reason="transfer")
    s.hangup(leg)
    target = s.at(31).new("PJSIP/service2001-00000042", linkedid=c.linkedid)
    s.at(90).hangup(target)
    s.hangup(c)


def sc_attended_transfer(s: Scenario) -> None:
    c, leg = answered(s)
    consult = s.at(30).new("PJSIP/service2002-00000043", linkedid=c.linkedid)
    s.at(40).attended(leg, c, "2002")
    s.hangup(leg)
    s.at(100).hangup(c)
    s.hangup(consult)


def sc_anonymous_hostile_name(s: Scenario) -> None:
    c = s.at(0).inbound(num="<unknown>", name="<unknown>")
    s.callerid(c, "anonymous", "<img src=x onerror=alert(1)>\x07")
    s.at(1).join(c, num="anonymous", name="<img src=x onerror=alert(1)>\x07")
    s.at(3).abandon(c)
    s.hangup(c)


def sc_agent_complete_without_channel(s: Scenario) -> None:
    c, leg = answered(s)
    s.at(50).complete("adv1")  # no Uniqueid/Linkedid: correlated by interface
    s.at(60).hangup(c)
    s.hangup(leg)


def sc_independent_leg_merged_by_bridge(s: Scenario) -> None:
    c, leg = answered(s)
    other = s.at(20).new("PJSIP/service2003-00000050")  # its own linkedid
    s.at(21).bridge(other, linkedid=c.linkedid)  # joins the caller's group
    s.at(22).hangup(leg)
    s.hangup(c)
    s.at(30).hangup(other)  # the call ends with its last channel


def sc_ended_during_link_gap(s: Scenario) -> None:
    answered(s)
    s.at(20).link_down()
    s.at(70).snapshot()  # nothing left: the call ended while we were blind


def sc_started_while_call_is_up(s: Scenario) -> None:
    c = s._uid()
    from tests.unit.scenario import Chan

    caller = Chan("PJSIP/trunk-00000099", c, c)
    adv = Chan("PJSIP/adv3-000000a0", s._uid(), c)
    s.at(100).snapshot(
        channels=[(caller, "public", "0800123456", 40, "b7"), (adv, "advisors", "adv3", 30, "b7")],
        members=[("PJSIP/adv3", True)],
    )
    s.at(130).hangup(adv)
    s.hangup(caller)


def sc_started_while_call_waits(s: Scenario) -> None:
    from tests.unit.scenario import Chan

    uid = s._uid()
    caller = Chan("PJSIP/trunk-000000aa", uid, uid)
    s.at(100).snapshot(channels=[(caller, "public", "0800123456", 9, "")], entries=[(caller, 7)])
    s.at(103).abandon(caller)
    s.hangup(caller)


def sc_link_cut_mid_call(s: Scenario) -> None:
    c, leg = answered(s)
    s.at(20).link_down()
    s.at(25).snapshot(channels=[(c, "public", "0800123456", 25, "b1"), (leg, "advisors", "adv1", 20, "b1")])
    s.at(65).hangup(leg)
    s.hangup(c)


def sc_stale_snapshot_does_not_revive(s: Scenario) -> None:
    c = s.at(0).inbound()
    s.at(1).join(c)
    s.at(4).abandon(c)
    s.hangup(c)
    s.at(5).snapshot(channels=[(c, "public", "0800123456", 5, "")])  # taken just before the hang-up


def sc_duplicate_events(s: Scenario) -> None:
    sc_abandoned(s)
    s.events = [e for e in s.events for _ in (0, 1)]  # every event twice (a replay)


TABLE: list[tuple[Callable[[Scenario], None], dict[str, Any]]] = [
    (
        sc_answered_advisor_hangs_up,
        dict(
            status="answered",
            hangup_by="advisor",
            wait_seconds=4.0,
            talk_seconds=60.0,
            advisor_interface="PJSIP/adv1",
            advisor_name="Adv1",
            caller_number="+33321000001",
            caller_name="Hélène Lefèvre",
            rings=["answered"],
            line_open=True,
            reconstructed=False,
        ),
    ),
    (sc_answered_caller_hangs_up, dict(status="answered", hangup_by="caller", talk_seconds=40.0)),
    (
        sc_abandoned,
        dict(status="abandoned", hangup_by="caller", wait_seconds=8.0, talk_seconds=None, rings=[]),
    ),
    (
        sc_abandoned_ringing,
        dict(status="abandoned_ringing", hangup_by="caller", wait_seconds=3.0, rings=["caller_gone"]),
    ),
    (
        sc_ring_no_answer_then_next,
        dict(
            status="answered",
            advisor_interface="PJSIP/adv2",
            wait_seconds=19.0,
            talk_seconds=60.0,
            rings=["no_answer", "answered"],
            hangup_by="caller",
        ),
    ),
    (sc_closed, dict(status="closed", line_open=False, hangup_by="system", queue=None, wait_seconds=None)),
    (sc_failed, dict(status="failed", line_open=True, hangup_cause=34)),
    (
        sc_blind_transfer,
        dict(
            status="answered",
            transfer_kind="blind",
            transfer_target="2001",
            talk_seconds=25.0,
            hangup_by="transfer_target",
        ),
    ),
    (
        sc_attended_transfer,
        dict(
            status="answered",
            transfer_kind="attended",
            transfer_target="2002",
            talk_seconds=35.0,
            hangup_by="caller",
        ),
    ),
    (
        sc_anonymous_hostile_name,
        dict(status="abandoned", caller_number=None, caller_name="<img src=x onerror=alert(1)>"),
    ),
    (sc_agent_complete_without_channel, dict(status="answered", talk_seconds=45.0, hangup_by="caller")),
    (sc_independent_leg_merged_by_bridge, dict(status="answered", hangup_by="advisor", talk_seconds=17.0)),
    (
        sc_ended_during_link_gap,
        dict(status="answered", reconstructed=True, hangup_by="unknown", talk_seconds=65.0),
    ),
    (
        sc_started_while_call_is_up,
        dict(
            status="answered",
            reconstructed=True,
            advisor_interface="PJSIP/adv3",
            caller_name="Zoé Dubois",
            caller_number="+33321000009",
            hangup_by="advisor",
            talk_seconds=60.0,
        ),
    ),
    (
        sc_started_while_call_waits,
        dict(status="abandoned", reconstructed=True, wait_seconds=10.0, hangup_by="caller"),
    ),
    (
        sc_link_cut_mid_call,
        dict(status="answered", reconstructed=False, talk_seconds=60.0, hangup_by="advisor"),
    ),
    (sc_stale_snapshot_does_not_revive, dict(status="abandoned")),
    (sc_duplicate_events, dict(status="abandoned", wait_seconds=8.0)),
]


@pytest.mark.parametrize(("build", "expected"), TABLE, ids=[b.__name__[3:] for b, _ in TABLE])
def test_record(build: Callable[[Scenario], None], expected: dict[str, Any]) -> None:
    s = Scenario()
    build(s)
    records, tracker = run(s.events)
    assert len(records) == 1, records
    record = records[0].model_dump(mode="json")
    record["rings"] = [r["result"] for r in record["rings"]]
    assert {k: record[k] for k in expected} == expected
    assert tracker.open_calls == 0
    assert tracker.channels == 0


def test_the_pop_moment_carries_the_caller() -> None:
    s = Scenario()
    sc_answered_advisor_hangs_up(s)
    tracker = CallTracker(LineSettings(), OpeningHours())
    rings = [fx for e in s.events for fx in tracker.apply(e) if isinstance(fx, AdvisorRinging)]
    assert [(r.interface, r.caller_number, r.caller_name) for r in rings] == [
        ("PJSIP/adv1", "+33321000001", "Hélène Lefèvre")
    ]


@pytest.mark.parametrize(
    ("pressed", "topic"),
    [(None, None), ("taxes", "taxes"), (" Roads ", "roads"), ("<b>x</b>", None), ("a" * 41, None)],
    ids=["no_choice", "choice", "normalised", "markup_dropped", "too_long_dropped"],
)
def test_the_pop_moment_carries_the_voice_menu_choice(pressed: str | None, topic: str | None) -> None:
    s = Scenario()
    c = s.at(0).inbound()
    if pressed is not None:
        s.menu(c, pressed)
    s.at(1).join(c)
    s.at(2).ring(c, "adv1")
    tracker = CallTracker(LineSettings(), OpeningHours())
    rings = [fx for e in s.events for fx in tracker.apply(e) if isinstance(fx, AdvisorRinging)]
    assert [r.menu_topic for r in rings] == [topic]


def test_calls_not_on_the_public_line_make_no_record() -> None:
    s = Scenario()
    c = s.new("PJSIP/switchboard-00000001", context="internal", exten="2001", num="1001", name="Accueil")
    s.at(30).hangup(c)
    records, tracker = run(s.events)
    assert records == [] and tracker.channels == 0


def test_interleaved_calls_are_kept_apart() -> None:
    s = Scenario()
    a = s.at(0).inbound(num="0321000001", name="A")
    b = s.at(1).inbound(num="0321000002", name="B")
    s.at(2).join(a, num="0321000001", name="A")
    s.join(b, num="0321000002", name="B")
    la = s.at(3).ring(a, "adv1")
    lb = s.ring(b, "adv2")
    s.at(4).connect(b, lb, "adv2")
    s.at(6).abandon(a)
    s.dial_end(a, la, "CANCEL")
    s.hangup(la)
    s.hangup(a)
    s.at(50).hangup(lb)
    s.hangup(b)
    records, _ = run(s.events)
    assert [(r.caller_name, r.status, r.advisor_interface) for r in records] == [
        ("A", "abandoned_ringing", None),
        ("B", "answered", "PJSIP/adv2"),
    ]


def test_channel_base() -> None:
    assert channel_base("Local/101@phones-00000005;2") == "Local/101@phones-00000005"
    assert channel_base("PJSIP/adv1-0000002a") == "PJSIP/adv1-0000002a"


# ---- recorded traffic from real Asterisk 22 ----

CAPTURES: list[tuple[str, dict[str, Any]]] = [
    (
        "answered.ami",
        dict(
            status="answered",
            hangup_by="advisor",
            caller_number="+33321000001",
            caller_name="Jean Dupont",
            advisor_interface="Local/101@phones",
            advisor_name="Advisor 101",
            queue="gps",
            rings=["answered"],
            hangup_cause=16,
        ),
    ),
    (
        "abandoned.ami",
        dict(
            status="abandoned",
            hangup_by="caller",
            caller_number="+33321000002",
            caller_name="Marie Martin",
            rings=[],
            advisor_interface=None,
        ),
    ),
]


@pytest.mark.parametrize(("name", "expected"), CAPTURES, ids=[n for n, _ in CAPTURES])
@pytest.mark.parametrize("chunk", [1, 7, 1500, 10**9])
def test_shared_captures(name: str, expected: dict[str, Any], chunk: int) -> None:
    data = (SHARED / name).read_bytes()
    events = list(replay(data[i : i + chunk] for i in range(0, len(data), chunk)))
    records, tracker = run(events)
    assert len(records) == 1
    record = records[0].model_dump(mode="json")
    record["rings"] = [r["result"] for r in record["rings"]]
    assert {k: record[k] for k in expected} == expected
    assert tracker.open_calls == 0


# Captured from the project's own rig (tests/captures/README.md), with timestampevents: real times.
RIG_CAPTURES: list[tuple[str, OpeningHours, dict[str, Any]]] = [
    (
        "answered.ami",
        OPEN,
        dict(
            status="answered",
            hangup_by="advisor",
            caller_name="Hélène Lefèvre",
            caller_number="+33321000001",
            advisor_interface="Local/adv1@advisors",
            rings=["answered"],
        ),
    ),
    ("abandoned.ami", OPEN, dict(status="abandoned", hangup_by="caller", rings=[], caller_name="Marie Martin")),
    ("abandoned_ringing.ami", OPEN, dict(status="abandoned_ringing", hangup_by="caller", rings=["caller_gone"])),
    (
        "ring_no_answer.ami",
        OPEN,
        dict(status="answered", advisor_interface="Local/adv2@advisors", rings=["no_answer", "answered"]),
    ),
    ("closed.ami", CLOSED, dict(status="closed", line_open=False, hangup_by="system", queue=None)),
    (
        "blind_transfer.ami",
        OPEN,
        dict(status="answered", transfer_kind="blind", transfer_target="2001", hangup_by="transfer_target"),
    ),
    (
        "attended_transfer.ami",
        OPEN,
        dict(
            status="answered",
            transfer_kind="attended",
            transfer_target="2001",
            advisor_interface="Local/adv1@advisors",
            hold_count=1,  # Asterisk held the transferer's channel at the Atxfer; no Unhold: ends at the transfer
        ),
    ),
    (
        "attended_transfer_cancelled.ami",
        OPEN,
        dict(
            status="answered",
            transfer_kind=None,
            transfer_target=None,
            hangup_by="advisor",
            hold_count=1,  # its length: tests/unit/test_calls_hold.py
        ),
    ),
    ("anonymous.ami", OPEN, dict(status="answered", caller_number=None, caller_name="<script>alert(1)</script>")),
]


@pytest.mark.parametrize(("name", "hours", "expected"), RIG_CAPTURES, ids=[n for n, _, _ in RIG_CAPTURES])
@pytest.mark.parametrize("chunk", [3, 4096])
def test_rig_captures(name: str, hours: OpeningHours, expected: dict[str, Any], chunk: int) -> None:
    data = (RIG / name).read_bytes()
    events = list(replay(data[i : i + chunk] for i in range(0, len(data), chunk)))
    assert all(e.at.year == 2026 for e in events)  # Asterisk's own Timestamp header, not a replay clock
    records, tracker = run(events, hours=hours)
    assert len(records) == 1
    record = records[0].model_dump(mode="json")
    record["rings"] = [r["result"] for r in record["rings"]]
    assert {k: record[k] for k in expected} == expected
    assert tracker.open_calls == 0 and tracker.channels == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # Atxfer (Asterisk holds the caller), consultation, the advisor hangs up: the transfer completes (no Unhold:
        # the hold ends with the advisor's part)
        (
            "attended_transfer.ami",
            ["call_held", "consultation_started", "call_transferred", "advisor_released", "call_ended"],
        ),
        # Atxfer, consultation, CancelAtxfer (back to the caller, then off hold), then the advisor hangs up
        (
            "attended_transfer_cancelled.ami",
            [
                "call_held",
                "consultation_started",
                "consultation_ended",
                "call_unheld",
                "advisor_released",
                "call_ended",
            ],
        ),
    ],
)
def test_the_consultation_is_not_a_hang_up(name: str, expected: list[str]) -> None:
    """The advisor's leg leaving the caller's bridge for the consultation neither releases the advisor
    (no wrap-up while consulting) nor says who hung up; the consultation is reported with its target."""
    events = list(replay([(RIG / name).read_bytes()]))
    tracker = CallTracker(LineSettings(), OPEN)
    effects = [fx for e in events for fx in tracker.apply(e)]
    after_answer = [fx.kind for fx in effects][[fx.kind for fx in effects].index("call_answered") + 1 :]
    assert after_answer == expected
    started = next(fx for fx in effects if isinstance(fx, ConsultationStarted))
    assert (started.interface, started.target) == ("Local/adv1@advisors", "2001")
