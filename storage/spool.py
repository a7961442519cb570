"""The durable spool: call records waiting to be written to PostgreSQL, one JSON file each.

Write-ahead: every record is spooled before any write is tried, and its file is removed only after the
database committed it. A file appears atomically (written under a dot-prefixed temporary name, fsync'd,
renamed, directory fsync'd), so a crash leaves either no file or a complete one. Names sort in arrival
order: `<arrival ns, 20 digits>-<sequence, 6 digits>-<linkedid in hex>.json`.

A file that cannot be read back is moved to `corrupt/`; a record PostgreSQL refuses for good (a data or
constraint error) is moved to `rejected/`. Neither is ever deleted: an operator looks at them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from pathlib import Path

from pydantic import ValidationError

from telephony.records import CallRecord

_log = logging.getLogger(__name__)

_SUFFIX = ".json"
_TMP_SUFFIX = ".tmp"
_MAX_HEX_ID = 128  # keeps names well under the 255-byte limit


class CorruptSpoolFileError(Exception):
    """A spool file could not be parsed; it has been moved to `quarantined_to`."""

    error_id = "spool-corrupt-file"

    def __init__(self, path: Path, quarantined_to: Path, reason: str) -> None:
        super().__init__(f"corrupt spool file {path.name} moved to {quarantined_to}: {reason}")
        self.quarantined_to = quarantined_to


def _file_id(linkedid: str) -> str:
    raw = linkedid.encode("utf-8")
    if len(raw) * 2 <= _MAX_HEX_ID:
        return raw.hex()
    return "h" + hashlib.sha256(raw).hexdigest()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """A directory of pending records. Thread-safe `put` (the writer calls it from a worker thread)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.corrupt_dir = directory / "corrupt"
        self.rejected_dir = directory / "rejected"
        self._lock = threading.Lock()
        self._last_ns = 0
        self._sequence = 0
        self._in_flight: set[str] = set()  # temporary names being written by `put` in this process

    def _ensure(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def _next_name(self, record: CallRecord) -> str:
        with self._lock:
            now = max(time.time_ns(), self._last_ns)
            self._sequence = self._sequence + 1 if now == self._last_ns else 0
            self._last_ns = now
            return f"{now:020d}-{self._sequence:06d}-{_file_id(record.linkedid)}{_SUFFIX}"

    def put(self, record: CallRecord) -> Path:
        """Durably store `record`; when this returns, the file survives a crash or power loss."""
        self._ensure()
        name = self._next_name(record)
        final = self.directory / name
        tmp = self.directory / f".{name}{_TMP_SUFFIX}"
        data = record.model_dump_json().encode("utf-8")
        with self._lock:
            self._in_flight.add(tmp.name)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final)
        finally:
            with self._lock:
                self._in_flight.discard(tmp.name)
        _fsync_dir(self.directory)
        return final

    def recover(self) -> None:
        """After a crash: finish renames whose temporary file is complete, quarantine the others.

        Skips files this instance is writing right now; do not share one spool directory between processes.
        """
        self._ensure()
        for tmp in sorted(self.directory.glob(f".*{_SUFFIX}{_TMP_SUFFIX}")):
            with self._lock:
                if tmp.name in self._in_flight:
                    continue
            final = self.directory / tmp.name[1 : -len(_TMP_SUFFIX)]
            try:
                CallRecord.model_validate_json(tmp.read_bytes())
            except FileNotFoundError:
                continue  # its writer finished (renamed it) between the listing and now: nothing to recover
            except (ValidationError, OSError, UnicodeDecodeError) as exc:
                self._move(tmp, self.corrupt_dir, f"incomplete temporary file: {exc}")
                continue
            os.replace(tmp, final)
            _log.warning("spool: recovered complete temporary file %s", final.name)
        _fsync_dir(self.directory)

    def pending(self) -> list[Path]:
        """Spooled files, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.name.endswith(_SUFFIX) and not p.name.startswith("."))

    def load(self, path: Path) -> CallRecord:
        """Read a spooled record; a corrupt file is quarantined and `CorruptSpoolFileError` raised."""
        try:
            return CallRecord.model_validate_json(path.read_bytes())
        except (ValidationError, UnicodeDecodeError) as exc:
            reason = str(exc).splitlines()[0]
            target = self._move(path, self.corrupt_dir, reason)
            raise CorruptSpoolFileError(path, target, reason) from exc

    def remove(self, path: Path) -> None:
        """Forget a record the database has committed. Missing is fine (already removed)."""
        path.unlink(missing_ok=True)

    def remove_many(self, paths: list[Path]) -> None:
        for path in paths:
            self.remove(path)

    def reject(self, path: Path, reason: str) -> Path:
        """Set aside a record the database refuses for good."""
        return self._move(path, self.rejected_dir, reason)

    def _move(self, path: Path, directory: Path, reason: str) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / path.name.lstrip(".")
        os.replace(path, target)
        (directory / f"{target.name}.reason").write_text(reason + "\n", encoding="utf-8")
        _fsync_dir(directory)
        _fsync_dir(self.directory)
        _log.error("spool: %s moved to %s: %s", path.name, target, reason)
        return target
