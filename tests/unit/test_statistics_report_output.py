"""A report's output, built fast (`kpis.parts`, each figure's output made once per report, the cycle collector
paused), is the output the previous implementation built: every group of every breakdown through `kpis.figures`,
each figure validated as `FigureOut` from `Figure.value`, `definitions.show` and `kpis.meets`. The reference below
is that implementation, kept here to compare with on random sums (zeros, empty denominators, ints for durations)."""

from __future__ import annotations

import gc
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest

from config.settings import Settings
from screenpop.statistics import definitions, kpis
from screenpop.statistics.kpis import Figure, Figures, PresenceTotals, Totals
from screenpop.statistics.models import BREAKDOWNS, FigureOut, GroupOut, PeriodOut
from screenpop.statistics.service import Period, StatisticsService, _collector_paused, _ordered, _part_out
from storage.statistics import SUM_NAMES, GroupRow, PresenceRow

COUNTS = {n for n in SUM_NAMES if isinstance(getattr(Totals(), n), int)}


def reference_figures(t: Totals, presence: PresenceTotals | None = None) -> Figures:
    """`kpis.figures` as it was written before `kpis.parts`."""
    needing = t.offered - t.short_abandoned
    occupancy = (
        Figure.ratio(presence.busy, presence.logged_in - presence.paused)
        if presence is not None
        else Figure.ratio(0.0, 0.0)
    )
    return Figures(
        calls=Figure.count(t.calls),
        offered=Figure.count(t.offered),
        closed=Figure.count(t.closed),
        answered=Figure.count(t.answered),
        answer_rate=Figure.ratio(t.answered, needing),
        abandoned=Figure.count(t.abandoned),
        short_abandoned=Figure.count(t.short_abandoned),
        abandon_rate=Figure.ratio(t.abandoned, needing),
        failed=Figure.count(t.failed),
        service_level=Figure.ratio(t.answered_in_time, needing),
        asa=Figure.mean(t.answered_wait, t.answered),
        average_abandon_time=Figure.mean(t.abandoned_wait, t.abandoned),
        aht=Figure.mean(t.talk + t.hold + t.wrap_up, t.answered),
        average_talk=Figure.mean(t.talk, t.answered),
        average_hold=Figure.mean(t.hold, t.answered),
        average_wrap_up=Figure.mean(t.wrap_up, t.wrapped_up),
        occupancy=occupancy,
        transfers=Figure.count(t.transfers),
        transfer_rate=Figure.ratio(t.transfers, t.answered),
        immediate_answer_rate=Figure.ratio(t.immediate_answers, t.answered),
        callbacks_requested=Figure.count(t.callbacks_requested),
        callback_request_rate=Figure.ratio(t.callbacks_requested, t.answered),
        repeat_callers=Figure.ratio(t.repeat_calls, t.offered),
        unanswered_questions=Figure.count(t.unanswered_questions),
        totals=t,
    )


def reference_figure_out(name: str, figure: Figure, target: float | None) -> FigureOut:
    return FigureOut(
        name=name,
        label=definitions.DEFINITIONS[name].label,
        value=figure.value,
        numerator=figure.numerator,
        denominator=figure.denominator,
        shown=definitions.show(name, figure),
        target=target,
        meets_target=None if target is None else kpis.meets(figure, target),
    )


def reference_period(
    s: StatisticsService,
    p: Period,
    dims: tuple[str, ...],
    rows: list[GroupRow],
    presence: list[PresenceRow],
    advisors: dict[int, tuple[str, str]],
) -> PeriodOut:
    """`StatisticsService._period` after its reads, as it was written before."""
    targets = {"answer_rate": s.thresholds.answer_rate_target, "service_level": s.thresholds.service_level_target}

    def outs(f: Figures) -> dict[str, FigureOut]:
        return {n: reference_figure_out(n, getattr(f, n), targets.get(n)) for n in kpis.FIGURE_NAMES}

    whole = next(r for r in rows if r.dimension == "")
    total = reference_figures(Totals.of(whole.sums), kpis.presence_of((r.state, r.seconds) for r in presence))
    people = s._presence(presence, advisors)
    by_interface = {a.key: a for a in people}
    breakdowns: dict[str, list[GroupOut]] = {}
    for dim in dims:
        out = []
        for row in (r for r in rows if r.dimension == dim):
            pt = None
            if dim == "advisor" and row.key in by_interface:
                a = by_interface[row.key]
                pt = PresenceTotals(a.busy, a.logged_in, a.paused)
            f = reference_figures(Totals.of(row.sums), pt)
            calls = total.calls.numerator
            out.append(
                GroupOut(
                    key=row.key,
                    label=s.group_label(dim, row.key, row.label),
                    share=f.calls.numerator / calls if calls else None,
                    figures=outs(f),
                )
            )
        breakdowns[dim] = _ordered(dim, out)
    pauses: dict[str, float] = {}
    for r in presence:
        if r.state == "paused":
            label = s._pause_label(r.reason)
            pauses[label] = pauses.get(label, 0.0) + r.seconds
    return PeriodOut(
        start=p.start,
        end=p.end,
        label=p.label,
        figures=outs(total),
        breakdowns=breakdowns,
        presence=people,
        pauses=dict(sorted(pauses.items(), key=lambda kv: -kv[1])),
    )


def random_sums(rng: random.Random, small: bool) -> dict[str, float]:
    """Sums of one group: often tiny (0 or 1 call, empty denominators), a duration sometimes an int (0)."""
    top = 2 if small else 500
    sums: dict[str, float] = {}
    for name in SUM_NAMES:
        if name in COUNTS:
            sums[name] = rng.randint(0, top)
        else:
            sums[name] = 0 if rng.random() < 0.2 else rng.uniform(0, 50_000.0)
    return sums


def sample(seed: int) -> tuple[list[GroupRow], list[PresenceRow], dict[int, tuple[str, str]]]:
    rng = random.Random(seed)
    keys: dict[str, list[str | None]] = {
        "day": [(date(2026, 3, 1) + timedelta(days=i)).isoformat() for i in range(31)],
        "hour": [f"{h:02d}" for h in range(8, 19)],
        "weekday": [str(d) for d in range(1, 8)],
        "topic": ["etat_civil", "social", "inconnu", None],
        "subtopic": ["etat_civil/naissance", "social/rsa", "x/", None],
        "outcome": ["transfer", "immediate_answer", "autre", None],
        "advisor": [f"Local/bench{i:03d}@advisors" for i in range(1, 40)] + [None],
    }
    rows = [GroupRow("", None, None, random_sums(rng, False))]
    for dim in ("day", *BREAKDOWNS):
        for key in keys.get(dim, [f"{dim}-{i}" for i in range(60)] + [None]):
            label = f"Libellé {key}" if dim in ("commune", "epci", "advisor") and key and rng.random() < 0.7 else None
            rows.append(GroupRow(dim, key, label, random_sums(rng, rng.random() < 0.5)))
    rng.shuffle(rows)
    advisors = {i: (f"Local/bench{i:03d}@advisors", f"Conseiller {i:03d}") for i in range(1, 30)}
    presence = [
        PresenceRow(i, state, reason, rng.uniform(0, 30_000.0))
        for i in range(1, 35)
        for state, reason in (("available", ""), ("on_call", ""), ("paused", rng.choice(["", "repas", "wrap_up"])))
    ]
    return rows, presence, advisors


def service() -> StatisticsService:
    return StatisticsService(cast(Any, None), Settings(), lambda: datetime(2026, 4, 1, tzinfo=UTC))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_period_s_output_is_the_previous_implementation_s(seed: int) -> None:
    s = service()
    rows, presence, advisors = sample(seed)
    p = Period(date(2026, 3, 1), date(2026, 3, 31))
    dims = ("day", *BREAKDOWNS)
    fast = s._period_out(p, dims, rows, presence, advisors, [])
    before = reference_period(s, p, dims, rows, presence, advisors)
    assert sum(len(g) for g in fast.breakdowns.values()) > 400
    assert fast == before
    assert fast.model_dump_json() == before.model_dump_json()  # floats stay floats (1.0, not 1)


def test_the_empty_period_too() -> None:
    s = service()
    rows = [GroupRow("", None, None, dict.fromkeys(SUM_NAMES, 0))]
    p = Period(date(2026, 3, 1), date(2026, 3, 1))
    fast = s._period_out(p, ("day", *BREAKDOWNS), rows, [], {}, [])
    before = reference_period(s, p, ("day", *BREAKDOWNS), rows, [], {})
    assert fast.model_dump_json() == before.model_dump_json()
    assert fast.figures["answer_rate"].shown == definitions.DASH


@pytest.mark.parametrize("seed", range(5))
def test_the_figures_are_the_dictionary_s(seed: int) -> None:
    rng = random.Random(seed)
    t = Totals.of(random_sums(rng, seed % 2 == 0))
    presence = None if seed == 0 else PresenceTotals(rng.uniform(0, 9), rng.uniform(0, 99), rng.uniform(0, 9))
    assert kpis.figures(t, presence) == reference_figures(t, presence)
    assert [Figure(*p) for p in kpis.parts(t, presence)] == [
        getattr(reference_figures(t, presence), n) for n in kpis.FIGURE_NAMES
    ]


@pytest.mark.parametrize(
    "part",
    [("count", 0, None), ("count", 3, None), ("rate", 0, 0), ("rate", 17, 20), ("mean", 0.0, 0), ("mean", 125.5, 3)],
)
@pytest.mark.parametrize("target", [None, 0.85])
def test_one_figure_s_output_is_the_validated_model(part: kpis.Part, target: float | None) -> None:
    for name in kpis.FIGURE_NAMES:
        if (part[0] == "count") != (definitions.DEFINITIONS[name].unit == "count"):
            continue
        fast = _part_out(name, part, target)
        before = reference_figure_out(name, Figure(*part), target)
        assert fast == before
        assert fast.model_dump_json() == before.model_dump_json()


def test_the_collector_is_paused_while_an_output_is_built_and_runs_again_after() -> None:
    assert gc.isenabled()
    with _collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), _collector_paused():
        raise ValueError
    assert gc.isenabled()
    gc.disable()
    try:
        with _collector_paused():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()
