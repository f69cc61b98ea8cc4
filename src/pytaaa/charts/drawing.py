"""Small, fast building blocks shared by the chart renderers.

Everything here is pure computation on numpy arrays plus one PNG writer:

- :class:`ColumnReducer`: shrink a long line to the points its pixel columns
  can show (per column: first, lowest, highest and last point, in time order),
  which rasterizes like the full line at a fraction of the cost.
- :func:`step_points`: a 0/1 signal as the few vertices of a square wave.
- :func:`fit_line`: least-squares straight line over a window, ignoring NaN.
- :func:`log_ticks`, :func:`linear_ticks`, :func:`fmt_number`: y-axis ticks and
  labels without matplotlib's locator machinery.
- :func:`date_ticks`: x-axis ticks and labels for a fixed date range.
- :func:`encode_png`, :func:`write_png`, :func:`save_figure_png`: write an Agg
  buffer as an RGB PNG through :func:`pytaaa._io.atomic_path`, with no
  metadata (so the same drawing always gives the same bytes).
"""

from __future__ import annotations

import datetime as dt
import math
import struct
import zlib
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from pytaaa._io import atomic_path

__all__ = [
    "ColumnReducer",
    "step_points",
    "fit_line",
    "log_ticks",
    "linear_ticks",
    "fmt_number",
    "date_ticks",
    "date_nums",
    "px_to_pt",
    "safe_limits",
    "nan_range",
    "last_finite",
    "encode_png",
    "save_figure_png",
    "write_png",
    "FIG_SIZE",
    "DPI",
]

#: Size of every chart: 9 x 5 inches at 150 dpi = 1350 x 750 pixels.
FIG_SIZE = (9.0, 5.0)
DPI = 150


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_EPOCH = dt.date(1970, 1, 1)


def px_to_pt(px: float, dpi: float) -> float:
    """Line width in points for a width of ``px`` pixels at ``dpi``."""
    return px * 72.0 / dpi


def date_nums(dates: np.ndarray) -> np.ndarray:
    """Float days since 1970-01-01 of ``datetime64`` dates (the charts' x values)."""
    d = np.asarray(dates).astype("datetime64[D]")
    return d.astype(np.int64).astype(np.float64)


class ColumnReducer:
    """Reduce a line over fixed x positions to what ``width_px`` pixel columns show.

    Built once for x values ``x`` (sorted) and an x range ``[x0, x1]`` that
    spans ``width_px`` pixels.  :meth:`reduce` keeps, for every pixel column,
    the first, the lowest, the highest and the last finite point, in time
    order, which draws the same pixels as the full line.  A column without a
    finite point becomes a NaN break, so gaps of a pixel or more stay gaps.
    Lines not longer than three points per column are returned unchanged.
    """

    def __init__(self, x: np.ndarray, x0: float, x1: float, width_px: float) -> None:
        self.x = np.asarray(x, dtype=np.float64)
        n = len(self.x)
        self.enabled = False
        if n == 0 or not x1 > x0 or width_px < 1:
            return
        col = np.floor((self.x - x0) / (x1 - x0) * width_px).astype(np.int64)
        starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
        if n <= 3 * len(starts):
            return
        ends = np.r_[starts[1:], n] - 1
        width = int((ends - starts).max()) + 1
        idx = starts[:, None] + np.arange(width)[None, :]
        self._idx = np.minimum(idx, ends[:, None])
        self._rows = np.arange(len(starts))
        self._last = width - 1
        self.enabled = True

    def reduce(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(x, y)`` reduced for drawing; ``y`` must have the length of ``x``."""
        y = np.asarray(y, dtype=np.float64)
        if not self.enabled:
            return self.x, y
        g = y[self._idx]
        ok = np.isfinite(g)
        rows = self._rows
        pick = np.stack(
            [
                ok.argmax(axis=1),
                np.where(ok, g, np.inf).argmin(axis=1),
                np.where(ok, g, -np.inf).argmax(axis=1),
                self._last - ok[:, ::-1].argmax(axis=1),
            ],
            axis=1,
        )
        pick.sort(axis=1)
        order = self._idx[rows[:, None], pick].ravel()
        # a column without finite points picks its own (NaN) points: a break
        order = order[np.r_[True, order[1:] != order[:-1]]]
        return self.x[order], y[order]


def step_points(
    x: np.ndarray, signal: np.ndarray, high: float, low: float
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of a square wave for a ``steps-post`` line.

    ``signal`` (0/1, same length as ``x``) becomes ``high`` where 1 and ``low``
    where 0; only the points where the value changes are kept, plus the last
    point.
    Returns empty arrays for an empty signal or a ``high`` that is not a
    finite number (no price to draw the wave at).
    """
    s = np.asarray(signal) != 0
    if len(s) == 0 or not math.isfinite(high):
        return np.empty(0), np.empty(0)
    change = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    xs = np.r_[x[change], x[-1]]
    ys = np.where(np.r_[s[change], s[-1]], high, low).astype(np.float64)
    return xs, ys


def fit_line(x: np.ndarray, y: np.ndarray, start: int, stop: int) -> tuple[float, float] | None:
    """Least-squares line ``a + b * x`` through the points ``[start, stop)`` of ``(x, y)``.

    NaN points are ignored.  Returns ``(a, b)``, or None when fewer than two
    finite points (at distinct x) remain.
    """
    seg = np.asarray(y[start:stop], dtype=np.float64)
    t = np.asarray(x[start:stop], dtype=np.float64)
    ok = np.isfinite(seg) & np.isfinite(t)
    if ok.sum() < 2:
        return None
    t, seg = t[ok], seg[ok]
    tm = t.mean()
    dt_ = t - tm
    denom = float(dt_ @ dt_)
    if denom == 0.0:
        return None
    b = float(dt_ @ (seg - seg.mean())) / denom
    return float(seg.mean()) - b * tm, b


def fmt_number(v: float, step: float | None = None) -> str:
    """A tick or price label: thousands separators, as many decimals as ``step`` needs."""
    if not math.isfinite(v):
        return ""
    if step is None or step <= 0:
        mag = abs(v)
        if mag >= 100:
            return f"{v:,.0f}"
        if mag >= 1:
            return f"{v:,.2f}"
        return f"{v:.4g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{v:,.{decimals}f}"


def linear_ticks(lo: float, hi: float, max_ticks: int = 8) -> tuple[np.ndarray, list[str]]:
    """'Nice' linear ticks (steps of 1, 2, 2.5 or 5 × 10^k) inside ``[lo, hi]`` and labels."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return np.empty(0), []
    raw = (hi - lo) / max(1, max_ticks - 1)
    base = 10.0 ** math.floor(math.log10(raw))
    step = base
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        step = m * base
        if step >= raw:
            break
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    ticks = np.arange(first, last + 1) * step
    return ticks, [fmt_number(t, step) for t in ticks]


def log_ticks(lo: float, hi: float, max_ticks: int = 10) -> tuple[np.ndarray, list[str]]:
    """Ticks for a log axis over ``[lo, hi]`` (both > 0) and their labels.

    Uses mantissas {1}, {1, 2, 5}, or {1, 1.5, 2, 3, 5, 7} per decade, the
    densest set that stays within ``max_ticks``; a range narrower than that
    falls back to linear ticks.
    """
    if not (lo > 0 and hi > lo and math.isfinite(hi)):
        return np.empty(0), []
    k0 = math.floor(math.log10(lo))
    k1 = math.floor(math.log10(hi))
    best: np.ndarray | None = None
    for mant in ((1.0, 1.5, 2.0, 3.0, 5.0, 7.0), (1.0, 2.0, 5.0), (1.0,)):
        vals = np.array([m * 10.0**k for k in range(k0, k1 + 1) for m in mant])
        vals = vals[(vals >= lo * (1 - 1e-9)) & (vals <= hi * (1 + 1e-9))]
        if len(vals) <= max_ticks:
            best = vals
            break
    if best is None:  # many decades: every n-th decade
        every = math.ceil((k1 - k0 + 1) / max_ticks)
        best = np.array([10.0**k for k in range(k0, k1 + 1) if (k - k0) % every == 0])
        best = best[(best >= lo) & (best <= hi)]
    if len(best) < 3:
        return linear_ticks(lo, hi, max_ticks=6)
    return best, [_exact_label(v) for v in best]


def _exact_label(v: float) -> str:
    """``v`` with thousands separators and the fewest decimals that show it exactly."""
    for decimals in range(10):
        if abs(round(v, decimals) - v) <= 1e-9 * abs(v):
            return f"{v:,.{decimals}f}"
    return f"{v:.6g}"


def date_ticks(x0: float, x1: float, max_ticks: int = 10) -> tuple[np.ndarray, list[str]]:
    """Ticks and labels for date numbers in ``[x0, x1]``: years, months or days."""
    if not x1 > x0:
        return np.empty(0), []
    d0 = _EPOCH + dt.timedelta(days=math.floor(x0))
    d1 = _EPOCH + dt.timedelta(days=math.floor(x1))
    span_days = x1 - x0
    if span_days / 365.25 >= max_ticks * 0.9:
        every = max(1, math.ceil(span_days / 365.25 / max_ticks))
        days = [dt.date(y, 1, 1) for y in range(d0.year, d1.year + 2) if y % every == 0]
        fmt = "%Y"
    elif span_days >= 60:
        months_total = (d1.year - d0.year) * 12 + d1.month - d0.month + 1
        every = next(m for m in (1, 2, 3, 4, 6, 12, 24) if months_total / m <= max_ticks)
        days = []
        y, m = d0.year, d0.month
        while dt.date(y, m, 1) <= d1:
            if (m - 1) % every == 0:
                days.append(dt.date(y, m, 1))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        fmt = "%Y" if every == 12 else "%b %Y"
    else:
        every = next(n for n in (1, 2, 5, 7, 14) if (span_days + 1) / n <= max_ticks)
        days = [d0 + dt.timedelta(days=k) for k in range(0, (d1 - d0).days + 1, every)]
        fmt = "%b %d"
    nums = np.array([(d - _EPOCH).days for d in days], dtype=np.float64)
    keep = (nums >= x0) & (nums <= x1)
    return nums[keep], [d.strftime(fmt) for d, k in zip(days, keep) if k]


def nan_range(arrays: list[np.ndarray]) -> tuple[float, float]:
    """Lowest and highest finite value over ``arrays``; ``(nan, nan)`` when there is none."""
    lo, hi = math.inf, -math.inf
    for a in arrays:
        ok = a[np.isfinite(a)]
        if len(ok):
            lo, hi = min(lo, float(ok.min())), max(hi, float(ok.max()))
    return (lo, hi) if lo <= hi else (math.nan, math.nan)


def last_finite(a: np.ndarray) -> float:
    """The last finite value of ``a``, or NaN."""
    idx = np.flatnonzero(np.isfinite(a))
    return float(a[idx[-1]]) if len(idx) else math.nan


def safe_limits(lo: float, hi: float, log: bool = False) -> tuple[float, float]:
    """``(lo, hi)`` made usable as axis limits: finite, ordered, non-zero height.

    For a log axis both limits are made positive.  Degenerate input (no
    finite value, ``lo == hi``) is widened around the value, or becomes (1, 10)
    on a log axis and (0, 1) on a linear one when there is nothing to center on.
    """
    finite = math.isfinite(lo) and math.isfinite(hi)
    if log:
        if not finite or hi <= 0:
            return 1.0, 10.0
        if lo <= 0:
            lo = hi / 100.0
        if hi / lo < 1.0001:
            return lo / 1.1, hi * 1.1
        return lo, hi
    if not finite:
        return 0.0, 1.0
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        pad = 0.1 * abs(hi) if hi != 0 else 1.0
        return lo - pad, hi + pad
    return lo, hi


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _drop_alpha(rgba: np.ndarray) -> np.ndarray:
    """``(H, W, 4)`` uint8 -> ``(H, W * 3)`` RGB bytes, fast.

    Each pixel is copied as one 4-byte word to byte offset ``3 * i`` of the
    output, in increasing order, so pixel ``i + 1`` overwrites the alpha byte
    that pixel ``i`` wrote; about ten times faster than a strided byte copy.
    """
    h, w = rgba.shape[:2]
    n = h * w
    src = np.ascontiguousarray(rgba, dtype=np.uint8).reshape(-1).view(np.uint32)
    buf = np.empty(3 * n + 1, dtype=np.uint8)
    np.ndarray(shape=(n,), dtype=np.uint32, buffer=buf, strides=(3,))[:] = src
    return buf[: 3 * n].reshape(h, w * 3)


def encode_png(rgba: np.ndarray, level: int = 1) -> bytes:
    """Encode an ``(H, W, 4)`` uint8 image as an 8-bit RGB PNG (alpha dropped).

    Every row uses the PNG "Up" filter (difference with the row above), which
    turns the large uniform areas of a chart into zeros, and zlib's run-length
    strategy at ``level``; the result has no metadata, so it depends on the
    pixels only.
    """
    h, w = rgba.shape[:2]
    rgb = _drop_alpha(rgba)
    rows = np.empty((h, w * 3 + 1), dtype=np.uint8)
    rows[:, 0] = 2
    rows[0, 1:] = rgb[0]
    np.subtract(rgb[1:], rgb[:-1], out=rows[1:, 1:])
    comp = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    idat = comp.compress(rows) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def write_png(path: Path, rgba: np.ndarray) -> None:
    """Encode ``rgba`` (see :func:`encode_png`) and write it to ``path`` atomically.

    Raises ``OSError`` when the file cannot be written (missing or read-only
    folder, disk full); no partial file is left behind.
    """
    data = encode_png(rgba)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)


def save_figure_png(canvas: FigureCanvasAgg, path: Path) -> None:
    """Draw ``canvas`` fully and write it to ``path`` atomically (see :func:`write_png`)."""
    canvas.draw()
    write_png(path, np.asarray(canvas.buffer_rgba()))
