"""No look-ahead on gappy, real-world-shaped data (data-quality.md section 1).

Interior gaps of 1, 3, 20 and 200 days, a late listing, a delisting, a monthly
series, one-day bad prints, a never-quoted column and a partial last day; for all
four methods and many cut dates, the analysis of the data up to day t gives the
same prices used, signals, scores, weights, values, ranks, picks and trade
suggestions up to t as the analysis of all the data, and perturbing everything
after t changes none of them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from pytaaa.account import trades as tr
from pytaaa.account.ledger import Holdings
from pytaaa.config import Valuation
from pytaaa.engine.analysis import analyze_quotes
from pytaaa.engine.ranking import ranks, todays_picks
from pytaaa.model import Analysis, Prices, Quotes

V = dict(symbols_file="s.txt", performance_store="p", webpage="w", stockList="Naz100",
         numberStocksTraded=3, monthsToHold=1, LongPeriod=30, stddevThreshold=4.0,
         MA1=60, MA2=5, MA3=12, sma2factor=0.95, lowPct=20, hiPct=80,
         narrowDays_min=3., narrowDays_max=8., mediumDays_min=8., mediumDays_max=20.,
         wideDays_min=20., wideDays_max=45., enable_rolling_filter=True, window_size=20)
T = 1000
METHODS = ["SMAs", "HMAs", "minmaxChannels", "percentileChannels"]
CUTS = [150, 301, 305, 322, 449, 540, 610, 744, 803, 901, 960, 999]


def gappy_universe(seed: int = 7) -> Quotes:
    rng = np.random.default_rng(seed)
    n = 12
    drift = rng.normal(0.0006, 0.0006, (n, 1))
    close = 20 * np.exp(np.cumsum(rng.normal(0, 0.015, (n, T)) + drift, axis=1))
    close[0, 300] = np.nan                     # gap of 1 day
    close[1, 320:323] = np.nan                 # gap of 3 days
    close[2, 600:620] = np.nan                 # gap of 20 days
    close[3, 400:600] = np.nan                 # gap of 200 days
    close[4, :450] = np.nan                    # late listing
    close[5, 800:] = np.nan                    # delisting
    monthly = np.full(T, np.nan)
    monthly[::21] = close[6, ::21]
    close[6] = monthly                         # a monthly series in a daily store
    close[7, 500] *= 3.0                       # one-day bad print that reverts
    close[8, 700:] *= 0.5                      # an unadjusted 1:2 split
    close[9, 950:] = np.nan                    # stops 50 days before the end
    close[10, -1] = np.nan                     # partial last day
    close[11] = np.nan                         # never quoted
    d = np.arange(np.datetime64("2010-01-01"), np.datetime64("2010-01-01") + 2 * T)
    d = d[np.is_busday(d)][:T]
    return Quotes(dates=d, symbols=tuple(f"G{i:02d}" for i in range(n)), close=close)


def cut(q: Quotes, t: int) -> Quotes:
    return Quotes(q.dates[: t + 1], q.symbols, q.close[:, : t + 1].copy())


def prices_upto(p: Prices, t: int) -> Prices:
    s = slice(0, t + 1)
    return dataclasses.replace(
        p, dates=p.dates[s], close=p.close[:, s], despiked=p.despiked[:, s],
        quoted=p.quoted[:, s], last_quote=p.last_quote[:, s], live=p.live[:, s])


def analysis_upto(a: Analysis, t: int) -> Analysis:
    """What the full analysis says about day t, as if day t were today."""
    p = prices_upto(a.prices, t)
    cash = p.symbols.index("CASH")
    r = ranks(a.score[:, : t + 1], p.active(), t, cash)
    picks = todays_picks(a.weights[:, : t + 1], a.score[:, : t + 1], p, r)
    return dataclasses.replace(a, prices=p, rank_today=r, picks=picks)


def plan(a: Analysis) -> tuple:
    """Trade suggestions for a fixed ledger holding a gappy, a late and a delisted symbol."""
    h = Holdings(("CASH", "G02", "G03", "G05", "G11"), (3000.0, 40.0, 30.0, 20.0, 5.0),
                 (1.0, 20.0, 20.0, 20.0, 20.0), 10000.0, dt.date(2010, 1, 4), dt.date(2010, 1, 4))
    pv = tr.value_holdings(h, tr.prices_today(a), date=a.last_date, ranks=tr.ranks_today(a),
                           quote_dates=tr.quote_dates(a), stale=tr.stale_today(a))
    return pv.positions, tr.suggest_trades(pv, a.picks)


def assert_same_upto(a: Analysis, b: Analysis, t: int) -> None:
    s = slice(0, t + 1)
    exists = a.prices.first_valid <= t
    np.testing.assert_array_equal(a.prices.close[exists, s], b.prices.close[exists, s])
    np.testing.assert_array_equal(a.prices.despiked[exists, s], b.prices.despiked[exists, s])
    np.testing.assert_array_equal(a.prices.quoted[:, s], b.prices.quoted[:, s])
    np.testing.assert_array_equal(a.prices.tradable()[:, s], b.prices.tradable()[:, s])
    np.testing.assert_array_equal(a.signals.daily[:, s], b.signals.daily[:, s])
    np.testing.assert_array_equal(a.signals.held[:, s], b.signals.held[:, s])
    np.testing.assert_array_equal(a.score[:, s], b.score[:, s])
    np.testing.assert_array_equal(a.weights[:, s], b.weights[:, s])
    np.testing.assert_array_equal(a.backtest.strategy[s], b.backtest.strategy[s])
    np.testing.assert_array_equal(a.backtest.buy_hold[s], b.backtest.buy_hold[s])
    np.testing.assert_array_equal(a.uptrend_count[s], b.uptrend_count[s])
    np.testing.assert_array_equal(a.active_count[s], b.active_count[s])
    np.testing.assert_array_equal(a.new_highs[s], b.new_highs[s])


@pytest.mark.parametrize("method", METHODS)
def test_no_look_ahead_through_gaps(method):
    q = gappy_universe()
    v = Valuation.model_validate(dict(V, uptrendSignalMethod=method))
    full = analyze_quotes(q, v)
    assert np.all(np.isfinite(full.backtest.strategy)) and full.backtest.strategy.min() > 0
    for t in CUTS:
        part = analyze_quotes(cut(q, t), v)
        assert_same_upto(full, part, t)
        today = analysis_upto(full, t)
        np.testing.assert_array_equal(today.rank_today, part.rank_today)
        assert today.picks == part.picks, t
        assert plan(today) == plan(part), t


@pytest.mark.parametrize("method", METHODS)
def test_perturbing_after_t_changes_nothing_up_to_t(method):
    q = gappy_universe()
    v = Valuation.model_validate(dict(V, uptrendSignalMethod=method))
    a = analyze_quotes(q, v)
    rng = np.random.default_rng(9)
    for t in (305, 610, 901):
        close2 = q.close.copy()
        close2[:, t + 1:] *= np.exp(rng.normal(0, 0.2, close2[:, t + 1:].shape))
        close2[2, t + 1: t + 40] = np.nan      # and new gaps after t
        b = analyze_quotes(Quotes(q.dates, q.symbols, close2), v)
        assert_same_upto(a, b, t)
        assert not np.array_equal(a.backtest.strategy, b.backtest.strategy)


def test_gaps_make_no_fake_trend_or_calm():
    """The 200-day gap neither ranks first (a straight line had a Sharpe of ~95 and got
    82 % of the portfolio) nor is held or bought while it has no quotes."""
    q = gappy_universe()
    v = Valuation.model_validate(dict(V, uptrendSignalMethod="SMAs"))
    a = analyze_quotes(q, v)
    i = a.symbols.index("G03")
    assert np.all(a.score[i, 420:600] == 0.0)   # too few real returns in the window
    assert np.all(a.weights[i, 406:600] == 0.0)
    assert np.all(np.abs(a.score) < 20)
    m = a.symbols.index("G06")
    assert np.all(a.weights[m] == 0.0)         # the monthly series is never picked
    assert a.picks and not any(p.symbol == "G11" for p in a.picks)


def _traced_peak(fn) -> float:
    """Peak bytes traced (numpy reports its buffers to tracemalloc) while ``fn`` runs,
    above what was allocated before."""
    import tracemalloc

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_analysis_memory_stays_within_its_results() -> None:
    """Issue 10: 2,000 symbols x 20 years peaked at 856 MB, ten times the price matrix.
    The analysis keeps five (N, T) arrays' worth (P, D, score, weights, masks); every
    stage works in blocks, so the peak is barely above what it keeps (it was 9.8x)."""
    from pytaaa.data.synth import synthetic_quotes

    q = synthetic_quotes(400, 10, seed=1)
    v = Valuation.model_validate(dict(
        symbols_file="s.txt", performance_store="p", webpage="w", stockList="Naz100",
        uptrendSignalMethod="HMAs", numberStocksTraded=7, monthsToHold=1, LongPeriod=104,
        stddevThreshold=5.0, MA1=151, MA2=14, MA3=22, sma2factor=1.0))
    peak = _traced_peak(lambda: analyze_quotes(q, v)) / q.close.nbytes
    assert peak < 6.0, f"analysis peaked at {peak:.1f} x the price matrix"
