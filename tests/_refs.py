"""Slow, obviously-correct reference implementations used by several test files."""

from __future__ import annotations

import math

import numpy as np


def sma(x, p):
    return np.array([np.mean(x[max(0, t - p): t + 1]) for t in range(len(x))])


def wma(x, n):
    out = np.full(len(x), np.nan)
    for t in range(n - 1, len(x)):
        win = x[t - n + 1: t + 1]
        out[t] = sum((k + 1) * win[k] for k in range(n)) / (n * (n + 1) / 2)
    return out


def hma(x, n):
    diff = 2 * wma(x, max(1, n // 2)) - wma(x, n)
    r = int(math.isqrt(n))
    out = np.full(len(x), np.nan)
    for t in range(len(x)):
        win = diff[max(0, t - r + 1): t + 1]
        if len(win) == r and np.all(np.isfinite(win)):
            out[t] = win.mean()
    return out


def channel(x, periods, fn):
    out = np.zeros(len(x))
    for p in periods:
        for t in range(len(x)):
            win = x[max(1, t - p): t + 1]
            out[t] += fn(win) if len(win) else x[0]
    return out / len(periods)


def despike(p, L, k, real=None):
    """Despike one row: caps from the real gains of the window; a cut jump whose
    next real gain takes the price back inside the band is given back then."""
    t = len(p)
    real = [tt > 0 for tt in range(t)] if real is None else list(real)
    capped = [1.0]
    excess, prev_g = 1.0, 1.0
    for tt in range(1, t):
        g = p[tt] / p[tt - 1] if real[tt] else 1.0
        prev = [capped[j] for j in range(max(1, tt - L), tt) if real[j]]
        cap = 1 + k * float(np.std(prev)) if len(prev) >= 2 else math.inf
        c = min(g, cap)
        if real[tt]:
            if excess > 1.0 and g < 1.0 and prev_g * g <= cap:
                c = g * excess
                excess = 1.0
            else:
                excess = g / c
            prev_g = g
        capped.append(c)
    return p[0] * np.cumprod(capped)


def ma_signal(d, ma1, ma2, ma3, factor, kind):
    f = sma if kind == "SMAs" else hma
    s0, s1, s2 = f(d, ma2), f(d, ma3), factor * f(d, ma1)
    out = np.zeros(len(d), dtype=np.int8)
    for t in range(len(d)):
        up = d[t] > s2[t]
        low = min(s0[t], s1[t]) if np.isfinite(s0[t]) and np.isfinite(s1[t]) else np.nan
        if t > 0 and d[t] > low and s0[t] > s0[t - 1]:
            up = True
        out[t] = 1 if up else 0
    return out


def percentile_latch(d, periods, lo_pct, hi_pct):
    lo = channel(d, periods, lambda w: np.percentile(w, lo_pct))
    hi = channel(d, periods, lambda w: np.percentile(w, hi_pct))
    sig = np.zeros(len(d), dtype=np.int8)
    for t in range(1, len(d)):
        if (d[t - 1] <= lo[t - 1] and d[t] > lo[t]) or d[t] > hi[t]:
            sig[t] = 1
        elif (d[t - 1] >= hi[t - 1] and d[t] < hi[t]) or d[t] < lo[t]:
            sig[t] = 0
        else:
            sig[t] = sig[t - 1]
    return sig


def minmax_signal(d, narrow, medium, wide):
    def periods(a, b):
        return [int(round(a + k * (b - a) / 7)) for k in range(7)]

    n_lo = channel(d, periods(*narrow), np.min)
    n_hi = channel(d, periods(*narrow), np.max)
    out = np.zeros(len(d), dtype=np.int8)
    chans = [(channel(d, periods(*c), np.min), channel(d, periods(*c), np.max)) for c in (medium, wide)]
    for t in range(len(d)):
        mid = (n_lo[t] + n_hi[t]) / 2
        total = 0.0
        for lo, hi in chans:
            if hi[t] > lo[t]:
                total += 2 * ((mid - lo[t]) / (hi[t] - lo[t]) - 0.5)
        out[t] = 1 if total > 0 else 0
    return out
