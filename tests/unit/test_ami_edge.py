"""The AMI edge's protocol on hostile bytes: counted, bounded, never a crash, never a lost good event."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from telephony import events as ev
from telephony.ami import AmiUnsafeAction, EdgeStats, EventDecoder, _Protocol, check_action, parse_timestamp
from telephony.ami import log as ami_log
from telephony.events import WANTED
from telephony.frames import EventFrame, FrameReader
from telephony.replay import replay
from telephony.throttle import LogThrottle

GOOD = (
    "Event: Newchannel\r\nChannel: PJSIP/trunk-00000001\r\nCallerIDNum: 0321000001\r\n"
    "CallerIDName: Hélène Lefèvre\r\nContext: public\r\nExten: 0800123456\r\n"
    "Uniqueid: 1.1\r\nLinkedid: 1.1\r\nTimestamp: 1795888079.250000\r\n\r\n"
).encode()


class Transport:
    aborted = False

    def abort(self) -> None:
        self.aborted = True

    def write(self, data: bytes) -> None:
        pass


def protocol(deliver: Any) -> tuple[_Protocol, EdgeStats, Transport]:
    stats = EdgeStats()
    p = _Protocol()
    transport = Transport()
    p.connection_made(transport)
    p.reader = FrameReader(WANTED, stats=stats.frames, max_buffer=64 * 1024)
    p.decoder = EventDecoder(stats, lambda: datetime(2026, 11, 30, 9, tzinfo=UTC))
    p.deliver = deliver
    return p, stats, transport


def test_hostile_frames_are_counted_and_good_events_still_arrive() -> None:
    got: list[ev.AmiEvent] = []
    p, stats, transport = protocol(got.append)
    hostile = [
        b"Asterisk Call Manager/11.0.0\r\n",
        b"Event: Hangup\r\nChannel: x\r\n\r\n",  # missing Uniqueid/Linkedid
        b"Event: SomethingNew\r\nFoo: bar\r\n\r\n",  # unknown event
        b"\x00\x01garbage\r\n\r\n",  # not AMI at all
        b"Event: Newchannel\r\nUniqueid: " + b"9" * 5000 + b"\r\nLinkedid: 1\r\n\r\n",  # absurd id: bounded, kept
        b"Event: NewCallerid\r\nUniqueid: 2.2\r\nLinkedid: 2.2\r\nCallerIDName: \xff\xfe<b>\x1b</b>\r\n\r\n",
        GOOD,
    ]
    for chunk in hostile:
        p.data_received(chunk)
    assert [type(e).__name__ for e in got] == ["Newchannel", "NewCallerid", "Newchannel"]
    assert isinstance(got[0], ev.Newchannel) and len(got[0].uniqueid) == 64  # telephony.bounds
    assert isinstance(got[1], ev.NewCallerid)
    assert got[1].caller_name == "\ufffd\ufffd<b>\x1b</b>"  # kept as data; cleaned by telephony.identity
    newchannel = got[2]
    assert isinstance(newchannel, ev.Newchannel)
    assert newchannel.caller_name == "Hélène Lefèvre"
    assert newchannel.at == datetime(2026, 11, 28, 17, 47, 59, 250000, tzinfo=UTC)  # Asterisk's own clock
    assert stats.invalid_events == 1
    assert stats.frames.events_dropped == 1
    assert stats.frames.malformed == 1
    assert stats.frames.bad_utf8 == 1
    assert not transport.aborted


def test_a_failing_consumer_does_not_cut_the_link_nor_lose_the_next_events() -> None:
    got: list[ev.AmiEvent] = []

    def deliver(event: ev.AmiEvent) -> None:
        if not got:
            got.append(event)
            raise RuntimeError("consumer bug")
        got.append(event)

    p, stats, transport = protocol(deliver)
    p.data_received(GOOD + GOOD.replace(b"1.1", b"3.3"))
    assert [e.uniqueid for e in got if isinstance(e, ev.Newchannel)] == ["1.1", "3.3"]
    assert stats.callback_errors == 1
    assert not transport.aborted


def test_a_peer_flooding_without_frame_ends_is_cut() -> None:
    p, stats, transport = protocol(lambda e: None)
    p.data_received(b"Event: Newchannel\r\n" + b"A" * 70_000)
    assert transport.aborted
    assert stats.frames.overflow == 1


def test_a_response_to_an_unknown_action_is_harmless() -> None:
    p, stats, transport = protocol(lambda e: None)
    p.data_received(b"Response: Success\r\nActionID: nobody\r\nMessage: Originate successfully queued\r\n\r\n")
    assert stats.callback_errors == 0 and not transport.aborted


def test_timestamps() -> None:
    assert parse_timestamp("1795888079.250000") == datetime(2026, 11, 28, 17, 47, 59, 250000, tzinfo=UTC)
    assert parse_timestamp("") is None
    assert parse_timestamp("not a number") is None
    assert parse_timestamp("1e400") is None


# ---- hostile frames: raw CR/LF inside values (issue 11, item 8) ----
# Asterisk 22 escapes line breaks in values; a hostile or buggy peer may not. A raw CR/LF inside a value starts a new
# line: it must not be able to add or replace a header the service reads.

CONNECT = (
    "Event: AgentConnect\r\nChannel: Local/0800123456@public-00000001;2\r\nCallerIDNum: 0321000001\r\n"
    "CallerIDName: {name}\r\nContext: public\r\nExten: 0800123456\r\nUniqueid: 1.3\r\nLinkedid: 1.1\r\n"
    "DestChannel: {dest}\r\nDestCallerIDName: {dest_name}\r\nDestUniqueid: 1.4\r\nDestLinkedid: 1.1\r\n"
    "Queue: gps\r\nMemberName: Agnès\r\nInterface: Local/adv1@advisors\r\nHoldTime: 2\r\n"
    "Timestamp: 1795888079.250000\r\n\r\n"
)
REAL_DEST = "Local/adv1@advisors-00000002;1"


def connect(name: str = "Hélène", dest: str = REAL_DEST, dest_name: str = "Agnès") -> bytes:
    return CONNECT.format(name=name, dest=dest, dest_name=dest_name).encode()


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (connect(name="x\r\nDestChannel: PJSIP/victim-00000009"), "an earlier DestChannel planted in CallerIDName"),
        (connect(dest_name="x\r\nDestChannel: PJSIP/victim-00000009"), "a later DestChannel planted"),
        (connect(name="x\r\nLinkedid: 9.9"), "another call's Linkedid planted"),
        (connect(name="x\r\nUniqueid: 9.9"), "another channel's Uniqueid planted"),
        (connect(dest_name="x\r\nChannel: PJSIP/victim-00000009"), "Channel planted in the destination's name"),
        (connect(name="x\r\nInterface: PJSIP/victim"), "the member's Interface planted"),
        (connect(name="x\r\nTimestamp: 1"), "Asterisk's time planted"),
        (connect(name="x\r\nQueue: other"), "the queue planted"),
        # a whole event planted: the first half lacks its ids, the second repeats the real frame's ids
        (connect(name="x\r\n\r\nEvent: Hangup\r\nUniqueid: 9.9\r\nLinkedid: 9.9\r\nCause: 16"), "an event planted"),
    ],
)
def test_a_value_with_raw_line_breaks_cannot_add_a_header(frame: bytes, why: str) -> None:
    got: list[ev.AmiEvent] = []
    p, stats, transport = protocol(got.append)
    p.data_received(frame + GOOD)
    assert [type(e).__name__ for e in got] == ["Newchannel"], why  # refused; the next good event arrives
    assert stats.invalid_events >= 1 and not transport.aborted


@pytest.mark.parametrize(
    ("frame", "dest"),
    [
        (connect(name="x\nDestChannel: PJSIP/victim-00000009"), REAL_DEST),  # a lone LF starts no header
        (connect(name="x\rDestChannel: PJSIP/victim-00000009"), REAL_DEST),  # nor a lone CR
        (connect(dest=REAL_DEST + "\nAction: Hangup"), REAL_DEST + "\ufffdAction: Hangup"),  # never sent back raw
        (connect(dest=REAL_DEST + "\x00"), REAL_DEST + "\ufffd"),
    ],
)
def test_lone_line_breaks_stay_inside_their_value_and_out_of_names(frame: bytes, dest: str) -> None:
    got: list[ev.AmiEvent] = []
    p, stats, _ = protocol(got.append)
    p.data_received(frame)
    assert len(got) == 1 and isinstance(got[0], ev.AgentConnect)
    assert got[0].dest_channel == dest and got[0].linkedid == "1.1" and got[0].interface == "Local/adv1@advisors"
    assert stats.invalid_events == 0


def test_every_real_capture_decodes_without_a_repeated_header() -> None:
    """Asterisk 22 never repeats a header the models read: refusing repeats loses no real event."""
    captures = sorted((Path(__file__).resolve().parents[1] / "captures").rglob("*.ami"))
    assert len(captures) >= 11
    for path in captures:
        stats = EdgeStats()
        events = list(replay([path.read_bytes()], stats=stats))
        assert events and stats.duplicate_headers == 0 and stats.invalid_events == 0, path.name


def test_invalid_events_are_logged_once_per_kind_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    """A burst of 6,000 bad events from a peer used to write 6,000 lines: now one per kind per interval, the next
    one saying how many were held back; the counters keep the exact total."""
    now = [0.0]
    stats = EdgeStats()
    throttle = LogThrottle(ami_log, 10, lambda: now[0])
    decoder = EventDecoder(stats, lambda: datetime(2026, 11, 30, 9, tzinfo=UTC), throttle)
    reader = FrameReader(WANTED, stats=stats.frames)
    burst = b"Event: Hangup\r\nChannel: x\r\n\r\n" * 3000 + connect(name="x\r\nLinkedid: 9.9") * 3000
    with caplog.at_level(logging.WARNING, logger="telephony.ami"):
        for frame in reader.feed(burst):
            assert isinstance(frame, EventFrame) and decoder.decode(frame) is None
        now[0] = 11.0
        for frame in reader.feed(burst[:30] + b"\r\n"):
            assert isinstance(frame, EventFrame) and decoder.decode(frame) is None
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines  # one per kind, then the first of the next interval
    assert "invalid AMI event Hangup" in lines[0] and "refused" in lines[1]
    assert lines[2].endswith("(2999 more like it since the last such line)")
    assert stats.invalid_events == 6001 and stats.duplicate_headers == 3000


def test_an_action_carrying_a_line_break_is_never_sent() -> None:
    with pytest.raises(AmiUnsafeAction):
        check_action({"Action": "Hangup", "Channel": "PJSIP/adv1-01\r\nAction: QueueRemove"})
    with pytest.raises(AmiUnsafeAction):
        check_action({"Action": "Hangup", "Channel": "PJSIP/adv1-01\nX: y"})
    check_action({"Action": "BlindTransfer", "Channel": "PJSIP/adv1-01", "Exten": "2001", "Context": "services"})


@pytest.mark.parametrize("conf", ["config/asterisk/manager.conf", "tests/asterisk/manager.conf"])
def test_the_manager_eventfilter_lets_through_every_event_the_service_reads(conf: str) -> None:
    text = (Path(__file__).resolve().parents[2] / conf).read_text()
    allowed = set(re.findall(r"^eventfilter\(action\(include\),name\((\w+)\)\) =", text, re.MULTILINE))
    assert set(ev.MODELS) <= allowed, sorted(set(ev.MODELS) - allowed)
