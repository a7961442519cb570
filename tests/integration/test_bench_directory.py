"""The directory benchmark on tiny sizes: every row is there with its counts. Never a timing assertion."""

from __future__ import annotations

import pytest

from bench import directory


def test_the_bench_imports_looks_up_and_writes_records() -> None:
    result = directory.run_bench(records=30, queries=5, written=60)
    assert (result.imported, result.refused) == (30, 0)
    assert [(r.name, r.count) for r in result.rows] == [
        ("import (DILA)", 30),
        ("search", 5),
        ("partners_of", 5),
        ("identify", 5),
        ("record write, classified", 2 * directory.ROUNDS),  # 60 records: batches of 50 and 10
        ("record write, trigger off", 2 * directory.ROUNDS),
    ]
    for row in result.rows[1:]:
        assert len(row.samples_ms) == row.count and row.quantile(0.5) <= row.quantile(1.0)


def test_main_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert directory.main(["--records", "5", "--queries", "2", "--records-written", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("python -m bench.directory --records 5 --queries 2 --records-written 5\n")
    assert "classification cost per batch of 50" in out


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        directory.run_bench(records=0)
