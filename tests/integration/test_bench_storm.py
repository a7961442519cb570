"""bench.storm on a small storm: structure and counts only (figures are reported in bench/README.md, never asserted)."""

from __future__ import annotations

from bench.storm import format_report, run_row


async def test_a_small_storm_is_applied_whole_in_both_variants() -> None:
    rows = [await run_row(variant, 30) for variant in ("before", "after")]
    for row in rows:
        assert row.events == 90 and row.aborts == 0 and row.role == "follower"
    report = format_report(rows, "python -m bench.storm --calls 30")
    assert report.splitlines()[0] == "command: python -m bench.storm --calls 30"
    assert [line.split()[0] for line in report.splitlines()[3:]] == ["before", "after"]
