"""AMI framing: bytes in, frames out; every byte offset, bad bytes, limits."""

from __future__ import annotations

import pytest

from telephony.events import WANTED
from telephony.frames import (
    BufferOverflow,
    DuplicateHeader,
    EventFrame,
    FrameReader,
    MessageFrame,
    extract_headers,
    parse_headers,
)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
NAME = "Hélène Lefèvre"
EVENT = (
    "Event: NewCallerid\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-00000001\r\n"
    f"CallerIDNum: 0321000001\r\nCallerIDName: {NAME}\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\n\r\n"
).encode()
NOISE = b"Event: VarSet\r\nChannel: PJSIP/trunk-00000001\r\nVariable: X\r\nValue: \xff\xfe\r\n\r\n"


@pytest.mark.parametrize("cut", range(1, len(BANNER + EVENT)))
def test_a_multibyte_name_split_across_two_reads_arrives_intact(cut: int) -> None:
    data = BANNER + EVENT
    reader = FrameReader(WANTED)
    frames = reader.feed(data[:cut]) + reader.feed(data[cut:])
    assert len(frames) == 1 and isinstance(frames[0], EventFrame)
    assert frames[0].name == "NewCallerid"
    assert parse_headers(frames[0].text) == {
        "Event": "NewCallerid",
        "Privilege": "call,all",
        "Channel": "PJSIP/trunk-00000001",
        "CallerIDNum": "0321000001",
        "CallerIDName": NAME,
        "Uniqueid": "1.1",
        "Linkedid": "1.1",
    }
    assert reader.version == "11.0.0"
    assert reader.stats.bad_utf8 == 0


def test_byte_by_byte_feeding_gives_the_same_frames_as_one_read() -> None:
    data = BANNER + EVENT + NOISE + EVENT
    whole = FrameReader(WANTED).feed(data)
    reader = FrameReader(WANTED)
    pieces = [f for i in range(len(data)) for f in reader.feed(data[i : i + 1])]
    assert pieces == whole
    assert len(whole) == 2


def test_unused_events_are_dropped_before_decoding_even_with_bad_bytes() -> None:
    reader = FrameReader(WANTED)
    assert reader.feed(NOISE * 3) == []
    assert reader.stats.events_dropped == 3
    assert reader.stats.bad_utf8 == 0  # never decoded


def test_non_utf8_bytes_in_a_wanted_event_are_replaced_and_counted() -> None:
    reader = FrameReader(WANTED)
    frames = reader.feed(EVENT.replace(b"0321000001", b"03\xff21"))
    assert isinstance(frames[0], EventFrame)
    assert parse_headers(frames[0].text)["CallerIDNum"] == "03\ufffd21"
    assert reader.stats.bad_utf8 == 1


def test_responses_and_action_bound_events_go_to_the_action_machinery() -> None:
    reader = FrameReader(WANTED)
    data = (
        b"Response: Success\r\nActionID: a1\r\nMessage: Pong\r\n\r\n"
        b"Event: VarSet\r\nActionID: a2\r\nVariable: X\r\n\r\n"  # unused event, but an action waits for it
        b"Event: CoreShowChannel\r\nActionID: a3\r\nUniqueid: 1.1\r\n\r\n"
    )
    frames = reader.feed(data)
    assert [type(f) for f in frames] == [MessageFrame, MessageFrame, MessageFrame]
    assert reader.stats.messages == 3


def test_oversized_frames_are_dropped_and_counted_and_the_stream_goes_on() -> None:
    reader = FrameReader(WANTED, max_frame=1024)
    huge = EVENT.replace(NAME.encode(), b"x" * 5000)
    frames = reader.feed(huge + EVENT)
    assert len(frames) == 1 and isinstance(frames[0], EventFrame)
    assert parse_headers(frames[0].text)["CallerIDName"] == NAME
    assert reader.stats.oversized == 1


def test_a_peer_that_never_ends_a_frame_cannot_grow_the_buffer_without_bound() -> None:
    reader = FrameReader(WANTED, max_buffer=4096)
    reader.feed(b"Event: Newchannel\r\n")
    with pytest.raises(BufferOverflow):
        reader.feed(b"X" * 5000)
    assert reader.stats.overflow == 1
    assert reader.feed(EVENT) != []  # usable again after the reset


def test_garbage_frames_are_counted_not_fatal() -> None:
    reader = FrameReader(WANTED)
    assert reader.feed(b"hello world\r\n\r\n\r\n\r\n" + EVENT)[0] == FrameReader(WANTED).feed(EVENT)[0]
    assert reader.stats.malformed == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A: 1\r\nB: two words", {"A": "1", "B": "two words"}),
        ("A: 1\r\nA: 2", {"A": "1"}),
        ("Empty: \r\nNoSpace:x", {"Empty": "", "NoSpace": "x"}),
        ("Colon: a: b", {"Colon": "a: b"}),
        ("no colon here", {}),
    ],
)
def test_header_parsing(text: str, expected: dict[str, str]) -> None:
    assert parse_headers(text) == expected


def needles(*keys: str) -> frozenset[str]:
    return frozenset(keys)


@pytest.mark.parametrize(
    ("text", "keys", "expected"),
    [
        ("Event: X\r\nA: 1\r\nB: 2", ("A", "B"), {"A": "1", "B": "2"}),
        ("Event: X\r\nAB: 1\r\nB: 2", ("B",), {"B": "2"}),  # a key is matched whole, at a line start
        ("Event: X\r\nA: ", ("A", "Missing"), {"A": ""}),
        ("Event: X\r\nA: " + "y" * 600, ("A",), {"A": "y" * 512}),  # bounded
        ("Event: X\r\nB: x\r\nA: v\r\n", ("A",), {"A": "v"}),
    ],
)
def test_extract_only_the_headers_a_model_reads(text: str, keys: tuple[str, ...], expected: dict[str, str]) -> None:
    assert extract_headers(text, needles(*keys)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Event: X\r\nA: 1\r\nA: 2",  # repeated: neither is trusted (never first-wins)
        "Event: X\r\nB: x\r\nA: planted\r\nB: y\r\nA: real",  # a raw CR/LF in B's value planted an earlier A
        "Event: X\r\nA: real\r\nB: x\r\nA: planted",  # … or a later one
        "Event: X\r\nA: \r\nA: ",  # even empty
    ],
)
def test_a_header_a_model_reads_is_refused_when_repeated(text: str) -> None:
    with pytest.raises(DuplicateHeader) as caught:
        extract_headers(text, needles("A"))
    assert caught.value.key == "A"


def test_headers_the_model_does_not_read_may_repeat() -> None:
    text = "Event: X\r\nChanVariable: a=1\r\nChanVariable: b=2\r\nA: 1"
    assert extract_headers(text, needles("A")) == {"A": "1"}


def test_ids_are_extracted_whole_other_values_cut() -> None:
    text = "Event: X\r\nA: " + "y" * 600 + "\r\nB: " + "z" * 600
    assert extract_headers(text, needles("A", "B"), whole=frozenset({"A"})) == {"A": "y" * 600, "B": "z" * 512}
    assert extract_headers(text, needles("A", "B"), limit=None) == {"A": "y" * 600, "B": "z" * 600}
