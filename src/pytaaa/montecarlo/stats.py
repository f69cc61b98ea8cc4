"""Statistics of a Monte Carlo run (``montecarlo.md`` §2).

Per trial and for buy-and-hold, over the horizons whole, 15, 10, 5, 3, 2, 1
years, 6, 3 and 1 months (those the history reaches): CAGR, Sharpe, max
drawdown and mean drawdown (:func:`pytaaa.engine.backtest.horizon_stats`).  A
"beats buy-and-hold" score per trial.  Across trials: percentiles of the final
value and CAGR, the per-day band of portfolio values, and per day the median
and 90th percentile of the fraction of active symbols that are up-trending.
Everything here is pure numpy on arrays it is given: it reads and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytaaa.engine.backtest import horizon_stats
from pytaaa.model import HORIZONS

__all__ = [
    "MC_HORIZONS",
    "HORIZON_LABELS",
    "BEATS_WEIGHTS",
    "PERCENTILES",
    "trial_stats",
    "beats_score",
    "percentiles",
    "value_band",
    "uptrend_quantiles",
    "Summary",
    "summarize",
]

#: Horizon label -> years (None = the whole history).
MC_HORIZONS: dict[str, float | None] = {**HORIZONS, "6m": 0.5, "3m": 0.25, "1m": 1 / 12}
#: How the tables label the horizons.
HORIZON_LABELS: dict[str, str] = {
    "whole": "Life", "15y": "15 Yr", "10y": "10 Yr", "5y": "5 Yr", "3y": "3 Yr", "2y": "2 Yr",
    "1y": "1 Yr", "6m": "6 Mo", "3m": "3 Mo", "1m": "1 Mo",
}
#: Weights of the horizons in the beats-buy-and-hold score.
BEATS_WEIGHTS: dict[str, float] = {
    "15y": 1.0, "10y": 1.0, "5y": 1.0, "3y": 1.5, "2y": 2.0, "1y": 2.5,
}
PERCENTILES = (10, 50, 90)


def trial_stats(
    values: np.ndarray, dates: np.ndarray, horizons: dict[str, float | None] = MC_HORIZONS
) -> dict[str, dict[str, float]]:
    """CAGR, Sharpe, max and mean drawdown of ``values`` over each horizon the
    history reaches (label -> stats); fewer horizons on a short history.

    A trial whose commissions ate the whole portfolio has values of 0; its
    statistics are then computed without numpy's division warnings."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return horizon_stats(values, dates, horizons)


def beats_score(
    trial: dict[str, dict[str, float]], buy_hold: dict[str, dict[str, float]]
) -> float:
    """Weighted share (0..1) of the horizons 15y..1y in which the trial has both
    the higher CAGR and the shallower mean drawdown than buy-and-hold.

    Only horizons present in both are counted; NaN when there is none.
    """
    total = 0.0
    won = 0.0
    for label, weight in BEATS_WEIGHTS.items():
        a, b = trial.get(label), buy_hold.get(label)
        if a is None or b is None:
            continue
        total += weight
        if a["cagr"] > b["cagr"] and a["mean_drawdown"] > b["mean_drawdown"]:
            won += weight
    return won / total if total > 0 else float("nan")


def percentiles(
    values: Sequence[float], qs: Sequence[float] = PERCENTILES
) -> dict[int, float]:
    """Percentiles ``qs`` (linear interpolation) of ``values``; NaN when empty."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return {int(q): float("nan") for q in qs}
    return {int(q): float(np.percentile(arr, q)) for q in qs}


def value_band(
    values: np.ndarray, low: float = 10, high: float = 90
) -> tuple[np.ndarray, np.ndarray]:
    """Per-day ``low``-th and ``high``-th percentiles across trials of ``(n, T)`` values."""
    arr = np.atleast_2d(np.asarray(values, dtype=np.float64))
    return np.percentile(arr, low, axis=0), np.percentile(arr, high, axis=0)


def uptrend_quantiles(fractions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-day median and 90th percentile across trials of ``(n, T)`` up-trending fractions."""
    arr = np.atleast_2d(np.asarray(fractions, dtype=np.float64))
    return np.median(arr, axis=0), np.percentile(arr, 90, axis=0)


@dataclass(frozen=True)
class Summary:
    """Across-trial figures of a run.

    ``final``/``cagr``: percentile -> value of the strategy's final value and
    whole-history CAGR; ``final_pctlong``/``cagr_pctlong`` the same for the
    pctLong variant; ``beats``: trial index -> score; ``buy_hold``: buy-and-hold
    horizon statistics.
    """

    final: dict[int, float]
    cagr: dict[int, float]
    final_pctlong: dict[int, float]
    cagr_pctlong: dict[int, float]
    beats: dict[int, float]
    buy_hold: dict[str, dict[str, float]]


def summarize(results: Sequence[Any], buy_hold: dict[str, dict[str, float]]) -> Summary:
    """Across-trial percentiles and per-trial beats scores of ``results``
    (:class:`pytaaa.montecarlo.trials.TrialResult`) against ``buy_hold`` statistics."""

    def whole_cagr(r: Any, series: str) -> float:
        return float(r.stats[series].get("whole", {}).get("cagr", np.nan))

    return Summary(
        final=percentiles([float(r.strategy[-1]) for r in results]),
        cagr=percentiles([whole_cagr(r, "strategy") for r in results]),
        final_pctlong=percentiles([float(r.pctlong[-1]) for r in results]),
        cagr_pctlong=percentiles([whole_cagr(r, "pctlong") for r in results]),
        beats={r.index: beats_score(r.stats["strategy"], buy_hold) for r in results},
        buy_hold=buy_hold,
    )
