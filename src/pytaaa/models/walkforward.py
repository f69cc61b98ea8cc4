"""Walk-forward validation of a parameter search (``models.md`` §5).

Every trial of a search is one full-history backtest, so its value on day t
uses data up to day t only.  Walk-forward validation asks what choosing the
"best" trial would have earned *after* the choice: for each fold, pick the
trial with the highest Sharpe ratio over an in-sample window (e.g. 10 years),
then follow that trial over the next out-of-sample window (e.g. 1 year); roll
the windows forward by the out-of-sample length over the whole history and
chain the out-of-sample returns into one curve.  Next to it, the trial that
is best over the whole history (the usual, in-sample answer) shows how much
of that "best" was hindsight.

Everything here is numpy on the trials' value curves: it reads and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from pytaaa.engine.backtest import START_VALUE

__all__ = [
    "Fold",
    "WalkForward",
    "fold_windows",
    "window_sharpe",
    "window_cagr",
    "walk_forward",
]

TRADING_DAYS = 252


def _add_years(day: dt.date, years: float) -> dt.date:
    whole = int(years)
    months = int(round((years - whole) * 12))
    y, m = day.year + whole + (day.month - 1 + months) // 12, (day.month - 1 + months) % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(y, m, d)
        except ValueError:
            continue
    raise ValueError(f"cannot add {years} years to {day}")


def fold_windows(dates: np.ndarray, in_years: float, out_years: float) -> list[tuple[int, int, int]]:
    """Day indices ``(is_start, oos_start, oos_end)`` of each fold.

    The in-sample window is ``[is_start, oos_start)`` (``in_years`` long), the
    out-of-sample window ``[oos_start, oos_end)`` (``out_years``; the last one
    may be shorter and ends with the history).  The first in-sample window
    starts on the first day; each fold starts ``out_years`` after the last.
    Returns an empty list when the history is shorter than one in-sample
    window plus a month.  Raises ``ValueError`` for non-positive lengths.
    """
    if in_years <= 0 or out_years <= 0:
        raise ValueError(f"window lengths must be positive, got {in_years} and {out_years}")
    days = [d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)[:10]) for d in dates]
    ordinals = np.array([d.toordinal() for d in days])
    t = len(days)
    out: list[tuple[int, int, int]] = []
    start = days[0] if days else None
    while start is not None:
        i0 = int(np.searchsorted(ordinals, start.toordinal()))
        o0 = int(np.searchsorted(ordinals, _add_years(start, in_years).toordinal()))
        o1 = int(np.searchsorted(ordinals, _add_years(start, in_years + out_years).toordinal()))
        if o0 >= t - 20:  # less than about a month left to evaluate
            break
        out.append((i0, o0, min(o1, t)))
        start = _add_years(start, out_years)
    return out


def _daily_returns(values: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Daily simple returns of ``values[:, lo..hi-1]`` (the first day is the base)."""
    v = np.asarray(values, dtype=np.float64)[:, lo:hi]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = v[:, 1:] / v[:, :-1] - 1.0
    return np.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0)


def window_sharpe(values: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Annualized Sharpe ratio of each row of ``values`` over days ``lo..hi-1``:
    mean / sample std of the daily returns x sqrt(252), as the engine's
    statistics (:func:`pytaaa.engine.backtest.series_stats`); 0 where the std
    is (nearly) 0."""
    r = _daily_returns(np.atleast_2d(values), lo, hi)
    if r.shape[1] < 2:
        return np.zeros(r.shape[0])
    sd = r.std(axis=1, ddof=1)
    ok = sd > 1e-12
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(ok, r.mean(axis=1) / np.where(ok, sd, 1.0) * np.sqrt(TRADING_DAYS), 0.0)
    return s


def window_cagr(values: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Annualized return of each row of ``values`` from day ``lo`` to day ``hi-1``
    (252 trading days a year); -1 for a row that reaches 0."""
    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    n = max(1, hi - 1 - lo)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = v[:, hi - 1] / v[:, lo]
        out = np.where(ratio > 0, np.power(np.where(ratio > 0, ratio, 1.0), TRADING_DAYS / n) - 1.0,
                       -1.0)
    return np.nan_to_num(out, nan=-1.0)


@dataclass(frozen=True)
class Fold:
    """One fold: day indices of its windows, the trial chosen in-sample, and
    figures of the chosen trial, the configured trial (0) and the whole-history
    best trial over the out-of-sample window."""

    number: int
    is_start: int
    oos_start: int
    oos_end: int
    chosen: int
    is_sharpe: float
    oos_sharpe: float
    oos_cagr: float
    config_oos_cagr: float
    best_oos_cagr: float


@dataclass(frozen=True)
class WalkForward:
    """The result of :func:`walk_forward`.

    ``curve`` ``(T,)``: the stitched out-of-sample curve, NaN before the first
    out-of-sample day, from 10,000 there; ``best_curve`` and ``config_curve``
    the whole-history best trial and trial 0 rebased to 10,000 on the same
    day.  ``trial_is_sharpe`` / ``trial_oos_sharpe`` ``(n,)`` the mean
    in-sample and out-of-sample Sharpe of every trial over the folds;
    ``chosen_count`` how often each trial was chosen.  ``best`` is the trial
    with the highest whole-history Sharpe.
    """

    folds: list[Fold]
    best: int
    curve: np.ndarray
    best_curve: np.ndarray
    config_curve: np.ndarray
    trial_is_sharpe: np.ndarray
    trial_oos_sharpe: np.ndarray
    chosen_count: np.ndarray

    @property
    def start(self) -> int | None:
        """First out-of-sample day, or None without folds."""
        return self.folds[0].oos_start if self.folds else None


def _rebased(values: np.ndarray, start: int) -> np.ndarray:
    out = np.full(values.shape[0], np.nan)
    base = values[start]
    if base > 0:
        out[start:] = values[start:] / base * START_VALUE
    return out


def walk_forward(values: np.ndarray, dates: np.ndarray, in_years: float = 10.0,
                 out_years: float = 1.0, best: int | None = None) -> WalkForward:
    """Walk-forward validation of trials with value curves ``values`` ``(n, T)``.

    Per fold (:func:`fold_windows`), the trial with the highest in-sample
    Sharpe is chosen (ties: the lowest trial number) and followed over the
    out-of-sample window; no window looks past its own end.  ``best`` is the
    whole-history best trial (default: the highest whole-history Sharpe).
    Raises ``ValueError`` for a shape mismatch.
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    n, t = values.shape
    if t != len(dates):
        raise ValueError(f"{t} values per trial but {len(dates)} dates")
    if best is None:
        best = int(np.argmax(window_sharpe(values, 0, t)))
    windows = fold_windows(dates, in_years, out_years)
    curve = np.full(t, np.nan)
    is_sum, oos_sum, count = np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int64)
    folds: list[Fold] = []
    level = START_VALUE
    for k, (i0, o0, o1) in enumerate(windows):
        is_s = window_sharpe(values, i0, o0)
        # the out-of-sample window's returns start from the last in-sample close
        oos_s = window_sharpe(values, o0 - 1, o1)
        oos_c = window_cagr(values, o0 - 1, o1)
        chosen = int(np.argmax(is_s))
        is_sum += is_s
        oos_sum += oos_s
        count[chosen] += 1
        v = values[chosen]
        if k == 0:
            curve[o0 - 1] = level
        with np.errstate(invalid="ignore", divide="ignore"):
            growth = v[o0:o1] / v[o0 - 1] if v[o0 - 1] > 0 else np.zeros(o1 - o0)
        curve[o0:o1] = level * np.nan_to_num(growth, nan=0.0)
        level = float(curve[o1 - 1])
        folds.append(Fold(k + 1, i0, o0, o1, chosen, float(is_s[chosen]), float(oos_s[chosen]),
                          float(oos_c[chosen]), float(oos_c[0]), float(oos_c[best])))
    m = max(1, len(folds))
    start = windows[0][1] - 1 if windows else t - 1
    return WalkForward(
        folds=folds, best=best, curve=curve,
        best_curve=_rebased(values[best], start) if windows else np.full(t, np.nan),
        config_curve=_rebased(values[0], start) if windows else np.full(t, np.nan),
        trial_is_sharpe=is_sum / m, trial_oos_sharpe=oos_sum / m, chosen_count=count,
    )
