"""The ingest benchmark's functions on tiny traffic: structure and counts only, never timings."""

from __future__ import annotations

import re

import pytest

from bench import ingest


def test_traffic_has_distinct_calls_and_one_banner() -> None:
    captures = ingest.load_captures()
    traffic = ingest.build_traffic(captures, 4)
    assert traffic.data.startswith(b"Asterisk Call Manager/")
    assert traffic.data.count(b"Asterisk Call Manager/") == 1
    assert traffic.data.count(b"Message: Authentication accepted") == 1
    assert traffic.data.count(b"Event: FullyBooted\r\n") == 1
    assert traffic.frames == traffic.data.count(b"\r\n\r\n")
    linkedids = set(re.findall(rb"\r\nLinkedid: (\d+\.\d+)\r\n", traffic.data))
    assert len(linkedids) == 4  # one call per copy, each with its own ids


@pytest.mark.parametrize("chunk", [4096, 1000])
def test_run_bench_rows(chunk: int) -> None:
    result = ingest.run_bench(calls=3, chunk=chunk, repeat=1)
    assert [row.variant for row in result.rows] == [ingest.PANORAMISK, ingest.EDGE, ingest.PIPELINE]
    assert result.calls == 3 and result.frames > 0 and 0 < result.unused_frames < result.frames
    for row in result.rows:
        assert row.frames == result.frames and row.calls == 3
        assert row.seconds > 0 and row.events > 0
    assert result.row(ingest.PANORAMISK).events == result.frames  # every frame is a panoramisk Message
    edge, pipeline = result.row(ingest.EDGE), result.row(ingest.PIPELINE)
    assert pipeline.events == edge.events < result.frames
    assert pipeline.records == 3
    assert pipeline.effects is not None and pipeline.effects > 3
    assert isinstance(result.passed, bool)
    assert result.ratio(ingest.PANORAMISK) == 1.0


def test_main_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert ingest.main(["--calls", "3", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("command: python -m bench.ingest --calls 3 --chunk 4096 --repeat 1\n")
    assert "traffic: 3 calls" in out
    for variant in (ingest.PANORAMISK, ingest.EDGE, ingest.PIPELINE):
        assert variant in out
    assert "pipeline: 3 call records" in out
    assert re.search(r"target: pipeline ≥ 2× .* → (PASS|FAIL)", out)
