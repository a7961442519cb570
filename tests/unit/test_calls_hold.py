"""Hold time, as a table: Hold/Unhold sequences on a call's parties in, the record's hold facts out.

The call is answered at 5 s (`answered`); times below are seconds from the call's arrival.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from config.settings import LineSettings, OpeningHours
from telephony import events as ev
from telephony.calls import CallTracker
from telephony.effects import CallEnded, CallHeld, CallUnheld
from telephony.records import HOLD_COUNT_MAX, HOLD_SECONDS_MAX, CallRecord
from telephony.replay import replay
from tests.unit.scenario import T0, Scenario
from tests.unit.test_calls import OPEN, RIG, answered, run


def _end(s: Scenario, c: Any, leg: Any, at: float = 65) -> None:
    s.at(at).hangup(leg)
    s.complete("adv1", c)
    s.hangup(c)


def sc_no_hold(s: Scenario) -> None:
    c, leg = answered(s)
    _end(s, c, leg)


def sc_advisor_holds_once(s: Scenario) -> None:
    c, leg = answered(s)
    s.at(20).hold(leg, "default")
    s.at(32.5).unhold(leg)
    _end(s, c, leg)


def sc_caller_holds(s: Scenario) -> None:
    c, leg = answered(s)
    s.at(10).hold(c)
    s.at(14).unhold(c)
    _end(s, c, leg)


def sc_two_holds(s: Scenario) -> None:
    c, leg = answered(s)
    s.at(10).hold(leg)
    s.at(20).unhold(leg)
    s.at(30).hold(leg)
    s.at(35).unhold(leg)
    _end(s, c, leg)


def sc_duplicate_hold_and_unhold(s: Scenario) -> None:
    c, leg = answered(s)
    s.at(10).hold(leg)
    s.at(12).hold(leg)  # a phone re-sending its hold: the same span
    s.at(20).unhold(leg)
    s.at(21).unhold(leg)  # and its unhold twice
    _end(s, c, leg)


def sc_unhold_without_hold(s: Scenario) -> None:
    c, leg = answered(s)
    s.at(10).unhold(leg)
    _end(s, c, leg)


def sc_both_parties_hold_overlapping(s: Scenario) -> None:
    """One span while anyone holds: 10 → 25, not 10 + 12."""
    c, leg = answered(s)
    s.at(10).hold(leg)
    s.at(15).hold(c)
    s.at(20).unhold(leg)
    s.at(25).unhold(c)
    _end(s, c, leg)


def sc_hold_open_when_the_advisor_hangs_up(s: Scenario) -> None:
    c, leg = answered(s)
    s.at(50).hold(leg)
    _end(s, c, leg, at=65)


def sc_hold_open_when_the_caller_hangs_up(s: Scenario) -> None:
    c, leg = answered(s)
    s.at(40).hold(leg)
    s.at(45).hangup(c)
    s.hangup(leg)


def sc_hold_open_at_a_blind_transfer(s: Scenario) -> None:
    c, leg = answered(s)
    s.at(20).hold(leg)
    s.at(30).blind(leg, c, "2001")
    s.complete("adv1", c, reason="transfer")
    s.hangup(leg)
    target = s.at(31).new("PJSIP/service2001-00000042", linkedid=c.linkedid)
    s.at(40).unhold(leg)  # after the transfer: not the advisor's conversation any more
    s.at(90).hangup(target)
    s.hangup(c)


def sc_attended_transfer_holds_the_caller_until_the_transfer(s: Scenario) -> None:
    """Asterisk's Atxfer: Hold on the transferer at the start; completing sends no Unhold (bridge_basic.c)."""
    c, leg = answered(s)
    s.at(20).hold(leg)
    consult = s.at(20).new("PJSIP/service2002-00000043", linkedid=c.linkedid)
    s.at(40).attended(leg, c, "2002")
    s.hangup(leg)
    s.at(100).hangup(c)
    s.hangup(consult)


def sc_hold_before_the_answer_is_not_counted(s: Scenario) -> None:
    c = s.at(0).inbound()
    s.at(1).join(c)
    s.at(2).hold(c)
    leg = s.at(2).ring(c, "adv1")
    s.at(5).connect(c, leg, "adv1")
    s.leave(c)
    s.at(6).unhold(c)
    _end(s, c, leg)


def sc_hold_of_a_ringing_advisor_who_did_not_answer(s: Scenario) -> None:
    c = s.at(0).inbound()
    s.at(1).join(c)
    other = s.at(2).ring(c, "adv2")
    s.at(3).dial_end(c, other, "NOANSWER")
    s.hangup(other)
    leg = s.at(4).ring(c, "adv1")
    s.at(5).connect(c, leg, "adv1")
    s.leave(c)
    s.at(10).hold(other)  # a channel long gone, or a stranger's: nothing
    _end(s, c, leg)


def sc_abandoned_call_has_no_hold(s: Scenario) -> None:
    c = s.at(0).inbound()
    s.at(1).join(c)
    s.at(3).hold(c)
    s.at(9).abandon(c)
    s.leave(c)
    s.hangup(c)


TABLE: list[tuple[Callable[[Scenario], None], dict[str, Any]]] = [
    (sc_no_hold, dict(hold_seconds=0.0, hold_count=0, talk_seconds=60.0)),
    (sc_advisor_holds_once, dict(hold_seconds=12.5, hold_count=1, talk_seconds=60.0)),
    (sc_caller_holds, dict(hold_seconds=4.0, hold_count=1)),
    (sc_two_holds, dict(hold_seconds=15.0, hold_count=2)),
    (sc_duplicate_hold_and_unhold, dict(hold_seconds=10.0, hold_count=1)),
    (sc_unhold_without_hold, dict(hold_seconds=0.0, hold_count=0)),
    (sc_both_parties_hold_overlapping, dict(hold_seconds=15.0, hold_count=1)),
    (sc_hold_open_when_the_advisor_hangs_up, dict(hold_seconds=15.0, hold_count=1, hangup_by="advisor")),
    (sc_hold_open_when_the_caller_hangs_up, dict(hold_seconds=5.0, hold_count=1, talk_seconds=40.0)),
    (sc_hold_open_at_a_blind_transfer, dict(hold_seconds=10.0, hold_count=1, transfer_kind="blind")),
    (
        sc_attended_transfer_holds_the_caller_until_the_transfer,
        dict(hold_seconds=20.0, hold_count=1, transfer_kind="attended", talk_seconds=35.0),
    ),
    (sc_hold_before_the_answer_is_not_counted, dict(hold_seconds=0.0, hold_count=0)),
    (sc_hold_of_a_ringing_advisor_who_did_not_answer, dict(hold_seconds=0.0, hold_count=0)),
    (sc_abandoned_call_has_no_hold, dict(status="abandoned", hold_seconds=0.0, hold_count=0)),
]


@pytest.mark.parametrize(("build", "expected"), TABLE, ids=[b.__name__[3:] for b, _ in TABLE])
def test_hold(build: Callable[[Scenario], None], expected: dict[str, Any]) -> None:
    s = Scenario()
    build(s)
    records, tracker = run(s.events)
    assert len(records) == 1, records
    record = records[0].model_dump(mode="json")
    assert {k: record[k] for k in expected} == expected
    assert 0 <= record["hold_seconds"] <= (record["talk_seconds"] or 0)
    assert tracker.open_calls == 0


# Seen on the rig (Asterisk 22.10.1, tests/integration/test_call_pipeline.py: an Atxfer then CancelAtxfer): the
# transferer's channel is held, then taken off hold. No MusicClass header when no class was suggested.
RIG_HOLD = {
    "Event": "Hold",
    "Privilege": "call,all",
    "Timestamp": "1796492984.920407",
    "Channel": "Local/adv1@advisors-00000002;1",
    "ChannelState": "6",
    "ChannelStateDesc": "Up",
    "CallerIDNum": "dial",
    "CallerIDName": "Inès Fournier",
    "ConnectedLineNum": "0321000112",
    "ConnectedLineName": "Inès Fournier",
    "Language": "en",
    "AccountCode": "",
    "Context": "advisors",
    "Exten": "0800123456",
    "Priority": "1",
    "Uniqueid": "1796492984.4",
    "Linkedid": "1796492984.0",
}
RIG_UNHOLD = {
    **RIG_HOLD,
    "Event": "Unhold",
    "Timestamp": "1796492985.483266",
    "ConnectedLineNum": "<unknown>",
    "ConnectedLineName": "<unknown>",
}


def test_hold_events_parse_from_the_rigs_frames() -> None:
    hold = ev.Hold.model_validate({"at": T0, **RIG_HOLD, "MusicClass": "default"})
    assert (hold.uniqueid, hold.linkedid, hold.music_class) == ("1796492984.4", "1796492984.0", "default")
    unhold = ev.Unhold.model_validate({"at": T0 + timedelta(seconds=0.562859), **RIG_UNHOLD})
    assert unhold.channel == "Local/adv1@advisors-00000002;1" and unhold.uniqueid == hold.uniqueid
    assert {"Hold", "Unhold"} <= set(ev.MODELS)


def test_records_spooled_before_hold_was_recorded_read_as_no_hold() -> None:
    s = Scenario()
    sc_no_hold(s)
    old = run(s.events)[0][0].model_dump(mode="json")
    del old["hold_seconds"], old["hold_count"]
    record = CallRecord.model_validate(old)
    assert (record.hold_seconds, record.hold_count) == (0.0, 0)


@pytest.mark.parametrize(
    ("seconds", "count", "expected"),
    [(-3.0, -1, (0.0, 0)), (1e12, 10**9, (HOLD_SECONDS_MAX, HOLD_COUNT_MAX)), (12.5, 2, (12.5, 2))],
)
def test_hold_facts_are_bounded_not_refused(seconds: float, count: int, expected: tuple[float, int]) -> None:
    s = Scenario()
    sc_no_hold(s)
    data = run(s.events)[0][0].model_dump(mode="json")
    record = CallRecord.model_validate({**data, "hold_seconds": seconds, "hold_count": count})
    assert (record.hold_seconds, record.hold_count) == expected


def test_the_hold_span_starts_at_the_event_time_not_before() -> None:
    s = Scenario()
    c, leg = answered(s)
    s.at(20).hold(leg)
    s.at(21).unhold(leg)
    _end(s, c, leg)
    record = run(s.events)[0][0]
    assert record.answered_at is not None
    assert record.answered_at + timedelta(seconds=record.talk_seconds or 0) == T0 + timedelta(seconds=65)
    assert record.hold_seconds == 1.0


@pytest.mark.parametrize(
    ("capture", "seconds"),
    [
        # Hold 1796493030.211935 → Unhold 1796493030.774621: the frames' own times
        ("attended_transfer_cancelled.ami", 0.562686),
        # Hold 1796493024.457226 → AttendedTransfer (no Unhold): the hold ends at the transfer
        ("attended_transfer.ami", None),
    ],
)
def test_hold_in_the_rigs_captures(capture: str, seconds: float | None) -> None:
    tracker = CallTracker(LineSettings(), OPEN)
    data = (RIG / capture).read_bytes()
    records = [fx.record for e in replay([data]) for fx in tracker.apply(e) if isinstance(fx, CallEnded)]
    assert len(records) == 1 and records[0].hold_count == 1
    record = records[0]
    if seconds is not None:
        assert record.hold_seconds == seconds
    else:
        assert record.transferred_at is not None
        held = float(data.split(b"Event: Hold\r\n", 1)[1].split(b"Timestamp: ", 1)[1].split(b"\r\n", 1)[0])
        assert record.hold_seconds == pytest.approx(record.transferred_at.timestamp() - held, abs=1e-6)


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (sc_no_hold, []),
        (sc_advisor_holds_once, [("call_held", 20.0), ("call_unheld", 32.5)]),
        (sc_two_holds, [("call_held", 10.0), ("call_unheld", 20.0), ("call_held", 30.0), ("call_unheld", 35.0)]),
        (sc_duplicate_hold_and_unhold, [("call_held", 10.0), ("call_unheld", 20.0)]),
        (sc_unhold_without_hold, []),
        (sc_both_parties_hold_overlapping, [("call_held", 10.0), ("call_unheld", 25.0)]),
        (sc_hold_open_when_the_caller_hangs_up, [("call_held", 40.0)]),  # the span ends with the call, no effect
        (sc_hold_open_at_a_blind_transfer, [("call_held", 20.0)]),  # the Unhold after the transfer is not told
        (sc_hold_before_the_answer_is_not_counted, []),
        (sc_abandoned_call_has_no_hold, []),
    ],
    ids=lambda v: v.__name__[3:] if callable(v) else "",
)
def test_the_spans_the_record_counts_are_told_to_the_live_view(
    build: Callable[[Scenario], None], expected: list[tuple[str, float]]
) -> None:
    """One CallHeld at each span's start, one CallUnheld at its end when an Unhold ends it: the live view reads the
    same spans as the record."""
    s = Scenario()
    build(s)
    tracker = CallTracker(LineSettings(), OpeningHours())  # as `run`
    effects = [fx for e in s.events for fx in tracker.apply(e) if isinstance(fx, CallHeld | CallUnheld)]
    assert [(fx.kind, (fx.at - T0).total_seconds()) for fx in effects] == expected
