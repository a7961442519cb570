"""A call never loses its record over a field's length (issue 11, item 7), and a record's durations are the
differences of the times it holds (item 13): real Asterisk 22 captures, made hostile."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from config.settings import LineSettings
from telephony import events as ev
from telephony.ami import EdgeStats
from telephony.bounds import ID_MAX, bound_id
from telephony.calls import CallTracker
from telephony.effects import CallEnded, CallTransferred
from telephony.records import CallRecord, CallStatus, HangupBy, RingAttempt
from telephony.replay import replay
from tests.fixtures_db import make_record
from tests.unit.scenario import T0, Scenario
from tests.unit.test_calls import OPEN, RIG, RIG_CAPTURES, TABLE, answered

_ID = re.compile(rb"(?<=: )1[0-9]{9}\.[0-9]+(?=\r\n)")  # every Uniqueid/Linkedid value of a rig capture


def longer_ids(data: bytes, length: int) -> bytes:
    """The capture with every channel id made `length` characters long (Asterisk allows up to 149: Originate's
    ChannelId), distinct ids staying distinct."""
    return _ID.sub(lambda m: (b"gps-admin-" + b"a" * length)[: length - len(m[0]) - 1] + b"-" + m[0], data)


def records_of(data: bytes, hours: Any) -> tuple[list[CallRecord], CallTracker]:
    tracker = CallTracker(LineSettings(), hours)
    records = [fx.record for e in replay([data]) for fx in tracker.apply(e) if isinstance(fx, CallEnded)]
    return records, tracker


@pytest.mark.parametrize("length", [65, 100, 149, 600])
@pytest.mark.parametrize(("name", "hours", "expected"), RIG_CAPTURES, ids=[n for n, _, _ in RIG_CAPTURES])
def test_long_channel_ids_never_cost_the_call_its_record(
    name: str, hours: Any, expected: dict[str, Any], length: int
) -> None:
    data = longer_ids((RIG / name).read_bytes(), length)
    assert re.search(rb"Linkedid: [^\r]{%d}\r\n" % length, data)
    records, tracker = records_of(data, hours)
    assert len(records) == 1  # before: the tracker raised on the last Hangup (or the edge refused the events)
    record = records[0].model_dump(mode="json")
    record["rings"] = [r["result"] for r in record["rings"]]
    assert {k: record[k] for k in expected} == expected  # correlation held: rings, answer, transfer target…
    assert len(records[0].linkedid) == ID_MAX
    assert tracker.open_calls == 0 and tracker.channels == 0


def test_a_long_id_is_bounded_the_same_wherever_it_appears() -> None:
    long = "pbx-" + "9" * 120 + ".17"
    assert bound_id(long) == bound_id(long) and len(str(bound_id(long))) == ID_MAX
    assert bound_id(long) != bound_id(long[:-1] + "8")  # a shared prefix does not merge two calls
    assert bound_id("1795888079.12") == "1795888079.12"  # ids within the bound are untouched
    hangup = ev.Hangup.model_validate({"at": "2026-11-30T09:00:00Z", "Uniqueid": long, "Linkedid": long})
    transfer = ev.BlindTransfer.model_validate({"at": "2026-11-30T09:00:00Z", "TransfereeLinkedid": long})
    assert hangup.linkedid == transfer.transferee_linkedid == make_record(long).linkedid


def oversized_call() -> list[ev.AmiEvent]:
    """A blind-transferred call whose every header is oversized, through the edge (which cuts values at 512
    characters, ids excepted: they are longer than the record's bound), with causes out of range."""
    big, lid, adv = "é" * 600, "1" * 600, "2" * 600
    adv_channel = "PJSIP/" + "m" * 600 + "-1"
    caller = {"Channel": "PJSIP/trunk-" + "x" * 600, "Uniqueid": lid, "Linkedid": lid}
    ident = {**caller, "CallerIDNum": "0" * 600, "CallerIDName": big}
    agent = {**ident, "Queue": "q" * 600, "Interface": "PJSIP/" + "m" * 600, "MemberName": big}
    agent |= {"DestChannel": adv_channel, "DestUniqueid": adv}
    frames: list[tuple[str, float, dict[str, str]]] = [
        ("Newchannel", 0, {**ident, "Context": "public", "Exten": "0800123456"}),
        ("UserEvent", 1, {**caller, "UserEvent": "GpsTopic", "Topic": "a" * 600}),
        ("QueueCallerJoin", 1, {**ident, "Queue": "q" * 600}),
        ("Newchannel", 2, {"Channel": adv_channel, "Uniqueid": adv, "Linkedid": lid}),
        ("AgentCalled", 2, agent),
        ("AgentConnect", 5, agent),
        (
            "BlindTransfer",
            30,
            {"Result": "Success", "TransfereeLinkedid": lid, "TransfererUniqueid": adv, "Extension": "9" * 600},
        ),
        ("Hangup", 30, {"Channel": adv_channel, "Uniqueid": adv, "Linkedid": lid}),
        ("Hangup", 60, {**caller, "Cause": "99999999", "Cause-txt": big}),
    ]
    data = "".join(
        f"Event: {name}\r\nTimestamp: {(T0 + timedelta(seconds=t)).timestamp():.6f}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "\r\n"
        for name, t, headers in frames
    )
    stats = EdgeStats()
    events = list(replay([data.encode()], stats=stats))
    assert len(events) == len(frames) and stats.invalid_events == 0
    return events


def test_a_record_built_from_oversized_headers_fits_its_columns() -> None:
    tracker = CallTracker(LineSettings(), OPEN)
    records = [fx.record for e in oversized_call() for fx in tracker.apply(e) if isinstance(fx, CallEnded)]
    assert len(records) == 1
    record = records[0]
    assert record.status is CallStatus.ANSWERED and record.transfer_target == "9" * 80
    assert record.hangup_cause is None and record.caller_name == "é" * 80
    bounds = string_bounds(CallRecord)
    assert len(bounds) == 11
    for name, bound in bounds.items():
        value = getattr(record, name)
        assert value is None or len(value) <= bound, name
    ring = string_bounds(RingAttempt)
    assert ring == {"interface": 200, "member_name": 200}
    assert all(len(r.interface) <= 200 and len(r.member_name) <= 200 for r in record.rings)


def string_bounds(model: type[BaseModel]) -> dict[str, int]:
    """Each string field's bound, as the model declares it (its JSON schema), optional fields included."""
    found: dict[str, int] = {}
    for name, prop in model.model_json_schema()["properties"].items():
        for schema in [prop, *prop.get("anyOf", [])]:
            if "maxLength" in schema:
                found[name] = schema["maxLength"]
    return found


def test_control_characters_never_reach_a_name_sent_back_to_asterisk() -> None:
    frame = {"at": "2026-11-30T09:00:00Z", "Uniqueid": "1.1\n", "Linkedid": "1.1", "Queue": "gps"}
    agent = ev.AgentConnect.model_validate(
        {**frame, "Interface": "PJSIP/a\x00", "DestChannel": "PJSIP/adv1-01\nAction: Hangup"}
    )
    assert "\n" not in agent.dest_channel and "\x00" not in agent.interface and "\n" not in agent.uniqueid


# ---- item 13: durations are the differences of the stored times ----


def check_durations(record: CallRecord) -> None:
    if record.queue_entered_at is None:
        assert record.wait_seconds is None
    else:
        left = record.queue_left_at or record.ended_at
        assert record.wait_seconds == max(0.0, (left - record.queue_entered_at).total_seconds())
    if record.answered_at is None:
        assert record.talk_seconds is None and record.talk_ended_at is None
    else:
        assert record.queue_left_at in (None, record.answered_at)  # answered: it left the queue then
        end = record.transferred_at or record.talk_ended_at
        assert end is not None and record.talk_seconds == max(0.0, (end - record.answered_at).total_seconds())
        if record.transferred_at is not None:
            assert record.talk_ended_at == record.transferred_at


@pytest.mark.parametrize(("name", "hours", "expected"), RIG_CAPTURES, ids=[n for n, _, _ in RIG_CAPTURES])
def test_durations_agree_with_the_times_in_real_captures(name: str, hours: Any, expected: dict[str, Any]) -> None:
    records, _ = records_of((RIG / name).read_bytes(), hours)
    for record in records:
        check_durations(record)


@pytest.mark.parametrize(("build", "expected"), TABLE, ids=[b.__name__[3:] for b, _ in TABLE])
def test_durations_agree_with_the_times_in_every_scenario(build: Any, expected: dict[str, Any]) -> None:
    s = Scenario()
    build(s)
    tracker = CallTracker(LineSettings(), OPEN)
    for record in [fx.record for e in s.events for fx in tracker.apply(e) if isinstance(fx, CallEnded)]:
        check_durations(record)


def test_the_ci_flake_the_advisor_leaves_the_bridge_just_before_the_blind_transfer() -> None:
    """tests/integration/test_call_pipeline.py::test_blind_transfer once failed with `0.001776 == 0.001834`: the
    advisor's BridgeLeave (which ended the talk) came 58 µs before the BlindTransfer (the transfer time)."""
    s = Scenario()
    c, leg = answered(s)
    s.at(5.001776).leave_bridge(leg)
    s.at(5.001834).blind(leg, c, "2001")
    s.hangup(leg)
    s.at(9).hangup(c)
    tracker = CallTracker(LineSettings(), OPEN)
    effects = [fx for e in s.events for fx in tracker.apply(e)]
    record = next(fx.record for fx in effects if isinstance(fx, CallEnded))
    assert any(isinstance(fx, CallTransferred) for fx in effects)
    assert record.transferred_at is not None and record.answered_at is not None
    assert record.talk_seconds == (record.transferred_at - record.answered_at).total_seconds()
    assert record.hangup_by is HangupBy.CALLER


def test_a_record_spooled_by_the_previous_version_keeps_its_talk_time() -> None:
    """Spool files outlive an upgrade: a record written with `talk_seconds` and no `talk_ended_at` keeps it."""
    old = make_record().model_dump(mode="json")
    old.pop("talk_ended_at")
    old.pop("wait_seconds")
    old["talk_seconds"] = 12.5
    record = CallRecord.model_validate(old)
    assert record.talk_seconds == 12.5
    assert record.talk_ended_at == record.answered_at + timedelta(seconds=12.5)  # type: ignore[operator]
