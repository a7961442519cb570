"""A real Asterisk 22 (Debian sid package) for the integration tests.

Asterisk is not packaged for Debian 12, so it runs in a Debian sid chroot built once by
``scripts/asterisk-rig.sh`` (cached under ``GPS_ADMIN_RIG_DIR``, default
``/var/cache/gps-admin/asterisk-sid``). Each :class:`AsteriskRig` copies the test configuration from
``tests/asterisk/`` into a fresh directory ``<chroot>/run/<random>/``, renders a free loopback AMI port
and fresh AMI credentials into it, and runs ``chroot <chroot> asterisk -f -C /run/<random>/etc/asterisk.conf``
as a child process. Needs root.

The API is synchronous on purpose: a session-scoped fixture can own the rig whatever event loop each
test runs in. :meth:`AsteriskRig.start` returns once AMI answers with its banner and Asterisk is fully
booted; :meth:`AsteriskRig.stop` terminates Asterisk, waits for it and removes the run directory.

    with AsteriskRig() as rig:
        print(rig.host, rig.port, rig.username, rig.secret, rig.version)
        print(rig.cli("queue show gps"))
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_TEMPLATE_DIR = REPO_ROOT / "tests" / "asterisk"
BUILD_SCRIPT = REPO_ROOT / "scripts" / "asterisk-rig.sh"
DEFAULT_RIG_DIR = Path("/var/cache/gps-admin/asterisk-sid")
AMI_BANNER = b"Asterisk Call Manager/"
AMI_EOM = b"\r\n\r\n"


class AsteriskRigError(RuntimeError):
    """The rig could not be built, started or queried."""


def rig_dir_from_env() -> Path:
    return Path(os.environ.get("GPS_ADMIN_RIG_DIR", str(DEFAULT_RIG_DIR)))


def ensure_chroot(rig_dir: Path, timeout: float = 900.0) -> None:
    """Build the sid chroot unless its stamp says it is complete (fast when cached)."""
    try:
        proc = subprocess.run(
            ["bash", str(BUILD_SCRIPT), str(rig_dir)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AsteriskRigError(f"{BUILD_SCRIPT} did not finish within {timeout:.0f} s") from exc
    if proc.returncode != 0:
        raise AsteriskRigError(f"{BUILD_SCRIPT} failed with exit code {proc.returncode}:\n{proc.stdout}{proc.stderr}")


def free_loopback_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class AsteriskRig:
    """One real Asterisk process with the project's test configuration and its own AMI port."""

    host = "127.0.0.1"

    def __init__(
        self,
        rig_dir: Path | None = None,
        config_dir: Path = CONFIG_TEMPLATE_DIR,
        startup_timeout: float = 30.0,
        port: int | None = None,
        queue_retry: int | None = None,
    ) -> None:
        self.rig_dir = rig_dir if rig_dir is not None else rig_dir_from_env()
        # app_queue's `retry` for the queue (whole seconds, ≥ 1): queues.conf's unless given here or by
        # GPS_TEST_QUEUE_RETRY (to measure a value against another on the same rig: bench/README.md)
        env_retry = os.environ.get("GPS_TEST_QUEUE_RETRY")
        self.queue_retry = queue_retry if queue_retry is not None else int(env_retry) if env_retry else None
        self.config_dir = config_dir
        self.startup_timeout = startup_timeout
        self.port = 0
        self._wanted_port = port  # None: a free loopback port at start
        self.username = "gps-admin-test"
        self.secret = ""
        self.version = ""
        self.run_name = ""
        self._process: subprocess.Popen[bytes] | None = None

    # -- paths -----------------------------------------------------------------------------------
    @property
    def run_dir_in_chroot(self) -> str:
        """The per-run directory as Asterisk sees it (inside the chroot)."""
        return f"/run/{self.run_name}"

    @property
    def run_dir(self) -> Path:
        """The per-run directory as seen from the host."""
        return self.rig_dir / "run" / self.run_name

    @property
    def asterisk_conf(self) -> str:
        return f"{self.run_dir_in_chroot}/etc/asterisk.conf"

    @property
    def log_path(self) -> Path:
        """Asterisk's log (notices, warnings, errors, verbose 3) for this run, on the host."""
        return self.run_dir / "log" / "messages.log"

    @property
    def console_path(self) -> Path:
        """Asterisk's stdout/stderr for this run, on the host."""
        return self.run_dir / "console.log"

    def process_exit_code(self) -> int | None:
        """None while Asterisk runs; its exit code once it has exited."""
        return None if self._process is None else self._process.poll()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    # -- life cycle --------------------------------------------------------------------------------
    def start(self) -> AsteriskRig:
        """Build the chroot if needed, render the configuration, start Asterisk, wait for AMI."""
        if self._process is not None:
            raise AsteriskRigError("rig already started")
        ensure_chroot(self.rig_dir)
        self.version = self._chroot_output(["asterisk", "-V"]).strip()
        self.run_name = secrets.token_hex(6)
        self.port = self._wanted_port or free_loopback_port()
        self.secret = secrets.token_urlsafe(18)
        self._render_config()
        console = self.console_path.open("wb")
        try:
            self._process = subprocess.Popen(
                ["chroot", str(self.rig_dir), "asterisk", "-f", "-C", self.asterisk_conf],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            console.close()
        try:
            self._wait_for_ami()
            # AMI listens before the dynamic modules are loaded (seen: "Invalid/unknown command:
            # QueueAdd" right after the banner); this CLI command returns once Asterisk is fully booted.
            self.cli("core waitfullybooted", timeout=self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate Asterisk (SIGTERM, then SIGKILL), wait for it, remove the run directory."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
        if self.run_name and os.environ.get("GPS_ADMIN_RIG_KEEP_RUN") != "1":
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> AsteriskRig:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- queries ---------------------------------------------------------------------------------
    def cli(self, command: str, timeout: float = 15.0) -> str:
        """Run one CLI command in the running Asterisk (``asterisk -rx``) and return its output."""
        if self._process is None or self._process.poll() is not None:
            raise AsteriskRigError(f"Asterisk is not running; cannot run {command!r}")
        return self._chroot_output(["asterisk", "-C", self.asterisk_conf, "-rx", command], timeout)

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for path in (self.console_path, self.log_path):
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            parts.append(f"--- {path}\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)

    # -- internals -------------------------------------------------------------------------------
    def _chroot_output(self, argv: list[str], timeout: float = 15.0) -> str:
        try:
            proc = subprocess.run(
                ["chroot", str(self.rig_dir), *argv],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise AsteriskRigError(f"{argv!r} in the chroot timed out after {timeout} s") from exc
        if proc.returncode != 0:
            raise AsteriskRigError(f"{argv!r} in the chroot failed ({proc.returncode}): {proc.stderr}")
        return proc.stdout

    def _render_config(self) -> None:
        values = {
            "@RUN_DIR@": self.run_dir_in_chroot,
            "@AMI_PORT@": str(self.port),
            "@AMI_USERNAME@": self.username,
            "@AMI_SECRET@": self.secret,
        }
        run_dir = self.run_dir
        for sub in ("etc", "lib", "spool", "run", "log", "cache"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        run_dir.chmod(0o700)
        templates = sorted(self.config_dir.glob("*.conf"))
        if not templates:
            raise AsteriskRigError(f"no *.conf in {self.config_dir}")
        for template in templates:
            text = template.read_text(encoding="utf-8")
            for key, value in values.items():
                text = text.replace(key, value)
            if template.name == "queues.conf" and self.queue_retry is not None:
                text, found = re.subn(r"^retry = \d+$", f"retry = {self.queue_retry}", text, flags=re.MULTILINE)
                if found != 1:
                    raise AsteriskRigError(f"no single 'retry = N' line in {template}")
            target = run_dir / "etc" / template.name
            target.write_text(text, encoding="utf-8")
            target.chmod(0o600)

    def _wait_for_ami(self) -> None:
        """Poll-connect to AMI until it sends its banner (process start-up readiness only).

        The banner alone does not mean the modules are loaded: :meth:`start` then waits for
        ``core waitfullybooted``.
        """
        deadline = time.monotonic() + self.startup_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            assert self._process is not None
            code = self._process.poll()
            if code is not None:
                raise AsteriskRigError(f"Asterisk exited with code {code} during start-up\n{self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                    sock.settimeout(max(0.1, deadline - time.monotonic()))
                    banner = sock.recv(128)
                if banner.startswith(AMI_BANNER):
                    return
                last_error = AsteriskRigError(f"unexpected AMI banner {banner!r}")
            except OSError as exc:  # not listening yet
                last_error = exc
                # bounded back-off between connection attempts during start-up only
                time.sleep(0.05)
        raise AsteriskRigError(
            f"AMI on {self.host}:{self.port} not ready within {self.startup_timeout} s "
            f"({last_error!r})\n{self.log_tail()}"
        )


# -- a deliberately small raw AMI client for rig tests and captures (no panoramisk) -----------------
AmiFrame = dict[str, str]


def parse_frame(raw: bytes) -> AmiFrame:
    """``Key: Value`` lines of one frame (without its blank line) to a dict; repeated keys joined by \\n."""
    frame: AmiFrame = {}
    for line in raw.decode("utf-8", errors="replace").split("\r\n"):
        if not line:
            continue
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        frame[key] = f"{frame[key]}\n{value}" if key in frame else value
    return frame


class AmiConnection:
    """One raw AMI TCP session over asyncio streams; every byte read is kept in :attr:`raw`.

    Not a production client: frames are read in order by the caller (:meth:`read_frame`,
    :meth:`wait_for`), there is no reconnection and no dispatching.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, banner: str) -> None:
        self.reader = reader
        self.writer = writer
        self.banner = banner
        self.raw = bytearray()
        self._ids = itertools.count(1)

    @classmethod
    async def connect(cls, host: str, port: int, within: float = 10.0) -> Self:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), within)
        line = await asyncio.wait_for(reader.readline(), within)
        if not line.startswith(AMI_BANNER):
            writer.close()
            raise AsteriskRigError(f"unexpected AMI banner {line!r}")
        conn = cls(reader, writer, line.decode().strip())
        conn.raw += line
        return conn

    @classmethod
    async def login(cls, rig: AsteriskRig, within: float = 10.0) -> Self:
        """Connect to the rig's AMI and log in with its credentials (raises on failure)."""
        conn = await cls.connect(rig.host, rig.port, within)
        reply = await conn.action({"Action": "Login", "Username": rig.username, "Secret": rig.secret}, within)
        if reply.get("Response") != "Success":
            await conn.close()
            raise AsteriskRigError(f"AMI login failed: {reply}")
        return conn

    async def send(self, fields: dict[str, str] | list[tuple[str, str]]) -> str:
        """Send one action; adds an ActionID unless given. Returns the ActionID."""
        items = list(fields.items()) if isinstance(fields, dict) else list(fields)
        action_id = next((v for k, v in items if k.lower() == "actionid"), None)
        if action_id is None:
            action_id = f"rig-{next(self._ids)}"
            items.append(("ActionID", action_id))
        payload = "".join(f"{k}: {v}\r\n" for k, v in items) + "\r\n"
        self.writer.write(payload.encode("utf-8"))
        await self.writer.drain()
        return action_id

    async def read_frame(self) -> AmiFrame:
        raw = await self.reader.readuntil(AMI_EOM)
        self.raw += raw
        return parse_frame(raw[: -len(AMI_EOM)])

    async def wait_for(
        self,
        match: dict[str, str],
        within: float,
        seen: list[AmiFrame] | None = None,
    ) -> AmiFrame:
        """Read frames until one has every ``match`` key/value; earlier frames go to ``seen``."""

        async def scan() -> AmiFrame:
            while True:
                frame = await self.read_frame()
                if seen is not None:
                    seen.append(frame)
                if all(frame.get(k) == v for k, v in match.items()):
                    return frame

        return await asyncio.wait_for(scan(), within)

    async def action(self, fields: dict[str, str] | list[tuple[str, str]], within: float = 10.0) -> AmiFrame:
        """Send an action and return its ``Response`` frame (events read meanwhile are kept in raw)."""
        action_id = await self.send(fields)

        async def scan() -> AmiFrame:
            while True:
                frame = await self.read_frame()
                if frame.get("ActionID") == action_id and "Response" in frame:
                    return frame

        return await asyncio.wait_for(scan(), within)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
