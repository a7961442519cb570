"""Asterisk stopping or restarting: the calls it cut are recorded as ended by the system (issue 11, item 16).

Shaped on what the rig showed for `core restart now` mid-call: every channel hung up within a millisecond (Cause 0
on the channels Asterisk cut itself, 16 on the others, which follow their peer), then `Shutdown` about 1 s later."""

from __future__ import annotations

from config.settings import LineSettings
from telephony import events as ev
from telephony.calls import CallTracker
from telephony.effects import AnyEffect, CallEnded, CallRecordAmended
from telephony.records import CallStatus, HangupBy
from tests.unit.scenario import Scenario
from tests.unit.test_calls import OPEN, answered


def shutdown(s: Scenario) -> None:
    s.events.append(ev.Shutdown.model_validate({"at": s.t, "Shutdown": "Cleanly", "Restart": "True"}))


def apply(s: Scenario) -> list[AnyEffect]:
    tracker = CallTracker(LineSettings(), OPEN)
    effects = [fx for e in s.events for fx in tracker.apply(e)]
    assert tracker.open_calls == 0 and tracker.channels == 0
    return effects


def test_a_call_cut_by_a_restart_is_amended_to_the_system() -> None:
    s = Scenario()
    c, leg = answered(s)
    s.at(40).hangup(c, cause=0)  # Asterisk cut the caller's channel: no cause
    s.hangup(leg)  # the advisor's follows its peer (16)
    s.at(41.1)
    shutdown(s)
    effects = apply(s)
    ended = [fx for fx in effects if isinstance(fx, CallEnded)]
    amended = [fx for fx in effects if isinstance(fx, CallRecordAmended)]
    assert ended[0].record.hangup_by is HangupBy.CALLER  # all the hang-ups could tell
    assert len(amended) == 1 and amended[0].linkedid == ended[0].linkedid
    record = amended[0].record
    assert (record.status, record.hangup_by) == (CallStatus.ANSWERED, HangupBy.SYSTEM)
    assert record.talk_seconds == ended[0].record.talk_seconds and record.ended_at == ended[0].record.ended_at


def test_a_waiting_caller_cut_by_a_restart_did_not_abandon() -> None:
    s = Scenario()
    c = s.at(0).inbound()
    s.at(1).join(c)
    s.at(20).hangup(c, cause=0)
    s.at(21)
    shutdown(s)
    amended = [fx.record for fx in apply(s) if isinstance(fx, CallRecordAmended)]
    assert [(r.status, r.hangup_by) for r in amended] == [(CallStatus.FAILED, HangupBy.SYSTEM)]


def test_calls_that_ended_on_their_own_are_left_alone() -> None:
    """Normal hang-ups (a cause) just before a restart, or a Cause-0 hang-up long before it, are not the restart's."""
    s = Scenario()
    c1, leg1 = answered(s)
    s.at(30).hangup(leg1)  # the advisor hung up, cause 16
    s.hangup(c1)
    c2 = s.at(31).inbound(num="0321000002")
    s.at(32).join(c2)
    s.at(33).hangup(c2, cause=0)  # cause 0, but 30 s before the Shutdown
    s.at(63)
    shutdown(s)
    assert not [fx for fx in apply(s) if isinstance(fx, CallRecordAmended)]


def test_a_call_still_up_at_the_shutdown_ends_as_the_systems_at_the_next_snapshot() -> None:
    """The link dropped with the Shutdown before the hang-ups arrived: the snapshot after the restart closes it."""
    s = Scenario()
    answered(s)
    s.at(40)
    shutdown(s)
    s.link_down()
    s.at(45).snapshot()
    records = [fx.record for fx in apply(s) if isinstance(fx, CallEnded)]
    assert [(r.status, r.hangup_by, r.reconstructed) for r in records] == [(CallStatus.ANSWERED, HangupBy.SYSTEM, True)]


def test_without_a_shutdown_a_call_ended_while_blind_stays_unknown() -> None:
    s = Scenario()
    answered(s)
    s.at(40).link_down()
    s.at(45).snapshot()
    records = [fx.record for fx in apply(s) if isinstance(fx, CallEnded)]
    assert [(r.hangup_by, r.reconstructed) for r in records] == [(HangupBy.UNKNOWN, True)]


def test_a_restart_whose_shutdown_never_arrived_is_told_by_the_lost_link() -> None:
    """Asterisk may close the AMI session before its Shutdown event is sent: the Cause-0 hang-ups just before the
    link was lost are the restart's all the same (a rig run of `core restart now` lost the Shutdown)."""
    s = Scenario()
    c, leg = answered(s)
    s.at(40).hangup(c, cause=0)
    s.hangup(leg)
    w = s.at(40).inbound(num="0321000002")
    s.join(w)
    s.at(40.001).hangup(w, cause=0)
    s.at(40.2).link_down()
    s.at(45).snapshot()
    amended = [fx.record for fx in apply(s) if isinstance(fx, CallRecordAmended)]
    assert sorted((r.status, r.hangup_by) for r in amended) == sorted(
        [(CallStatus.ANSWERED, HangupBy.SYSTEM), (CallStatus.FAILED, HangupBy.SYSTEM)]
    )


def test_a_lost_link_amends_nothing_after_normal_hang_ups_or_long_after_a_cause_0() -> None:
    s = Scenario()
    c1, leg1 = answered(s)
    s.at(30).hangup(leg1)  # cause 16: the advisor hung up
    s.hangup(c1)
    c2 = s.at(31).inbound(num="0321000002")
    s.at(32).join(c2)
    s.at(33).hangup(c2, cause=0)  # cause 0, but 30 s before the link was lost
    s.at(63).link_down()
    s.at(64).snapshot()
    assert not [fx for fx in apply(s) if isinstance(fx, CallRecordAmended)]


def test_a_shutdown_then_the_lost_link_amend_each_call_once() -> None:
    s = Scenario()
    c, leg = answered(s)
    s.at(40).hangup(c, cause=0)
    s.hangup(leg)
    s.at(41)
    shutdown(s)
    s.at(41.1).link_down()
    s.at(45).snapshot()
    assert len([fx for fx in apply(s) if isinstance(fx, CallRecordAmended)]) == 1
