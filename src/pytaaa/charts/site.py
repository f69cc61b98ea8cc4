"""The main page's charts, drawn once per daily run (``spec/web.md`` §1 item 5).

- ``PyTAAA_value.png``: holdings value and timed value from the status history.
- ``PyTAAA_numberUptrendingStocks.png``: percentage of active stocks up-trending.
- ``PyTAAA_backtestWithTrend.png``: strategy vs buy-and-hold (log scale) above
  the up-trending percentage.
- ``PyTAAA_newHighs_newLows_count.png``: new highs and new lows breadth.

Each function draws a fresh 1350 x 750 px figure with matplotlib's object API
(no pyplot, no global settings) and writes it atomically.  The title sits at the
top left and the legend at the top right, in the margin above the plot, so
neither covers a line.  Empty or too short
inputs give a chart that says "no data yet"; NaN points are left out; arrays
of different lengths are a ``ValueError``; a failed write is an ``OSError``
with no partial file left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from pytaaa.charts.drawing import (
    DPI,
    FIG_SIZE,
    ColumnReducer,
    date_nums,
    date_ticks,
    linear_ticks,
    log_ticks,
    safe_limits,
    save_figure_png,
)

__all__ = [
    "plot_value_history",
    "plot_uptrending",
    "plot_backtest_with_trend",
    "plot_new_highs_lows",
    "NO_DATA",
    "PLACEHOLDER",
]

#: Message drawn on a chart that has nothing to show.
NO_DATA = "no data yet"
#: The new highs/lows axis: what :func:`pytaaa.engine.backtest.new_highs_lows` counts.
NEW_HIGHS_LOWS_LABEL = ("stocks at a 73- or 293-day high (low),\n"
                        "mean of the 50- and 159-day moving sums")
#: Value the backtest file writes for new lows before enough rows exist.
PLACEHOLDER = -100000.0
_EPOCH = dt.datetime(1970, 1, 1)


def _figure() -> tuple[Figure, FigureCanvasAgg]:
    fig = Figure(figsize=FIG_SIZE, dpi=DPI, facecolor="white")
    return fig, FigureCanvasAgg(fig)


def _xlim(x: np.ndarray) -> tuple[float, float]:
    """The x range shown for x values ``x`` (sorted, non-empty): 1 % margins."""
    x0, x1 = float(x[0]), float(x[-1])
    if x1 <= x0:
        x0, x1 = x0 - 1.0, x1 + 1.0
    pad = 0.01 * (x1 - x0)
    return x0 - pad, x1 + pad


def _line(ax: Axes, x: np.ndarray, y: np.ndarray, **kw: object) -> None:
    """Plot ``y`` over ``x``, reduced to what the axes' pixel columns can show."""
    width_px = ax.get_position().width * FIG_SIZE[0] * DPI
    xs, ys = ColumnReducer(x, *_xlim(x), width_px).reduce(y) if len(x) else (x, y)
    ax.plot(xs, ys, **kw)


def _style(ax: Axes, x: np.ndarray, tick_size: float = 8) -> None:
    """Grid, tick sizes, x limits and date ticks for the x values ``x``."""
    ax.grid(True, color="0.85", linewidth=0.5)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=tick_size, length=3, width=0.5)
    if len(x) == 0:
        return
    x0, x1 = _xlim(x)
    ax.set_xlim(x0, x1)
    ticks, labels = date_ticks(x0, x1, max_ticks=9)
    ax.set_xticks(ticks, labels)


def _no_data(ax: Axes) -> None:
    ax.text(0.5, 0.5, NO_DATA, transform=ax.transAxes, ha="center", va="center",
            fontsize=16, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _arrays(names: Sequence[str], *arrays: object) -> list[np.ndarray]:
    """The inputs as 1-D float arrays of one length; ``ValueError`` otherwise."""
    out = [np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays]
    lengths = {name: len(a) for name, a in zip(names, out)}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise ValueError(f"arrays of different lengths: {shown}; expected one length")
    return out


def _x_dates(dates: np.ndarray) -> np.ndarray:
    d = np.asarray(dates)
    if d.size == 0:
        return np.empty(0)
    try:
        return date_nums(d.reshape(-1))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"dates: expected datetime64 dates, got {d.dtype}") from exc


def _linear_y(ax: Axes, arrays: Sequence[np.ndarray]) -> None:
    vals = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.empty(0)
    lo, hi = (float(vals.min()), float(vals.max())) if len(vals) else (np.nan, np.nan)
    pad = 0.05 * (hi - lo)
    lo, hi = safe_limits(lo - pad, hi + pad)
    ax.set_ylim(lo, hi)
    ticks, labels = linear_ticks(lo, hi)
    ax.set_yticks(ticks, labels)


def _title(fig: Figure, text: str) -> None:
    fig.text(0.07, 0.955, text, ha="left", va="center", fontsize=11)


def _legend(fig: Figure, *axes: Axes) -> None:
    """The legend of the labelled lines of ``axes``, in the top margin (right-aligned)."""
    handles, labels = [], []
    for ax in axes:
        h, lab = ax.get_legend_handles_labels()
        handles += h
        labels += lab
    fig.legend(handles, labels, loc="upper right", bbox_to_anchor=(0.98, 0.995), ncol=4,
               fontsize=8, frameon=False, borderaxespad=0.2, columnspacing=1.6)


def plot_value_history(
    dates: Sequence[dt.datetime], values: np.ndarray, timed_values: np.ndarray, path: Path
) -> None:
    """Write ``PyTAAA_value.png``: the holdings value and the timed value over time.

    ``dates`` are the status-history timestamps (``datetime``), ``values`` and
    ``timed_values`` the matching values.  Raises ``ValueError`` for inputs of
    different lengths or timestamps that are not datetimes, ``OSError`` when
    ``path`` cannot be written.
    """
    try:  # local wall-clock time: an aware timestamp keeps its clock reading
        x = np.array([(d.replace(tzinfo=None) - _EPOCH).total_seconds() / 86400.0
                      for d in dates], dtype=np.float64)
    except (TypeError, AttributeError) as exc:
        raise ValueError("dates: expected datetime.datetime timestamps") from exc
    x, v, tv = _arrays(("dates", "values", "timed_values"), x, values, timed_values)
    fig, canvas = _figure()
    ax = fig.add_axes((0.08, 0.08, 0.9, 0.82))
    _title(fig, "Portfolio value")
    ok = np.isfinite(x) & (np.isfinite(v) | np.isfinite(tv))
    if not ok.any():
        _no_data(ax)
    else:
        x, v, tv = x[ok], v[ok], tv[ok]
        order = np.argsort(x, kind="stable")
        x, v, tv = x[order], v[order], tv[order]
        marker = _marker(v, tv)
        _line(ax, x, v, color="tab:blue", lw=1.0, marker=marker, ms=4, label="holdings value")
        _line(ax, x, tv, color="tab:red", lw=1.0, marker=marker, ms=4, label="timed value")
        _style(ax, x)
        _linear_y(ax, [v, tv])
        _legend(fig, ax)
    save_figure_png(canvas, path)


def _marker(*arrays: np.ndarray) -> str:
    """A point marker for lines too short to be seen as lines."""
    return "o" if max(int(np.isfinite(a).sum()) for a in arrays) < 3 else ""


def _moving_mean(a: np.ndarray, n: int) -> np.ndarray:
    """Mean of the finite points among the last ``n``; NaN where fewer than ``n/2`` are finite."""
    ok = np.isfinite(a)
    vals = np.cumsum(np.r_[0.0, np.where(ok, a, 0.0)])
    cnt = np.cumsum(np.r_[0, ok.astype(np.int64)])
    idx = np.arange(1, len(a) + 1)
    lo = np.maximum(idx - n, 0)
    num = cnt[idx] - cnt[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (vals[idx] - vals[lo]) / num
    out[num < max(1, n // 2)] = np.nan
    return out


def plot_uptrending(dates: np.ndarray, uptrend: np.ndarray, active: np.ndarray, path: Path) -> None:
    """Write ``PyTAAA_numberUptrendingStocks.png``: percentage of active stocks up-trending.

    ``uptrend`` and ``active`` are the per-day counts (held signal = 1, active
    symbols); the percentage is ``100 * uptrend / active`` where ``active > 0``,
    drawn with its 50-day moving average.  Raises ``ValueError`` for inputs of
    different lengths, ``OSError`` when ``path`` cannot be written.
    """
    x = _x_dates(dates)
    x, up, act = _arrays(("dates", "uptrend", "active"), x, uptrend, active)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(act > 0, 100.0 * up / act, np.nan)
    fig, canvas = _figure()
    ax = fig.add_axes((0.07, 0.08, 0.91, 0.82))
    _title(fig, "Percentage of stocks up-trending")
    if not np.isfinite(pct).any():
        _no_data(ax)
    else:
        _line(ax, x, pct, color="tab:blue", lw=0.6, marker=_marker(pct), ms=4,
                label="% up-trending")
        avg = _moving_mean(pct, 50)
        if np.isfinite(avg).any():
            _line(ax, x, avg, color="tab:red", lw=1.2, label="50-day average")
        _style(ax, x)
        ax.set_ylim(0, 100)
        ticks, labels = linear_ticks(0, 100, max_ticks=6)
        ax.set_yticks(ticks, [f"{t}%" for t in labels])
        _legend(fig, ax)
    save_figure_png(canvas, path)


def plot_backtest_with_trend(
    dates: np.ndarray, strategy: np.ndarray, buy_hold: np.ndarray, uptrend_pct: np.ndarray,
    path: Path,
) -> None:
    """Write ``PyTAAA_backtestWithTrend.png``: strategy vs buy-and-hold (log scale, top)
    and the percentage of stocks up-trending (bottom), on one date axis.

    Non-positive values are left out of the log scale.  Raises ``ValueError``
    for inputs of different lengths, ``OSError`` when ``path`` cannot be written.
    """
    x = _x_dates(dates)
    x, st, bh, pct = _arrays(("dates", "strategy", "buy_hold", "uptrend_pct"), x, strategy,
                             buy_hold, uptrend_pct)
    fig, canvas = _figure()
    top = fig.add_axes((0.08, 0.33, 0.9, 0.58))
    bottom = fig.add_axes((0.08, 0.07, 0.9, 0.22), sharex=top)
    _title(fig, "Backtest: strategy vs buy-and-hold")
    with np.errstate(invalid="ignore"):
        st = np.where(st > 0, st, np.nan)
        bh = np.where(bh > 0, bh, np.nan)
    if not (np.isfinite(st).any() or np.isfinite(bh).any()):
        bottom.set_visible(False)
        top.set_position((0.08, 0.08, 0.9, 0.82))
        _no_data(top)
        save_figure_png(canvas, path)
        return
    top.set_yscale("log")
    mk = _marker(st, bh)
    _line(top, x, bh, color="tab:red", lw=0.9, marker=mk, ms=4, label="buy and hold")
    _line(top, x, st, color="tab:blue", lw=0.9, marker=mk, ms=4, label="strategy")
    vals = np.r_[st[np.isfinite(st)], bh[np.isfinite(bh)]]
    lo, hi = safe_limits(float(vals.min()) / 1.05, float(vals.max()) * 1.05, log=True)
    top.set_ylim(lo, hi)
    ticks, labels = log_ticks(lo, hi)
    top.set_yticks(ticks, labels)
    top.yaxis.set_minor_locator(NullLocator())
    top.set_ylabel("value (log scale)", fontsize=8)
    _line(bottom, x, pct, color="tab:green", lw=0.6, marker=_marker(pct), ms=3,
          label="% up-trending (lower panel)")
    bottom.set_ylabel("up-trending", fontsize=8)
    _legend(fig, top, bottom)
    bottom.set_ylim(0, 100)
    bottom.set_yticks([0, 50, 100], ["0%", "50%", "100%"])
    _style(top, x)
    _style(bottom, x, tick_size=7)
    top.tick_params(labelbottom=False)
    save_figure_png(canvas, path)


def plot_new_highs_lows(dates: np.ndarray, new_highs: np.ndarray, new_lows: np.ndarray,
                        path: Path) -> None:
    """Write ``PyTAAA_newHighs_newLows_count.png``: the new highs and new lows breadth.

    Values equal to the ``-100000.0`` "no data" marker (and NaN) are left out.
    Raises ``ValueError`` for inputs of different lengths, ``OSError`` when
    ``path`` cannot be written.
    """
    x = _x_dates(dates)
    x, hi, lo = _arrays(("dates", "new_highs", "new_lows"), x, new_highs, new_lows)
    hi = np.where(hi == PLACEHOLDER, np.nan, hi)
    lo = np.where(lo == PLACEHOLDER, np.nan, lo)
    fig, canvas = _figure()
    ax = fig.add_axes((0.1, 0.08, 0.88, 0.82))
    _title(fig, "New highs and new lows")
    if not (np.isfinite(hi).any() or np.isfinite(lo).any()):
        _no_data(ax)
    else:
        mk = _marker(hi, lo)
        _line(ax, x, hi, color="tab:green", lw=0.8, marker=mk, ms=4, label="new highs")
        _line(ax, x, lo, color="tab:red", lw=0.8, marker=mk, ms=4, label="new lows")
        _style(ax, x)
        _linear_y(ax, [hi, lo])
        ax.set_ylabel(NEW_HIGHS_LOWS_LABEL, fontsize=8)
        _legend(fig, ax)
    save_figure_png(canvas, path)
