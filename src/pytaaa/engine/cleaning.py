"""Price cleaning and despiking (``pipeline.md`` section 4).

Reads the raw :class:`~pytaaa.model.Quotes` of the store and sets the
:class:`~pytaaa.model.Prices` every later stage uses:

- ``close`` (P): interior gaps linearly interpolated, flat before the first and
  after the last real quote, ``CASH`` = 1.0 (added when the store lacks it);
- ``first_valid`` / ``last_valid``: the span of real quotes (tradable span);
- ``first_active``: the first day whose gain differs from 1 by at least 1e-8;
- ``despiked`` (D): upward one-day jumps capped at ``1 + k * sigma`` where sigma is
  the population std of the previous ``LongPeriod`` already-capped gains.
"""

from __future__ import annotations

import numpy as np

from pytaaa.model import Prices, Quotes

__all__ = ["clean", "fill_gaps", "first_activity", "despike", "CleaningError"]

ACTIVITY_EPS = 1e-8


class CleaningError(ValueError):
    """The quotes cannot be cleaned (no dates, no symbols)."""


def fill_gaps(close: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill NaNs row by row.

    Returns ``(filled, first_valid, last_valid)``: interior NaNs interpolated
    linearly over the day index, leading NaNs set to the first quote and
    trailing NaNs to the last one.  A row with no quote at all becomes all
    1.0 with ``first_valid = T`` and ``last_valid = -1`` (never tradable).
    """
    close = np.asarray(close, dtype=np.float64)
    n, t = close.shape
    out = close.copy()
    first = np.full(n, t, dtype=np.int64)
    last = np.full(n, -1, dtype=np.int64)
    finite = np.isfinite(close) & (close > 0)
    days = np.arange(t, dtype=np.float64)
    for i in range(n):
        ok = finite[i]
        if not ok.any():
            out[i] = 1.0
            continue
        idx = np.flatnonzero(ok)
        first[i], last[i] = idx[0], idx[-1]
        if idx.size == t:
            continue
        # np.interp holds the end values flat outside [idx[0], idx[-1]]
        out[i] = np.interp(days, idx.astype(np.float64), close[i, idx])
    return out, first, last


def first_activity(close: np.ndarray) -> np.ndarray:
    """Index of the first day whose gain ``|P_t / P_{t-1} - 1| >= 1e-8`` (T if none)."""
    close = np.asarray(close, dtype=np.float64)
    n, t = close.shape
    moved = np.zeros((n, t), dtype=bool)
    if t > 1:
        moved[:, 1:] = np.abs(close[:, 1:] / close[:, :-1] - 1.0) >= ACTIVITY_EPS
    has = moved.any(axis=1)
    return np.where(has, moved.argmax(axis=1), t).astype(np.int64)


def despike(close: np.ndarray, long_period: int, k: float) -> np.ndarray:
    """Cap upward spikes; returns the despiked prices D, same shape as ``close``.

    For each row, sequentially in t: ``sigma_t`` is the population std of the
    capped gains of the previous ``long_period`` days (days ``max(1, t-L) ..
    t-1``; at least 2 gains, else no cap); the capped gain is
    ``min(g_t, 1 + k * sigma_t)``; ``D_t = P_0 * prod(capped gains)``.  Only
    upward jumps are capped.  The loop runs over days with all rows at once,
    keeping running sums of the window so each day costs O(N).
    """
    close = np.asarray(close, dtype=np.float64)
    n, t = close.shape
    L = int(long_period)
    if L < 2:
        raise ValueError(f"LongPeriod must be >= 2 for despiking, got {long_period}")
    if t < 2:
        return close.copy()
    gains = np.ones((n, t))
    gains[:, 1:] = close[:, 1:] / close[:, :-1]
    capped = np.ones((n, t))
    # running sums of r = capped gain - 1 over the window of previous gains
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    kk = float(k)
    for tt in range(1, t):
        count = min(L, tt - 1)
        g = gains[:, tt]
        if count >= 2:
            mean = s1 / count
            var = np.maximum(s2 / count - mean * mean, 0.0)
            cap = 1.0 + kk * np.sqrt(var)
            g = np.minimum(g, cap)
        capped[:, tt] = g
        r_new = g - 1.0
        s1 += r_new
        s2 += r_new * r_new
        drop = tt - L  # the gain that leaves the window for day tt + 1
        if drop >= 1:
            r_old = capped[:, drop] - 1.0
            s1 -= r_old
            s2 -= r_old * r_old
    return close[:, :1] * np.cumprod(capped, axis=1)


def clean(quotes: Quotes, long_period: int, stddev_threshold: float) -> Prices:
    """Clean raw quotes into :class:`Prices` (P, D, tradable spans, first activity).

    Adds a ``CASH`` row of 1.0 when the store has none and moves it last.
    Raises :class:`CleaningError` for a store without dates or symbols.
    """
    if len(quotes.dates) == 0 or len(quotes.symbols) == 0:
        raise CleaningError("the quote store holds no dates or no symbols")
    symbols = list(quotes.symbols)
    close = np.asarray(quotes.close, dtype=np.float64)
    if "CASH" in symbols:
        i = symbols.index("CASH")
        order = [j for j in range(len(symbols)) if j != i] + [i]
        symbols = [symbols[j] for j in order]
        close = close[order]
    else:
        symbols.append("CASH")
        close = np.vstack([close, np.ones((1, close.shape[1]))])
    filled, first, last = fill_gaps(close)
    t = filled.shape[1]
    filled[-1] = 1.0
    first[-1], last[-1] = 0, t - 1
    active_from = first_activity(filled)
    despiked = despike(filled, long_period, stddev_threshold)
    despiked[-1] = 1.0
    return Prices(
        dates=np.asarray(quotes.dates).astype("datetime64[D]"),
        symbols=tuple(symbols),
        close=filled,
        despiked=despiked,
        first_valid=first,
        last_valid=last,
        first_active=active_from,
    )
