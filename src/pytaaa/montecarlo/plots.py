"""The Monte Carlo backtest charts (``montecarlo.md`` §3).

- ``PyTAAA_monteCarloBacktest.png``: the whole history.
- ``PyTAAA_monteCarloBacktestRecent.png``: from ``montecarlo_recent_start_date``
  (the last 4 years when the history starts later), every curve rescaled to
  10,000 at the start.

Each is a 12 x 6.75 in figure at 150 dpi (1800 x 1012 px) with three panels
(heights 4:1:1).  Top, log scale: every stock's buy-and-hold value (pale pink
hairlines), every trial (thin grey), the 10-90 % band of the trials (shaded),
buy-and-hold (red), trial 0 (black) and trial 0's variable-percent version
(blue); "Backtested on <date time>".  Middle: the fraction of active stocks
up-trending (median and 90th percentile over the trials, and trial 0).
Bottom: the market gauge Q and trial 0's invested fraction.  A column right of
the panels holds what must not cover a curve: the top panel's legend, the
table of CAGR / Sharpe / mean drawdown per horizon for trial 0 and its
variable-percent version, today's holdings and the trials' final values; the
other panels' legends sit beside them.

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no global
settings) and written atomically (:func:`pytaaa.charts.drawing.save_figure_png`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from pytaaa.charts.drawing import (
    ColumnReducer,
    date_nums,
    date_ticks,
    log_ticks,
    safe_limits,
    save_figure_png,
)
from pytaaa.engine.backtest import START_VALUE
from pytaaa.montecarlo.stats import (
    HORIZON_LABELS,
    MC_HORIZONS,
    trial_stats,
    uptrend_quantiles,
    value_band,
)

__all__ = [
    "MAIN_PNG",
    "RECENT_PNG",
    "FIG_SIZE",
    "DPI",
    "MCPlotData",
    "plot_data",
    "stock_values",
    "recent_start_index",
    "recent_view",
    "plot_montecarlo",
    "montecarlo_figure",
    "write_montecarlo_pngs",
]

MAIN_PNG = "PyTAAA_monteCarloBacktest.png"
RECENT_PNG = "PyTAAA_monteCarloBacktestRecent.png"
FIG_SIZE = (12.0, 6.75)
DPI = 150
RECENT_YEARS = 4
#: Right edge of the three panels (figure fraction); the side column fills the rest.
PANEL_RIGHT = 0.69
FULL_ROWS = ("whole", "15y", "10y", "5y", "3y", "2y", "1y", "6m", "3m", "1m")
RECENT_ROWS = ("whole", "3y", "1y", "6m", "3m", "1m")

_PINK = "#f2b8c6"
_GREY = "#8c8c8c"
_BAND = "#b9cde5"
_RED = "#d62728"
_BLUE = "#1f5fd6"


@dataclass(frozen=True)
class MCPlotData:
    """What the Monte Carlo charts show, all ``(T,)`` unless said otherwise.

    ``stock_values`` ``(N, T)``: each stock's buy-and-hold value from 10,000 at
    its first quote, NaN outside its span of quotes; ``trials`` ``(n, T)``: the
    strategy value of every finished trial; ``uptrend`` ``(n, T)``: their
    up-trending fractions; ``trial0``/``trial0_pctlong``/``uptrend0``/``gauge``/
    ``invested``: trial 0's strategy, variable-percent strategy, up-trending
    fraction, market gauge Q and invested fraction; ``holdings``: trial 0's
    last-day weights; ``title``: e.g. ``"Naz100 HMAs, 25 trials"``.
    """

    dates: np.ndarray
    stock_values: np.ndarray
    trials: np.ndarray
    buy_hold: np.ndarray
    trial0: np.ndarray
    trial0_pctlong: np.ndarray
    uptrend: np.ndarray
    uptrend0: np.ndarray
    gauge: np.ndarray
    invested: np.ndarray
    holdings: tuple[tuple[str, float], ...]
    backtested_at: dt.datetime
    title: str
    rows: tuple[str, ...] = FULL_ROWS


def stock_values(close: np.ndarray, first_valid: np.ndarray, last_valid: np.ndarray,
                 rows: Sequence[int]) -> np.ndarray:
    """Buy-and-hold value from 10,000 of each of ``rows`` of ``close``, NaN outside
    its span of real quotes (rows never quoted are all NaN)."""
    t = close.shape[1]
    days = np.arange(t)
    out = np.full((len(rows), t), np.nan)
    for k, i in enumerate(rows):
        a, b = int(first_valid[i]), int(last_valid[i])
        if 0 <= a <= b < t and close[i, a] > 0:
            inside = (days >= a) & (days <= b)
            out[k, inside] = START_VALUE * close[i, inside] / close[i, a]
    return out


def recent_start_index(dates: np.ndarray, start: dt.date) -> int:
    """Index where the recent chart starts: the first date on or after ``start``,
    or the last 4 years when the history starts after ``start``."""
    d = np.asarray(dates).astype("datetime64[D]")
    if d.size == 0:
        return 0
    if d[0] > np.datetime64(start, "D"):
        last = d[-1].item()
        cut = np.datetime64(dt.date(last.year - RECENT_YEARS, last.month, min(last.day, 28)), "D")
        return int(np.searchsorted(d, cut))
    return int(min(np.searchsorted(d, np.datetime64(start, "D")), d.size - 1))


def _rescale(a: np.ndarray, i0: int) -> np.ndarray:
    """``a[..., i0:]`` rescaled so that each curve starts at 10,000."""
    seg = np.asarray(a, dtype=np.float64)[..., i0:]
    base = seg[..., :1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(base > 0, START_VALUE * seg / np.where(base > 0, base, 1.0), np.nan)


def recent_view(data: MCPlotData, start: dt.date) -> MCPlotData:
    """``data`` from :func:`recent_start_index`, value curves rescaled to 10,000.

    A stock not yet quoted at the start is rescaled from its first quote.
    """
    i0 = recent_start_index(data.dates, start)
    stocks = data.stock_values[:, i0:]
    first = np.where(np.isfinite(stocks).any(axis=1), np.isfinite(stocks).argmax(axis=1), 0)
    base = stocks[np.arange(len(stocks)), first][:, None] if len(stocks) else np.ones((0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        stocks = START_VALUE * stocks / base
    return replace(
        data,
        dates=data.dates[i0:],
        stock_values=stocks,
        trials=_rescale(data.trials, i0),
        buy_hold=_rescale(data.buy_hold, i0),
        trial0=_rescale(data.trial0, i0),
        trial0_pctlong=_rescale(data.trial0_pctlong, i0),
        uptrend=data.uptrend[:, i0:],
        uptrend0=data.uptrend0[i0:],
        gauge=data.gauge[i0:],
        invested=data.invested[i0:],
        rows=RECENT_ROWS,
    )


def _pct(x: float, digits: int = 1) -> str:
    return "" if not math.isfinite(x) else f"{100.0 * x:.{digits}f}%"


def _table_cells(data: MCPlotData) -> tuple[list[str], list[list[str]]]:
    hz = {k: MC_HORIZONS[k] for k in data.rows}
    s0 = trial_stats(data.trial0, data.dates, hz)
    s1 = trial_stats(data.trial0_pctlong, data.dates, hz)
    labels, cells = [], []
    for key in data.rows:
        a, b = s0.get(key), s1.get(key)
        if a is None or b is None:
            continue
        labels.append(HORIZON_LABELS[key])
        cells.append([
            _pct(a["cagr"]), f"{a['sharpe']:.2f}", _pct(a["mean_drawdown"]),
            _pct(b["cagr"]), f"{b['sharpe']:.2f}", _pct(b["mean_drawdown"]),
        ])
    return labels, cells


def _lines(ax: Axes, x: np.ndarray, ys: np.ndarray, reducer: ColumnReducer, **kw: object) -> None:
    segs = []
    for y in np.atleast_2d(ys):
        rx, ry = reducer.reduce(y)
        segs.append(np.column_stack([rx, ry]))
    if segs:
        ax.add_collection(LineCollection(segs, **kw))


def _x_axis(axes: Sequence[Axes], x: np.ndarray) -> None:
    """Shared date axis: ticks on every panel, labels on the bottom one only."""
    axes[0].set_xlim(x[0], x[-1] if x[-1] > x[0] else x[0] + 1)
    ticks, text = date_ticks(float(x[0]), float(x[-1]), max_ticks=12)
    axes[-1].set_xticks(ticks)
    axes[-1].set_xticklabels(text, fontsize=7)
    for ax in axes:
        ax.grid(True, color="#e3e3e3", linewidth=0.5)
        ax.tick_params(labelsize=7, labelbottom=ax is axes[-1])


def _top_panel(ax: Axes, data: MCPlotData, x: np.ndarray, reducer: ColumnReducer) -> None:
    main = [data.trials, data.buy_hold[None, :], data.trial0[None, :], data.trial0_pctlong[None, :]]
    finite = np.concatenate([m[np.isfinite(m) & (m > 0)] for m in main])
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (math.nan, math.nan)
    lo, hi = safe_limits(lo / 1.3, hi * 1.3, log=True)
    _lines(ax, x, np.clip(data.stock_values, lo / 10, hi * 10), reducer, colors=_PINK,
           linewidths=0.35, alpha=0.7, zorder=1)
    if len(data.trials):
        band_lo, band_hi = value_band(data.trials)
        ax.fill_between(x, band_lo, band_hi, color=_BAND, alpha=0.6, linewidth=0, zorder=2,
                        label="trials 10-90 %")
        _lines(ax, x, data.trials, reducer, colors=_GREY, linewidths=0.4, alpha=0.8, zorder=3)
    for y, color, width, label in (
        (data.buy_hold, _RED, 2.0, "buy & hold"),
        (data.trial0, "black", 2.0, "trial 0 (configured)"),
        (data.trial0_pctlong, _BLUE, 1.2, "trial 0, variable % invested"),
    ):
        rx, ry = reducer.reduce(y)
        ax.plot(rx, ry, color=color, linewidth=width, label=label, zorder=4)
    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    ticks, labels = log_ticks(lo, hi, max_ticks=8)
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels, fontsize=7)
    ax.minorticks_off()
    ax.set_ylabel("value", fontsize=8)
    ax.set_title(f"PyTAAA Monte Carlo backtest: {data.title}", loc="left", fontsize=9)
    ax.set_title(f"Backtested on {data.backtested_at:%Y-%m-%d %H:%M}", loc="right", fontsize=8)


def _side_column(side: Axes, top: Axes, data: MCPlotData) -> None:
    """Fill the column right of the top panel, top down: its legend, the statistics
    table, today's holdings (two columns when long) and the trials' final values."""
    side.axis("off")
    height_px = side.get_position().height * FIG_SIZE[1] * DPI
    line = 15.0 / height_px  # one text line of 6-6.5 pt, as a fraction of the column
    handles, labels = top.get_legend_handles_labels()
    legend = side.legend(handles, labels, loc="upper left", bbox_to_anchor=(0.0, 1.0),
                         fontsize=7, frameon=False, borderaxespad=0.0, ncol=2, columnspacing=1.2)
    renderer = side.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    y = 1.0 - legend.get_window_extent(renderer).height / height_px - 0.8 * line
    row_labels, cells = _table_cells(data)
    if cells:
        side.text(0.0, y, "Trial 0: configured (left) and variable % invested (right)",
                  fontsize=6.5, va="top", transform=side.transAxes)
        y -= 1.3 * line
        rows = [[label] + row for label, row in zip(row_labels, cells)]
        height = 1.25 * line * (len(rows) + 1)
        table = side.table(
            cellText=rows, colLabels=["", "CAGR", "Sharpe", "MeanDD", "CAGR", "Sharpe", "MeanDD"],
            bbox=[0.0, y - height, 1.0, height], cellLoc="right",
        )
        table.auto_set_font_size(False)
        table.set_fontsize(6)
        for (_r, c), cell in table.get_celld().items():
            cell.set_linewidth(0.3)
            cell.set_edgecolor("#bbbbbb")
            cell.set_facecolor("#f3f6fb" if c >= 4 else "white")
            if c == 0:
                cell.get_text().set_horizontalalignment("left")
        y -= height + 1.2 * line
    held = [f"{s:<6} {100 * w:5.1f}%" for s, w in data.holdings] or ["none"]
    side.text(0.0, y, "Today's holdings (trial 0):", fontsize=6.5, va="top",
              transform=side.transAxes)
    per_col = max(8, math.ceil(len(held) / 2))
    for k in range(0, len(held), per_col):
        side.text(0.5 * (k // per_col), y - 1.2 * line, "\n".join(held[k:k + per_col]),
                  fontsize=6.5, family="monospace", va="top", transform=side.transAxes,
                  parse_math=False)  # a "$" in a ticker is a dollar
    if len(data.trials) > 1:
        q = [float(np.nanpercentile(data.trials[:, -1], p)) for p in (10, 50, 90)]
        side.text(0.0, 0.0, f"{len(data.trials)} trials, final value\np10 / p50 / p90: "
                  + " / ".join(f"{v:,.0f}" for v in q), fontsize=6.5, va="bottom",
                  transform=side.transAxes)


def _middle_panel(ax: Axes, data: MCPlotData, x: np.ndarray, reducer: ColumnReducer) -> None:
    if len(data.uptrend):
        med, p90 = uptrend_quantiles(data.uptrend)
        for y, color, width, label in ((p90, "#9bd39b", 0.8, "90th pct of trials"),
                                       (med, "#2e8b57", 1.0, "median of trials")):
            rx, ry = reducer.reduce(y)
            ax.plot(rx, ry, color=color, linewidth=width, label=label)
    rx, ry = reducer.reduce(data.uptrend0)
    ax.plot(rx, ry, color="black", linewidth=0.6, label="trial 0")
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([0.0, 0.5, 1.0])
    ax.set_yticklabels(["0%", "50%", "100%"], fontsize=7)
    ax.set_ylabel("up-trending", fontsize=8)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=6.5, frameon=False)


def _bottom_panel(ax: Axes, data: MCPlotData, x: np.ndarray, reducer: ColumnReducer) -> None:
    rx, ry = reducer.reduce(data.gauge)
    ax.plot(rx, ry, color="#7b3fa0", linewidth=0.7, label="market gauge Q")
    ax.axhline(0.0, color="#999999", linewidth=0.5)
    ax.set_ylabel("Q", fontsize=8)
    ax.tick_params(labelsize=7)
    twin = ax.twinx()
    rx, ry = reducer.reduce(data.invested)
    twin.plot(rx, ry, color=_BLUE, linewidth=0.8, label="invested fraction")
    top = max(1.0, float(np.nanmax(data.invested)) if data.invested.size else 1.0)
    twin.set_ylim(0.0, top * 1.05)
    twin.set_ylabel("invested", fontsize=8, color=_BLUE)
    twin.tick_params(labelsize=7, colors=_BLUE)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.075, 0.5), fontsize=6.5,
              frameon=False)


def plot_montecarlo(data: MCPlotData, path: Path) -> Path:
    """Draw the three-panel Monte Carlo chart of ``data`` and write it to ``path``.

    Raises ``ValueError`` for fewer than 2 dates, ``OSError`` when the file
    cannot be written (no partial file is left).
    """
    fig = montecarlo_figure(data)
    save_figure_png(fig.canvas, Path(path))  # type: ignore[arg-type]
    return Path(path)


def montecarlo_figure(data: MCPlotData) -> Figure:
    """The Monte Carlo chart of ``data`` as a Figure on an Agg canvas (not yet drawn).

    Raises ``ValueError`` for fewer than 2 dates.
    """
    if len(data.dates) < 2:
        raise ValueError("the Monte Carlo chart needs at least 2 dates")
    fig = Figure(figsize=FIG_SIZE, dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(3, 1, height_ratios=[4, 1, 1], hspace=0.07,
                            left=0.065, right=PANEL_RIGHT, top=0.955, bottom=0.045)
    top = fig.add_subplot(grid[0])
    mid = fig.add_subplot(grid[1], sharex=top)
    bottom = fig.add_subplot(grid[2], sharex=top)
    x = date_nums(data.dates)
    width_px = FIG_SIZE[0] * DPI * (PANEL_RIGHT - 0.065)
    reducer = ColumnReducer(x, float(x[0]), float(x[-1]), width_px)
    _top_panel(top, data, x, reducer)
    box = top.get_position()
    _side_column(fig.add_axes((PANEL_RIGHT + 0.02, box.y0, 0.985 - PANEL_RIGHT - 0.02,
                               box.height)), top, data)
    _middle_panel(mid, data, x, reducer)
    _bottom_panel(bottom, data, x, reducer)
    _x_axis([top, mid, bottom], x)
    return fig


def write_montecarlo_pngs(data: MCPlotData, webpage: Path, recent_start: dt.date) -> list[Path]:
    """Write both Monte Carlo charts into ``webpage``; returns their paths (main first)."""
    webpage = Path(webpage)
    return [
        plot_montecarlo(data, webpage / MAIN_PNG),
        plot_montecarlo(recent_view(data, recent_start), webpage / RECENT_PNG),
    ]


def plot_data(
    prices: Any,
    buy_hold: np.ndarray,
    results: Sequence[Any],
    *,
    title: str,
    backtested_at: dt.datetime,
) -> MCPlotData:
    """Assemble :class:`MCPlotData` from cleaned ``prices``, buy-and-hold values and
    the finished trials' :class:`~pytaaa.montecarlo.trials.TrialResult` (trial 0 first)."""
    if not results or results[0].index != 0:
        raise ValueError("the Monte Carlo chart needs trial 0 (the configured strategy)")
    cash = prices.symbols.index("CASH")
    rows = [i for i in range(len(prices.symbols)) if i != cash]
    t0 = results[0]
    return MCPlotData(
        dates=prices.dates,
        stock_values=stock_values(prices.close, prices.first_valid, prices.last_valid, rows),
        trials=np.stack([r.strategy for r in results]),
        buy_hold=np.asarray(buy_hold, dtype=np.float64),
        trial0=t0.strategy,
        trial0_pctlong=t0.pctlong,
        uptrend=np.stack([r.uptrend for r in results]),
        uptrend0=t0.uptrend,
        gauge=t0.gauge,
        invested=t0.invested,
        holdings=tuple(t0.holdings),
        backtested_at=backtested_at,
        title=title,
    )
