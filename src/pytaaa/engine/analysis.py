"""The computation of one daily run: store -> cleaning -> signals -> ranking -> backtest.

:func:`analyze` is the one computation path: the daily run, the chart job,
the Monte Carlo trial 0 and the tests all call it (or the stage functions it
calls).  It reads the quote store (unless quotes are given) and writes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from pytaaa.config import Config
from pytaaa.engine.backtest import new_highs_lows, run_backtest, uptrend_counts
from pytaaa.engine.cleaning import clean
from pytaaa.engine.ranking import ranks, rolling_sharpe, target_weights, todays_picks
from pytaaa.engine.signals import compute_signals, rebalance_days
from pytaaa.model import Analysis, Prices, Quotes

__all__ = ["analyze", "analyze_quotes"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Clock:
    """Times named stages and logs one line per stage."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def __call__(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        t0 = time.perf_counter()
        out = fn(*args)
        dt = time.perf_counter() - t0
        self.timings[name] = self.timings.get(name, 0.0) + dt
        log.info("%-10s %6.3f s", name, dt)
        return out


def analyze_quotes(quotes: Quotes, v: Any, timings: dict[str, float] | None = None) -> Analysis:
    """Run cleaning, signals, ranking and backtest on ``quotes`` with parameters ``v``.

    ``v`` is a :class:`~pytaaa.config.Valuation`.  Stage times are added to
    ``timings`` (and to the returned ``Analysis.timings``).
    """
    clock = _Clock()
    if timings:
        clock.timings.update(timings)
    return _analyze_prices(_clean(clock, quotes, v), v, clock)


def _clean(clock: _Clock, quotes: Quotes, v: Any) -> Prices:
    return clock("clean", clean, quotes, v.LongPeriod, v.stddevThreshold,
                 getattr(v, "stale_quote_days", 5))


def _analyze_prices(prices: Prices, v: Any, clock: _Clock) -> Analysis:
    """Signals, ranking, backtest and breadth of cleaned ``prices`` (timed by ``clock``)."""
    signals = clock("signals", compute_signals, prices, v)

    def _rank() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        score = rolling_sharpe(prices, v.LongPeriod)
        reb = rebalance_days(prices.dates, v.monthsToHold)
        weights = target_weights(score, signals.held, prices, v)
        return score, weights, reb

    score, weights, reb = clock("ranking", _rank)
    backtest = clock("backtest", run_backtest, prices, weights, reb, v)

    def _breadth() -> tuple[np.ndarray, ...]:
        highs, lows = new_highs_lows(prices)
        up, active = uptrend_counts(prices, signals.held)
        return highs, lows, up, active

    highs, lows, up, active = clock("breadth", _breadth)
    cash = prices.symbols.index("CASH")
    act = prices.active()
    last = len(prices.dates) - 1
    month = prices.dates.astype("datetime64[M]")
    month_start = int(np.searchsorted(month, month[last]))
    rank_today = ranks(score, act, last, cash)
    rank_month = ranks(score, act, month_start, cash)
    picks = todays_picks(weights, score, prices, rank_today)
    return Analysis(
        prices=prices,
        signals=signals,
        score=score,
        weights=weights,
        rebalance=reb,
        backtest=backtest,
        new_highs=highs,
        new_lows=lows,
        uptrend_count=up,
        active_count=active,
        picks=picks,
        rank_today=rank_today,
        rank_month_start=rank_month,
        timings=clock.timings,
    )


def analyze(config: Config, quotes: Quotes | None = None) -> Analysis:
    """The daily run's computation for ``config``.

    Reads the quote store of ``config.symbols_file`` unless ``quotes`` is given
    (raises :class:`pytaaa.data.store.StoreError` for a missing or bad store).
    """
    if quotes is not None:
        return analyze_quotes(quotes, config.valuation)
    from pytaaa.data.store import read_store

    clock = _Clock()
    t0 = time.perf_counter()
    raw = read_store(config.symbols_file)
    clock.timings["store"] = time.perf_counter() - t0
    log.info("%-10s %6.3f s (%d symbols x %d days)", "store", clock.timings["store"],
             len(raw.symbols), len(raw.dates))
    prices = _clean(clock, raw, config.valuation)
    del raw  # the raw store is not used after cleaning: one (N, T) array less from here on
    return _analyze_prices(prices, config.valuation, clock)
