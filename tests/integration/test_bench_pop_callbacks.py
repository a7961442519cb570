"""`bench.pop_callbacks` runs on a small database: its fill, both numbers' plans and timings (structure only, no time
asserted)."""

from __future__ import annotations

import pytest

from bench.pop_callbacks import main


def test_the_pop_query_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--records", "2000", "--queries", "2"]) == 0
    out = capsys.readouterr().out
    assert "2100 records, 210 callbacks (42 open)" in out
    assert "ordinary number +336" in out and "busy number +33321000000: 10 history rows, 2 open" in out
    assert out.count("Execution Time") == 2 and out.count("2 pops' queries, ms p50") == 2
