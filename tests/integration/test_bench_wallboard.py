"""bench.wallboard runs on the real PostgreSQL and prints its table (structure only, never times)."""

from __future__ import annotations

import pytest

from bench import wallboard


def test_the_wallboard_bench_prints_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert wallboard.main(["--calls", "20", "--advisors", "2", "--snapshots", "3", "--effects", "500"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("python -m bench.wallboard --calls 20")
    for name in ("SELECT 1 (baseline)", "snapshot", "LiveView.apply per effect (baseline)", "notifier per effect"):
        assert f"\n{name} " in out, out
