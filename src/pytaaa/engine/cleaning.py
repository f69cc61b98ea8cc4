"""Price cleaning and despiking (``pipeline.md`` section 4, ``data-quality.md`` section 1).

Reads the raw :class:`~pytaaa.model.Quotes` of the store and sets the
:class:`~pytaaa.model.Prices` every later stage uses:

- ``quoted``: a real quote on that day (finite, above ``MIN_PRICE``, at most
  ``MAX_PRICE``); everything else is missing and never used;
- ``close`` (P): the last real quote at or before each day (carried forward,
  never interpolated, never taken from a later day).  Before a symbol's first
  quote the row holds that first quote only as an arithmetic stand-in: the
  symbol does not exist yet there (not tradable, no signal, no return), so no
  later price reaches an earlier result.  A never-quoted row is 1.0 and never
  tradable; ``CASH`` = 1.0 (added when the store lacks it);
- ``last_quote``: index of the last real quote at or before each day (-1 none);
- ``first_valid`` / ``last_valid``: the first and last real quote;
- ``first_active``: the first day whose gain differs from 1 by at least 1e-8;
- ``despiked`` (D): upward one-day jumps capped at ``1 + k * sigma`` where sigma is
  the population std of the previous ``LongPeriod`` already-capped *real* gains
  (the flat stretch before the first quote and carried days are not data); a
  capped jump that reverts on the next real quote is given back then (causal
  undo of a one-day bad print).
"""

from __future__ import annotations

import numpy as np

from pytaaa._blocks import blocks
from pytaaa.model import Prices, Quotes

__all__ = [
    "clean",
    "real_quotes",
    "carry_forward",
    "first_activity",
    "daily_quotes",
    "despike",
    "CleaningError",
    "MIN_PRICE",
    "MAX_PRICE",
    "STALE_QUOTE_DAYS",
]

ACTIVITY_EPS = 1e-8
#: Prices at or below this are not real quotes (zero, denormal or negative prints).
MIN_PRICE = 1e-6
#: Prices above this are absurd magnitudes, not real quotes.
MAX_PRICE = 1e9
#: Default of ``stale_quote_days``: trading days without a quote before a symbol is stale.
STALE_QUOTE_DAYS = 5
#: Median spacing of real quotes (calendar days) above which a symbol is not daily.
MAX_DAILY_SPACING = 3.0
#: Trading days over which the spacing of real quotes is measured.
SPACING_WINDOW = 63


class CleaningError(ValueError):
    """The quotes cannot be cleaned (no dates, no symbols)."""


def real_quotes(close: np.ndarray) -> np.ndarray:
    """``(N, T)`` bool: finite prices in ``(MIN_PRICE, MAX_PRICE]``."""
    close = np.asarray(close, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(close) & (close > MIN_PRICE) & (close <= MAX_PRICE)


def carry_forward(
    close: np.ndarray, quoted: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Carry the last real quote forward, row by row.

    Returns ``(filled, last_quote, first_valid, last_valid)``: ``filled[i, t]`` is
    the real quote on ``last_quote[i, t]``, the last quoted day at or before t;
    before the first quote it is the first quote (a stand-in, see the
    module docstring); a row with no quote is all 1.0 with ``first_valid = T``
    and ``last_valid = -1``.  ``last_quote`` is -1 before the first quote.
    """
    close = np.asarray(close, dtype=np.float64)
    n, t = close.shape
    idx = np.where(quoted, np.arange(t)[None, :], -1)
    np.maximum.accumulate(idx, axis=1, out=idx)
    has = quoted.any(axis=1)
    first = np.where(has, quoted.argmax(axis=1), t).astype(np.int64)
    last = np.where(has, t - 1 - quoted[:, ::-1].argmax(axis=1), -1).astype(np.int64)
    take = np.where(idx >= 0, idx, np.minimum(first, t - 1)[:, None])
    filled = np.take_along_axis(close, take, axis=1)
    filled[~has] = 1.0
    return filled, idx, first, last


def daily_quotes(quoted: np.ndarray, dates: np.ndarray, window: int = SPACING_WINDOW) -> np.ndarray:
    """``(N, T)`` bool: False where a symbol's real quotes are not daily on day t.

    The spacing of each real quote is the number of calendar days since the
    previous one; on day t a symbol is not daily when the median spacing of
    its quotes of the last ``window`` trading days is above ``MAX_DAILY_SPACING``
    (3) calendar days.  Uses data up to t only; True where there is no spacing yet.
    """
    import bottleneck as bn

    n, t = quoted.shape
    if t < 2:
        return np.ones((n, t), dtype=bool)
    days = np.asarray(dates).astype("datetime64[D]").astype(np.int64).astype(np.float64)
    idx = np.where(quoted, np.arange(t)[None, :], -1)
    np.maximum.accumulate(idx, axis=1, out=idx)
    prev = np.full((n, t), -1, dtype=np.int64)
    prev[:, 1:] = idx[:, :-1]
    spacing = np.where(quoted & (prev >= 0), days[None, :] - days[np.maximum(prev, 0)], np.nan)
    w = min(window, t)
    # The median of m spacings is above 3 only if at least m/2 of them are: count
    # both in every window (exact integers) and take medians only of the rows
    # where that happens somewhere (a daily symbol never gets there).
    with np.errstate(invalid="ignore"):
        wide = _window_counts(spacing > MAX_DAILY_SPACING, w)
    have = _window_counts(~np.isnan(spacing), w)
    rows = np.flatnonzero(((2 * wide >= have) & (have > 0)).any(axis=1))
    ok = np.ones((n, t), dtype=bool)
    if rows.size:
        med = bn.move_median(spacing[rows], window=w, min_count=1, axis=1)
        with np.errstate(invalid="ignore"):
            ok[rows] = ~(med > MAX_DAILY_SPACING)
    return ok


def _window_counts(mask: np.ndarray, w: int) -> np.ndarray:
    """Number of True in ``mask[:, max(0, t - w + 1) .. t]`` for every t."""
    c = np.cumsum(mask, axis=1, dtype=np.int64)
    out = c.copy()
    out[:, w:] -= c[:, :-w]
    return out


def first_activity(close: np.ndarray) -> np.ndarray:
    """Index of the first day whose gain ``|P_t / P_{t-1} - 1| >= 1e-8`` (T if none)."""
    close = np.asarray(close, dtype=np.float64)
    n, t = close.shape
    moved = np.zeros((n, t), dtype=bool)
    if t > 1:
        moved[:, 1:] = np.abs(close[:, 1:] / close[:, :-1] - 1.0) >= ACTIVITY_EPS
    has = moved.any(axis=1)
    return np.where(has, moved.argmax(axis=1), t).astype(np.int64)


def despike(close: np.ndarray, long_period: int, k: float,
            real: np.ndarray | None = None) -> np.ndarray:
    """Cap upward spikes; returns the despiked prices D, same shape as ``close``.

    ``real`` ``(N, T)`` bool marks the days whose gain ``P_t / P_{t-1}`` is a real
    one (a quote on t after an earlier quote); by default every day from 1 on.
    For each row, sequentially in t: ``sigma_t`` is the population std of the
    capped real gains of the previous ``long_period`` days (days ``max(1, t-L)
    .. t-1``; at least 2 real gains, else no cap); the capped gain is
    ``min(g_t, 1 + k * sigma_t)``.  Only upward jumps are capped.  Causal undo:
    when the previous real gain ``g'`` was cut by a factor ``e`` and today's
    real gain ``g`` is a drop that takes the price back inside today's band
    (``g' * g <= 1 + k * sigma_t``), today's capped gain is ``g * e``: D follows
    the two-day move, so a one-day bad print that reverts brings D back to
    the pre-spike level instead of leaving it cut by the spike's size.  ``D_t = P_0 * prod(capped gains)``.
    The loop runs over days with all rows at once, keeping running sums of the
    window so each day costs O(N).
    """
    close = np.asarray(close, dtype=np.float64)
    n, t = close.shape
    L = int(long_period)
    if L < 2:
        raise ValueError(f"LongPeriod must be >= 2 for despiking, got {long_period}")
    if t < 2:
        return close.copy()
    if real is None:
        real = np.ones((n, t), dtype=bool)
        real[:, 0] = False
    real = np.asarray(real, dtype=bool)
    # the capped gains, turned into D in place at the end: the only (N, T) array made here
    capped = np.empty((n, t))
    capped[:, 0] = 1.0
    # running sums of r = capped gain - 1 and the count of real gains in the window
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    count = np.zeros(n)
    excess = np.ones(n)  # how much the last real gain was cut (1 = not cut)
    prev_g = np.ones(n)  # the last real gain
    kk = float(k)
    # the last L days' capped gains and real flags, day tt in slot tt % L
    ring_c = np.empty((L, n))
    ring_real = np.zeros((L, n), dtype=bool)
    for b in blocks(t - 1, n):
        lo, hi = b.start + 1, b.stop + 1
        # the block's days as contiguous rows: gains (1 where not real) and real flags
        real_b = np.ascontiguousarray(real[:, lo:hi].T)
        gains_b = np.ascontiguousarray(np.where(real[:, lo:hi], close[:, lo:hi]
                                                / close[:, lo - 1:hi - 1], 1.0).T)
        capped_b = np.empty_like(gains_b)
        for j, tt in enumerate(range(lo, hi)):
            rt, g = real_b[j], gains_b[j]
            safe = np.maximum(count, 1.0)
            mean = s1 / safe
            var = np.maximum(s2 / safe - mean * mean, 0.0)
            cap = np.where(count >= 2, 1.0 + kk * np.sqrt(var), np.inf)
            c = np.minimum(g, cap)
            if (excess > 1.0).any():
                # yesterday's real jump was cut and today's drop takes the price back
                # inside the band: D follows the two-day move (undo of a bad print)
                undo = (excess > 1.0) & (g < 1.0) & rt & (prev_g * g <= cap)
                c = np.where(undo, g * excess, c)
                excess = np.where(rt, np.where(undo, 1.0, g / c), excess)
            else:
                excess = np.where(rt, g / c, excess)
            prev_g = np.where(rt, g, prev_g)
            capped_b[j] = c
            slot = tt % L
            leaving = tt - L >= 1  # day tt - L leaves the window for day tt + 1
            if leaving:
                r_old = ring_c[slot] - 1.0
                count -= ring_real[slot]  # whole numbers: exact in any order
            ring_c[slot], ring_real[slot] = c, rt
            r_new = c - 1.0
            s1 += r_new
            s2 += r_new * r_new
            count += rt
            if leaving:
                s1 -= r_old
                s2 -= r_old * r_old
        capped[:, lo:hi] = capped_b.T
    np.cumprod(capped, axis=1, out=capped)
    capped *= close[:, :1]
    return capped


def clean(quotes: Quotes, long_period: int, stddev_threshold: float,
          stale_days: int = STALE_QUOTE_DAYS) -> Prices:
    """Clean raw quotes into :class:`Prices` (P, D, quotes, spans, first activity).

    Adds a ``CASH`` row of 1.0 when the store has none and moves it last.
    ``stale_days`` (config ``stale_quote_days``) is kept on the result: a
    symbol without a real quote for more than that many trading days is
    treated as delisted from then on.  Raises :class:`CleaningError` for a
    store without dates or symbols.
    """
    if len(quotes.dates) == 0 or len(quotes.symbols) == 0:
        raise CleaningError("the quote store holds no dates or no symbols")
    symbols = list(quotes.symbols)
    raw = np.asarray(quotes.close)
    rows = list(range(len(symbols)))
    if "CASH" in symbols:
        rows.remove(symbols.index("CASH"))
    symbols = [symbols[j] for j in rows] + ["CASH"]
    n, t = len(symbols), len(quotes.dates)
    # (N, T) results, filled a block of rows at a time so that the temporaries
    # stay a block's size, whatever the universe
    filled = np.empty((n, t))
    last_quote = np.empty((n, t), dtype=np.int32)  # int32: T < 2**31 days; half the memory
    quoted = np.empty((n, t), dtype=bool)
    live = np.empty((n, t), dtype=bool)
    real = np.empty((n, t), dtype=bool)
    first = np.empty(n, dtype=np.int64)
    last = np.empty(n, dtype=np.int64)
    active_from = np.empty(n, dtype=np.int64)
    days = np.arange(t)[None, :]
    for b in blocks(n - 1, t):
        lo, hi = b.start, b.stop
        block = np.asarray(raw[rows[lo:hi]], dtype=np.float64)
        q = real_quotes(block)
        f, lq, fi, la = carry_forward(block, q)
        filled[lo:hi], last_quote[lo:hi], quoted[lo:hi] = f, lq, q
        first[lo:hi], last[lo:hi] = fi, la
        real[lo:hi] = q & (days > fi[:, None])
        live[lo:hi] = ((lq >= 0) & (days - lq <= int(stale_days))
                       & daily_quotes(q, quotes.dates))
        active_from[lo:hi] = first_activity(f)
    # CASH: quoted 1.0 every day, never a real gain
    filled[-1], last_quote[-1], quoted[-1], live[-1], real[-1] = 1.0, days[0], True, True, False
    first[-1], last[-1] = 0, t - 1
    active_from[-1] = t
    despiked = despike(filled, long_period, stddev_threshold, real)
    del real
    despiked[-1] = 1.0
    return Prices(
        dates=np.asarray(quotes.dates).astype("datetime64[D]"),
        symbols=tuple(symbols),
        close=filled,
        despiked=despiked,
        first_valid=first,
        last_valid=last,
        first_active=active_from,
        quoted=quoted,
        last_quote=last_quote,
        live=live,
        stale_days=int(stale_days),
    )
