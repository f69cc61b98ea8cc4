"""The strategy parameter search: draws, one computation path with the daily
run, determinism whatever the number of workers, outputs and ``apply``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from pytaaa.config import load_config
from pytaaa.engine.analysis import analyze_quotes
from pytaaa.jobs.executors import LocalPool
from pytaaa.model import Quotes
from pytaaa.models.optimize import draw_search, load_prices, run_search, search_trial
from pytaaa.models.optimize_out import (
    ApplyError,
    apply_row,
    folds_csv_text,
    output_paths,
    trials_csv_text,
    write_outputs,
)
from pytaaa.montecarlo.pool import WorkerPayload
from pytaaa.montecarlo.trials import draw_trials, prepare

DAY = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def setup(synth_workspace: Path, synth_quotes_small: Quotes):
    cfg = load_config(synth_workspace)
    daily = analyze_quotes(synth_quotes_small, cfg.valuation)
    return cfg, daily, prepare(daily.prices, cfg.valuation)


def test_search_draws_are_the_monte_carlo_draws_widened(setup) -> None:
    cfg, _, _ = setup
    v = cfg.valuation
    assert draw_trials(v, 50, 3, spread=1.0) == draw_trials(v, 50, 3)
    wide = draw_search(v, 400, 3)
    assert wide[0].updates == draw_trials(v, 1)[0].updates  # trial 0 = the config
    ratio = np.array([p.updates["LongPeriod"] / v.LongPeriod for p in wide[1:]])
    assert ratio.min() >= 0.59 and ratio.max() <= 1.41
    assert (ratio < 0.78).any() and (ratio > 1.22).any()  # beyond the Monte Carlo's 0.8..1.2
    k = {p.updates["numberStocksTraded"] - v.numberStocksTraded for p in wide[1:]}
    assert k == {-2, -1, 0, 1, 2}
    with pytest.raises(ValueError):
        draw_search(v, 3, 0, spread=0.0)


def test_trial0_is_the_daily_runs_backtest(setup) -> None:
    cfg, daily, data = setup
    payload = WorkerPayload.build(data, tuple(draw_search(cfg.valuation, 2, 0)), frozenset())
    t0 = search_trial(payload, 0)
    assert np.array_equal(t0.values, daily.backtest.strategy)
    assert t0.stats["whole"] == daily.backtest.stats["strategy"]["whole"]
    assert not np.array_equal(search_trial(payload, 1).values, t0.values)


def test_same_seed_gives_byte_identical_csvs_with_one_and_two_workers(setup) -> None:
    cfg, daily, data = setup
    params = draw_search(cfg.valuation, 9, 11)
    texts = []
    for workers in (1, 2):
        res = run_search(data, params, workers=workers, in_years=3, out_years=1)
        assert [r.index for r in res.results] == list(range(9)) and not res.errors
        texts.append((trials_csv_text("HMAs", res), folds_csv_text(res, daily.prices.dates)))
    assert texts[0] == texts[1]
    header, *rows = texts[0][0].splitlines()
    assert header.startswith("trial,LongPeriod,numberStocksTraded,monthsToHold,MA1,MA2,MA3,")
    assert "insample_whole_sharpe" in header and "wf_outofsample_sharpe" in header
    assert len(rows) == 9 and sum(r.endswith(",1") for r in rows) == 1
    assert len(texts[0][1].splitlines()) == 1 + 5  # 8 years: 3 in-sample, then 5 folds of 1
    other = run_search(data, draw_search(cfg.valuation, 9, 12), pool=LocalPool(2),
                       in_years=3, out_years=1)
    assert trials_csv_text("HMAs", other) != texts[0][0]


def test_history_shorter_than_the_in_sample_window_leaves_the_walk_forward_empty(setup) -> None:
    cfg, daily, data = setup
    res = run_search(data, draw_search(cfg.valuation, 3, 1), workers=1, in_years=10, out_years=1)
    assert res.walk is not None and res.walk.folds == []
    rows = trials_csv_text("HMAs", res).splitlines()[1:]
    assert all(r.endswith(",,,,0") or r.endswith(",,,,1") for r in rows)
    assert folds_csv_text(res, daily.prices.dates).count("\n") == 1


def test_best_is_the_highest_whole_history_sharpe_and_failures_are_left_out(setup) -> None:
    cfg, _, data = setup
    res = run_search(data, draw_search(cfg.valuation, 6, 4), workers=2, fail=frozenset({3}),
                     in_years=3, out_years=1)
    assert [e.index for e in res.errors] == [3]
    assert [r.index for r in res.results] == [0, 1, 2, 4, 5]
    sharpe = {r.index: r.sharpe for r in res.results}
    assert res.best == max(sharpe, key=lambda i: (sharpe[i], -i))
    assert res.walk is not None and np.isnan(res.walk.trial_is_sharpe[3])
    assert all(f.chosen != 3 for f in res.walk.folds)


def test_outputs_and_apply_a_row(workspace_copy: Path) -> None:
    cfg = load_config(workspace_copy)
    prices = load_prices(cfg)
    data = prepare(prices, cfg.valuation)
    res = run_search(data, draw_search(cfg.valuation, 5, 2), workers=2, in_years=3, out_years=1)
    files = write_outputs(cfg, res, prices.dates, DAY, "test")
    paths = output_paths(cfg, DAY)
    assert files == [paths["trials"], paths["folds"], paths["json"], paths["png"]]
    assert paths["json"].name == "pytaaa_optimized_2026-11-30.json"
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best = next(p for p in res.params if p.index == res.best)
    optimized = json.loads(paths["json"].read_text())
    for k, val in best.updates.items():
        assert optimized["Valuation"][k] == val
    original = workspace_copy.read_text()
    updates, backup = apply_row(cfg, 3, now=dt.datetime(2026, 11, 30, 12, 0, 0))
    assert backup.name == "pytaaa.json.20261130-120000.bak" and backup.read_text() == original
    after = load_config(workspace_copy).valuation
    for k, val in res.params[3].updates.items():
        assert getattr(after, k) == pytest.approx(val) and type(getattr(after, k)) is type(val)
    assert updates["LongPeriod"] == res.params[3].updates["LongPeriod"]
    with pytest.raises(ApplyError, match="no row for trial 77"):
        apply_row(cfg, 77)
    paths["trials"].unlink()
    with pytest.raises(ApplyError, match="cannot read the trials"):
        apply_row(cfg, 1)
