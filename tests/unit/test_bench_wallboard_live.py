"""bench.wallboard --live's lags, on a hand-made run: each call's first snapshot that shows it (waiting, gone, counted
in today's figures), and a call that no snapshot showed waiting."""

from __future__ import annotations

import pytest

from bench.wallboard_live import Row, Snap


def test_each_lag_is_the_first_snapshot_after_the_event_that_shows_it() -> None:
    row = Row(rate=1, seconds=3, wait=1, role="leader", calls=3)
    row.ids = ["a", "b", "c"]
    row.joins = [0.0, 1.0, 2.0]
    row.ends = [1.5, 2.5, 3.5]
    row.snaps = [
        Snap(done=0.2, get_ms=5, waiting=frozenset({"a"}), offered=0),  # a shown 200 ms after its join
        Snap(done=1.1, get_ms=5, waiting=frozenset({"a"}), offered=0),  # b joined at 1.0, not shown yet
        Snap(done=1.4, get_ms=5, waiting=frozenset({"a", "b"}), offered=0),  # b: 400 ms
        Snap(done=1.8, get_ms=5, waiting=frozenset({"b"}), offered=0),  # a gone 300 ms after its hang-up
        Snap(done=2.9, get_ms=5, waiting=frozenset(), offered=1),  # c joined and left unseen; a counted (1.4 s)
        Snap(done=3.0, get_ms=5, waiting=frozenset(), offered=2),  # b counted 500 ms after its hang-up
        Snap(done=3.6, get_ms=5, waiting=frozenset(), offered=3),  # the third hang-up (c, 3.5) counted: 100 ms
    ]
    join, gone, figures, unseen = row.lags()
    assert join == pytest.approx([200, 400])
    assert unseen == 1  # c
    assert gone == pytest.approx([300, 400, 100])  # a at 1.8, b at 2.9, c at 3.6
    assert figures == pytest.approx([1400, 500, 100])
