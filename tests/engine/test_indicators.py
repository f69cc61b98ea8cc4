"""Moving averages and channels against slow, obviously-correct loops; property tests."""

from __future__ import annotations

import _refs as ref
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pytaaa.engine.indicators import hma, minmax_channel, percentile_channel, sma, wma


def walk(seed, n=300):
    rng = np.random.default_rng(seed)
    return 20 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))


def test_sma_wma_hma_match_reference():
    x = walk(1)
    for p in (1, 5, 20):
        np.testing.assert_allclose(sma(x, p), ref.sma(x, p), rtol=1e-10)
    for n in (1, 2, 7, 30):
        np.testing.assert_allclose(wma(x, n), ref.wma(x, n), rtol=1e-9, equal_nan=True)
    for n in (4, 9, 30, 151):
        np.testing.assert_allclose(hma(x, n), ref.hma(x, n), rtol=1e-9, equal_nan=True)


def test_channels_match_reference():
    x = walk(2, 120)
    periods = [4, 7, 10]
    lo, hi = minmax_channel(x, periods)
    np.testing.assert_allclose(lo[1:], ref.channel(x, periods, np.min)[1:], rtol=1e-12)
    np.testing.assert_allclose(hi[1:], ref.channel(x, periods, np.max)[1:], rtol=1e-12)
    plo, phi = percentile_channel(x, periods, 20, 80)
    np.testing.assert_allclose(plo[1:], ref.channel(x, periods, lambda w: np.percentile(w, 20))[1:],
                               rtol=1e-12)
    np.testing.assert_allclose(phi[1:], ref.channel(x, periods, lambda w: np.percentile(w, 80))[1:],
                               rtol=1e-12)
    assert lo[0] == hi[0] == plo[0] == x[0]


def test_rows_are_independent():
    x = np.vstack([walk(3), walk(4)])
    np.testing.assert_allclose(hma(x, 20)[1], hma(x[1], 20), equal_nan=True)
    np.testing.assert_allclose(percentile_channel(x, [4, 7], 10, 90)[0][0],
                               percentile_channel(x[0], [4, 7], 10, 90)[0])


prices = arrays(np.float64, st.integers(15, 80),
                elements=st.floats(0.5, 500, allow_nan=False, allow_infinity=False))


@settings(max_examples=60, deadline=None)
@given(prices, st.integers(0, 12))
def test_sma_bounded_by_window_extremes(x, p):
    s = sma(x, p)
    for t in range(len(x)):
        win = x[max(0, t - p): t + 1]
        assert win.min() - 1e-9 <= s[t] <= win.max() + 1e-9


@settings(max_examples=60, deadline=None)
@given(prices, st.integers(1, 12))
def test_wma_of_constant_is_constant_and_bounded(x, n):
    w = wma(x, n)
    assert np.all(np.isnan(w[: n - 1]))
    for t in range(n - 1, len(x)):
        win = x[t - n + 1: t + 1]
        assert win.min() - 1e-7 <= w[t] <= win.max() + 1e-7
    c = wma(np.full(len(x), 3.25), n)
    np.testing.assert_allclose(c[n - 1:], 3.25)


@settings(max_examples=60, deadline=None)
@given(prices, st.lists(st.integers(1, 12), min_size=1, max_size=4),
       st.floats(0, 50), st.floats(50, 100))
def test_channel_ordering(x, periods, lo_pct, hi_pct):
    lo, hi = minmax_channel(x, periods)
    plo, phi = percentile_channel(x, periods, lo_pct, hi_pct)
    assert np.all(lo <= plo + 1e-9)
    assert np.all(plo <= phi + 1e-9)
    assert np.all(phi <= hi + 1e-9)


@settings(max_examples=40, deadline=None)
@given(prices, st.integers(1, 30), st.floats(0.1, 10))
def test_indicators_scale_linearly(x, n, c):
    np.testing.assert_allclose(hma(c * x, n), c * hma(x, n), rtol=1e-7, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(minmax_channel(c * x, [n])[1], c * minmax_channel(x, [n])[1],
                               rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(prices, st.integers(1, 30), st.data())
def test_no_look_ahead(x, n, data):
    t = data.draw(st.integers(0, len(x) - 2))
    y = x.copy()
    y[t + 1:] *= 1.7
    for f in (lambda a: sma(a, n), lambda a: wma(a, n), lambda a: hma(a, n),
              lambda a: minmax_channel(a, [n, n + 3])[0],
              lambda a: percentile_channel(a, [n], 25, 75)[1]):
        np.testing.assert_array_equal(f(x)[: t + 1], f(y)[: t + 1])
