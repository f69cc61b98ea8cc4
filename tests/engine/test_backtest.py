"""Backtest: hand-checked values, commissions, horizons on short histories, no look-ahead,
determinism of the whole analysis."""

from __future__ import annotations

import numpy as np
import pytest

from pytaaa.config import Valuation
from pytaaa.engine.analysis import analyze_quotes
from pytaaa.engine.backtest import buy_and_hold, horizon_stats, new_highs_lows, simulate
from pytaaa.engine.cleaning import clean
from pytaaa.model import Quotes

V = dict(symbols_file="s.txt", performance_store="p", webpage="w", stockList="Naz100",
         numberStocksTraded=3, monthsToHold=1, LongPeriod=30, stddevThreshold=5.0,
         MA1=60, MA2=5, MA3=12, sma2factor=1.0, lowPct=20, hiPct=80,
         narrowDays_min=3., narrowDays_max=8., mediumDays_min=8., mediumDays_max=20.,
         wideDays_min=20., wideDays_max=45.)


def test_simulate_hand_checked():
    close = np.array([[10, 11, 12, 6.0], [1, 1, 1, 1.0]])
    weights = np.array([[1, 1, 0, 0.0], [0, 0, 1, 1.0]])
    reb = np.array([False, True, True, False])
    vals, n_trades, paid = simulate(close, weights, reb, 1, trade_cost=10.0, n_traded=1)
    # day 0 cash 10000; day 1 buy at 11 after paying 10 -> 9990; day 2 at 12 -> 9990*12/11,
    # then sell (fee 10); day 3 cash unchanged
    v2 = 9990 * 12 / 11 - 10
    np.testing.assert_allclose(vals, [10000, 9990, v2, v2])
    assert n_trades == 2 and paid == 20.0


def test_decision_earns_from_next_day_only():
    close = np.array([[10, 20, 40.0], [1, 1, 1.0]])
    weights = np.array([[1, 1, 1.0], [0, 0, 0.0]])
    vals, _, _ = simulate(close, weights, np.array([False, True, False]), 1, 0.0, 1)
    # bought at day-1 close (20): no gain on day 1, doubles on day 2
    np.testing.assert_allclose(vals, [10000, 10000, 20000])


def test_commission_once_when_buying_the_index():
    close = np.ones((8, 2))
    w = np.zeros((8, 2))
    w[:7, 1] = 1 / 7
    w[7, 0] = 1
    _, _, paid = simulate(close, w, np.array([False, True]), 7, 5.0, 3)
    assert paid == 5.0  # 7 changed positions > 2K=6 -> once


def test_buy_and_hold_late_listing_holds_cash():
    d = np.array(["2020-01-01", "2020-01-02", "2020-01-03"], dtype="datetime64[D]")
    q = Quotes(dates=d, symbols=("A", "B"), close=np.array([[1, 2, 2.0], [np.nan, 5, 10.0]]))
    bh = buy_and_hold(clean(q, 5, 5.0))
    np.testing.assert_allclose(bh, [10000, 5000 * 2 + 5000, 5000 * 2 + 5000 * 2])


def test_horizon_stats_short_history_never_crashes():
    d = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-11"))
    v = np.linspace(100, 110, 10)
    st = horizon_stats(v, d)
    assert set(st) == {"whole"}
    assert st["whole"]["cagr"] > 0 and st["whole"]["max_drawdown"] == 0
    assert horizon_stats(v[:1], d[:1]) == {}
    d3 = np.arange(np.datetime64("2020-01-01"), np.datetime64("2024-02-01"))
    assert set(horizon_stats(np.linspace(1, 2, len(d3)), d3)) == {"whole", "3y", "2y", "1y"}


def universe(n=12, t=900, seed=5):
    rng = np.random.default_rng(seed)
    close = 20 * np.exp(np.cumsum(rng.normal(0.0004, 0.018, (n, t)), axis=1))
    close[2, :300] = np.nan
    close[3, 700:] = np.nan
    d = np.arange(np.datetime64("2015-01-01"), np.datetime64("2015-01-01") + 2 * t)
    d = d[np.is_busday(d)][:t]
    return Quotes(dates=d, symbols=tuple(f"T{i:02d}" for i in range(n)), close=close)


@pytest.mark.parametrize("method", ["SMAs", "HMAs", "minmaxChannels", "percentileChannels"])
def test_no_look_ahead(method):
    """Perturbing prices after day t changes no signal, weight or value up to day t."""
    q = universe()
    v = Valuation.model_validate(dict(V, uptrendSignalMethod=method))
    a = analyze_quotes(q, v)
    t = 600
    close2 = q.close.copy()
    rng = np.random.default_rng(9)
    close2[:, t + 1:] *= np.exp(rng.normal(0, 0.2, close2[:, t + 1:].shape))
    b = analyze_quotes(Quotes(q.dates, q.symbols, close2), v)
    s = slice(0, t + 1)
    np.testing.assert_array_equal(a.prices.despiked[:, s], b.prices.despiked[:, s])
    np.testing.assert_array_equal(a.signals.daily[:, s], b.signals.daily[:, s])
    np.testing.assert_array_equal(a.signals.held[:, s], b.signals.held[:, s])
    np.testing.assert_array_equal(a.score[:, s], b.score[:, s])
    np.testing.assert_array_equal(a.weights[:, s], b.weights[:, s])
    np.testing.assert_array_equal(a.backtest.strategy[s], b.backtest.strategy[s])
    np.testing.assert_array_equal(a.backtest.buy_hold[s], b.backtest.buy_hold[s])
    np.testing.assert_array_equal(a.new_highs[s], b.new_highs[s])
    assert not np.array_equal(a.backtest.strategy, b.backtest.strategy)


def test_analysis_deterministic_and_sane():
    q = universe()
    v = Valuation.model_validate(dict(V, uptrendSignalMethod="HMAs"))
    a, b = analyze_quotes(q, v), analyze_quotes(q, v)
    np.testing.assert_array_equal(a.backtest.strategy, b.backtest.strategy)
    assert a.picks == b.picks
    assert a.backtest.strategy[0] == 10000 and np.all(a.backtest.strategy > 0)
    assert 1 <= len(a.picks) <= 3
    assert sum(p.weight for p in a.picks) == pytest.approx(1.0)
    assert a.active_count[-1] == 11  # T03 delisted
    assert np.all(a.uptrend_count <= a.active_count + 1e-9)


def test_new_highs_lows_placeholder_and_counts():
    q = universe(4, 800)
    p = clean(q, 30, 5.0)
    highs, lows = new_highs_lows(p)
    assert np.all(lows[:500] == -100000.0)
    assert np.all(lows[500:] >= 0) and highs.max() > 0
    assert np.all(highs[:72] == 0)


def test_commissions_never_make_the_value_negative():
    close = np.array([[10.0] * 4, [10.0] * 4, [1.0] * 4])
    w = np.array([[1, 0, 1, 0.0], [0, 1, 0, 1.0], [0, 0, 0, 0.0]])
    vals, n_trades, paid = simulate(close, w, np.ones(4, dtype=bool), 2, trade_cost=6000.0,
                                    n_traded=1)
    # first trade pays 6000 (value 4000 left), then the fee exceeds the value: no more trades
    np.testing.assert_allclose(vals, [4000, 4000, 4000, 4000])
    assert n_trades == 1 and paid == 6000.0
