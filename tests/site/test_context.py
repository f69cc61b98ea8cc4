"""The per-symbol rows of the web page (site/context.py)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np

from pytaaa.model import Prices
from pytaaa.site.context import quote_flag, symbol_rows


def _analysis(n: int, t: int, last_quote: np.ndarray) -> SimpleNamespace:
    close = np.ones((n, t))
    dates = np.arange(np.datetime64("2000-01-03"), np.datetime64("2000-01-03") + t)
    prices = Prices(dates=dates, symbols=tuple(f"S{i:04d}" for i in range(n)), close=close,
                    despiked=close, first_valid=np.zeros(n, int),
                    last_valid=np.full(n, t - 1), first_active=np.zeros(n, int),
                    last_quote=last_quote, stale_days=5)
    zeros = np.zeros(n)
    return SimpleNamespace(prices=prices, symbols=prices.symbols, rank_today=zeros,
                           rank_month_start=zeros, weights=np.zeros((n, 1)),
                           signals=SimpleNamespace(daily=np.zeros((n, 1), np.int8)),
                           score=np.zeros((n, 1)))


def test_quote_flags_name_the_last_quote_and_staleness() -> None:
    t = 30
    lq = np.tile(np.arange(t), (4, 1))
    lq[1, 27:] = 26                 # 3 days without a quote: not stale yet
    lq[2, 20:] = 19                 # 10 days: stale
    lq[3, :] = -1                   # never quoted
    a = _analysis(4, t, lq)
    assert quote_flag(a, 0) == ""
    assert quote_flag(a, 1) == "last quote 2000-01-29"
    assert quote_flag(a, 2) == "delisted or stale: last quote 2000-01-22"
    assert quote_flag(a, 3) == "no quote"


def test_rows_of_a_large_universe_without_todays_quotes_are_quick() -> None:
    """Before: every flagged row recomputed the whole (N, T) stale mask, 10 s of the
    daily run's web stage on 2,000 symbols x 20 years with 200 symbols unquoted today."""
    n, t = 1000, 3000
    lq = np.tile(np.arange(t), (n, 1))
    lq[:, -1] = t - 2               # nobody quoted today: every row is flagged
    a = _analysis(n, t, lq)
    t0 = time.perf_counter()
    rows = symbol_rows(a, {}, list(a.symbols), 20)
    took = time.perf_counter() - t0
    assert {r.flag for r in rows} == {"last quote 2008-03-19"}  # day t - 2
    assert took < 1.5, f"symbol_rows took {took:.1f} s for {n} flagged rows"
