"""The AMI edge's protocol on hostile bytes: counted, bounded, never a crash, never a lost good event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from telephony import events as ev
from telephony.ami import EdgeStats, EventDecoder, _Protocol, parse_timestamp
from telephony.events import WANTED
from telephony.frames import FrameReader

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
        b"Event: Newchannel\r\nUniqueid: " + b"9" * 5000 + b"\r\nLinkedid: 1\r\n\r\n",  # absurd id
        b"Event: NewCallerid\r\nUniqueid: 2.2\r\nLinkedid: 2.2\r\nCallerIDName: \xff\xfe<b>\x1b</b>\r\n\r\n",
        GOOD,
    ]
    for chunk in hostile:
        p.data_received(chunk)
    assert [type(e).__name__ for e in got] == ["NewCallerid", "Newchannel"]
    assert isinstance(got[0], ev.NewCallerid)
    assert got[0].caller_name == "\ufffd\ufffd<b>\x1b</b>"  # kept as data; cleaned by telephony.identity
    newchannel = got[1]
    assert isinstance(newchannel, ev.Newchannel)
    assert newchannel.caller_name == "Hélène Lefèvre"
    assert newchannel.at == datetime(2026, 11, 28, 17, 47, 59, 250000, tzinfo=UTC)  # Asterisk's own clock
    assert stats.invalid_events == 2
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
