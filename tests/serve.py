"""Running the real `gps-admin` console script in tests: one-shot commands and a served instance."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

WITHIN = 30.0

GPS_ADMIN = str(Path(sys.executable).with_name("gps-admin"))


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPS_ADMIN_")}
    env.update(settings)
    return env


async def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run a one-shot `gps-admin` command; its output (exit code 0 required)."""
    proc = await asyncio.create_subprocess_exec(
        GPS_ADMIN,
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin is not None else None), WITHIN)
    assert proc.returncode == 0, out.decode()
    return out.decode()


class Process:
    """A running `gps-admin`, its output read line by line as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process, env: dict[str, str]) -> None:
        self.proc = proc
        self.env = env
        self.lines: list[str] = []
        self._new = asyncio.Event()
        assert proc.stdout is not None
        self._reader = asyncio.create_task(self._read(proc.stdout))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            self.lines.append(raw.decode("utf-8", "replace").rstrip())
            self._new.set()
        self._new.set()

    async def expect(self, pattern: str, within: float = WITHIN) -> re.Match[str]:
        """Wait for a line matching `pattern` (seen already or to come); its match."""
        return (await self.count(pattern, 1, within))[0]

    async def count(self, pattern: str, n: int, within: float = WITHIN) -> list[re.Match[str]]:
        """Wait until `n` lines match `pattern`; all the matches so far."""
        regex = re.compile(pattern)

        async def scan() -> list[re.Match[str]]:
            while True:
                found = [m for line in self.lines if (m := regex.search(line))]
                if len(found) >= n:
                    return found
                if self._reader.done():
                    raise AssertionError(
                        f"gps-admin exited with {len(found)}/{n} lines {pattern!r}:\n" + "\n".join(self.lines)
                    )
                self._new.clear()
                await self._new.wait()

        return await asyncio.wait_for(scan(), within)
