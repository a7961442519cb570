"""The screen-pop benchmark on tiny sizes: every call gets one pop at the right desk and one committed record.

Never a timing assertion. Uses the real Redis at 127.0.0.1:6379, database 10 (flushed by the bench), and the real
PostgreSQL at 127.0.0.1:5432 (a throw-away database, dropped at the end).
"""

from __future__ import annotations

import re

import pytest

from bench import screenpop


def test_every_call_pops_once_at_the_offered_desk_and_commits_one_record() -> None:
    result = screenpop.run_bench(rates=(5,), seconds=2.0, instances=(1, 2), advisors=4, warmup=1)
    assert [(r.instances, r.rate) for r in result.rows] == [(1, 5), (2, 5)]
    assert result.redis_version and result.postgres_version
    for row in result.rows:
        assert len(row.calls) == 10
        assert row.pops == row.records == 11  # warm-up included: one pop and one record per call
        assert row.overflows == 0
        for call in row.calls:
            assert call.measured
            assert call.pops == [call.advisor_id]  # exactly one pop, received by the offered advisor's client
            assert call.commits == 1
            assert call.t0 < call.t1 and call.t2 < call.t3  # each moment was observed
        assert row.pop_ms(0.5) <= row.pop_ms(0.99) <= row.pop_ms(1.0)
        assert row.record_ms(0.5) <= row.record_ms(0.99) <= row.record_ms(1.0)
    assert len({c.linkedid for r in result.rows for c in r.calls}) == 20


def test_run_bench_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="instances"):
        screenpop.run_bench(rates=(5,), seconds=1.0, instances=(3,), advisors=2)


def test_main_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--rates", "5", "--seconds", "1", "--instances", "1", "--advisors", "3", "--warmup", "0"]
    assert screenpop.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "command: python -m bench.screenpop --rates 5 --seconds 1 --instances 1 --advisors 3 --warmup 0\n"
    )
    assert re.search(
        r"^ +shared +1 +5 +5( +[\d.]+){6} +\d+( +[\d.]+){3}$", out, re.MULTILINE
    )  # … backlog, late, cpu × 2
    assert "5 pops for 5 calls (0 warm-up)" in out
    assert "target: record p99 ≤ 50 ms" in out


def test_a_busy_database_option_slows_each_continuity_look_up(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--rates", "5", "--seconds", "1", "--instances", "1", "--advisors", "3", "--warmup", "0"]
    assert screenpop.main([*argv, "--lookup-delay", "30"]) == 0  # every call still one pop and one record
    out = capsys.readouterr().out
    assert out.startswith(
        "command: python -m bench.screenpop " + " ".join(argv[:8]) + " --lookup-delay 30 --warmup 0\n"
    )
    assert "continuity look-ups 30 ms late (a busy database)" in out
    with pytest.raises(ValueError, match="lookup_delay"):
        screenpop.run_bench(rates=(5,), seconds=1.0, instances=(1,), advisors=2, lookup_delay=11)
