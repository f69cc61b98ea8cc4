"""Each signal method against a slow reference loop; post-processing; monthly hold."""

from __future__ import annotations

import _refs as ref
import numpy as np
import pytest

from pytaaa.config import Valuation
from pytaaa.engine.cleaning import clean
from pytaaa.engine.signals import (
    compute_signals,
    hold_monthly,
    ma_signal,
    minmax_signal,
    percentile_signal,
    rebalance_days,
)
from pytaaa.model import Quotes

BASE = dict(symbols_file="s.txt", performance_store="p", webpage="w", stockList="Naz100",
            numberStocksTraded=3, monthsToHold=1, LongPeriod=20, stddevThreshold=5.0,
            MA1=40, MA2=5, MA3=9, sma2factor=1.0, lowPct=20, hiPct=80,
            narrowDays_min=3., narrowDays_max=8., mediumDays_min=8., mediumDays_max=20.,
            wideDays_min=20., wideDays_max=45.)


def walks(n=4, t=260, seed=7):
    rng = np.random.default_rng(seed)
    return 30 * np.exp(np.cumsum(rng.normal(0.0005, 0.02, (n, t)), axis=1))


@pytest.mark.parametrize("kind", ["SMAs", "HMAs"])
def test_ma_signals_match_reference(kind):
    d = walks()
    got = ma_signal(d, 40, 5, 9, 1.02, kind)
    for i in range(d.shape[0]):
        np.testing.assert_array_equal(got[i], ref.ma_signal(d[i], 40, 5, 9, 1.02, kind))
    assert 0 < got.mean() < 1


def test_minmax_signal_matches_reference():
    d = walks(3, 200)
    got = minmax_signal(d, (3, 8), (8, 20), (20, 45))
    for i in range(3):
        np.testing.assert_array_equal(got[i], ref.minmax_signal(d[i], (3, 8), (8, 20), (20, 45)))
    assert 0 < got.mean() < 1


def test_percentile_latch_matches_reference():
    d = walks(3, 220)
    got, lo, hi = percentile_signal(d, [4, 7, 10], 20, 80)
    for i in range(3):
        np.testing.assert_array_equal(got[i], ref.percentile_latch(d[i], [4, 7, 10], 20, 80))
    assert got[:, 0].sum() == 0
    assert np.all(lo <= hi)


def test_rebalance_days_and_hold():
    dates = np.array(["2020-01-02", "2020-01-03", "2020-02-03", "2020-02-04", "2020-03-02",
                      "2020-04-01", "2020-04-02", "2020-07-01"], dtype="datetime64[D]")
    np.testing.assert_array_equal(rebalance_days(dates, 1), [1, 0, 1, 0, 1, 1, 0, 1])
    np.testing.assert_array_equal(rebalance_days(dates, 3), [1, 0, 0, 0, 0, 1, 0, 1])
    daily = np.array([[1, 0, 0, 1, 0, 0, 1, 1]], dtype=np.int8)
    held = hold_monthly(daily, rebalance_days(dates, 3))
    np.testing.assert_array_equal(held[0], [1, 1, 1, 1, 1, 0, 0, 1])
    # no rebalance day yet -> 0
    held2 = hold_monthly(daily[:, 1:], rebalance_days(dates[1:], 3))
    np.testing.assert_array_equal(held2[0], [0, 0, 0, 0, 0, 0, 1])


def _quotes(close, start="2000-01-03"):
    dates = np.arange(np.datetime64(start), np.datetime64(start) + 3 * close.shape[1])
    dates = dates[np.is_busday(dates)][: close.shape[1]]
    return Quotes(dates=dates, symbols=tuple(f"S{i}" for i in range(close.shape[0])), close=close)


@pytest.mark.parametrize("method", ["SMAs", "HMAs", "minmaxChannels", "percentileChannels"])
def test_postprocessing_zeroes_untradable_and_inactive(method):
    close = walks(4, 300)
    close[1, :120] = np.nan          # listed late
    close[2, 200:] = np.nan          # delisted
    close[3, :60] = close[3, 60]     # flat (inactive) before day 60
    v = Valuation.model_validate(dict(BASE, uptrendSignalMethod=method))
    prices = clean(_quotes(close), v.LongPeriod, v.stddevThreshold)
    sig = compute_signals(prices, v)
    assert sig.daily[1, :120].sum() == 0
    # no quote after day 199: the symbol is stale (treated as delisted) once it has had
    # no quote for more than stale_quote_days (5) trading days, not before (causal)
    assert sig.daily[2, 205:].sum() == 0
    assert prices.tradable()[2, 204] and not prices.tradable()[2, 205]
    assert sig.daily[3, :61].sum() == 0
    assert sig.daily[-1].sum() == 0 and prices.symbols[-1] == "CASH"
    assert (sig.low_channel is not None) == (method == "percentileChannels")
    assert sig.daily.dtype == np.int8 and set(np.unique(sig.held)) <= {0, 1}


def test_sp500_zero_before_2002():
    close = walks(3, 700)
    v = Valuation.model_validate(dict(BASE, uptrendSignalMethod="SMAs", stockList="SP500"))
    q = _quotes(close, "2000-06-01")
    sig = compute_signals(clean(q, v.LongPeriod, v.stddevThreshold), v)
    before = q.dates < np.datetime64("2002-01-01")
    assert sig.daily[:, before].sum() == 0
    assert sig.daily[:, ~before].sum() > 0


def test_rolling_filter_removes_stale_data():
    close = walks(2, 300)
    close[0, 100:250] = close[0, 100]  # stale quotes for 150 days
    v = Valuation.model_validate(dict(BASE, uptrendSignalMethod="SMAs",
                                      enable_rolling_filter=True, window_size=20))
    sig = compute_signals(clean(_quotes(close), v.LongPeriod, v.stddevThreshold), v)
    assert sig.daily[0, 130:250].sum() == 0
    v2 = v.model_copy(update={"enable_rolling_filter": False})
    sig2 = compute_signals(clean(_quotes(close), v.LongPeriod, v.stddevThreshold), v2)
    assert sig2.daily[0, 130:250].sum() > sig.daily[0, 130:250].sum()


def test_minmax_channel_grid_excludes_the_max():
    """pipeline.md 5.4: the original's 7 periods min + k*(max-min)/7, k = 0..6."""
    from pytaaa.engine.signals import channel_periods

    assert channel_periods(50, 450) == [50, 107, 164, 221, 279, 336, 393]
    assert channel_periods(3, 8) == [3, 4, 4, 5, 6, 7, 7]
    assert max(channel_periods(64, 512)) < 512


def test_rolling_filter_leaves_the_warm_up_alone():
    """pipeline.md 5.6: like the original, the first window_size - 1 days are left as
    they are (they were zeroed before)."""
    from pytaaa.engine.signals import rolling_quality

    close = walks(2, 120)
    ok = rolling_quality(close, 50)
    assert ok[:, :49].all()
    flat = np.full((1, 120), 10.0)
    assert rolling_quality(flat, 50)[0, :49].all() and not rolling_quality(flat, 50)[0, 49:].any()
