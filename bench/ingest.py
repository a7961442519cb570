"""Ingest benchmark: recorded AMI traffic through the edge and the call tracker, against panoramisk.

    python -m bench.ingest [--calls N] [--chunk BYTES] [--repeat R] [--filtered]

Builds N distinct calls from the real captures (`tests/captures/shared/*.ami`, unfiltered Asterisk 22
traffic; with `--filtered` also `tests/captures/*.ami`), cuts the bytes into TCP-like reads and times,
best of R, three variants on the same chunks:

- panoramisk 1.4's own `AMIProtocol.data_received` (its bare parse: every frame becomes a `Message`);
- our edge: `FrameReader` + `EventDecoder` (frames → frozen pydantic models), via `telephony.replay`;
- the whole pipeline: the edge plus `CallTracker.apply` for every event.

The target (printed, never asserted in tests): pipeline ≥ 2× panoramisk's bare parse rate on unfiltered traffic.
"""

from __future__ import annotations

import argparse
import gc
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from panoramisk.ami_protocol import AMIProtocol

from config.settings import LineSettings, OpeningHours
from telephony.ami import EdgeStats
from telephony.calls import CallTracker
from telephony.effects import CallEnded
from telephony.frames import BANNER, SEP
from telephony.replay import replay, stepping_clock

CAPTURES = Path(__file__).resolve().parents[1] / "tests" / "captures"
TARGET = 2.0  # pipeline frames/s ≥ TARGET × panoramisk frames/s, on unfiltered traffic

PANORAMISK = "panoramisk 1.4 AMIProtocol"
EDGE = "edge (frames → models)"
PIPELINE = "pipeline (edge + tracker)"

# The epoch part of a Uniqueid/Linkedid (`1795888079.6`): its first 8 digits are rewritten per copy.
_ID_PREFIX = re.compile(rb"(?<=id: )(\d{8})(?=\d\d\.\d+\r\n)")
# Frames that open a session: kept once, at the start of the traffic.
_SESSION_START = (b"Event: FullyBooted\r\n", b"Event: SuccessfulAuth\r\n")


class BenchError(Exception):
    """The replay did not produce what the traffic contains (e.g. not one CallEnded per call)."""


@dataclass(frozen=True)
class Capture:
    """One recorded call, split around its id prefixes so copies are cheap to build."""

    name: str
    head: bytes  # banner line and session-start frames
    parts: tuple[bytes, ...]  # literal, prefix, literal, prefix, ..., literal
    prefixes: tuple[bytes, ...]  # distinct original prefixes, in order of appearance

    def copy(self, new: dict[bytes, bytes]) -> bytes:
        parts = list(self.parts)
        for i in range(1, len(parts), 2):
            parts[i] = new[parts[i]]
        return b"".join(parts)


def split_capture(name: str, data: bytes) -> Capture:
    head = b""
    if data.startswith(BANNER):
        end = data.index(b"\r\n") + 2
        head, data = data[:end], data[end:]
    while True:  # the login response and session-start events
        end = data.find(SEP)
        if end < 0:
            break
        frame = data[: end + 4]
        login = frame.startswith(b"Response: ") and b"\r\nMessage: Authentication accepted\r\n" in frame
        if not (login or frame.startswith(_SESSION_START)):
            break
        head, data = head + frame, data[end + 4 :]
    parts = tuple(_ID_PREFIX.split(data))
    prefixes = tuple(dict.fromkeys(parts[1::2]))
    if not prefixes:
        raise BenchError(f"{name}: no Uniqueid/Linkedid found")
    return Capture(name, head, parts, prefixes)


def load_captures(filtered: bool = False, root: Path = CAPTURES) -> list[Capture]:
    """The unfiltered shared captures, plus the filtered rig captures with `filtered`; one call each."""
    paths = sorted((root / "shared").glob("*.ami"))
    if filtered:
        paths += sorted(root.glob("*.ami"))
    if not paths:
        raise BenchError(f"no captures under {root}")
    return [split_capture(str(p.relative_to(root)), p.read_bytes()) for p in paths]


@dataclass(frozen=True)
class Traffic:
    data: bytes
    calls: int
    frames: int
    sources: tuple[str, ...]


def build_traffic(captures: Sequence[Capture], calls: int) -> Traffic:
    """`calls` distinct calls: the captures in turn, each copy with its own 8-digit id prefixes."""
    if calls < 1:
        raise ValueError("calls must be ≥ 1")
    out = [captures[0].head]
    serial = 10_000_000
    for i in range(calls):
        capture = captures[i % len(captures)]
        new = {}
        for prefix in capture.prefixes:
            new[prefix] = b"%08d" % serial
            serial += 1
        out.append(capture.copy(new))
    if serial > 99_999_999:
        raise ValueError("too many calls for 8-digit prefixes")
    data = b"".join(out)
    return Traffic(data, calls, data.count(SEP), tuple(c.name for c in captures))


def chunked(data: bytes, size: int) -> list[bytes]:
    if size < 1:
        raise ValueError("chunk must be ≥ 1")
    return [data[i : i + size] for i in range(0, len(data), size)]


# ---- the three variants: each takes the chunks, returns its counts; the caller times it ----


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class _Factory:
    save_stream = None
    forgetable_actions = ()
    awaiting_actions: list[Any] = []  # noqa: RUF012

    def dispatch(self, message: Any) -> None:
        pass

    def connection_lost(self, exc: BaseException | None) -> None:
        pass


def _panoramisk_protocol() -> Any:
    protocol = AMIProtocol()
    protocol.connection_made(_Transport())
    protocol.factory = _Factory()
    protocol.encoding = "utf8"
    return protocol


def run_panoramisk(chunks: Sequence[bytes]) -> dict[str, int]:
    protocol = _panoramisk_protocol()
    feed = protocol.data_received
    for chunk in chunks:
        feed(chunk)
    return {}


def count_panoramisk_messages(chunks: Sequence[bytes]) -> int:
    """Messages panoramisk parses from the chunks (an untimed pass: counting would slow the timed one)."""
    protocol = _panoramisk_protocol()
    count = [0]
    handle = protocol.handle_message

    def counting(message: Any) -> None:
        count[0] += 1
        handle(message)

    protocol.handle_message = counting
    for chunk in chunks:
        protocol.data_received(chunk)
    return count[0]


def _clock() -> Callable[[], datetime]:
    return stepping_clock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))  # a Friday morning: the line is open


def run_edge(chunks: Sequence[bytes]) -> dict[str, int]:
    stats = EdgeStats()
    events = 0
    for _ in replay(chunks, _clock(), stats):
        events += 1
    return {
        "events": events,
        "frames": stats.frames.frames,
        "dropped": stats.frames.events_dropped,
        "invalid": stats.invalid_events,
    }


def run_pipeline(chunks: Sequence[bytes], tracker: CallTracker) -> dict[str, int]:
    stats = EdgeStats()
    events = effects = records = 0
    apply = tracker.apply
    for event in replay(chunks, _clock(), stats):
        events += 1
        out = apply(event)
        if out:
            effects += len(out)
            for effect in out:
                if isinstance(effect, CallEnded):
                    records += 1
    return {"events": events, "frames": stats.frames.frames, "effects": effects, "records": records}


def _best(prepare: Callable[[], Callable[[], dict[str, int]]], repeat: int) -> tuple[float, dict[str, int]]:
    """Best wall time of `repeat` runs; `prepare` (untimed) builds fresh state for each run."""
    best = float("inf")
    counts: dict[str, int] = {}
    for _ in range(repeat):
        run = prepare()
        gc.collect()
        start = time.perf_counter()
        counts = run()
        best = min(best, time.perf_counter() - start)
    return best, counts


# ---- results ----


@dataclass(frozen=True)
class Row:
    variant: str
    seconds: float  # best of the repeats
    frames: int  # input frames (same denominator for every variant)
    events: int  # messages parsed (panoramisk) or typed events produced (ours)
    calls: int
    effects: int | None = None
    records: int | None = None

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.seconds


@dataclass(frozen=True)
class BenchResult:
    calls: int
    chunk: int
    repeat: int
    filtered: bool
    frames: int
    unused_frames: int  # events the service does not use, dropped from their first line
    nbytes: int
    sources: tuple[str, ...]
    rows: tuple[Row, ...] = field(default_factory=tuple)

    def row(self, variant: str) -> Row:
        return next(r for r in self.rows if r.variant == variant)

    def ratio(self, variant: str) -> float:
        """frames/s of `variant` over panoramisk's."""
        return self.row(variant).frames_per_s / self.row(PANORAMISK).frames_per_s

    @property
    def passed(self) -> bool:
        return self.ratio(PIPELINE) >= TARGET


def run_bench(calls: int = 2000, chunk: int = 4096, repeat: int = 5, filtered: bool = False) -> BenchResult:
    """Build the traffic, time the three variants (best of `repeat`) and return the rows as data.

    Raises BenchError when the pipeline does not end exactly `calls` calls, or the edge disagrees on frames.
    """
    if repeat < 1:
        raise ValueError("repeat must be ≥ 1")
    traffic = build_traffic(load_captures(filtered), calls)
    chunks = chunked(traffic.data, chunk)
    line, hours = LineSettings(), OpeningHours()

    p_seconds, _ = _best(lambda: lambda: run_panoramisk(chunks), repeat)
    p_messages = count_panoramisk_messages(chunks)
    e_seconds, edge = _best(lambda: lambda: run_edge(chunks), repeat)

    def pipeline() -> Callable[[], dict[str, int]]:
        tracker = CallTracker(line, hours)  # fresh state for each run, built before the clock starts
        return lambda: run_pipeline(chunks, tracker)

    w_seconds, whole = _best(pipeline, repeat)

    if edge["frames"] != traffic.frames or whole["frames"] != traffic.frames:
        raise BenchError(f"frames: traffic {traffic.frames}, edge {edge['frames']}, pipeline {whole['frames']}")
    if whole["records"] != calls:
        raise BenchError(f"the tracker ended {whole['records']} calls, the traffic holds {calls}")
    if edge["invalid"]:
        raise BenchError(f"{edge['invalid']} events failed validation")

    rows = (
        Row(PANORAMISK, p_seconds, traffic.frames, p_messages, calls),
        Row(EDGE, e_seconds, traffic.frames, edge["events"], calls),
        Row(PIPELINE, w_seconds, traffic.frames, whole["events"], calls, whole["effects"], whole["records"]),
    )
    return BenchResult(
        calls=calls,
        chunk=chunk,
        repeat=repeat,
        filtered=filtered,
        frames=traffic.frames,
        unused_frames=edge["dropped"],
        nbytes=len(traffic.data),
        sources=traffic.sources,
        rows=rows,
    )


def command_line(calls: int, chunk: int, repeat: int, filtered: bool) -> str:
    return f"python -m bench.ingest --calls {calls} --chunk {chunk} --repeat {repeat}" + (
        " --filtered" if filtered else ""
    )


def format_report(result: BenchResult) -> str:
    r = result
    lines = [
        "command: " + command_line(r.calls, r.chunk, r.repeat, r.filtered),
        f"python {sys.version.split()[0]}, best of {r.repeat}, chunks of {r.chunk} bytes, captures: "
        + ", ".join(r.sources),
        f"traffic: {r.calls} calls, {r.frames} frames ({100 * r.unused_frames / r.frames:.0f} % unused by the"
        f" service), {r.nbytes / 1e6:.1f} MB",
        f"{'variant':<30} {'seconds':>8} {'frames/s':>11} {'events/s':>11} {'calls/s':>9} {'vs panoramisk':>14}",
    ]
    for row in r.rows:
        lines.append(
            f"{row.variant:<30} {row.seconds:>8.3f} {row.frames_per_s:>11,.0f} {row.events_per_s:>11,.0f}"
            f" {row.calls_per_s:>9,.0f} {r.ratio(row.variant):>13.2f}×"
        )
    pipe = r.row(PIPELINE)
    records = pipe.records or 0
    lines += [
        "events/s: messages parsed (panoramisk) or typed events produced (ours); frames/s: input frames / seconds.",
        f"pipeline: {records} call records ({records / pipe.seconds:,.0f} records/s), {pipe.effects} effects",
        f"target: pipeline ≥ {TARGET:g}× panoramisk's bare parse rate on unfiltered traffic: "
        f"{r.ratio(PIPELINE):.2f}× → {'PASS' if r.passed else 'FAIL'}"
        + (" (this run mixes in filtered captures: indicative only)" if r.filtered else ""),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="distinct calls in the traffic (default 2000)")
    parser.add_argument("--chunk", type=int, default=4096, help="bytes per TCP-like read (default 4096)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per variant, the best is kept (default 5)")
    parser.add_argument(
        "--filtered", action="store_true", help="also replay the filtered rig captures in tests/captures/*.ami"
    )
    args = parser.parse_args(argv)
    if args.calls < 1 or args.chunk < 1 or args.repeat < 1:
        parser.error("--calls, --chunk and --repeat must be ≥ 1")
    try:
        result = run_bench(args.calls, args.chunk, args.repeat, args.filtered)
    except BenchError as exc:
        print(f"bench.ingest: {exc}", file=sys.stderr)
        return 1
    print(format_report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
