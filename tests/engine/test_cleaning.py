"""Cleaning: real quotes, carried prices (no interpolation), spans, stale and non-daily
symbols, first activity, despike (late listings, bad-print round trip) vs a reference loop."""

from __future__ import annotations

import _refs as ref
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
import pytest

from pytaaa.engine.cleaning import (
    CleaningError,
    carry_forward,
    clean,
    daily_quotes,
    despike,
    first_activity,
    real_quotes,
)
from pytaaa.model import Quotes


def _days(t, start="2020-01-01"):
    d = np.arange(np.datetime64(start), np.datetime64(start) + 2 * t + 10)
    return d[np.is_busday(d)][:t]


def test_carry_forward_never_interpolates_or_uses_a_later_quote():
    x = np.array([[np.nan, 2.0, np.nan, 4.0, np.nan], [np.nan] * 5, [1, 2, 3, 4, 5.0]])
    out, last_quote, first, last = carry_forward(x, real_quotes(x))
    np.testing.assert_allclose(out[0, 1:], [2, 2, 4, 4])  # day 2 is carried, not 3
    np.testing.assert_allclose(out[1], 1.0)
    np.testing.assert_array_equal(last_quote[0], [-1, 1, 1, 3, 3])
    np.testing.assert_array_equal(first, [1, 5, 0])
    np.testing.assert_array_equal(last, [3, -1, 4])


def test_missing_values_are_not_quotes():
    x = np.array([[1.0, 0.0, -2.0, np.inf, 2e9, 1e-300, 3.0]])
    assert real_quotes(x).tolist() == [[True, False, False, False, False, False, True]]


def test_first_activity():
    x = np.array([[5, 5, 5, 6, 7.0], [1, 1, 1, 1, 1.0], [1, 2, 3, 4, 5.0]])
    np.testing.assert_array_equal(first_activity(x), [3, 5, 1])


def test_despike_matches_reference_and_caps_only_up_moves():
    rng = np.random.default_rng(3)
    p = 10 * np.exp(np.cumsum(rng.normal(0, 0.01, (3, 400)), axis=1))
    p[0, 200:] *= 1.8   # an upward jump
    p[1, 250:] *= 0.5   # a downward jump stays
    d = despike(p, 30, 4.0)
    for i in range(3):
        np.testing.assert_allclose(d[i], ref.despike(p[i], 30, 4.0), rtol=1e-10)
    assert d[0, 200] / d[0, 199] < 1.2
    assert d[1, 250] / d[1, 249] == pytest.approx(p[1, 250] / p[1, 249])


def test_bad_print_round_trip_restores_the_despiked_price():
    """A x3 one-day print that reverts: D comes back to the real level, and no -66 %
    day is left in D (it stayed at 0.35 x the real price before)."""
    rng = np.random.default_rng(4)
    p = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, (1, 300)), axis=1))
    bad = p.copy()
    bad[0, 150] *= 3.0
    d_bad = despike(bad, 40, 4.0)
    d_ok = despike(p, 40, 4.0)
    assert d_bad[0, 150] / d_bad[0, 149] < 1.1  # capped on the day (causal)
    assert d_bad[0, 151] / d_ok[0, 151] == pytest.approx(1.0, rel=0.02)
    assert d_bad[0, 299] / d_ok[0, 299] == pytest.approx(1.0, rel=0.02)
    assert np.min(d_bad[0, 1:] / d_bad[0, :-1]) > 0.9
    np.testing.assert_allclose(d_bad[0], ref.despike(bad[0], 40, 4.0), rtol=1e-10)


def test_late_listing_first_gains_are_not_capped():
    """The flat stretch before the first quote is not data: a late listing's first
    moves are not capped by a window of zero gains."""
    t = 200
    dates = _days(t)
    row = np.full(t, np.nan)
    rng = np.random.default_rng(1)
    row[120:] = 20 * np.exp(np.cumsum(rng.normal(0.002, 0.03, t - 120)))
    q = Quotes(dates=dates, symbols=("NEW",), close=row[None, :])
    p = clean(q, 50, 3.0)
    np.testing.assert_allclose(p.despiked[0, 120:123], p.close[0, 120:123])
    assert p.first_valid[0] == 120 and not p.tradable()[0, 119] and p.tradable()[0, 120]


def test_clean_adds_cash_and_spans():
    dates = np.array(["2020-01-01", "2020-01-02", "2020-01-03"], dtype="datetime64[D]")
    q = Quotes(dates=dates, symbols=("CASH", "A"), close=np.array([[1, 1, 1], [np.nan, 2, 3.0]]))
    p = clean(q, 5, 3.0)
    assert p.symbols == ("A", "CASH")
    np.testing.assert_allclose(p.close[0, 1:], [2, 3])
    assert p.first_valid[0] == 1 and p.last_valid[0] == 2
    assert p.tradable()[0].tolist() == [False, True, True]
    q2 = Quotes(dates=dates, symbols=("A",), close=np.array([[1, 2, 3.0]]))
    assert clean(q2, 5, 3.0).symbols == ("A", "CASH")
    with pytest.raises(CleaningError):
        clean(Quotes(dates=dates[:0], symbols=("A",), close=np.zeros((1, 0))), 5, 3.0)


def test_stale_after_stale_days_and_live_again_when_quotes_return():
    t = 40
    row = np.linspace(10, 20, t)
    row[10:20] = np.nan  # 10 trading days without a quote
    p = clean(Quotes(dates=_days(t), symbols=("A",), close=row[None, :]), 5, 3.0, stale_days=5)
    live = p.tradable()[0]
    assert live[10:15].all()          # a missing quote keeps the symbol
    assert not live[15:20].any()      # stale after 5 days: treated as delisted
    assert live[20:].all()            # live again when quotes return
    assert p.stale()[0, 15:20].all() and not p.stale()[0, 20:].any()
    np.testing.assert_allclose(p.close[0, 10:20], row[9])  # carried, not interpolated


def test_monthly_series_is_not_daily():
    t = 300
    dates = _days(t)
    monthly = np.full(t, np.nan)
    monthly[::21] = np.linspace(10, 12, len(monthly[::21]))
    daily = np.linspace(10, 12, t)
    daily[100] = np.nan
    q = real_quotes(np.vstack([monthly, daily]))
    ok = daily_quotes(q, dates)
    assert not ok[0, 63:].any()
    assert ok[1].all()


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 90), st.integers(1, 6), st.floats(0.05, 1.0), st.integers(0, 10**6))
def test_daily_quotes_equals_the_rolling_median_everywhere(t, n, density, seed):
    """daily_quotes takes medians only of rows where more than half of some window's
    spacings are wide; the result is the rolling median's, for every row and day."""
    import bottleneck as bn

    rng = np.random.default_rng(seed)
    quoted = rng.random((n, t)) < density
    dates = np.arange(np.datetime64("2020-01-06"), np.datetime64("2020-01-06") + 2 * t)
    dates = dates[np.is_busday(dates)][:t]
    days = dates.astype(np.int64).astype(np.float64)
    want = np.ones((n, t), dtype=bool)
    for i in range(n):
        last, spacing = -1, np.full(t, np.nan)
        for j in range(t):
            if quoted[i, j]:
                if last >= 0:
                    spacing[j] = days[j] - days[last]
                last = j
        med = bn.move_median(spacing, window=min(20, t), min_count=1)
        with np.errstate(invalid="ignore"):
            want[i] = ~(med > 3.0)
    np.testing.assert_array_equal(daily_quotes(quoted, dates, window=20), want)
