"""Walk-forward validation on value curves built so that the answer is known."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from pytaaa.engine.backtest import START_VALUE
from pytaaa.models.walkforward import (
    fold_windows,
    walk_forward,
    window_cagr,
    window_sharpe,
)


def weekdays(start: dt.date, years: float) -> np.ndarray:
    days = np.arange(np.datetime64(start), np.datetime64(start) + int(years * 365.25))
    return days[np.is_busday(days)]


def curves(dates: np.ndarray, split: int, seed: int = 1) -> np.ndarray:
    """Three trials: 0 = the config (modest, steady), 1 = fits the first part and
    fails after day ``split``, 2 = steady and a little better than 0."""
    rng = np.random.default_rng(seed)
    t = len(dates)
    noise = rng.normal(0.0, 0.008, size=(3, t))
    drift = np.empty((3, t))
    drift[0] = 0.0002
    drift[1, :split] = 0.0015
    drift[1, split:] = -0.0015
    drift[2] = 0.0004
    r = drift + noise
    r[:, 0] = 0.0
    return START_VALUE * np.cumprod(1.0 + r, axis=1)


def test_fold_windows_roll_by_the_out_of_sample_length_and_never_overlap() -> None:
    dates = weekdays(dt.date(2000, 1, 3), 14.5)
    folds = fold_windows(dates, 10, 1)
    assert len(folds) == 5  # 10y in-sample, then 4 whole years and a half
    assert dates[folds[0][1]] == np.datetime64("2010-01-04")  # first weekday 10 years on
    for (i0, o0, o1), nxt in zip(folds, folds[1:] + [None]):
        assert i0 < o0 < o1 <= len(dates)
        if nxt is not None:
            assert nxt[1] == o1  # the next out-of-sample window starts where this one ends
    assert folds[-1][2] == len(dates)
    assert fold_windows(dates[:200], 10, 1) == []
    with pytest.raises(ValueError):
        fold_windows(dates, 0, 1)


def test_a_trial_that_fits_the_first_half_is_best_in_sample_and_poor_out_of_sample() -> None:
    dates = weekdays(dt.date(2000, 1, 3), 20.0)
    split = int(np.searchsorted(dates, np.datetime64("2012-01-02")))
    values = curves(dates, split)
    first_half = window_sharpe(values, 0, split)
    assert int(np.argmax(first_half)) == 1  # in-sample (first part) the answer is trial 1
    wf = walk_forward(values, dates, in_years=10, out_years=1)
    chosen = {f.number: f.chosen for f in wf.folds}
    # folds whose in-sample window is mostly before the split choose trial 1 ...
    early = [f for f in wf.folds if f.oos_start <= split]
    late = [f for f in wf.folds if f.oos_start > split and f.chosen == 1]
    assert early and all(f.chosen == 1 for f in early)
    # ... and trial 1 then loses money out of sample
    assert late and all(f.oos_cagr < 0 for f in late)
    assert all(f.oos_sharpe < f.is_sharpe for f in late)
    # the stitched out-of-sample curve trails the steady trial 2 over the same span
    s = wf.folds[0].oos_start - 1
    steady = values[2, -1] / values[2, s] * START_VALUE
    assert wf.curve[-1] < steady
    assert np.isnan(wf.curve[:s]).all() and wf.curve[s] == START_VALUE
    assert wf.chosen_count.sum() == len(wf.folds) and chosen[1] == 1
    # whole-history best (hindsight) is trial 2, the steady one
    assert wf.best == 2


def test_stitched_curve_chains_the_chosen_trials_returns_without_look_ahead() -> None:
    dates = weekdays(dt.date(2000, 1, 3), 16.0)
    values = curves(dates, len(dates) // 2, seed=5)
    wf = walk_forward(values, dates, 10, 1)
    level = START_VALUE
    for f in wf.folds:
        v = values[f.chosen]
        np.testing.assert_allclose(wf.curve[f.oos_start:f.oos_end],
                                   level * v[f.oos_start:f.oos_end] / v[f.oos_start - 1])
        level = wf.curve[f.oos_end - 1]
        # changing the future after the fold's in-sample window does not change the choice
        future = values.copy()
        future[:, f.oos_start:] = future[::-1, f.oos_start:]
        redo = walk_forward(future, dates, 10, 1)
        assert redo.folds[f.number - 1].chosen == f.chosen


def test_window_statistics() -> None:
    flat = np.full((1, 300), START_VALUE)
    assert window_sharpe(flat, 0, 300)[0] == 0.0
    grow = START_VALUE * 1.001 ** np.arange(253)[None, :]
    assert window_cagr(grow, 0, 253)[0] == pytest.approx(1.001 ** 252 - 1)
    dead = np.concatenate([np.full(10, START_VALUE), np.zeros(10)])[None, :]
    assert window_cagr(dead, 0, 20)[0] == -1.0
    with pytest.raises(ValueError):
        walk_forward(flat, np.arange(3), 10, 1)
