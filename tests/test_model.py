"""Prices' masks (model.py): a restricted ``stale`` is the same cut of the whole mask."""

from __future__ import annotations

import numpy as np
import pytest

from pytaaa.model import Prices


def _prices(with_last_quote: bool) -> Prices:
    rng = np.random.default_rng(4)
    n, t = 300, 40  # more rows than one block
    quoted = rng.random((n, t)) < 0.7
    quoted[5] = False
    idx = np.where(quoted, np.arange(t), -1)
    np.maximum.accumulate(idx, axis=1, out=idx)
    first = np.where(quoted.any(1), quoted.argmax(1), t)
    last = np.where(quoted.any(1), t - 1 - quoted[:, ::-1].argmax(1), -1)
    close = np.ones((n, t))
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + t)
    return Prices(dates=dates, symbols=tuple(f"S{i}" for i in range(n)), close=close,
                  despiked=close, first_valid=first, last_valid=last,
                  first_active=np.zeros(n, int), quoted=quoted,
                  last_quote=idx if with_last_quote else None, stale_days=3)


@pytest.mark.parametrize("with_last_quote", [True, False])
def test_stale_of_some_rows_or_days_is_the_cut_of_the_whole_mask(with_last_quote: bool) -> None:
    p = _prices(with_last_quote)
    full = p.stale()
    assert full.shape == (300, 40) and full.dtype == bool
    assert full.any() and not full.all()
    rows = [0, 5, 299, 7]
    for r, d in [(None, None), (3, None), (rows, None), (slice(10, 290), None), (None, -1),
                 (None, slice(5, 30)), (rows, -1), (3, -1), (3, slice(0, 12)),
                 (rows, [0, 39])]:
        want = full[(slice(None) if r is None else r)][..., (slice(None) if d is None else d)]
        got = p.stale(r, d)
        np.testing.assert_array_equal(got, want, err_msg=f"rows={r} days={d}")
        assert np.shape(got) == np.shape(want)
