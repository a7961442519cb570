"""The durable spool, file level only (no database, no event loop)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage.spool import CorruptSpoolFileError, Spool
from tests.fixtures_db import make_record


def test_put_then_load_round_trips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    record = make_record("1710408600.101", caller_name='<b>"O\'Brien"</b>\x1b')
    path = spool.put(record)
    assert path.parent == spool.directory and path.suffix == ".json"
    assert spool.load(path) == record
    assert [p.name for p in spool.directory.iterdir()] == [path.name]
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_pending_is_in_arrival_order_even_for_one_linkedid(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    ids = ["z", "a", "m", "a", "0"]
    paths = [spool.put(make_record(i, talk_seconds=float(n))) for n, i in enumerate(ids)]
    assert spool.pending() == paths
    assert [spool.load(p).talk_seconds for p in spool.pending()] == [0.0, 1.0, 2.0, 3.0, 4.0]
    # a new Spool on the same folder (after a restart) sees the same order
    assert Spool(tmp_path).pending() == paths


@pytest.mark.parametrize("linkedid", ["../../etc/passwd", "a/b\\c", ".hidden", "é" * 64, "x" * 64, "\x00\n"])
def test_file_names_are_safe_whatever_the_linkedid(tmp_path: Path, linkedid: str) -> None:
    spool = Spool(tmp_path / "s")
    record = make_record(linkedid)
    path = spool.put(record)
    assert path.parent == spool.directory
    assert len(path.name) < 255 and path.name.isascii() and not path.name.startswith(".")
    assert spool.load(path).linkedid == record.linkedid == linkedid.replace("\x00", "\ufffd").replace("\n", "\ufffd")


def test_remove_forgets_and_tolerates_missing(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    path = spool.put(make_record())
    spool.remove(path)
    spool.remove(path)
    assert spool.pending() == []


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"linkedid": "x"}', b"\xff\xfe"])
def test_corrupt_file_is_quarantined_not_deleted(tmp_path: Path, content: bytes) -> None:
    spool = Spool(tmp_path)
    ok = spool.put(make_record("ok"))
    bad = tmp_path / "00000000000000000000-000000-62.json"
    bad.write_bytes(content)
    assert spool.pending() == [bad, ok]
    with pytest.raises(CorruptSpoolFileError) as caught:
        spool.load(bad)
    assert caught.value.quarantined_to == tmp_path / "corrupt" / bad.name
    assert caught.value.quarantined_to.read_bytes() == content
    assert (tmp_path / "corrupt" / f"{bad.name}.reason").read_text().strip()
    assert spool.pending() == [ok]


def test_reject_sets_aside_with_reason(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    path = spool.put(make_record())
    target = spool.reject(path, "DataError: nope")
    assert target.parent == spool.rejected_dir and target.exists()
    assert spool.pending() == []
    assert "nope" in (spool.rejected_dir / f"{target.name}.reason").read_text()


def test_recover_finishes_complete_temporary_files_and_quarantines_torn_ones(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    complete = spool.put(make_record("complete"))
    complete.rename(tmp_path / f".{complete.name}.tmp")
    torn = spool.put(make_record("torn"))
    (tmp_path / f".{torn.name}.tmp").write_bytes(torn.read_bytes()[:40])
    torn.unlink()
    assert spool.pending() == []  # temporary files are never pending as such
    spool.recover()
    assert spool.pending() == [complete]
    assert spool.load(complete).linkedid == "complete"
    assert (tmp_path / "corrupt" / f"{torn.name}.tmp").exists()


def test_recover_skips_a_temporary_file_its_writer_finished_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`put` running in another thread renames its temporary file between recover's listing and its read (seen in
    CI: the record writer recovers at start while the first submits spool): nothing to quarantine, nothing lost."""
    spool = Spool(tmp_path / "spool")
    done = spool.put(make_record("1.1"))
    gone = spool.directory / f".{done.name}.tmp"  # listed by recover, renamed by its writer before the read
    real_glob = Path.glob
    monkeypatch.setattr(
        Path, "glob", lambda self, pattern: iter([gone]) if self == spool.directory else real_glob(self, pattern)
    )
    spool.recover()
    assert spool.pending() == [done]
    assert not spool.corrupt_dir.exists()
