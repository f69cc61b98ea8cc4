"""The per-horizon performance table: total return, CAGR only from a year on, volatility,
drawdowns; short histories give fewer rows and never crash."""

from __future__ import annotations

import numpy as np
import pytest

from pytaaa.engine.performance import performance_table
from pytaaa.model import BacktestResult


def _bt(days: int, growth: float = 0.0004) -> BacktestResult:
    d = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + days)
    rng = np.random.default_rng(2)
    s = 10000 * np.exp(np.cumsum(rng.normal(growth, 0.01, days)))
    b = 10000 * np.exp(np.cumsum(rng.normal(growth / 2, 0.008, days)))
    s[0] = b[0] = 10000.0
    return BacktestResult(dates=d, strategy=s, buy_hold=b, stats={})


def test_rows_and_no_annualizing_under_a_year():
    rows = {r.label: r for r in performance_table(_bt(800))}
    assert list(rows) == ["whole", "2y", "1y", "6m", "3m", "1m"]
    for label in ("6m", "3m", "1m"):
        assert rows[label].strategy.cagr is None and rows[label].buy_hold.cagr is None
    one = rows["1y"].strategy
    assert one.cagr == pytest.approx(one.total_return, rel=1e-9)
    whole = rows["whole"]
    assert whole.strategy.cagr == pytest.approx(
        (1 + whole.strategy.total_return) ** (1 / whole.years) - 1)
    assert 0.05 < whole.strategy.volatility < 0.3
    assert whole.strategy.max_drawdown <= whole.strategy.mean_drawdown <= 0
    assert set(whole.as_dict()["strategy"]) == {"total_return", "cagr", "volatility", "sharpe",
                                                "max_drawdown", "mean_drawdown"}


def test_short_history_gives_fewer_rows_and_never_annualizes():
    rows = performance_table(_bt(80))
    assert [r.label for r in rows] == ["whole", "1m"]
    assert rows[0].strategy.cagr is None    # 80 days: the total return only
    assert performance_table(_bt(1)) == []
