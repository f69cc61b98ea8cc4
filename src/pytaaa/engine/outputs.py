"""The daily run's data files in PyTAAA's names and formats (``pipeline.md`` section 8).

Reads an :class:`~pytaaa.model.Analysis`; writes, each atomically:

- ``<performance_store>/pyTAAAweb_backtestPortfolioValue.params``: one line per day,
  ``YYYY-MM-DD <B&H> <strategy> <newHighs> <newLows>``;
- ``<webpage>/pyTAAAweb_numberUptrendingStocks_status.params``: one line per day,
  ``YYYY-MM-DD  <held uptrend count>  <active count>``;
- ``<performance_store>/PyTAAA_ranks.params``: ``[Ranks]`` with ``lastdate:``,
  ``symbols:`` and ``ranks:`` of today, rewritten every run.

The same inputs give byte-identical files.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from pytaaa._io import atomic_write_text
from pytaaa.model import Analysis

__all__ = [
    "BACKTEST_FILE",
    "UPTREND_FILE",
    "RANKS_FILE",
    "format_backtest_lines",
    "write_backtest_params",
    "write_uptrend_status",
    "write_ranks",
    "read_backtest_params",
    "write_outputs",
]

BACKTEST_FILE = "pyTAAAweb_backtestPortfolioValue.params"
UPTREND_FILE = "pyTAAAweb_numberUptrendingStocks_status.params"
RANKS_FILE = "PyTAAA_ranks.params"


def _iso(dates: np.ndarray) -> list[str]:
    return [str(d) for d in np.asarray(dates).astype("datetime64[D]")]


def format_backtest_lines(dates: np.ndarray, *columns: Iterable[float]) -> str:
    """Lines ``YYYY-MM-DD c1 c2 ...``: value columns with 2 decimals, the last two
    (new highs, new lows) with 1 decimal when more than two columns are given."""
    cols = [np.asarray(list(c) if not isinstance(c, np.ndarray) else c, dtype=np.float64)
            for c in columns]
    n_val = len(cols) - 2 if len(cols) > 2 else len(cols)
    lines = []
    for i, d in enumerate(_iso(dates)):
        parts = [d]
        parts += [f"{c[i]:.2f}" for c in cols[:n_val]]
        parts += [f"{c[i]:.1f}" for c in cols[n_val:]]
        lines.append(" ".join(parts))
    return "\n".join(lines) + "\n"


def write_backtest_params(path: Path, analysis: Analysis) -> Path:
    """Write the backtest file (B&H, strategy, new highs, new lows) to ``path``."""
    bt = analysis.backtest
    atomic_write_text(
        path,
        format_backtest_lines(bt.dates, bt.buy_hold, bt.strategy, analysis.new_highs,
                              analysis.new_lows),
    )
    return path


def read_backtest_params(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a backtest ``.params`` file: ``(dates datetime64[D], values (rows, cols))``."""
    dates: list[str] = []
    rows: list[list[float]] = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        dates.append(parts[0])
        rows.append([float(x) for x in parts[1:]])
    return np.array(dates, dtype="datetime64[D]"), np.array(rows)


def write_uptrend_status(path: Path, analysis: Analysis) -> Path:
    """Write the per-day up-trending and active counts (two spaces between fields)."""
    lines = [
        f"{d}  {u:.1f}  {a:.1f}"
        for d, u, a in zip(_iso(analysis.dates), analysis.uptrend_count, analysis.active_count)
    ]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def write_ranks(path: Path, analysis: Analysis) -> Path:
    """Write ``[Ranks]`` with today's date, symbols (rank order) and ranks."""
    order = np.argsort(analysis.rank_today, kind="stable")
    syms = [analysis.symbols[i] for i in order]
    rks = [str(int(analysis.rank_today[i])) for i in order]
    text = (
        "[Ranks]\n"
        f"lastdate: {analysis.last_date.isoformat()}\n"
        f"symbols: {' '.join(syms)}\n"
        f"ranks: {' '.join(rks)}\n"
    )
    atomic_write_text(path, text)
    return path


def write_outputs(analysis: Analysis, performance_store: Path, webpage: Path) -> list[Path]:
    """Write the three data files of the daily run; returns their paths."""
    performance_store.mkdir(parents=True, exist_ok=True)
    webpage.mkdir(parents=True, exist_ok=True)
    return [
        write_backtest_params(performance_store / BACKTEST_FILE, analysis),
        write_uptrend_status(webpage / UPTREND_FILE, analysis),
        write_ranks(performance_store / RANKS_FILE, analysis),
    ]
