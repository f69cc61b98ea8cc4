"""Moving averages and price channels, vectorized over symbols.

Every function takes an array ``x`` of shape ``(N, T)`` (one row per symbol,
one column per trading day, oldest first; a 1-D array is treated as one row)
and returns float64 arrays of the same shape.  They run in O(N*T) (channels:
O(N*T*p)) with no Python loop over days, and they never look ahead: the value
at column ``t`` depends on ``x[:, :t+1]`` only.

The definitions are those of ``spec/pipeline.md`` section 5.1.
"""

from __future__ import annotations

from collections.abc import Sequence

import bottleneck as bn
import numpy as np

from pytaaa._blocks import blocks

__all__ = [
    "WmaSums",
    "move",
    "sma",
    "wma",
    "hma",
    "rolling_mean",
    "minmax_channel",
    "percentile_channel",
]


def move(name: str, a: np.ndarray, window: int, min_count: int, axis: int = -1,
         **kwargs: float) -> np.ndarray:
    """A bottleneck moving-window function (``"mean"``, ``"std"``, ``"min"``, ``"max"``,
    ``"sum"``) that accepts a window longer than the data: the window is then
    everything so far, and a ``min_count`` above the length gives all NaN."""
    a = np.asarray(a, dtype=np.float64)
    length = a.shape[axis]
    if length == 0 or min_count > length:
        return np.full(a.shape, np.nan)
    fn = getattr(bn, f"move_{name}")
    w = max(1, min(int(window), length))
    return fn(a, window=w, min_count=max(1, min(int(min_count), w)), axis=axis, **kwargs)


def _as2d(x: np.ndarray) -> tuple[np.ndarray, bool]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return x[None, :], True
    return x, False


def _ret(out: np.ndarray, flat: bool) -> np.ndarray:
    return out[0] if flat else out


def _cumsum0(x: np.ndarray) -> np.ndarray:
    """Cumulative sum along axis 1 with a leading column of zeros."""
    c = np.zeros((x.shape[0], x.shape[1] + 1))
    np.cumsum(x, axis=1, out=c[:, 1:])
    return c


def sma(x: np.ndarray, p: int) -> np.ndarray:
    """Simple moving average over the ``p + 1`` points ending at ``t``.

    At the start, where fewer than ``p + 1`` points exist, the mean of the
    points available is used (so the result has no NaN for finite input).
    """
    x2, flat = _as2d(x)
    w = int(p) + 1
    if w < 1:
        raise ValueError(f"sma period must be >= 0, got {p}")
    t = x2.shape[1]
    c = _cumsum0(x2)
    idx = np.arange(1, t + 1)
    lo = np.maximum(idx - w, 0)
    out = (c[:, idx] - c[:, lo]) / (idx - lo)
    return _ret(out, flat)


def rolling_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Mean of the last ``n`` points; NaN until ``n`` finite points are available.

    Leading NaNs in ``x`` (a warming-up indicator) delay the first value.
    """
    x2, flat = _as2d(x)
    out = move("mean", x2, int(n), int(n), axis=1)
    return _ret(out, flat)


class WmaSums:
    """The two cumulative sums every WMA of ``x`` is computed from.

    Built once for a block of rows, they give the WMA of any length in O(N*T)
    (:meth:`wma`): the HMA signal's three averages (six WMAs) of the same
    prices share one pair of sums.  Holds two ``(N, T + 1)`` arrays, so build
    it on a block of rows (:func:`pytaaa._blocks.blocks`).
    """

    def __init__(self, x: np.ndarray) -> None:
        x2, _ = _as2d(x)
        self.x = x2
        t = x2.shape[1]
        # work relative to each row's first value to keep the sums small
        self.base = x2[:, :1]
        y = x2 - self.base
        self.c1 = _cumsum0(y)
        self.c2 = _cumsum0(y * np.arange(t, dtype=np.float64))

    def wma(self, n: int) -> np.ndarray:
        """:func:`wma` of the rows the sums were built from, ``(N, T)``."""
        x2, n = self.x, int(n)
        if n < 1:
            raise ValueError(f"wma length must be >= 1, got {n}")
        t = x2.shape[1]
        out = np.full_like(x2, np.nan)
        if t < n:
            return out
        if n == 1:
            out[:] = x2
            return out
        ends = np.arange(n - 1, t)  # inclusive end index of each window
        c1, c2 = self.c1, self.c2
        s1 = c1[:, n:] - c1[:, : t - n + 1]
        s2 = c2[:, n:] - c2[:, : t - n + 1]
        # sum_{k} (i_k - (end - n)) * y_k
        weighted = s2 - (ends - n).astype(np.float64) * s1
        out[:, n - 1 :] = weighted / (n * (n + 1) / 2.0) + self.base
        return out


def wma(x: np.ndarray, n: int) -> np.ndarray:
    """Linearly weighted mean of the last ``n`` points (weight ``n`` on the newest).

    NaN for ``t < n - 1`` (warming up).  Computed from two cumulative sums
    (:class:`WmaSums`), so its cost does not depend on ``n``.
    """
    x2, flat = _as2d(x)
    n = int(n)
    if n < 1:
        raise ValueError(f"wma length must be >= 1, got {n}")
    out = np.empty_like(x2)
    # rows are independent: a block at a time keeps the temporaries small
    for rows in blocks(x2.shape[0], x2.shape[1]):
        out[rows] = WmaSums(x2[rows]).wma(n)
    return _ret(out, flat)


def hma(x: np.ndarray, n: int, sums: WmaSums | None = None) -> np.ndarray:
    """Hull moving average: the mean over ``floor(sqrt(n))`` points of
    ``2 * WMA(x, floor(n/2)) - WMA(x, n)``.

    NaN while warming up (the first ``n - 1 + floor(sqrt(n)) - 1`` columns);
    comparisons with NaN are false, so a signal is 0 there.  ``sums``: the
    :class:`WmaSums` of ``x``, when the caller computes several averages of it.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"hma length must be >= 1, got {n}")
    half = max(1, n // 2)
    root = max(1, int(np.sqrt(n)))
    if sums is None:
        diff = 2.0 * wma(x, half) - wma(x, n)
        return rolling_mean(diff, root)
    x2, flat = _as2d(x)
    diff = 2.0 * sums.wma(half) - sums.wma(n)
    return _ret(rolling_mean(diff, root), flat)


def _channel_windows_mask(x2: np.ndarray) -> np.ndarray:
    """``x`` with column 0 masked: windows are ``x[max(1, t-p) .. t]``."""
    y = x2.copy()
    y[:, 0] = np.nan
    return y


def minmax_channel(x: np.ndarray, periods: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The "dpg" channel: for each period ``p`` the min and max of
    ``x[max(1, t-p) .. t]``, averaged over ``periods``.  Returns ``(low, high)``.

    Column 0 (an empty window) takes ``x[:, 0]``.
    """
    x2, flat = _as2d(x)
    periods = [int(p) for p in periods]
    if not periods:
        raise ValueError("minmax_channel needs at least one period")
    y = _channel_windows_mask(x2)
    lo = np.zeros_like(x2)
    hi = np.zeros_like(x2)
    for p in periods:
        w = max(1, p + 1)
        lo += move("min", y, w, 1, axis=1)
        hi += move("max", y, w, 1, axis=1)
    lo /= len(periods)
    hi /= len(periods)
    lo[:, 0] = x2[:, 0]
    hi[:, 0] = x2[:, 0]
    return _ret(lo, flat), _ret(hi, flat)


_PCT_CHUNK_ROWS = 16


def _interp_sorted(s: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolation percentile ``q`` of rows already sorted on the last axis."""
    w = s.shape[-1]
    pos = q / 100.0 * (w - 1)
    k = int(np.floor(pos))
    frac = pos - k
    if k >= w - 1:
        return s[..., w - 1].copy()
    return s[..., k] + (s[..., k + 1] - s[..., k]) * frac


def percentile_channel(
    x: np.ndarray, periods: Sequence[int], low_pct: float, hi_pct: float
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile channel: like :func:`minmax_channel` with the ``low_pct``-th
    and ``hi_pct``-th percentiles (linear interpolation, numpy's default)
    instead of min and max.  Returns ``(low, high)``.
    """
    x2, flat = _as2d(x)
    n_rows, t = x2.shape
    periods = [int(p) for p in periods]
    if not periods:
        raise ValueError("percentile_channel needs at least one period")
    lo = np.zeros_like(x2)
    hi = np.zeros_like(x2)
    for p in periods:
        w = max(1, p + 1)
        # partial windows at the start: x[1..t] for 1 <= t < w (and t < T)
        for tt in range(1, min(w, t)):
            seg = x2[:, 1 : tt + 1]
            lo[:, tt] += np.percentile(seg, low_pct, axis=1)
            hi[:, tt] += np.percentile(seg, hi_pct, axis=1)
        if t > w:
            # sort the windows a few rows at a time: the sorted copy is rows*T*w floats
            for r0 in range(0, n_rows, _PCT_CHUNK_ROWS):
                rows = slice(r0, r0 + _PCT_CHUNK_ROWS)
                win = np.lib.stride_tricks.sliding_window_view(x2[rows, 1:], w, axis=1)
                s = np.sort(win, axis=-1)
                lo[rows, w:] += _interp_sorted(s, low_pct)
                hi[rows, w:] += _interp_sorted(s, hi_pct)
    lo /= len(periods)
    hi /= len(periods)
    lo[:, 0] = x2[:, 0]
    hi[:, 0] = x2[:, 0]
    return _ret(lo, flat), _ret(hi, flat)
