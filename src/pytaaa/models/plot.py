"""``recommendation_plot.png``: the models, the switching portfolio and the recommendation.

Top: every model rebased to 10,000 at its first value (log scale) and the
switching portfolio as a thick black line.  Below it a strip coloured by the
model in force each day.  A text box gives the recommendation for the next
decision day, the lookbacks and the ranking.  Drawn with matplotlib's object
API (Agg) and written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from pytaaa.charts.drawing import (
    DPI,
    FIG_SIZE,
    date_nums,
    date_ticks,
    log_ticks,
    safe_limits,
    save_figure_png,
)
from pytaaa.models.recommend import Recommendation
from pytaaa.models.switching import CASH_VALUE

__all__ = ["PLOT_FILE", "model_colors", "plot_recommendation"]

PLOT_FILE = "recommendation_plot.png"
_PALETTE = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
            "tab:pink", "tab:olive", "tab:cyan")


def model_colors(names: tuple[str, ...], cash: str) -> dict[str, str]:
    """A stable colour per model (cash grey), in name order."""
    out, k = {}, 0
    for n in names:
        if n == cash:
            out[n] = "0.75"
        else:
            out[n] = _PALETTE[k % len(_PALETTE)]
            k += 1
    return out


def _text_box(rec: Recommendation) -> str:
    lines = [f"Data through {rec.date.isoformat()}",
             f"Recommended for the next decision day: {rec.model}",
             f"In force now: {rec.in_force}",
             f"Lookbacks: {', '.join(str(x) for x in rec.lookbacks)} days", "Ranking (score):"]
    for r in rec.rows:
        if r.present:
            lines.append(f"  {r.position}. {r.name}  {r.score:.2f}")
        else:
            lines.append(f"  -  {r.name}  (absent)")
    return "\n".join(lines)


def plot_recommendation(rec: Recommendation, path: Path) -> Path:
    """Draw the chart of ``rec`` to ``path`` (1350 x 750 px); returns ``path``.
    Raises ``OSError`` when it cannot be written (no partial file left)."""
    series = rec.series
    sel = rec.selection
    cash = series.names[sel.cash]
    x = date_nums(series.dates)
    fig = Figure(figsize=FIG_SIZE, dpi=DPI, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    top = fig.add_axes((0.07, 0.2, 0.62, 0.71))
    strip = fig.add_axes((0.07, 0.08, 0.62, 0.07), sharex=top)
    fig.text(0.38, 0.955, "Model switching: models rebased to 10,000 and the switching "
             "portfolio", ha="center", va="center", fontsize=10)
    colors = model_colors(series.names, cash)
    top.set_yscale("log")
    shown = []
    for i, name in enumerate(series.names):
        if name == cash:
            continue
        v = series.values[i]
        ok = np.flatnonzero(np.isfinite(v))
        if not len(ok):
            continue
        rebased = v / v[ok[0]] * CASH_VALUE
        top.plot(x, rebased, color=colors[name], lw=0.8, label=name)
        shown.append(rebased[np.isfinite(rebased)])
    top.plot(x, sel.values, color="black", lw=2.2, label="switching")
    top.plot([], [], color=colors[cash], lw=6, label=f"{cash} (in the strip)")
    shown.append(sel.values)
    vals = np.concatenate(shown)
    vals = vals[vals > 0]
    lo, hi = safe_limits(float(vals.min()) / 1.05, float(vals.max()) * 1.05, log=True)
    top.set_ylim(lo, hi)
    ticks, labels = log_ticks(lo, hi)
    top.set_yticks(ticks, labels)
    top.yaxis.set_minor_locator(NullLocator())
    top.legend(loc="upper left", fontsize=7, frameon=False)
    top.grid(True, color="0.85", linewidth=0.5)
    top.tick_params(labelsize=7, labelbottom=False)
    pad = 0.01 * (x[-1] - x[0] if len(x) > 1 else 1.0)
    top.set_xlim(x[0] - pad, x[-1] + pad)
    cmap = ListedColormap([colors[n] for n in series.names])
    strip.pcolormesh(np.r_[x, x[-1] + 1.0] if len(x) else x, [0, 1], sel.held[None, :],
                     cmap=cmap, vmin=-0.5, vmax=len(series.names) - 0.5, shading="flat")
    strip.set_yticks([])
    strip.set_ylabel("in force", fontsize=7, rotation=0, ha="right", va="center")
    ticks, labels = date_ticks(x[0] - pad, x[-1] + pad, max_ticks=8)
    strip.set_xticks(ticks, labels)
    strip.tick_params(labelsize=7)
    fig.text(0.71, 0.91, _text_box(rec), ha="left", va="top", fontsize=7, family="monospace",
             bbox={"boxstyle": "round", "facecolor": "0.96", "edgecolor": "0.7"})
    save_figure_png(canvas, path)
    return path
