"""AMI framing: bytes in, frames out. No socket here.

Frames end with a blank line. Frames are cut on bytes, and each complete frame is decoded as a whole,
so a multi-byte UTF-8 character split across two TCP reads arrives intact (panoramisk defect D4).
Events the service does not use are dropped from their first line, before any decoding or parsing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEP = b"\r\n\r\n"
BANNER = b"Asterisk Call Manager/"


@dataclass
class FrameStats:
    frames: int = 0
    events_kept: int = 0
    events_dropped: int = 0
    messages: int = 0  # responses and action-bound events, handed to panoramisk's action machinery
    oversized: int = 0
    bad_utf8: int = 0
    malformed: int = 0  # frames with no Event/Response header
    overflow: int = 0  # buffer without a frame end beyond the limit: link reset

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True, slots=True)
class EventFrame:
    """A wanted event: its name and its decoded text (headers are extracted by the decoder, which knows
    which ones each model reads)."""

    name: str
    text: str


@dataclass(frozen=True, slots=True)
class MessageFrame:
    """A response, or an event carrying an ActionID: text for panoramisk's Message.from_line."""

    text: str


class BufferOverflow(Exception):
    """The peer sent more than the limit without ending a frame."""


class DuplicateHeader(ValueError):
    """A header a model reads appears twice in one frame. Asterisk never repeats these; a raw line break inside a
    value (a hostile or buggy peer: Asterisk 22 escapes them) can plant one, before or after the real one, and
    neither can be trusted: the frame is refused, never first-wins."""

    def __init__(self, key: str) -> None:
        super().__init__(f"header {key} appears more than once")
        self.key = key


def extract_headers(
    text: str, keys: frozenset[str], limit: int | None = 512, whole: frozenset[str] = frozenset()
) -> dict[str, str]:
    """Only the headers a model reads (`keys`), each value cut at `limit` characters unless its key is in `whole`
    (ids: bounded whole by their model). A key found twice raises DuplicateHeader: one pass over the lines, as fast
    as looking each key up, and a planted header cannot hide behind the real one."""
    headers: dict[str, str] = {}
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep and key in keys:
            if key in headers:
                raise DuplicateHeader(key)
            headers[key] = value if limit is None or key in whole else value[:limit]
    return headers


def parse_headers(text: str) -> dict[str, str]:
    """`Key: Value` lines → dict; the first occurrence of a repeated key wins."""
    headers: dict[str, str] = {}
    for line in text.split("\r\n"):
        key, sep, value = line.partition(":")
        if sep and key not in headers:
            headers[key] = value[1:] if value.startswith(" ") else value
    return headers


@dataclass
class FrameReader:
    wanted: frozenset[bytes]
    max_frame: int = 64 * 1024
    max_buffer: int = 1024 * 1024
    stats: FrameStats = field(default_factory=FrameStats)
    version: str | None = None
    _buffer: bytearray = field(default_factory=bytearray)

    def reset(self) -> None:
        self._buffer.clear()
        self.version = None

    def feed(self, data: bytes) -> list[EventFrame | MessageFrame]:
        buf = self._buffer
        buf += data
        if self.version is None and buf.startswith(BANNER):
            end = buf.find(b"\r\n")
            if end < 0:
                return []
            self.version = buf[len(BANNER) : end].decode("ascii", "replace").strip()
            del buf[: end + 2]
        out: list[EventFrame | MessageFrame] = []
        start = 0
        wanted = self.wanted
        stats = self.stats
        while True:
            end = buf.find(SEP, start)
            if end < 0:
                break
            stats.frames += 1
            frame_start, start = start, end + 4
            if buf.startswith(b"Event: ", frame_start):
                # decide from the first line, in place: dropped frames are never copied nor decoded
                eol = buf.find(b"\r\n", frame_start + 7, end)
                name = bytes(buf[frame_start + 7 : eol if eol >= 0 else end])
                action_bound = buf.find(b"\r\nActionID:", frame_start, end) >= 0
                if name not in wanted and not action_bound:
                    stats.events_dropped += 1
                    continue
            else:
                name = b""
                action_bound = True
                while frame_start < end and buf[frame_start] in (13, 10):
                    frame_start += 1
                if frame_start == end:
                    continue
            if end - frame_start > self.max_frame:
                stats.oversized += 1
                continue
            frame = bytes(buf[frame_start:end])
            try:
                text = frame.decode("utf-8")
            except UnicodeDecodeError:
                stats.bad_utf8 += 1
                text = frame.decode("utf-8", "replace")
            if action_bound:
                if not text.startswith(("Event:", "Response:")):
                    stats.malformed += 1
                    continue
                stats.messages += 1
                out.append(MessageFrame(text))
            else:
                stats.events_kept += 1
                out.append(EventFrame(name.decode("ascii", "replace"), text))
        if start:
            del buf[:start]
        if len(buf) > self.max_buffer:
            stats.overflow += 1
            buf.clear()
            raise BufferOverflow(f"no frame end within {self.max_buffer} bytes")
        return out
