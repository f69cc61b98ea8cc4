"""The data objects that flow between the stages of a daily run.

Arrays are ``(N, T)`` float64 (one row per symbol, one column per trading day,
oldest first) unless said otherwise.  ``symbols`` always ends with ``"CASH"``.
These objects are plain frozen dataclasses: the daily run, the chart job, the
Monte Carlo trials and the web site all read the same fields.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytaaa._blocks import blocks

__all__ = ["Quotes", "Prices", "Signals", "BacktestResult", "Pick", "Analysis", "HORIZONS"]

#: Per-horizon statistics of the backtest: label -> years (None = whole history).
HORIZONS: dict[str, float | None] = {
    "whole": None,
    "15y": 15,
    "10y": 10,
    "5y": 5,
    "3y": 3,
    "2y": 2,
    "1y": 1,
}


@dataclass(frozen=True)
class Quotes:
    """Adjusted closes as stored: ``close`` is ``(N, T)`` with NaN where there is no quote.

    ``dates`` is ``datetime64[D]`` of length T, strictly increasing; ``symbols``
    has N tickers (``CASH`` last once cleaned; the store may lack it).
    """

    dates: np.ndarray
    symbols: tuple[str, ...]
    close: np.ndarray

    def __post_init__(self) -> None:
        if self.close.shape != (len(self.symbols), len(self.dates)):
            raise ValueError(
                f"close has shape {self.close.shape}, expected "
                f"({len(self.symbols)}, {len(self.dates)})"
            )

    @property
    def last_date(self) -> dt.date:
        return self.dates[-1].astype("datetime64[D]").item()


@dataclass(frozen=True)
class Prices:
    """Cleaned prices (``pipeline.md`` section 4, ``data-quality.md`` section 1).

    - ``close``: P, the last real quote at or before each day (carried forward,
      never interpolated); before the first quote a stand-in equal to the first
      quote (the symbol does not exist there); ``CASH`` = 1.0.  Trades and
      valuations use P.
    - ``despiked``: D, upward spikes capped.  Signals, channels and ranking use D.
    - ``first_valid`` / ``last_valid``: ``(N,)`` int, the first and last real quote.
    - ``first_active``: ``(N,)`` int, the first t with ``|g - 1| >= 1e-8`` (T if never).
    - ``quoted``: ``(N, T)`` bool, a real quote on that day (None: every day of the
      span ``first_valid .. last_valid``, for hand-built test data).
    - ``last_quote``: ``(N, T)`` int (int32 from cleaning), the last quoted day at or before t
      (-1 none).
    - ``live``: ``(N, T)`` bool, may be picked on t: listed, not stale (a quote in the
      last ``stale_days`` trading days) and quoted about daily (None: derived
      from ``last_quote``).
    - ``stale_days``: the ``stale_quote_days`` the spans were computed with.
    """

    dates: np.ndarray
    symbols: tuple[str, ...]
    close: np.ndarray
    despiked: np.ndarray
    first_valid: np.ndarray
    last_valid: np.ndarray
    first_active: np.ndarray
    quoted: np.ndarray | None = None
    last_quote: np.ndarray | None = None
    live: np.ndarray | None = None
    stale_days: int = 5

    @property
    def n_symbols(self) -> int:
        return len(self.symbols)

    def quoted_mask(self) -> np.ndarray:
        """``(N, T)`` bool: a real quote on that day."""
        if self.quoted is not None:
            return self.quoted
        t = np.arange(len(self.dates))
        return (t >= self.first_valid[:, None]) & (t <= self.last_valid[:, None])

    def stale(self, rows: Any = None, days: Any = None) -> np.ndarray:
        """``(N, T)`` bool: listed, but no real quote for more than ``stale_days`` days.

        ``rows`` and ``days`` (an index, a list of indices or a slice) restrict
        the result to those symbols and days, at the cost of those only:
        ``stale(i)`` is ``(T,)``, ``stale(days=-1)`` is ``(N,)`` (the last day).
        """
        r = slice(None) if rows is None else rows
        d = slice(None) if days is None else days
        t = np.arange(len(self.dates))[d]
        if self.last_quote is None:
            first, last = self.first_valid[r], self.last_valid[r]
            if np.ndim(t):  # a span of days: one row per symbol
                first, last = np.expand_dims(first, -1), np.expand_dims(last, -1)
            return (t > last) & (t >= first)
        last_quote = self.last_quote[r][..., d]
        if last_quote.ndim < 2:
            return (last_quote >= 0) & (t - last_quote > self.stale_days)
        out = np.empty(last_quote.shape, dtype=bool)
        for b in blocks(last_quote.shape[0], last_quote.shape[1]):  # no (N, T) int temporary
            out[b] = (last_quote[b] >= 0) & (t - last_quote[b] > self.stale_days)
        return out

    def tradable(self) -> np.ndarray:
        """``(N, T)`` bool: may be held and picked on t, knowing only data up to t:
        listed, not stale and (with ``live``) quoted about daily."""
        if self.live is not None:
            return self.live
        t = np.arange(len(self.dates))
        if self.last_quote is None:
            return (t >= self.first_valid[:, None]) & (t <= self.last_valid[:, None])
        return (self.last_quote >= 0) & (t[None, :] - self.last_quote <= self.stale_days)

    def active(self) -> np.ndarray:
        """``(N, T)`` bool: tradable and past the first-activity index."""
        t = np.arange(len(self.dates))
        return self.tradable() & (t >= self.first_active[:, None])


@dataclass(frozen=True)
class Signals:
    """Trend signals (``pipeline.md`` section 5); int8 arrays of 0/1.

    ``daily`` is the post-processed daily signal, ``held`` the monthly-held one.
    ``low_channel``/``hi_channel`` are the percentile channels (only for
    ``percentileChannels``, else None), kept for the charts.
    """

    daily: np.ndarray
    held: np.ndarray
    low_channel: np.ndarray | None = None
    hi_channel: np.ndarray | None = None


@dataclass(frozen=True)
class BacktestResult:
    """Strategy and buy-and-hold values from 10,000 (``pipeline.md`` section 7).

    ``stats`` maps ``"strategy"``/``"buy_hold"`` -> horizon label (``HORIZONS``)
    -> ``{"cagr", "sharpe", "max_drawdown", "mean_drawdown"}`` for the horizons the
    history reaches.  ``n_trades`` counts rebalances that traded, ``commissions``
    the dollars paid.
    """

    dates: np.ndarray
    strategy: np.ndarray
    buy_hold: np.ndarray
    stats: dict[str, dict[str, dict[str, float]]]
    n_trades: int = 0
    commissions: float = 0.0


@dataclass(frozen=True)
class Pick:
    """One of today's picks: weight and today's actual close P.

    ``quoted`` is False when the symbol has no real quote today: ``price`` is
    then its last real quote, from ``quote_date``; it is kept when held and
    never newly bought (``data-quality.md`` section 1)."""

    symbol: str
    weight: float
    price: float
    rank: int
    score: float
    quote_date: dt.date | None = None
    quoted: bool = True


@dataclass(frozen=True)
class Analysis:
    """Everything the daily run computes before it writes anything.

    - ``prices``, ``signals``: as above.
    - ``score``: rolling Sharpe ``(N, T)``; ``weights``: target weights ``(N, T)``
      (each column sums to 1; CASH holds what is not invested).
    - ``rebalance``: ``(T,)`` bool, the rebalance days.
    - ``backtest``: the strategy backtest.
    - ``new_highs``/``new_lows``: ``(T,)`` breadth columns of the backtest file.
    - ``uptrend_count``/``active_count``: ``(T,)`` float.
    - ``picks``: today's picks, best first.
    - ``rank_today``/``rank_month_start``: ``(N,)`` int, 1 = best score among
      symbols with data on that day (CASH and inactive symbols rank last).
    - ``timings``: stage name -> seconds.
    """

    prices: Prices
    signals: Signals
    score: np.ndarray
    weights: np.ndarray
    rebalance: np.ndarray
    backtest: BacktestResult
    new_highs: np.ndarray
    new_lows: np.ndarray
    uptrend_count: np.ndarray
    active_count: np.ndarray
    picks: tuple[Pick, ...]
    rank_today: np.ndarray
    rank_month_start: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def dates(self) -> np.ndarray:
        return self.prices.dates

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.prices.symbols

    @property
    def last_date(self) -> dt.date:
        return self.prices.dates[-1].astype("datetime64[D]").item()
