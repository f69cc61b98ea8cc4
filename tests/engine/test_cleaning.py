"""Cleaning: gap filling, tradable spans, first activity, despike vs a reference loop."""

from __future__ import annotations

import _refs as ref
import numpy as np
import pytest

from pytaaa.engine.cleaning import (
    CleaningError,
    clean,
    despike,
    fill_gaps,
    first_activity,
)
from pytaaa.model import Quotes


def test_fill_gaps_interpolates_and_holds_ends():
    x = np.array([[np.nan, 2.0, np.nan, 4.0, np.nan], [np.nan] * 5, [1, 2, 3, 4, 5.0]])
    out, first, last = fill_gaps(x)
    np.testing.assert_allclose(out[0], [2, 2, 3, 4, 4])
    np.testing.assert_allclose(out[1], 1.0)
    np.testing.assert_array_equal(first, [1, 5, 0])
    np.testing.assert_array_equal(last, [3, -1, 4])


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


def test_clean_adds_cash_and_spans():
    dates = np.array(["2020-01-01", "2020-01-02", "2020-01-03"], dtype="datetime64[D]")
    q = Quotes(dates=dates, symbols=("CASH", "A"), close=np.array([[1, 1, 1], [np.nan, 2, 3.0]]))
    p = clean(q, 5, 3.0)
    assert p.symbols == ("A", "CASH")
    np.testing.assert_allclose(p.close[0], [2, 2, 3])
    assert p.first_valid[0] == 1 and p.last_valid[0] == 2
    assert p.tradable()[0].tolist() == [False, True, True]
    q2 = Quotes(dates=dates, symbols=("A",), close=np.array([[1, 2, 3.0]]))
    assert clean(q2, 5, 3.0).symbols == ("A", "CASH")
    with pytest.raises(CleaningError):
        clean(Quotes(dates=dates[:0], symbols=("A",), close=np.zeros((1, 0))), 5, 3.0)
