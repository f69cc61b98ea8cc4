"""The two per-symbol charts: ``0_<SYM>.png`` (full history) and ``0_recent_<SYM>.png``.

One renderer serves the daily run (sync mode), the background chart job and
the CLI, so a chart looks the same whoever draws it (``spec/charts.md`` §1-2).

:class:`SymbolChartRenderer` builds one matplotlib ``Figure`` per chart kind
the first time it is needed and keeps it: drawing a symbol only swaps the data
of existing lines and texts, sets the limits and ticks, and writes the Agg
buffer as a PNG.  Nothing global is touched (no pyplot, no rcParams).

Drawing decisions (documented here because the spec leaves them open):

- Line widths of the spec are pixels; at 150 dpi 1 px is 0.48 pt.
- A signal square wave is drawn in the band below the prices (not at a price
  level): up while the signal is 1; on the recent chart the held signal takes
  the band's lower track, the daily signal its upper one.  A legend names every line.
- Trend channels are fitted against calendar time (days), so they are straight
  lines on the chart's date axis.
- Gapped trend channel: the two least-squares lines are drawn solid over their
  fit window (``numdaysinfit`` days ending ``offset`` days before the last day)
  and continued as a dotted extrapolation across the ``offset`` gap to the
  last date, where the dot marks the channel midpoint.  The no-gap channel's
  window ends on the last date, so it needs no extension.
- The recent chart shows at least the last 11 trading days: when fewer days
  fall on or after the start date, it starts earlier (and says so in a note).
- A symbol with no finite price (an all-NaN row) still gets both PNGs, with
  the message "no price data".
- Full-history price view: 0.9 × lowest to 1.1 × highest value drawn.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pytaaa.charts._figure import DAILY_TRACK, FULL_TRACK, HELD_TRACK, ChartFigure
from pytaaa.charts.drawing import (
    ColumnReducer,
    date_nums,
    fit_line,
    fmt_number,
    last_finite,
    linear_ticks,
    log_ticks,
    nan_range,
    safe_limits,
    step_points,
)
from pytaaa.config import METHODS
from pytaaa.engine.indicators import minmax_channel

if TYPE_CHECKING:
    from pytaaa.config import Valuation

__all__ = [
    "ChartParams",
    "SymbolSeries",
    "SymbolChartRenderer",
    "safe_symbol",
    "chart_filename",
    "chart_name_clashes",
    "render_symbol",
    "MIN_RECENT_POINTS",
]

log = logging.getLogger(__name__)

#: The recent chart shows at least this many trading days.
MIN_RECENT_POINTS = 11
#: Calendar days of empty space right of the last date on the recent chart.
RECENT_RIGHT_PAD_DAYS = 10

# Characters replaced by "_" in file names: path separators, characters that
# Windows or a shell treat specially, whitespace and control characters.
_UNSAFE = frozenset('/\\:*?"<>|%#&') | {chr(c) for c in range(33)} | {chr(127)}


@dataclass(frozen=True)
class ChartParams:
    """The settings the charts read from the config.

    ``method`` is ``uptrendSignalMethod``; ``periods`` the dpg channel periods
    ``range(minperiod, maxperiod, incperiod)``; ``numdaysinfit``/``offset`` the
    gapped trend channel window, ``numdaysinfit2`` the no-gap one;
    ``recent_start`` the first date of the recent chart.
    """

    method: str
    periods: tuple[int, ...]
    numdaysinfit: int
    numdaysinfit2: int
    offset: int
    recent_start: dt.date

    def __post_init__(self) -> None:
        problems = {
            "method": (self.method in METHODS, f"one of {', '.join(METHODS)}"),
            "periods": (len(self.periods) > 0 and min(self.periods) >= 0, "non-negative periods"),
            "numdaysinfit": (self.numdaysinfit >= 2, "at least 2"),
            "numdaysinfit2": (self.numdaysinfit2 >= 2, "at least 2"),
            "offset": (self.offset >= 0, "0 or more"),
            "recent_start": (isinstance(self.recent_start, dt.date), "a date"),
        }
        for key, (ok, expected) in problems.items():
            if not ok:
                got = getattr(self, key)
                raise ValueError(f"ChartParams.{key}: expected {expected}, got {got!r}")

    @classmethod
    def from_valuation(cls, v: Valuation, today: dt.date | None = None) -> ChartParams:
        """Read the chart settings of a validated ``Valuation`` section.

        ``recent_start`` is ``v.recent_start(today)`` (the configured
        ``recent_plot_start_date``, else 1 January four years before ``today``).
        """
        return cls(
            method=v.uptrendSignalMethod,
            periods=tuple(v.channel_periods),
            numdaysinfit=v.numdaysinfit,
            numdaysinfit2=v.numdaysinfit2,
            offset=v.offset,
            recent_start=v.recent_start(today),
        )


@dataclass(frozen=True)
class SymbolSeries:
    """One symbol's rows of the analysis arrays, all of length T (the dates).

    ``close`` is the cleaned price P, ``despiked`` D, ``held``/``daily`` the 0/1
    signals; ``low_channel``/``hi_channel`` the percentile channels (of D) or None.
    """

    symbol: str
    company: str | None
    close: np.ndarray
    despiked: np.ndarray
    held: np.ndarray
    daily: np.ndarray
    low_channel: np.ndarray | None = None
    hi_channel: np.ndarray | None = None


def safe_symbol(symbol: str) -> str:
    """The file-name-safe form of a ticker.

    Mapping: each of ``/ \\ : * ? " < > | % # &``, whitespace and control
    characters becomes ``_``; a leading ``.`` becomes ``_`` (no hidden files, no
    ``..``); everything else is kept, so ``BRK.B`` and ``^GSPC`` stay as they are
    and ``BRK/B`` becomes ``BRK_B``.  Raises ``ValueError`` for an empty symbol.
    """
    if not isinstance(symbol, str) or not symbol:
        raise ValueError(f"symbol: expected a non-empty string, got {symbol!r}")
    out = "".join("_" if ch in _UNSAFE else ch for ch in symbol)
    if out.startswith("."):
        out = "_" + out[1:]
    return out


def chart_name_clashes(symbols: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs of tickers whose chart files would be the same file (``A/B`` and
    ``A_B``; also names that differ only in case, one file on macOS and
    Windows).  Returns ``(first, second)`` in symbol order; [] when all differ."""
    seen: dict[str, str] = {}
    out: list[tuple[str, str]] = []
    for sym in symbols:
        if sym == "CASH" or not sym:
            continue
        key = safe_symbol(sym).casefold()
        if key in seen:
            out.append((seen[key], sym))
        else:
            seen[key] = sym
    return out


def chart_filename(symbol: str, kind: str) -> str:
    """``0_<safe>.png`` for kind ``"full"``, ``0_recent_<safe>.png`` for ``"recent"``.

    Raises ``ValueError`` for another kind or an empty symbol.
    """
    if kind == "full":
        return f"0_{safe_symbol(symbol)}.png"
    if kind == "recent":
        return f"0_recent_{safe_symbol(symbol)}.png"
    raise ValueError(f"chart kind: expected 'full' or 'recent', got {kind!r}")


def _row(name: str, a: np.ndarray | None, t: int, symbol: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64) if a is not None else None
    if arr is None or arr.shape != (t,):
        shape = None if a is None else np.shape(a)
        raise ValueError(f"{symbol}: {name} has shape {shape}, expected ({t},) like the dates")
    return arr


_Fit = tuple[int, int, tuple[float, float], tuple[float, float]]


class FullFigure(ChartFigure):
    """The artists of the full-history chart (log scale)."""

    def __init__(self, x0: float, x1: float, pc: bool) -> None:
        super().__init__(x0, x1, log=True, tick_size=8)
        self.raw = self.line("tab:blue", 1.5, zorder=2, label="price")
        self.despiked = self.line("tab:green", 1.5, zorder=3, label="despiked price")
        self.channels = self.pair("m", 1.0, zorder=4, alpha=0.8,
                                  label="percentile channels" if pc else "")
        self.held = self.line("tab:orange", 1.0, zorder=1, drawstyle="steps-post", band=True,
                              label="held signal (band: up = up-trending)")
        self.add_legend(2)


class RecentFigure(ChartFigure):
    """The artists of the recent chart (linear scale, trend channels)."""

    def __init__(self, x0: float, x1: float, pc: bool) -> None:
        super().__init__(x0, x1, log=False, tick_size=6.5)
        self.raw = self.line("k", 0.5, zorder=5, label="price")
        self.despiked = self.line("tab:green", 1.0, zorder=2, label="despiked (scaled)")
        self.gapped = (*self.pair("y", 0.5, zorder=3, label="trend channel (gapped)"),
                       *self.pair("y", 0.5, zorder=3, style=":"))
        self.nogap = self.pair("b", 1.0, zorder=3, label="trend channel (no gap)")
        self.held = self.line("b", 1.0, zorder=1, alpha=0.6, drawstyle="steps-post", band=True,
                              label="held signal (lower)")
        self.daily = self.line("tab:orange", 1.0, zorder=1, alpha=0.6, drawstyle="steps-post",
                               band=True, label="daily signal (upper)")
        self.channels = self.pair("m", 1.0, zorder=2, alpha=0.8,
                                  label="percentile channels" if pc else "")
        self.add_legend(4 if pc else 3)
        self.gapped_dot = self.line("y", 0, zorder=6, marker="o")
        self.nogap_dot = self.line("b", 0, zorder=6, marker="o")

    def set_gapped(self, x: np.ndarray, fit: _Fit | None, end: int) -> None:
        """Show the gapped channel ``fit`` (or hide it): solid over the fit window,
        dotted from the window's end to ``end``, a dot at the midpoint at ``end``."""
        for ln in (*self.gapped, self.gapped_dot):
            ln.set_visible(fit is not None)
        if fit is None:
            return
        b, e, lo, hi = fit
        for k, (a, slope) in enumerate((lo, hi)):
            self.gapped[k].set_data(x[[b, e]], a + slope * x[[b, e]])
            self.gapped[k + 2].set_data(x[[e, end]], a + slope * x[[e, end]])
            self.gapped[k + 2].set_visible(end > e)
        self.gapped_dot.set_data([x[end]], [_mid(lo, hi, x[end])])

    def set_nogap(self, x: np.ndarray, fit: _Fit | None, end: int) -> None:
        """Show the no-gap channel ``fit`` (or hide it) and its midpoint dot at ``end``."""
        for ln in (*self.nogap, self.nogap_dot):
            ln.set_visible(fit is not None)
        if fit is None:
            return
        b, e, lo, hi = fit
        for ln, (a, slope) in zip(self.nogap, (lo, hi)):
            ln.set_data(x[[b, e]], a + slope * x[[b, e]])
        self.nogap_dot.set_data([x[end]], [_mid(lo, hi, x[end])])


def _mid(lo: tuple[float, float], hi: tuple[float, float], x: float) -> float:
    return 0.5 * (lo[0] + lo[1] * x + hi[0] + hi[1] * x)


def _empty(finite: np.ndarray) -> str:
    return "" if finite.any() else "no price data"


class SymbolChartRenderer:
    """Draws both charts; builds its Figure(s) once and reuses them (one instance per worker).

    ``dates`` is the ``datetime64[D]`` trading-day axis (T,) shared by every
    symbol, ``params`` the chart settings.  Raises ``ValueError`` for dates that
    are empty, not dates, or not strictly increasing.
    """

    def __init__(self, dates: np.ndarray, params: ChartParams) -> None:
        try:
            d = np.asarray(dates).astype("datetime64[D]")
        except (TypeError, ValueError) as exc:
            got = np.asarray(dates).dtype
            raise ValueError(f"dates: expected datetime64 dates, got {got}") from exc
        if d.ndim != 1 or len(d) == 0:
            raise ValueError(f"dates: expected a non-empty 1-D array, got shape {d.shape}")
        if len(d) > 1 and not (np.diff(d.astype(np.int64)) > 0).all():
            raise ValueError("dates: expected strictly increasing trading days")
        self.dates = d
        self.params = params
        self._pc = params.method == "percentileChannels"
        self.x = date_nums(d)
        self.n = len(d)
        self._full: FullFigure | None = None
        self._recent: RecentFigure | None = None
        self._full_reducer: ColumnReducer | None = None
        self._recent_reducer: ColumnReducer | None = None
        # the recent chart's first index
        start = int(np.searchsorted(d, np.datetime64(params.recent_start, "D")))
        self._recent_note = ""
        new_start = max(0, min(start, self.n - MIN_RECENT_POINTS))
        if new_start < start:
            self._recent_note = (
                f"recent chart: {self.n - start} trading days on or after "
                f"{params.recent_start.isoformat()}; showing the last {self.n - new_start}"
            )
            start = new_start
        self.recent_start_index = start

    # ---- figures, built on first use -----------------------------------
    def _full_figure(self) -> tuple[FullFigure, ColumnReducer]:
        if self._full is None:
            span = max(self.x[-1] - self.x[0], 1.0)
            pad = max(1.0, 0.01 * span)
            fig = FullFigure(self.x[0] - pad, self.x[-1] + pad, self._pc)
            self._full = fig
            self._full_reducer = ColumnReducer(self.x, fig.x0, fig.x1, fig.axes_width_px)
        assert self._full_reducer is not None
        return self._full, self._full_reducer

    def _recent_figure(self) -> tuple[RecentFigure, ColumnReducer]:
        if self._recent is None:
            x = self.x[self.recent_start_index :]
            fig = RecentFigure(x[0], self.x[-1] + RECENT_RIGHT_PAD_DAYS, self._pc)
            self._recent = fig
            self._recent_reducer = ColumnReducer(x, fig.x0, fig.x1, fig.axes_width_px)
        assert self._recent_reducer is not None
        return self._recent, self._recent_reducer

    def _series(self, s: SymbolSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if not isinstance(s, SymbolSeries):
            raise ValueError(f"expected a SymbolSeries, got {type(s).__name__}")
        t = self.n
        return (
            _row("close", s.close, t, s.symbol),
            _row("despiked", s.despiked, t, s.symbol),
            _row("held", s.held, t, s.symbol),
            _row("daily", s.daily, t, s.symbol),
        )

    def _channels(self, s: SymbolSeries, notes: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
        if self.params.method != "percentileChannels":
            return None
        if s.low_channel is None or s.hi_channel is None:
            notes.append("percentile channels not given: drawn without them")
            return None
        return (
            _row("low_channel", s.low_channel, self.n, s.symbol),
            _row("hi_channel", s.hi_channel, self.n, s.symbol),
        )

    @staticmethod
    def _title(s: SymbolSeries) -> str:
        return f"{s.symbol} \u2014 {s.company}" if s.company else s.symbol

    def _annotation(self, last: float, now: dt.datetime) -> tuple[list[str], str]:
        value = fmt_number(last) if math.isfinite(last) else "n/a"
        return (
            [f"most recent value from {self.dates[-1]}",
             f"plotted at {now.strftime('%Y-%m-%d %H:%M')}"],
            f"value = {value}",
        )

    # ---- full history --------------------------------------------------
    def render_full(self, s: SymbolSeries, path: Path, now: dt.datetime) -> list[str]:
        """Draw ``0_<SYM>.png`` for ``s`` and write it atomically to ``path``.

        Returns notes on what could not be drawn.  Raises ``ValueError`` for
        arrays whose shape does not match the dates and ``OSError`` when the
        file cannot be written (no partial file is left).
        """
        close, despiked, held, _daily = self._series(s)
        notes: list[str] = []
        chans = self._channels(s, notes)
        fig, red = self._full_figure()
        with np.errstate(invalid="ignore"):
            pos_close = np.where(close > 0, close, np.nan)
            pos_desp = np.where(despiked > 0, despiked, np.nan)
        finite = np.isfinite(pos_close)
        if not finite.any():
            notes.append("no finite price: empty chart drawn")
        elif (np.isfinite(close) & ~finite).any():
            notes.append("non-positive prices left out of the log-scale chart")
        drawn = [pos_close, pos_desp]
        fig.raw.set_data(*red.reduce(pos_close))
        fig.despiked.set_data(*red.reduce(pos_desp))
        for line, ch in zip(fig.channels, chans or (None, None)):
            if ch is None:
                line.set_visible(False)
                continue
            pos_ch = np.where(ch > 0, ch, np.nan)
            drawn.append(pos_ch)
            line.set_data(*red.reduce(pos_ch))
            line.set_visible(True)
        lo, hi = nan_range(drawn)
        lo, hi = safe_limits(0.9 * lo, 1.1 * hi, log=True)
        last = last_finite(close)
        fig.held.set_data(*step_points(self.x, held, FULL_TRACK[1], FULL_TRACK[0]))
        ticks, labels = log_ticks(lo, hi)
        fig.set_y(lo, hi, ticks, labels)
        fig.set_texts(self._title(s), *self._annotation(last, now), _empty(finite))
        fig.save(path)
        _log_notes(s.symbol, "full", notes)
        return notes

    # ---- recent period -------------------------------------------------
    def render_recent(self, s: SymbolSeries, path: Path, now: dt.datetime) -> list[str]:
        """Draw ``0_recent_<SYM>.png`` for ``s`` and write it atomically to ``path``.

        Returns notes on what could not be drawn (a trend channel whose fit
        window is longer than the history or has fewer than two finite
        points, a short recent period).  Raises ``ValueError`` for arrays whose
        shape does not match the dates and ``OSError`` when the file cannot be
        written (no partial file is left).
        """
        close, despiked, held, daily = self._series(s)
        notes: list[str] = [self._recent_note] if self._recent_note else []
        chans = self._channels(s, notes)
        fig, red = self._recent_figure()
        p = self.params
        i0 = self.recent_start_index
        xv = self.x[i0:]
        pv = close[i0:]
        finite = np.isfinite(pv)
        if not finite.any():
            notes.append("no finite price in the recent period: empty chart drawn")
        # despiked (and its channels) rescaled to the raw price at the left edge
        dv = despiked[i0:]
        both = np.flatnonzero(finite & np.isfinite(dv) & (dv != 0))
        scale = float(pv[both[0]] / dv[both[0]]) if len(both) else math.nan
        if not len(both) and finite.any():
            notes.append("despiked price has no usable value in the recent period: not drawn")
        fig.despiked.set_data(*red.reduce(dv * scale))
        low_view = None
        for k, (line, ch) in enumerate(zip(fig.channels, chans or (None, None))):
            if ch is None:
                line.set_visible(False)
                continue
            cv = ch[i0:] * scale
            if k == 0:
                low_view = cv
            line.set_data(*red.reduce(cv))
            line.set_visible(True)
        fig.raw.set_data(*red.reduce(pv))
        # y limits
        lo, hi = nan_range([pv])
        lo, hi = 0.9 * lo, 1.1 * hi
        if low_view is not None:
            lo_ch, _ = nan_range([low_view])
            if math.isfinite(lo_ch):
                lo = 0.85 * lo_ch
        lo, hi = safe_limits(lo, hi)
        last = last_finite(close)
        fig.held.set_data(*step_points(xv, held[i0:], HELD_TRACK[1], HELD_TRACK[0]))
        fig.daily.set_data(*step_points(xv, daily[i0:], DAILY_TRACK[1], DAILY_TRACK[0]))
        # trend channels of the raw price
        low_band, hi_band = minmax_channel(close, p.periods)
        end = self.n - 1
        gap = self._trend(
            "gapped channel", low_band, hi_band, end - p.offset - p.numdaysinfit + 1,
            end - p.offset + 1, f"numdaysinfit {p.numdaysinfit} + offset {p.offset}", notes,
        )
        fig.set_gapped(self.x, gap, end)
        nogap = self._trend(
            "no-gap channel", low_band, hi_band, self.n - p.numdaysinfit2, self.n,
            f"numdaysinfit2 {p.numdaysinfit2}", notes,
        )
        fig.set_nogap(self.x, nogap, end)
        ticks, labels = linear_ticks(lo, hi)
        fig.set_y(lo, hi, ticks, labels)
        fig.set_texts(self._title(s), *self._annotation(last, now), _empty(finite))
        fig.save(path)
        _log_notes(s.symbol, "recent", notes)
        return notes

    def _trend(self, name: str, low: np.ndarray, high: np.ndarray, start: int, stop: int,
               need: str, notes: list[str]) -> _Fit | None:
        """Fit both bands over ``[start, stop)``; None (and a note) when impossible."""
        if start < 0:
            notes.append(f"{name} skipped: {self.n} days of history < {need}")
            return None
        fit_lo = fit_line(self.x, low, start, stop)
        fit_hi = fit_line(self.x, high, start, stop)
        if fit_lo is None or fit_hi is None:
            notes.append(
                f"{name} skipped: fewer than 2 finite points between "
                f"{self.dates[start]} and {self.dates[stop - 1]}"
            )
            return None
        return start, stop - 1, fit_lo, fit_hi


def _log_notes(symbol: str, kind: str, notes: list[str]) -> None:
    for note in notes:  # the caller reports the notes; this is for debugging
        log.debug("%s (%s): %s", symbol, kind, note)


def render_symbol(dates: np.ndarray, params: ChartParams, s: SymbolSeries, out_dir: Path,
                  kind: str, now: dt.datetime) -> list[str]:
    """Draw one chart of ``s`` (``kind`` ``"full"`` or ``"recent"``) into ``out_dir``.

    A convenience for single charts (the CLI, tests): it builds a fresh
    :class:`SymbolChartRenderer`, so draw many charts with one renderer
    instead.  Returns the renderer's notes; raises like its methods.
    """
    path = Path(out_dir) / chart_filename(s.symbol, kind)
    renderer = SymbolChartRenderer(dates, params)
    if kind == "full":
        return renderer.render_full(s, path, now)
    return renderer.render_recent(s, path, now)
