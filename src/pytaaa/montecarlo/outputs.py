"""The Monte Carlo run's data files (``montecarlo.md`` §3), in PyTAAA's names.

Reads the trials' results; writes into the performance store, each file
atomically (:mod:`pytaaa._io`):

- ``pyTAAAweb_backtestPortfolioValue.mc.params``: trial 0, one line per day,
  ``YYYY-MM-DD <B&H> <strategy> <newHighs> <newLows>`` (the format of the daily
  backtest file, :func:`pytaaa.engine.outputs.format_backtest_lines`);
- ``pyTAAAweb_backtestPctLong.params``: trial 0, one line per day,
  ``YYYY-MM-DD <B&H> <strategy> <variable-percent strategy> <invested fraction>``;
- ``pyTAAAweb_backtestTodayMontecarloPortfolioValue.csv``: one row per trial
  with a header: last data date, trial, every drawn parameter, final values,
  per-horizon CAGR / Sharpe / mean drawdown of the strategy and of its
  variable-percent version, and the beats-buy-and-hold score.

Numbers are written with fixed precision, so the same inputs give
byte-identical files whatever the mode or the number of workers.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pytaaa._io import atomic_write_text
from pytaaa.engine.outputs import format_backtest_lines
from pytaaa.montecarlo.stats import MC_HORIZONS, Summary
from pytaaa.montecarlo.trials import TrialParams, TrialResult, method_param_names

__all__ = [
    "MC_PARAMS_FILE",
    "PCTLONG_FILE",
    "MC_CSV_FILE",
    "mc_params_text",
    "pctlong_text",
    "csv_text",
    "write_data_files",
]

MC_PARAMS_FILE = "pyTAAAweb_backtestPortfolioValue.mc.params"
PCTLONG_FILE = "pyTAAAweb_backtestPctLong.params"
MC_CSV_FILE = "pyTAAAweb_backtestTodayMontecarloPortfolioValue.csv"

_STAT_COLUMNS = (("cagr", "CAGR"), ("sharpe", "Sharpe"), ("mean_drawdown", "MeanDD"))


def mc_params_text(dates: np.ndarray, buy_hold: np.ndarray, trial0: TrialResult,
                   new_highs: np.ndarray, new_lows: np.ndarray) -> str:
    """The ``.mc.params`` lines of trial 0 (B&H, strategy, new highs, new lows)."""
    return format_backtest_lines(dates, buy_hold, trial0.strategy, new_highs, new_lows)


def pctlong_text(dates: np.ndarray, buy_hold: np.ndarray, trial0: TrialResult) -> str:
    """The ``PctLong.params`` lines of trial 0: values with 2 decimals, the
    invested fraction with 4."""
    base = format_backtest_lines(dates, buy_hold, trial0.strategy).splitlines()
    lines = [
        f"{line} {pl:.2f} {frac:.4f}"
        for line, pl, frac in zip(base, trial0.pctlong, trial0.invested)
    ]
    return "\n".join(lines) + "\n"


def _num(x: float, digits: int) -> str:
    if x is None or not math.isfinite(float(x)):
        return ""
    return f"{float(x):.{digits}f}"


def _param(value: int | float) -> str:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return f"{float(value):.6f}"


def csv_text(
    last_date: dt.date,
    method: str,
    params: Sequence[TrialParams],
    results: Sequence[TrialResult],
    buy_hold_final: float,
    summary: Summary,
) -> str:
    """The per-trial CSV: a header line, then one row per finished trial (trial order).

    Horizons the history does not reach, and a beats score without any
    horizon, are empty fields.
    """
    names = list(method_param_names(method)) + [
        "pct_D", "pct_f", "pct_slope", "pct_intercept", "pct_maxPct",
    ]
    header = ["date", "trial"] + names + [
        "final_value", "final_value_pctlong", "final_value_buyhold", "n_trades",
    ]
    for prefix in ("", "pctlong_"):
        for label in MC_HORIZONS:
            header += [f"{prefix}{col}_{label}" for _, col in _STAT_COLUMNS]
    header.append("beats_buyhold")
    by_index = {p.index: p for p in params}
    rows = [",".join(header)]
    for r in results:
        rec = by_index[r.index].record()
        row = [last_date.isoformat(), str(r.index)] + [_param(rec[n]) for n in names]
        row += [_num(r.strategy[-1], 2), _num(r.pctlong[-1], 2), _num(buy_hold_final, 2),
                str(int(r.n_trades))]
        for series in ("strategy", "pctlong"):
            stats = r.stats[series]
            for label in MC_HORIZONS:
                h = stats.get(label)
                row += [_num(h[key], 6) if h else "" for key, _ in _STAT_COLUMNS]
        row.append(_num(summary.beats.get(r.index, float("nan")), 4))
        rows.append(",".join(row))
    return "\n".join(rows) + "\n"


def write_data_files(
    performance_store: Path,
    *,
    dates: np.ndarray,
    buy_hold: np.ndarray,
    new_highs: np.ndarray,
    new_lows: np.ndarray,
    v: Any,
    params: Sequence[TrialParams],
    results: Sequence[TrialResult],
    summary: Summary,
) -> list[Path]:
    """Write the three data files into ``performance_store`` (created if missing).

    ``results`` must start with trial 0.  Returns the paths written, in order.
    Raises ``OSError`` when the folder cannot be created or written (a file
    already replaced stays complete; the one being written is not left behind).
    """
    if not results or results[0].index != 0:
        raise ValueError("the results must include trial 0 (the configured strategy)")
    performance_store = Path(performance_store)
    performance_store.mkdir(parents=True, exist_ok=True)
    trial0 = results[0]
    last = np.asarray(dates).astype("datetime64[D]")[-1].item()
    out = []
    path = performance_store / MC_PARAMS_FILE
    atomic_write_text(path, mc_params_text(dates, buy_hold, trial0, new_highs, new_lows))
    out.append(path)
    path = performance_store / PCTLONG_FILE
    atomic_write_text(path, pctlong_text(dates, buy_hold, trial0))
    out.append(path)
    path = performance_store / MC_CSV_FILE
    atomic_write_text(path, csv_text(last, v.uptrendSignalMethod, params, results,
                                     float(buy_hold[-1]), summary))
    out.append(path)
    return out
