"""asyncio helpers.

`bounded` replaces `asyncio.wait_for`: on Python 3.11, `wait_for` can swallow a cancellation that arrives as
the awaited future completes (CPython gh-86296, fixed in 3.12), which left `gps-admin serve` unable to stop
when Ctrl-C came during the AMI snapshot. `asyncio.timeout` does not have that defect.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def bounded(awaitable: Awaitable[T], seconds: float | None) -> T:
    """Await with a time limit (TimeoutError when it runs out); `None`: no limit."""
    async with asyncio.timeout(seconds):
        return await awaitable


def settle_heap() -> None:
    """Once started: collect, then move every object alive (modules, settings, phone metadata, holidays…) to
    the garbage collector's permanent generation. Later full collections then scan only what the calls
    allocate: a full collection over the start-up heap paused the event loop for ~50 ms in bench.screenpop."""
    gc.collect()
    gc.freeze()
