"""The desk hub's per-socket dedupe memory is bounded (a socket open for a whole shift does not grow)."""

from __future__ import annotations

from screenpop.web.hub import RecentIds


def test_recent_ids_remember_the_last_ones_only() -> None:
    ids = RecentIds(size=3)
    for n in range(5):
        ids.add(f"m{n}")
    assert len(ids) == 3
    assert [f"m{n}" in ids for n in range(5)] == [False, False, True, True, True]
    ids.add("m4")  # already there: no eviction
    assert len(ids) == 3 and "m2" in ids


def test_default_memory_covers_a_shift_of_replays() -> None:
    ids = RecentIds()
    for n in range(10_000):
        ids.add(f"{n}.1:7:pop")
    assert len(ids) == 1024 and "9999.1:7:pop" in ids and "0.1:7:pop" not in ids
