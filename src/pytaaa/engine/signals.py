"""Trend signals (``pipeline.md`` section 5).

Reads the despiked prices D of :class:`~pytaaa.model.Prices` and the strategy
parameters of a :class:`~pytaaa.config.Valuation`; sets
:class:`~pytaaa.model.Signals`: the post-processed daily signal, the
monthly-held signal and (``percentileChannels``) the two channels.

Each method is vectorized over symbols; the only loops are over the handful of
channel periods.  A signal on day t uses prices up to day t only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np

from pytaaa._blocks import blocks
from pytaaa.engine.indicators import WmaSums, hma, minmax_channel, move, percentile_channel, sma
from pytaaa.model import Prices, Signals

__all__ = [
    "compute_signals",
    "raw_signal",
    "ma_signal",
    "minmax_signal",
    "percentile_signal",
    "postprocess",
    "rebalance_days",
    "hold_monthly",
    "channel_periods",
]

SP500_SIGNAL_START = np.datetime64("2002-01-01")


def ma_signal(d: np.ndarray, ma1: int, ma2: int, ma3: int, factor: float, kind: str) -> np.ndarray:
    """SMAs / HMAs rule: 1 iff ``D > factor*MA(MA1)`` or (``D > min(MA(MA2), MA(MA3))``
    and ``MA(MA2)`` rising).  ``kind`` is ``"SMAs"`` or ``"HMAs"``; NaN (HMA warm-up)
    compares false."""
    if kind == "SMAs":
        s0, s1, s2 = sma(d, int(ma2)), sma(d, int(ma3)), sma(d, int(ma1))
    else:  # the three HMAs share one pair of cumulative sums
        sums = WmaSums(d)
        s0, s1, s2 = hma(d, int(ma2), sums), hma(d, int(ma3), sums), hma(d, int(ma1), sums)
    s2 = float(factor) * s2
    rising = np.zeros(d.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        rising[:, 1:] = s0[:, 1:] > s0[:, :-1]
        up = (d > s2) | ((d > np.fmin(s0, s1)) & rising & np.isfinite(s0) & np.isfinite(s1))
    return up.astype(np.int8)


def channel_periods(lo: float, hi: float, count: int = 7) -> list[int]:
    """The original's ``count`` periods ``lo + k * (hi - lo) / count`` for k = 0 ..
    count - 1 (``hi`` itself excluded), rounded to integers (``pipeline.md`` 5.4)."""
    lo, hi = float(lo), float(hi)
    return [int(p) for p in np.rint(lo + np.arange(count) * (hi - lo) / count)]


def minmax_signal(d: np.ndarray, narrow: Sequence[float], medium: Sequence[float],
                  wide: Sequence[float]) -> np.ndarray:
    """minmaxChannels: the narrow channel's mid-point placed inside the medium and
    wide channels (each scaled to -1..1); 1 iff the two positions sum above 0."""
    n_lo, n_hi = minmax_channel(d, channel_periods(*narrow))
    mid = 0.5 * (n_lo + n_hi)
    total = np.zeros(d.shape)
    for lo_hi in (medium, wide):
        lo, hi = minmax_channel(d, channel_periods(*lo_hi))
        width = hi - lo
        with np.errstate(invalid="ignore", divide="ignore"):
            pos = np.where(width > 0, 2.0 * ((mid - lo) / width - 0.5), 0.0)
        total += pos
    return (total > 0).astype(np.int8)


def percentile_signal(
    d: np.ndarray, periods: Sequence[int], low_pct: float, hi_pct: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """percentileChannels latch; returns ``(signal, low_channel, hi_channel)``.

    On day t the signal becomes 1 when D crosses up through the low band or is
    above the high band; else 0 when D crosses down through the high band or is
    below the low band; else it keeps its value (0 on day 0).  The events
    depend only on prices, so the latch is a forward fill of the last event.
    """
    low, high = percentile_channel(d, periods, low_pct, hi_pct)
    n, t = d.shape
    prev_d = np.empty_like(d)
    prev_d[:, 0] = d[:, 0]
    prev_d[:, 1:] = d[:, :-1]
    prev_low = np.empty_like(low)
    prev_low[:, 0] = low[:, 0]
    prev_low[:, 1:] = low[:, :-1]
    prev_high = np.empty_like(high)
    prev_high[:, 0] = high[:, 0]
    prev_high[:, 1:] = high[:, :-1]
    cross_up = (prev_d <= prev_low) & (d > low)
    cross_down = (prev_d >= prev_high) & (d < high)
    on = cross_up | (d > high)
    off = ~on & (cross_down | (d < low))
    on[:, 0] = False
    off[:, 0] = True  # day 0 starts at 0
    event = on | off
    # index of the last event at or before t, forward-filled
    idx = np.where(event, np.arange(t)[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    sig = np.take_along_axis(on, idx, axis=1)
    return sig.astype(np.int8), low, high


def raw_signal(d: np.ndarray, v: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The method's signal before post-processing: ``(signal, low_channel, hi_channel)``.

    ``v`` is a :class:`~pytaaa.config.Valuation` (or any object with the same
    attributes: the Monte Carlo trials pass perturbed copies).  Every method
    reads a symbol's own row only, so this runs a block of symbols at a time
    (:mod:`pytaaa._blocks`): the moving averages' temporaries stay small.
    """
    n = d.shape[0]
    sig = low = high = None
    for b in blocks(n, d.shape[1]):
        s, lo, hi = _raw_signal(d[b], v)
        if sig is None:
            sig = np.empty((n, *s.shape[1:]), dtype=s.dtype)
            low = None if lo is None else np.empty((n, *lo.shape[1:]), dtype=lo.dtype)
            high = None if hi is None else np.empty((n, *hi.shape[1:]), dtype=hi.dtype)
        sig[b] = s
        if low is not None and high is not None:
            low[b], high[b] = lo, hi
    if sig is None:  # no rows
        return _raw_signal(d, v)
    return sig, low, high


def _raw_signal(d: np.ndarray, v: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    method = v.uptrendSignalMethod
    if method in ("SMAs", "HMAs"):
        return ma_signal(d, v.MA1, v.MA2, v.MA3, v.sma2factor, method), None, None
    if method == "minmaxChannels":
        sig = minmax_signal(
            d,
            (v.narrowDays_min, v.narrowDays_max),
            (v.mediumDays_min, v.mediumDays_max),
            (v.wideDays_min, v.wideDays_max),
        )
        return sig, None, None
    if method == "percentileChannels":
        periods = list(range(v.minperiod, v.maxperiod, v.incperiod))
        return percentile_signal(d, periods, v.lowPct, v.hiPct)
    raise ValueError(f"unknown uptrendSignalMethod {method!r}")


def rolling_quality(close: np.ndarray, window: int) -> np.ndarray:
    """Data-quality mask: False where the last ``window`` gains look stale.

    A day fails when the population std of the last ``window`` gains is below
    0.001 or fewer than ``window / 2`` of them differ from 1 by 0.001 or more.
    Like the original, the first ``window - 1`` days (no full window yet) pass.
    """
    w = int(window)
    ok = np.empty(close.shape, dtype=bool)
    for b in blocks(close.shape[0], close.shape[1]):
        c = close[b]
        g = np.ones_like(c)
        g[:, 1:] = c[:, 1:] / c[:, :-1]
        std = move("std", g, w, w, axis=1, ddof=0)
        moving = move("sum", (np.abs(g - 1.0) >= 0.001).astype(np.float64), w, w, axis=1)
        with np.errstate(invalid="ignore"):
            ok[b] = (std >= 0.001) & (moving >= w / 2.0)
    ok[:, : min(w - 1, ok.shape[1])] = True
    return ok


def postprocess(sig: np.ndarray, prices: Prices, v: Any) -> np.ndarray:
    """Zero the signal before first activity and outside the tradable span,
    before 2002 for ``SP500``, and (``enable_rolling_filter``) on stale data."""
    out = sig.astype(np.int8, copy=True)
    out &= prices.active().astype(np.int8)
    if v.stockList == "SP500":
        out[:, prices.dates < SP500_SIGNAL_START] = 0
    if getattr(v, "enable_rolling_filter", False):
        out &= rolling_quality(prices.close, v.window_size).astype(np.int8)
    out[prices.symbols.index("CASH")] = 0
    return out


def rebalance_days(dates: np.ndarray, months_to_hold: int) -> np.ndarray:
    """``(T,)`` bool: first trading day of each month m with ``(m-1) % monthsToHold == 0``."""
    d = np.asarray(dates).astype("datetime64[M]")
    first_of_month = np.ones(len(d), dtype=bool)
    first_of_month[1:] = d[1:] != d[:-1]
    month = d.astype(np.int64) % 12  # 0 = January
    return first_of_month & (month % int(months_to_hold) == 0)


def hold_monthly(daily: np.ndarray, rebalance: np.ndarray) -> np.ndarray:
    """``held[:, t]`` = ``daily`` on the latest rebalance day <= t (0 before the first)."""
    t = daily.shape[1]
    idx = np.where(rebalance, np.arange(t), -1)
    np.maximum.accumulate(idx, out=idx)
    held = daily[:, np.maximum(idx, 0)].copy()
    held[:, idx < 0] = 0
    return held


def compute_signals(prices: Prices, v: Any) -> Signals:
    """All signals for ``prices`` with the parameters of ``v`` (a Valuation)."""
    sig, low, high = raw_signal(prices.despiked, v)
    daily = postprocess(sig, prices, v)
    held = hold_monthly(daily, rebalance_days(prices.dates, v.monthsToHold))
    return Signals(daily=daily, held=held, low_channel=low, hi_channel=high)


def date_index(dates: np.ndarray, day: dt.date) -> int:
    """Index of the first date on or after ``day`` (len(dates) if none)."""
    return int(np.searchsorted(np.asarray(dates).astype("datetime64[D]"), np.datetime64(day, "D")))
