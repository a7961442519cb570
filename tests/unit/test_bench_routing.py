"""The routing benchmark's functions on tiny sizes: structure and counts only, never timings.

Uses the real Redis at 127.0.0.1:6379, database 9 (flushed by the bench).
"""

from __future__ import annotations

import re

import pytest

from bench import routing


def test_run_bench_rows_one_offer_per_decision() -> None:
    result = routing.run_bench(advisors=5, waiting=(2,), decisions=3, repeat=1, warmup=0)
    assert [(r.trigger, r.waiting) for r in result.rows] == [("available", 2), ("caller_gone", 2)]
    assert result.redis_version
    for row in result.rows:
        assert row.advisors == 5 and len(row.decisions) == 3 and len(row.sides) == 3
        for decision in row.decisions:
            assert decision.offers == 1  # exactly one QueuePenalty Penalty=1 per measured decision
            assert decision.waiting == 2  # W kept constant across decisions
            assert decision.latency_s > 0
            assert decision.round_trips >= 1  # the claim (one EVAL)
        assert row.offers == 3
        assert row.p50_ms <= row.p99_ms <= row.max_ms
        for side in row.sides:
            # AdvisorRinging releases the call's claim (one EVALSHA for both keys), whatever the number of
            # advisors; the call end only costs what the next decision needs (a claim, its release)
            assert side.ringing_round_trips == 1
            assert side.ended_round_trips <= 3
    assert result.row("available", 2).to_gone_calls == 0


async def test_run_once_offers_the_freed_advisor() -> None:
    decisions, sides = await routing.run_once("caller_gone", advisors=5, waiting=2, decisions=3, warmup=1)
    assert len(decisions) == 3 and len(sides) == 3
    assert all(d.offers == 1 and d.waiting == 2 for d in decisions)


async def test_run_once_rejects_an_unknown_trigger() -> None:
    with pytest.raises(ValueError, match="trigger"):
        await routing.run_once("nope", advisors=5, waiting=2, decisions=3, warmup=0)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert routing.percentile(values, 0.5) == 50.0
    assert routing.percentile(values, 0.99) == 99.0
    assert routing.percentile(values, 1.0) == 100.0
    assert routing.percentile([3.0], 0.99) == 3.0


def test_main_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--advisors", "5", "--waiting", "2", "--decisions", "3", "--repeat", "1", "--warmup", "1"]
    assert routing.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "command: python -m bench.routing --advisors 5 --waiting 2 --decisions 3 --repeat 1 --warmup 1\n"
    )
    for trigger in routing.TRIGGERS:
        assert re.search(rf"^{trigger} +5 +2 +3 +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +3$", out, re.MULTILINE)
    assert "AgentCalled (AdvisorRinging)" in out
