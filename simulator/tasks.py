"""The simulated PBX's own tasks (a call, a service leg, an originate): each kept until done, all cancelled by close."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

Work = Coroutine[Any, Any, str]
Spawn = Callable[[Work], asyncio.Task[str]]


class Tasks:
    def __init__(self) -> None:
        self.running: set[asyncio.Task[str]] = set()

    def spawn(self, work: Work) -> asyncio.Task[str]:
        task = asyncio.get_running_loop().create_task(work, name="sim-pbx")
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        return task

    async def close(self) -> None:
        for task in list(self.running):
            task.cancel()
        for task in list(self.running):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
