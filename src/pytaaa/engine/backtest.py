"""Backtest of the strategy against buy-and-hold (``pipeline.md`` section 7).

Reads the cleaned prices P, the target weights and the rebalance days; sets the
daily values of the strategy and of buy-and-hold (both from 10,000), their
per-horizon statistics, and the breadth series (new highs / new lows,
up-trending counts).

No look-ahead: on a rebalance day t the portfolio is re-weighted at the close
of day t with weights computed from data up to day t, so those weights earn
returns from day t+1 on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pytaaa._blocks import blocks, sum_rows
from pytaaa.engine.indicators import move
from pytaaa.model import HORIZONS, BacktestResult, Prices

__all__ = [
    "START_VALUE",
    "run_backtest",
    "simulate",
    "buy_and_hold",
    "horizon_stats",
    "horizon_start",
    "series_stats",
    "new_highs_lows",
    "uptrend_counts",
]

START_VALUE = 10_000.0
WEIGHT_TOL = 1e-4
DAYS_PER_YEAR = 365.25


def buy_and_hold(prices: Prices) -> np.ndarray:
    """Equal dollars in every symbol (CASH excluded) from its first tradable day.

    Cleaning holds a symbol's price at its first quote before that quote (a
    stand-in value), so a symbol not yet listed behaves as cash until it is; after
    its last quote it is carried flat.
    """
    cash = prices.symbols.index("CASH")
    rows = np.array([i for i in range(prices.n_symbols) if i != cash], dtype=np.int64)
    t = prices.close.shape[1]
    if not rows.size:
        return np.full(t, START_VALUE)

    def relative(b: slice) -> np.ndarray:
        p = prices.close[rows[b]]
        return p / p[:, :1]

    return START_VALUE * (sum_rows(rows.size, t, relative) / rows.size)


def simulate(
    close: np.ndarray,
    weights: np.ndarray | Mapping[int, np.ndarray],
    rebalance: np.ndarray,
    cash_row: int,
    trade_cost: float,
    n_traded: int,
    invested: np.ndarray | None = None,
    *,
    quoted: np.ndarray | None = None,
    stale: np.ndarray | None = None,
) -> tuple[np.ndarray, int, float]:
    """Daily portfolio value from 10,000; returns ``(values, n_trades, commissions)``.

    ``weights`` are the ``(N, T)`` target weights, or a mapping from day index
    to that day's ``(N,)`` weights holding at least the rebalance days (the
    only days read).

    On each rebalance day whose target weights differ from the held ones by
    more than 1e-4 the portfolio is re-weighted at that day's close; each
    changed non-CASH position costs ``trade_cost`` (once only when more than
    ``2 * n_traded`` positions change); a portfolio worth no more than the
    fee stops trading, so the value never goes below 0.  ``invested`` (``(T,)`` fraction, the
    variable-percent-invested variant) scales the stock weights on rebalance
    days; the uninvested part is held as cash earning nothing.

    Real quotes (``data-quality.md`` section 1): with ``quoted`` ``(N, T)``, a held
    symbol without a quote on a rebalance day is kept as it is (its target
    waits for the next rebalance day) and a symbol without a quote is never
    bought (its weight stays in cash); with ``stale`` ``(N, T)``, a held symbol
    is sold at its last real quote (``close`` carries it) on the first day it
    is stale, for ``trade_cost``.  Without them every price is a quote.
    """
    n, t = close.shape
    values = np.empty(t)
    shares = np.zeros(n)
    shares[cash_row] = START_VALUE  # CASH price is 1.0
    held_w = np.zeros(n)
    held_w[cash_row] = 1.0
    n_trades = 0
    paid = 0.0
    reb = [int(i) for i in np.flatnonzero(rebalance)]
    cuts = [0] + reb + [t]
    for a, b in zip(cuts[:-1], cuts[1:]):
        if a >= b:
            continue
        if rebalance[a]:
            target = (weights[a] if isinstance(weights, Mapping) else weights[:, a]).copy()
            if invested is not None:
                frac = float(invested[a])
                stock = target.copy()
                stock[cash_row] = 0.0
                target = stock * frac
                target[cash_row] += 1.0 - target.sum()
            frozen = unbuyable = None
            if quoted is not None:
                held = shares > 0
                held[cash_row] = False
                q = quoted[:, a]
                st = stale[:, a] if stale is not None else np.zeros(n, dtype=bool)
                frozen = held & ~q & ~st
                unbuyable = ~held & ~q & (target > 0)
                unbuyable[cash_row] = False
                if not (frozen.any() or unbuyable.any()):
                    frozen = unbuyable = None
            diff = np.abs(target - held_w)
            if diff.max() > WEIGHT_TOL:
                value = float(np.einsum("i,i->", shares, close[:, a]))
                changed = diff > WEIGHT_TOL
                changed[cash_row] = False
                if frozen is not None:
                    changed &= ~(frozen | unbuyable)
                n_changed = int(changed.sum())
                fee = float(trade_cost) * (1 if n_changed > 2 * n_traded else n_changed)
                if value > fee:  # a portfolio worth less than the fee stops trading
                    value -= fee
                    paid += fee
                    n_trades += 1
                    if frozen is None:
                        shares = target * value / close[:, a]
                        held_w = target
                    else:
                        shares, held_w = _partial_rebalance(
                            shares, target, close[:, a], value, frozen, unbuyable, cash_row)
        if stale is None:
            values[a:b] = np.einsum("i,ij->j", shares, close[:, a:b])
            continue
        # a held symbol that goes stale inside the segment is sold at its last quote
        start = a
        while True:
            held = shares > 0
            held[cash_row] = False
            gone = stale[:, start + 1:b] & held[:, None] if start + 1 < b else None
            if gone is None or not gone.any():
                break
            s = start + 1 + int(np.flatnonzero(gone.any(axis=0))[0])
            # einsum, not BLAS: the sum order (and so every byte) must not depend on threads
            values[start:s] = np.einsum("i,ij->j", shares, close[:, start:s])
            for i in np.flatnonzero(gone[:, s - start - 1]):
                proceeds = float(shares[i] * close[i, s])
                fee = min(float(trade_cost), proceeds)
                shares[cash_row] += proceeds - fee
                shares[i] = 0.0
                held_w[i] = -1.0  # re-weighted on the next rebalance day
                paid += fee
                n_trades += 1
            start = s
        values[start:b] = np.einsum("i,ij->j", shares, close[:, start:b])
    return values, n_trades, paid


def _partial_rebalance(
    shares: np.ndarray, target: np.ndarray, price: np.ndarray, value: float,
    frozen: np.ndarray, unbuyable: np.ndarray, cash_row: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Re-weight around symbols without a quote today: ``frozen`` holdings keep
    their shares, ``unbuyable`` targets stay in cash, the other targets share the
    rest of ``value`` (after fees) in proportion.  Returns ``(shares, held
    weights)``; the held weight of a frozen or unbuyable row is -1, so the next
    rebalance day tries again."""
    w = target.copy()
    w[cash_row] += float(w[unbuyable].sum())
    w[unbuyable] = 0.0
    w[frozen] = 0.0
    kept = float(np.einsum("i,i->", np.where(frozen, shares, 0.0), price))
    free = float(w.sum())
    budget = max(value - kept, 0.0)
    new = np.zeros_like(shares)
    if free > 0:
        new = w / free * budget / price
    else:
        new[cash_row] = budget
    new[frozen] = shares[frozen]
    held_w = target.copy()
    held_w[frozen | unbuyable] = -1.0
    return new, held_w


def series_stats(values: np.ndarray, dates: np.ndarray) -> dict[str, float]:
    """CAGR, Sharpe, max drawdown and mean drawdown of one value series."""
    v = np.asarray(values, dtype=np.float64)
    out = {"cagr": 0.0, "sharpe": 0.0, "max_drawdown": 0.0, "mean_drawdown": 0.0}
    if v.size < 2 or not np.all(np.isfinite(v)) or v[0] <= 0:
        return out
    days = (np.asarray(dates[-1], dtype="datetime64[D]") - np.asarray(dates[0], dtype="datetime64[D]")).astype(int)
    years = max(float(days) / DAYS_PER_YEAR, 1.0 / DAYS_PER_YEAR)
    ratio = v[-1] / v[0]
    out["cagr"] = float(ratio ** (1.0 / years) - 1.0) if ratio > 0 else -1.0
    r = v[1:] / v[:-1] - 1.0
    sd = r.std(ddof=1) if r.size > 1 else 0.0
    out["sharpe"] = float(r.mean() / sd * np.sqrt(252.0)) if sd > 1e-12 else 0.0
    dd = v / np.maximum.accumulate(v) - 1.0
    out["max_drawdown"] = float(dd.min())
    out["mean_drawdown"] = float(dd.mean())
    return out


def horizon_stats(
    values: np.ndarray, dates: np.ndarray, horizons: dict[str, float | None] = HORIZONS
) -> dict[str, dict[str, float]]:
    """Statistics over each horizon the history reaches (label -> stats).

    A horizon of y years starts at the first date on or after ``last - y*365.25``
    days and is reported only when the history starts on or before that date.
    Never raises on a short history: it reports fewer horizons.
    """
    d = np.asarray(dates).astype("datetime64[D]")
    out: dict[str, dict[str, float]] = {}
    for label, years in horizons.items():
        start = horizon_start(d, years)
        if start is not None:
            out[label] = series_stats(values[start:], d[start:])
    return out


def horizon_start(dates: np.ndarray, years: float | None) -> int | None:
    """Index where a horizon of ``years`` starts (None = whole history: 0): the first
    date on or after ``last - years*365.25`` days; None when the history does not
    reach back that far or leaves fewer than 2 days."""
    d = np.asarray(dates).astype("datetime64[D]")
    if d.size < 2:
        return None
    if years is None:
        return 0
    cut = d[-1] - np.timedelta64(int(round(years * DAYS_PER_YEAR)), "D")
    if d[0] > cut:
        return None
    start = int(np.searchsorted(d, cut))
    return start if d.size - start >= 2 else None


def run_backtest(prices: Prices, weights: np.ndarray, rebalance: np.ndarray, v: Any) -> BacktestResult:
    """Backtest the strategy of ``weights`` and buy-and-hold over the whole history."""
    cash = prices.symbols.index("CASH")
    strat, n_trades, paid = simulate(
        prices.close, weights, rebalance, cash, float(v.trade_cost), int(v.numberStocksTraded),
        quoted=prices.quoted_mask(), stale=prices.stale(),
    )
    bh = buy_and_hold(prices)
    stats = {
        "strategy": horizon_stats(strat, prices.dates),
        "buy_hold": horizon_stats(bh, prices.dates),
    }
    return BacktestResult(
        dates=prices.dates, strategy=strat, buy_hold=bh, stats=stats,
        n_trades=n_trades, commissions=paid,
    )


NEW_HIGH_WINDOWS = (73, 293)
BREADTH_SUMS = (50, 159)
LOWS_WARMUP_ROWS = 500
LOWS_NO_DATA = -100000.0


def new_highs_lows(prices: Prices) -> tuple[np.ndarray, np.ndarray]:
    """Breadth of new highs and new lows, ``(T,)`` each.

    For windows n in (73, 293) a stock scores a new high (low) on day t when its
    close is the max (min) of the last n closes (today included) and it has been
    tradable for all of them.  The daily counts, summed over stocks and both
    windows, are smoothed as the mean of their 50- and 159-day moving sums.
    Before row 500 the lows column holds the "no data" marker -100000.0.
    """
    close = prices.close
    n, t = close.shape
    tradable_all = prices.tradable()
    cash = prices.symbols.index("CASH")
    highs = np.zeros(t)
    lows = np.zeros(t)
    # a few rows at a time: the moving windows' temporaries stay small for large universes
    # (the counts are integers, so the sums do not depend on the chunking)
    for b in blocks(n, t):
        r0 = b.start
        p = close[b]
        tradable = tradable_all[b].astype(np.float64)
        for w in NEW_HIGH_WINDOWS:
            if t < w:
                continue
            full = move("sum", tradable, w, w, axis=1) == w
            mx = move("max", p, w, w, axis=1)
            mn = move("min", p, w, w, axis=1)
            is_hi = full & (p >= mx)
            is_lo = full & (p <= mn)
            if r0 <= cash < r0 + len(p):
                is_hi[cash - r0] = False
                is_lo[cash - r0] = False
            highs += is_hi.sum(axis=0)
            lows += is_lo.sum(axis=0)
    out = []
    for series in (highs, lows):
        sm = np.zeros(t)
        for w in BREADTH_SUMS:
            sm += move("sum", series, w, 1)
        out.append(sm / len(BREADTH_SUMS))
    new_highs, new_lows = out
    new_lows[: min(LOWS_WARMUP_ROWS, t)] = LOWS_NO_DATA
    return new_highs, new_lows


def uptrend_counts(prices: Prices, held: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(uptrending, active)`` per day: symbols whose held signal is 1, and symbols
    past their first-activity index inside their tradable span (CASH excluded)."""
    cash = prices.symbols.index("CASH")
    mask = np.ones(prices.n_symbols, dtype=bool)
    mask[cash] = False
    up = held[mask].sum(axis=0).astype(np.float64)
    active = prices.active()[mask].sum(axis=0).astype(np.float64)
    return up, active
