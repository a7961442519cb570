"""`python -m bench.stats` on a tiny size: it generates, sums the days, times every path and finds the report's sums,
the raw SQL's and the plain SQL baseline's identical (exit code 0), then reuses its database. Never timings."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from bench import stats
from tests.fixtures_db import SERVER, _admin


def test_the_bench_runs_small_and_finds_every_path_exact(capsys: pytest.CaptureFixture[str]) -> None:
    name = f"gps_test_bench_{secrets.token_hex(4)}"
    args = ["--dsn", SERVER, "--db", name, "--calls", "4000", "--years", "1", "--advisors", "5", "--rounds", "2",
            "--year-rounds", "1", "--raw-rounds", "1", "--check", "1"]  # fmt: skip
    try:
        assert stats.main(args) == 0
        out = capsys.readouterr().out
        assert f"database {name} created" in out and "generated " in out
        assert "| month | report (StatisticsService.report: daily sums of 0014) | 2 |" in out
        assert "| year | baseline (plain SQL over the raw records) | 1 |" in out
        checks = [line for line in out.splitlines() if line.startswith("- ")]
        assert len(checks) == 4 and all(line.endswith("identical") for line in checks), checks
        assert stats.main([*args, "--generate-only"]) == 0
        assert "reusing " in capsys.readouterr().out
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
