"""The lookback search: settings, the precomputed fast path against the switching
rule itself, scoring over one and two focus periods (the original's single-period
mode scored every iteration 0), determinism, and outputs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from pytaaa.models.lookback import (
    FocusPeriod,
    LookbackScorer,
    SearchSettings,
    read_search_settings,
    run_lookback_search,
)
from pytaaa.models.lookback_out import csv_text
from pytaaa.models.settings import (
    METRICS,
    ModelEntry,
    SwitchingConfigError,
    SwitchingSettings,
)
from pytaaa.models.switching import ModelSeries


def make_series(n_models: int = 4, years: float = 12.0, seed: int = 0) -> ModelSeries:
    rng = np.random.default_rng(seed)
    days = np.arange(np.datetime64("2005-01-03"), np.datetime64("2005-01-03") + int(years * 365))
    days = days[np.is_busday(days)]
    names = ("cash",) + tuple(f"m{i}" for i in range(1, n_models + 1))
    vals = np.full((len(names), len(days)), 10_000.0)
    for i in range(1, len(names)):
        regime = np.sin(np.arange(len(days)) / (80.0 + 40 * i)) * 0.001  # trends to follow
        vals[i] = 10_000.0 * np.cumprod(1 + regime + rng.normal(0.0002, 0.011, len(days)))
    vals[-1, :300] = np.nan  # the last model starts later
    return ModelSeries(names, days, vals)


def make_settings(weights: dict[str, float] | None = None) -> SwitchingSettings:
    return SwitchingSettings(
        Path("switch.json"), Path("."),
        tuple(ModelEntry(n, "cash" if n == "cash" else "file") for n in
              ("cash", "m1", "m2", "m3", "m4")),
        "backtested", "monthly", (50, 150, 250), weights or {m: 1.0 for m in METRICS},
        {m: 0.0 for m in METRICS}, {m: 1.0 for m in METRICS})


FOCUS1 = FocusPeriod("focus1", dt.date(2009, 1, 1), dt.date(2011, 12, 31), 1.0)
FOCUS2 = FocusPeriod("focus2", dt.date(2013, 1, 1), dt.date(2015, 6, 30), 2.0)


@pytest.fixture(scope="module")
def series() -> ModelSeries:
    return make_series()


def test_search_settings_defaults_and_one_line_per_problem() -> None:
    s = read_search_settings({}, "c.json")
    assert (s.min_lookback, s.max_lookback, s.iterations) == (20, 300, 50_000)
    assert [p.label for p in s.periods] == ["full"] and not s.blended
    s = read_search_settings({"monte_carlo": {"min_lookback": 30, "max_lookback": 90,
                                              "max_iterations": 700},
                              "metric_blending": {"enabled": True, "full_period_weight": 0.5,
                                                  "focus_periods": [{"start": "2009-01-01",
                                                                     "end": "2011-12-31"}]}},
                             "c.json")
    assert (s.min_lookback, s.max_lookback, s.iterations) == (30, 90, 700)
    assert [(p.label, p.weight) for p in s.periods] == [("full", 0.5), ("focus1", 1.0)]
    with pytest.raises(SwitchingConfigError) as err:
        read_search_settings({"monte_carlo": {"min_lookback": 50, "max_lookback": 51},
                              "metric_blending": {"enabled": True}}, "c.json")
    assert len(err.value.problems) == 2
    assert "max_lookback (51) must exceed min_lookback (50)" in str(err.value)
    assert "enabled blending needs one or two periods" in str(err.value)
    with pytest.raises(SwitchingConfigError, match="end 2009-01-01 is not after start"):
        read_search_settings({"metric_blending": {"focus_periods": [
            {"start": "2010-01-01", "end": "2009-01-01"}]}}, "c.json")


@pytest.mark.parametrize("weights", [None, {"annualized_return": 0.5, "sharpe_ratio": 1.5,
                                            "sortino_ratio": 2.0, "max_drawdown": 0.25,
                                            "avg_drawdown": 1.0}])
def test_fast_path_equals_the_switching_rule(series: ModelSeries, weights) -> None:
    scorer = LookbackScorer(series, make_settings(weights), SearchSettings(20, 120))
    rng = np.random.default_rng(3)
    for _ in range(40):
        triple = tuple(sorted(int(x) for x in rng.choice(101, 3, replace=False) + 20))
        assert np.array_equal(scorer.fast_values(triple), scorer.selection(triple).values)
        assert scorer.evaluate(triple) == scorer.evaluate(triple, exact=True)


def test_one_focus_period_scores_vary_and_blend_with_the_full_history(series) -> None:
    search = SearchSettings(20, 120, periods=(FocusPeriod("full", None, None, 1.0), FOCUS1))
    scorer = LookbackScorer(series, make_settings(), search)
    evs = [scorer.evaluate(t) for t in ((20, 60, 100), (30, 70, 110), (25, 45, 120), (50, 80, 90))]
    focus = [e.normalized["focus1"] for e in evs]
    assert len(set(focus)) == 4 and all(f != 0.0 for f in focus)  # the original: always 0
    for e in evs:
        assert e.score == pytest.approx((e.normalized["full"] + e.normalized["focus1"]) / 2)
    out = run_lookback_search(scorer, (50, 80, 110), seed=1, iterations=300)
    assert len(out.rows) >= 2 and out.rows[0].iteration == 0
    scores = [r.evaluation.score for r in out.rows]
    assert scores == sorted(scores) and len(set(scores)) == len(scores)


def test_two_focus_periods_and_a_period_outside_the_history(series) -> None:
    periods = (FocusPeriod("full", None, None, 0.0), FOCUS1, FOCUS2)
    scorer = LookbackScorer(series, make_settings(), SearchSettings(20, 120, periods=periods))
    e = scorer.evaluate((20, 60, 100))
    assert e.score == pytest.approx((e.normalized["focus1"] + 2 * e.normalized["focus2"]) / 3)
    late = FocusPeriod("focus1", dt.date(2030, 1, 1), dt.date(2031, 1, 1), 1.0)
    with pytest.raises(ValueError, match="focus1 .* has 0 trading days"):
        LookbackScorer(series, make_settings(), SearchSettings(20, 120, periods=(periods[0], late)))


def test_search_is_deterministic_for_a_seed_and_explores_then_refines(series) -> None:
    scorer = LookbackScorer(series, make_settings(), SearchSettings(20, 120))
    a = run_lookback_search(scorer, (50, 150, 250), seed=4, iterations=400)
    b = run_lookback_search(scorer, (50, 150, 250), seed=4, iterations=400)
    c = run_lookback_search(scorer, (50, 150, 250), seed=5, iterations=400)
    assert csv_text(a, scorer) == csv_text(b, scorer) != csv_text(c, scorer)
    assert a.done == 400 and a.scored < 400  # refinement revisits triples, scored once
    header, first, *_ = csv_text(a, scorer).splitlines()
    assert header.split(",")[:4] == ["row", "iteration", "lookbacks", "annualized_return_weight"]
    assert first.startswith("0,0,50 150 250,")  # row 0: the configured lookbacks
    best = a.best.evaluation.lookbacks
    assert len(best) == 3 and all(20 <= x <= 120 for x in best)
    stopped = run_lookback_search(scorer, (50, 150, 250), seed=4, iterations=5000,
                                  should_stop=lambda: True)
    assert stopped.stopped and stopped.done == 500
