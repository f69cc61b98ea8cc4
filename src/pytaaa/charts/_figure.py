"""A reusable, fast-to-redraw chart figure for the per-symbol charts.

:class:`ChartFigure` is one 1350 x 750 px matplotlib ``Figure`` (object API,
Agg canvas, nothing global touched) that is drawn many times with different
data.  Three things keep a redraw cheap:

- What never changes (frame, x ticks, x labels, x grid) is drawn once and kept
  as a background bitmap; a redraw restores it and draws only the "dynamic"
  artists on top (matplotlib's blitting).
- Texts that repeat from chart to chart (y tick labels, the annotation lines
  that do not depend on the symbol) are rendered once into small RGBA images
  by :class:`TextStamps` and pasted; drawing text is the slowest part of
  matplotlib's Agg backend.  A stamp is always rendered at the same sub-pixel
  phase and pasted at whole pixels, so the output never depends on what was
  drawn before.
- The layout is fixed (no tight layout, fixed axis-label positions), and so
  is the legend: it sits in the top margin and is part of the background.

Layout of the plot area, bottom up: the signal band (``SIGNAL_BAND`` of its
height, light grey, its own 0-1 scale: a signal is drawn on a track of it,
never over the prices), the annotation just above the band, then the price
view: :meth:`ChartFigure.set_y` puts the lowest price at ``PRICE_BOTTOM`` of
the height, so neither the band nor the annotation covers a price.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import NullFormatter, NullLocator
from matplotlib.transforms import IdentityTransform

from pytaaa.charts.drawing import DPI, FIG_SIZE, date_ticks, px_to_pt, write_png

__all__ = ["ChartFigure", "TextStamps", "AXES_RECT", "SIGNAL_BAND", "PRICE_BOTTOM",
           "FULL_TRACK", "HELD_TRACK", "DAILY_TRACK"]

#: Fixed position of the plot area in figure fractions (left, bottom, width, height).
AXES_RECT = (0.072, 0.075, 0.913, 0.845)
#: Height of the signal band at the bottom of the plot (fraction of the plot height).
SIGNAL_BAND = 0.09
#: Where the price view starts (fraction of the plot height): band plus annotation.
PRICE_BOTTOM = 0.175
#: Signal tracks in the band, (low, high) in fractions of the plot height: the full
#: chart's held signal, and the recent chart's held (lower) and daily (upper) signals.
FULL_TRACK = (0.012, 0.078)
HELD_TRACK = (0.010, 0.042)
DAILY_TRACK = (0.050, 0.082)
_TICK_LEN_PT = 3.0
_TICK_PAD_PT = 2.0


class TextStamps:
    """Texts rendered once into RGBA images, keyed by string.

    ``size`` (points) and ``color`` fix the look.  :meth:`image` returns the
    ``(H, W, 4)`` uint8 image of a string's layout box (rows bottom-up, as the
    Agg renderer's ``draw_image`` takes them), rendering it on a
    private transparent canvas the first time; at most ``limit`` images are
    kept (oldest dropped first).
    """

    def __init__(self, size: float, color: str, limit: int = 512) -> None:
        self._figure = Figure(figsize=(FIG_SIZE[0], 0.4), dpi=DPI)
        self._figure.patch.set_alpha(0.0)
        self._canvas = FigureCanvasAgg(self._figure)
        self._text = self._figure.text(0.01, 0.5, "", fontsize=size, color=color, va="center",
                                        parse_math=False)
        self._cache: dict[str, np.ndarray] = {}
        self._limit = limit

    def image(self, s: str) -> np.ndarray:
        """The RGBA image of ``s`` (rendered on first use)."""
        img = self._cache.get(s)
        if img is None:
            self._text.set_text(s)
            self._canvas.draw()
            box = self._text.get_window_extent(self._canvas.get_renderer())
            buf = np.asarray(self._canvas.buffer_rgba())
            h, w = buf.shape[:2]
            x0, x1 = max(0, math.floor(box.x0)), min(w, math.ceil(box.x1))
            y0, y1 = max(0, math.floor(box.y0)), min(h, math.ceil(box.y1))
            img = np.ascontiguousarray(buf[h - y1 : h - y0, x0:x1][::-1])  # rows bottom-up
            if len(self._cache) >= self._limit:
                del self._cache[next(iter(self._cache))]
            self._cache[s] = img
        return img


class _StampLayer(Artist):
    """Pastes stamp images at whole-pixel positions (lower-left corner, display coords)."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[np.ndarray, int, int]] = []

    def draw(self, renderer: Any) -> None:
        gc = renderer.new_gc()
        for img, x, y in self.items:
            if img.size:
                renderer.draw_image(gc, x, y, img)
        gc.restore()


class ChartFigure:
    """A reusable 1350 x 750 chart: one Axes at a fixed position, fixed date ticks.

    Built once for the x range ``[x0, x1]`` (days since 1970-01-01) and a
    linear or ``log`` y axis.  Callers add lines with :meth:`line`, and per
    chart change their data, call :meth:`set_y` and :meth:`set_texts`, then
    :meth:`save`.
    """

    def __init__(self, x0: float, x1: float, *, log: bool, tick_size: float) -> None:
        self.x0, self.x1 = float(x0), float(x1)
        self.log = log
        self.price_view = (math.nan, math.nan)
        self.figure = Figure(figsize=FIG_SIZE, dpi=DPI, facecolor="white")
        self.canvas = FigureCanvasAgg(self.figure)
        ax = self.figure.add_axes(AXES_RECT)
        self.ax = ax
        if log:
            ax.set_yscale("log")
        ax.set_xlim(self.x0, self.x1)
        ticks, labels = date_ticks(self.x0, self.x1)
        ax.set_xticks(ticks, labels)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_minor_locator(NullLocator())
        ax.tick_params(labelsize=tick_size, length=_TICK_LEN_PT, width=0.5, pad=_TICK_PAD_PT)
        ax.tick_params(axis="y", labelleft=False)  # y labels are stamps
        ax.yaxis.set_major_formatter(NullFormatter())
        ax.grid(True, color="0.85", linewidth=0.5)
        ax.set_axisbelow(True)
        for spine in ax.spines.values():
            spine.set_linewidth(0.6)
        # fixed axis-label positions: matplotlib skips re-measuring tick labels
        ax.xaxis.set_label_coords(0.5, -0.06)
        ax.yaxis.set_label_coords(-0.06, 0.5)
        self.axes_width_px = AXES_RECT[2] * FIG_SIZE[0] * DPI
        self._left_px = AXES_RECT[0] * FIG_SIZE[0] * DPI
        self._bottom_px = AXES_RECT[1] * FIG_SIZE[1] * DPI
        self._height_px = AXES_RECT[3] * FIG_SIZE[1] * DPI
        self._tick_stamps = TextStamps(tick_size, "black")
        self._note_stamps = TextStamps(6.5, "0.15", limit=64)
        self._stamps = _StampLayer()
        self._tick_items: list[tuple[np.ndarray, int, int]] = []
        self._stamps.set_zorder(10)
        ax.add_patch(Rectangle((0, 0), 1, SIGNAL_BAND, transform=ax.transAxes, zorder=0,
                               facecolor="0.955", edgecolor="0.8", linewidth=0.4))
        self._legend: list[Line2D] = []
        self._title_right: float | None = None
        self.title = self.figure.text(AXES_RECT[0], 0.955, "", ha="left", va="center",
                                      fontsize=11, parse_math=False)  # "$" in a name is a dollar
        self.note_box = Rectangle((0, 0), 0, 0, transform=IdentityTransform(),
                                  facecolor="white", alpha=0.75, edgecolor="none", zorder=9)
        self.note = self.figure.text(0, 0, "", transform=IdentityTransform(), ha="left",
                                     va="bottom", fontsize=6.5, color="0.15", zorder=10,
                                     parse_math=False)
        self.message = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center", va="center",
                               fontsize=14, color="0.4", zorder=10, parse_math=False)
        self._dynamic: list[Artist] = [
            ax.yaxis, self._stamps, self.note_box, self.note, self.message, self.title,
        ]
        for artist in self._dynamic:
            artist.set_animated(True)
        self._background: Any = None

    def line(self, color: str, width_px: float, *, zorder: float, alpha: float = 1.0,
             style: str = "-", marker: str = "", drawstyle: str = "default",
             label: str = "", band: bool = False) -> Line2D:
        """Add an empty dynamic line (width in pixels); charts fill it with ``set_data``.

        ``label``: its legend entry (none when empty).  ``band``: its y values
        are fractions of the plot height (a signal in the band), not prices.
        """
        (ln,) = self.ax.plot(
            [], [], color=color, lw=px_to_pt(width_px, DPI), zorder=zorder, alpha=alpha,
            linestyle=style, marker=marker, markersize=5, drawstyle=drawstyle,
            solid_joinstyle="bevel", dash_joinstyle="bevel", animated=True,
        )
        if band:
            ln.set_transform(self.ax.get_xaxis_transform())
        if label:
            proxy = Line2D([], [], color=color, lw=max(px_to_pt(width_px, DPI), 0.8),
                           alpha=min(1.0, alpha + 0.3), linestyle=style, marker=marker,
                           markersize=4)
            proxy.set_label(label)
            self._legend.append(proxy)
        self._dynamic.append(ln)
        return ln

    def pair(self, color: str, width_px: float, *, zorder: float, alpha: float = 1.0,
             style: str = "-", label: str = "") -> tuple[Line2D, Line2D]:
        """Two like lines (a channel's low and high side); only the first is in the legend."""
        return (self.line(color, width_px, zorder=zorder, alpha=alpha, style=style, label=label),
                self.line(color, width_px, zorder=zorder, alpha=alpha, style=style))

    def add_legend(self, ncol: int) -> None:
        """Draw the legend of the labelled lines in the top margin, right-aligned
        (static: part of the background, never over the plot)."""
        legend = self.figure.legend(
            handles=self._legend, loc="upper right", ncol=ncol, fontsize=6.5, frameon=False,
            bbox_to_anchor=(AXES_RECT[0] + AXES_RECT[2], 0.995), borderaxespad=0.2,
            handlelength=2.0, columnspacing=1.4, labelspacing=0.3,
        )
        self._title_right = legend.get_window_extent(self.canvas.get_renderer()).x0 - 12

    def _set_title(self, title: str) -> None:
        """Set the title, shortened with "…" where it would run into the legend."""
        self.title.set_text(title)
        if self._title_right is None:
            return
        renderer = self.canvas.get_renderer()
        while len(title) > 8 and self.title.get_window_extent(renderer).x1 > self._title_right:
            title = title[:-4].rstrip() + "\u2026"
            self.title.set_text(title)

    def set_y(self, lo: float, hi: float, ticks: np.ndarray, labels: list[str]) -> None:
        """Show the price view ``[lo, hi]`` above the band and the annotation (the
        axis starts lower, so ``lo`` sits at ``PRICE_BOTTOM``) with these y ticks."""
        self.price_view = (lo, hi)
        k = PRICE_BOTTOM / (1.0 - PRICE_BOTTOM)
        axis_lo = lo * (lo / hi) ** k if self.log else lo - k * (hi - lo)
        self.ax.set_ylim(axis_lo, hi)
        self.ax.set_yticks(ticks)
        ys = self.ax.transData.transform(np.column_stack([np.full(len(ticks), self.x0), ticks]))
        right = self._left_px - (_TICK_LEN_PT + _TICK_PAD_PT) * DPI / 72.0
        items = []
        for label, y in zip(labels, ys[:, 1]):
            img = self._tick_stamps.image(label)
            items.append((img, round(right - img.shape[1]), round(y - img.shape[0] / 2)))
        self._tick_items = items

    def set_texts(self, title: str, stamped: list[str], last_line: str, message: str = "") -> None:
        """Set the title, the annotation and the centered message.

        The annotation sits in the lower left of the plot, just above the
        signal band: the ``stamped`` lines (texts that repeat from chart to
        chart) above ``last_line``.
        """
        self._set_title(title)
        self.message.set_text(message)
        pad = 4
        x = round(self._left_px) + 2 * pad
        y = round(self._bottom_px + SIGNAL_BAND * self._height_px) + 2 * pad
        self.note.set_position((x, y))
        self.note.set_text(last_line)
        images = [self._note_stamps.image(text) for text in stamped]
        line_h = max((img.shape[0] for img in images), default=0)
        width = max((img.shape[1] for img in images), default=0)
        items = list(self._tick_items)
        top = y + line_h  # the last line is about one stamp high
        for img in reversed(images):
            items.append((img, x, top))
            top += line_h
        self._stamps.items = items
        self.note_box.set_bounds(x - pad, y - pad, width + 2 * pad, top - y + 2 * pad)

    def render(self) -> np.ndarray:
        """Draw the chart and return the canvas' ``(H, W, 4)`` RGBA buffer (a view)."""
        if self._background is None:
            self.canvas.draw()
            self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        else:
            self.canvas.restore_region(self._background)
        renderer = self.canvas.get_renderer()
        for artist in sorted(self._dynamic, key=lambda a: a.get_zorder()):
            if artist.get_visible():
                artist.draw(renderer)
        return np.asarray(self.canvas.buffer_rgba())

    def save(self, path: Path) -> None:
        """Draw and write the chart to ``path`` atomically as a PNG.

        Raises ``OSError`` when the file cannot be written (missing or
        read-only folder, disk full); no partial file is left behind.
        """
        write_png(path, self.render())
