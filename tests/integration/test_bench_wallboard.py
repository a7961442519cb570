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


def test_the_live_lag_bench_drives_the_service_and_prints_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    """A few calls through the whole service (build_app, its AMI a peer, a supervisor's browser in a child process):
    every call is seen waiting, then gone, then counted in today's figures read from PostgreSQL."""
    assert wallboard.main(["--live", "--rates", "4", "--seconds", "1", "--wait", "1"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "command: python -m bench.wallboard --live --rates 4 --seconds 1 --wait 1"
    [row] = [line.split() for line in lines if line.split()[:2] == ["4", "4"]]
    assert row[11] == "0"  # unseen: every call was shown waiting
    assert "checked 4/s: 4 calls, 4 records committed" in out
