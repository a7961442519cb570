"""Recorded AMI traffic → typed events, through the same framing and decoding as the live edge.

Used by the table tests, the ingest benchmark and the simulator. Frames without a `Timestamp`
header (captures taken without `timestampevents`) get times from `clock`, which the caller controls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta

from telephony.ami import EdgeStats, EventDecoder
from telephony.events import WANTED, AmiEvent
from telephony.frames import EventFrame, FrameReader


def stepping_clock(start: datetime, step: timedelta = timedelta(milliseconds=10)) -> Callable[[], datetime]:
    """A deterministic clock for replays: each call returns `step` more than the previous one."""
    state = [start - step]

    def clock() -> datetime:
        state[0] += step
        return state[0]

    return clock


def replay(
    chunks: Iterable[bytes],
    clock: Callable[[], datetime] | None = None,
    stats: EdgeStats | None = None,
) -> Iterator[AmiEvent]:
    """Decode AMI bytes (any chunking) into the events the service uses, in order."""
    stats = stats or EdgeStats()
    reader = FrameReader(WANTED, stats=stats.frames)
    decoder = EventDecoder(stats, clock or stepping_clock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC)))
    for chunk in chunks:
        for frame in reader.feed(chunk):
            if isinstance(frame, EventFrame):
                event = decoder.decode(frame)
                if event is not None:
                    yield event
