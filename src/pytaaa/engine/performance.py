"""The performance table a reader sees (``data-quality.md`` section 5).

Reads the backtest's daily values (strategy and buy-and-hold) and returns one
row per horizon the history reaches — whole history, 15, 10, 5, 3, 2 and 1
years, 6, 3 and 1 months — with, for each series, the total return, the CAGR
(only for horizons of at least one year: a shorter one is never annualized),
the annualized volatility of daily returns, the Sharpe ratio, and the max and
mean drawdown.  Fractions throughout (0.12 = 12 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pytaaa.engine.backtest import horizon_start
from pytaaa.model import BacktestResult

__all__ = ["PERFORMANCE_HORIZONS", "SeriesPerformance", "PerformanceRow", "performance_table"]

DAYS_PER_YEAR = 365.25
TRADING_DAYS = 252.0

#: label -> (years, text); None = the whole history
PERFORMANCE_HORIZONS: dict[str, tuple[float | None, str]] = {
    "whole": (None, "Whole history"),
    "15y": (15, "15 years"),
    "10y": (10, "10 years"),
    "5y": (5, "5 years"),
    "3y": (3, "3 years"),
    "2y": (2, "2 years"),
    "1y": (1, "1 year"),
    "6m": (0.5, "6 months"),
    "3m": (0.25, "3 months"),
    "1m": (1 / 12, "1 month"),
}


@dataclass(frozen=True)
class SeriesPerformance:
    """One series over one horizon; ``cagr`` is None below one year."""

    total_return: float
    cagr: float | None
    volatility: float
    sharpe: float
    max_drawdown: float
    mean_drawdown: float


@dataclass(frozen=True)
class PerformanceRow:
    """One horizon: its label, text, first date, length in years and both series."""

    label: str
    text: str
    start: str
    years: float
    strategy: SeriesPerformance
    buy_hold: SeriesPerformance

    def as_dict(self) -> dict[str, object]:
        """Plain dict for ``run_summary.json``."""
        return {"horizon": self.label, "start": self.start, "years": round(self.years, 4),
                "strategy": vars(self.strategy), "buy_hold": vars(self.buy_hold)}


def _series(v: np.ndarray, years: float) -> SeriesPerformance:
    total = float(v[-1] / v[0] - 1.0) if v[0] > 0 else 0.0
    cagr = None
    if years >= 1.0 - 1e-9:
        cagr = float((v[-1] / v[0]) ** (1.0 / years) - 1.0) if v[-1] > 0 and v[0] > 0 else -1.0
    r = v[1:] / v[:-1] - 1.0 if v.size > 1 else np.zeros(0)
    sd = float(r.std(ddof=1)) if r.size > 1 else 0.0
    vol = sd * float(np.sqrt(TRADING_DAYS))
    sharpe = float(r.mean() / sd * np.sqrt(TRADING_DAYS)) if sd > 1e-12 else 0.0
    dd = v / np.maximum.accumulate(v) - 1.0
    return SeriesPerformance(total, cagr, vol, sharpe, float(dd.min()), float(dd.mean()))


def performance_table(backtest: BacktestResult) -> list[PerformanceRow]:
    """Rows for every horizon of ``PERFORMANCE_HORIZONS`` the history reaches.

    A horizon of y years starts at the first date on or after ``last − y·365.25``
    days and is shown only when the history starts on or before that date.
    Never raises on a short or non-finite history: it shows fewer rows.
    """
    d = np.asarray(backtest.dates).astype("datetime64[D]")
    s = np.asarray(backtest.strategy, dtype=np.float64)
    b = np.asarray(backtest.buy_hold, dtype=np.float64)
    rows: list[PerformanceRow] = []
    if d.size < 2 or not (np.all(np.isfinite(s)) and np.all(np.isfinite(b))):
        return rows
    last = d[-1]
    for label, (years, text) in PERFORMANCE_HORIZONS.items():
        start = horizon_start(d, years)
        if start is None:
            continue
        span = float((last - d[start]).astype(int)) / DAYS_PER_YEAR
        span = years if years is not None else span
        rows.append(PerformanceRow(label, text, str(d[start]), float(span),
                                   _series(s[start:], float(span)), _series(b[start:], float(span))))
    return rows
