"""Repeated log lines, rate-limited: one line per kind per interval, with the count of those held back.

A peer sending thousands of bad events (or a defect hit by every event of a storm) would otherwise write a line per
event: 6,000 lines for one burst, and the time to write them taken from the service loop. The counters in
`/healthz` keep the exact totals; the log keeps one line per kind per interval, saying how many were held back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Kind:
    next_at: float
    held: int = 0


class LogThrottle:
    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = 1000,
    ) -> None:
        self._log = logger
        self.interval = interval
        self._clock = clock
        self._kinds: dict[str, _Kind] = {}
        self._max_kinds = max_kinds  # kinds are event names and error types: bounded, but never trust that

    def log(self, level: int, kind: str, msg: str, *args: object, exc_info: bool = False) -> bool:
        """Log `msg % args` unless a line of this kind was logged less than `interval` ago (then count it).
        Returns whether the line was written. The first line after a quiet spell says how many were held back."""
        now = self._clock()
        state = self._kinds.get(kind)
        if state is not None and now < state.next_at:
            state.held += 1
            return False
        held = state.held if state is not None else 0
        if state is None and len(self._kinds) >= self._max_kinds:
            self._kinds.clear()
        self._kinds[kind] = _Kind(next_at=now + self.interval)
        if held:
            msg += " (%d more like it since the last such line)"
            args = (*args, held)
        self._log.log(level, msg, *args, exc_info=exc_info)
        return True

    def warning(self, kind: str, msg: str, *args: object) -> bool:
        return self.log(logging.WARNING, kind, msg, *args)

    def error(self, kind: str, msg: str, *args: object, exc_info: bool = False) -> bool:
        return self.log(logging.ERROR, kind, msg, *args, exc_info=exc_info)
