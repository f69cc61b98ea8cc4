"""Tests of the per-symbol chart renderer (pytaaa.charts.symbol, pytaaa.charts.drawing)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import struct
import zlib
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from pytaaa.charts import drawing as ch
from pytaaa.charts._figure import (
    AXES_RECT,
    DAILY_TRACK,
    FULL_TRACK,
    PRICE_BOTTOM,
    SIGNAL_BAND,
)
from pytaaa.charts.symbol import (
    ChartParams,
    SymbolChartRenderer,
    SymbolSeries,
    chart_filename,
    render_symbol,
    safe_symbol,
)
from pytaaa.config import Valuation
from pytaaa.engine.indicators import minmax_channel, percentile_channel

NOW = dt.datetime(2024, 6, 3, 9, 30, 0)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "charts"
PERIODS = (4, 7, 10)


def make_dates(n: int, start: str = "2016-01-04") -> np.ndarray:
    return np.busday_offset(np.datetime64(start), np.arange(n), roll="forward")


def params(method: str = "percentileChannels", **kw: object) -> ChartParams:
    base: dict[str, object] = dict(
        method=method, periods=PERIODS, numdaysinfit=50, numdaysinfit2=15, offset=7,
        recent_start=dt.date(2020, 1, 1),
    )
    base.update(kw)
    return ChartParams(**base)  # type: ignore[arg-type]


def series(n: int, kind: str = "trend", seed: int = 0, channels: bool = True) -> SymbolSeries:
    rng = np.random.default_rng(seed)
    drift = {"trend": 0.0006, "fall": -0.0006}.get(kind, 0.0003)
    close = 30.0 * np.exp(np.cumsum(rng.normal(drift, 0.02, n)))
    if kind == "late":
        close[: n // 2] = close[n // 2]
    elif kind == "delisted":
        close[-n // 4 :] = close[-n // 4]
    elif kind == "flat":
        close = np.ones(n)
    elif kind == "nan":
        close = np.full(n, np.nan)
    despiked = close * 0.98
    held = (np.sin(np.arange(n) / 60.0) > 0).astype(np.int8)
    daily = (np.sin(np.arange(n) / 13.0) > 0).astype(np.int8)
    lo = hi = None
    if channels:
        lo, hi = percentile_channel(despiked, PERIODS, 20, 80)
    return SymbolSeries(kind.upper(), f"{kind.title()} Corp", close, despiked, held, daily, lo, hi)


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def pixels(path: Path) -> np.ndarray:
    return mpimg.imread(str(path))


@pytest.fixture(scope="module")
def long_dates() -> np.ndarray:
    return make_dates(2200)


@pytest.fixture(scope="module")
def pc_renderer(long_dates: np.ndarray) -> SymbolChartRenderer:
    return SymbolChartRenderer(long_dates, params())


# ---- names ------------------------------------------------------------------
def test_safe_symbol_mapping() -> None:
    assert safe_symbol("AAPL") == "AAPL"
    assert safe_symbol("BRK.B") == "BRK.B"
    assert safe_symbol("^GSPC") == "^GSPC"
    assert safe_symbol("BRK/B") == "BRK_B"
    assert safe_symbol("A B:C*D?") == "A_B_C_D_"
    assert safe_symbol("../etc") == "_._etc"
    with pytest.raises(ValueError, match="non-empty"):
        safe_symbol("")


def test_chart_filename() -> None:
    assert chart_filename("BRK/B", "full") == "0_BRK_B.png"
    assert chart_filename("MSFT", "recent") == "0_recent_MSFT.png"
    with pytest.raises(ValueError, match="'full' or 'recent'"):
        chart_filename("MSFT", "weekly")


def test_chart_params_from_valuation() -> None:
    v = Valuation.model_validate(
        {
            "symbols_file": "s.txt", "performance_store": "p", "webpage": "w",
            "stockList": "Naz100", "uptrendSignalMethod": "HMAs", "numberStocksTraded": 7,
            "monthsToHold": 1, "LongPeriod": 104, "stddevThreshold": 5.0, "MA1": 100,
            "MA2": 10, "MA3": 12, "sma2factor": 1.2, "minperiod": 4, "maxperiod": 13,
            "incperiod": 3, "numdaysinfit": 40, "numdaysinfit2": 12, "offset": 3,
        }
    )
    p = ChartParams.from_valuation(v, today=dt.date(2025, 7, 9))
    assert p == ChartParams("HMAs", (4, 7, 10), 40, 12, 3, dt.date(2021, 1, 1))
    with pytest.raises(ValueError, match="numdaysinfit2"):
        params(numdaysinfit2=1)
    with pytest.raises(ValueError, match="method"):
        params(method="wavelets")


# ---- both charts ------------------------------------------------------------
def test_renders_both_kinds_at_full_size(tmp_path: Path, pc_renderer: SymbolChartRenderer) -> None:
    s = series(2200)
    assert pc_renderer.render_full(s, tmp_path / "0_TREND.png", NOW) == []
    assert pc_renderer.render_recent(s, tmp_path / "0_recent_TREND.png", NOW) == []
    for name in ("0_TREND.png", "0_recent_TREND.png"):
        assert png_size(tmp_path / name) == (1350, 750)
        img = pixels(tmp_path / name)
        assert img.shape == (750, 1350, 3)
        assert (img < 0.5).any() and (img > 0.99).mean() > 0.5  # something drawn on white
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0_TREND.png", "0_recent_TREND.png"]


def test_fixed_now_gives_identical_bytes_after_other_symbols(
    tmp_path: Path, long_dates: np.ndarray
) -> None:
    r = SymbolChartRenderer(long_dates, params())
    a, b = series(2200, "trend", seed=1), series(2200, "fall", seed=2, channels=False)
    for kind in ("full", "recent"):
        draw = r.render_full if kind == "full" else r.render_recent
        draw(a, tmp_path / f"{kind}1.png", NOW)
        draw(b, tmp_path / f"{kind}_other.png", NOW)  # no channels, other limits
        draw(a, tmp_path / f"{kind}2.png", NOW)
        first = (tmp_path / f"{kind}1.png").read_bytes()
        assert first == (tmp_path / f"{kind}2.png").read_bytes()
        assert first != (tmp_path / f"{kind}_other.png").read_bytes()
    # a fresh renderer draws the same bytes as a reused one
    assert render_symbol(long_dates, params(), a, tmp_path, "full", NOW) == []
    assert (tmp_path / "0_TREND.png").read_bytes() == (tmp_path / "full1.png").read_bytes()


def test_time_of_plotting_changes_only_the_annotation(
    tmp_path: Path, pc_renderer: SymbolChartRenderer
) -> None:
    s = series(2200, seed=3)
    later = NOW + dt.timedelta(hours=5, minutes=17)
    for draw in (pc_renderer.render_full, pc_renderer.render_recent):
        draw(s, tmp_path / "a.png", NOW)
        draw(s, tmp_path / "b.png", later)
        diff = np.abs(pixels(tmp_path / "a.png") - pixels(tmp_path / "b.png")).max(axis=2) > 0
        ys, xs = np.nonzero(diff)
        assert len(ys) > 0  # the time is drawn
        assert xs.max() < 0.35 * 1350 and ys.min() > 0.75 * 750  # only lower left


def _rows(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Image rows (0 = top) of the plot area where ``mask`` holds."""
    top = round((1 - AXES_RECT[1] - AXES_RECT[3]) * 750) + 2
    bottom = round((1 - AXES_RECT[1]) * 750) - 2
    left = round(AXES_RECT[0] * 1350) + 2
    ys, _xs = np.nonzero(mask[top:bottom, left:])
    return ys + top


def test_signals_in_their_band_prices_above_band_and_annotation(
    tmp_path: Path, long_dates: np.ndarray
) -> None:
    """The signal waves stay in the band whatever the price; no price pixel falls into the
    band or next to the annotation; the legend names every line."""
    r = SymbolChartRenderer(long_dates, params("HMAs"))
    band_top = round((1 - AXES_RECT[1] - SIGNAL_BAND * AXES_RECT[3]) * 750)
    price_floor = round((1 - AXES_RECT[1] - PRICE_BOTTOM * AXES_RECT[3]) * 750)
    for kind in ("trend", "fall"):
        s = series(2200, kind, seed=8)
        r.render_full(s, tmp_path / "f.png", NOW)
        img = pixels(tmp_path / "f.png")
        red, green, blue = img[..., 0], img[..., 1], img[..., 2]
        orange = (red > 0.9) & (green > 0.4) & (green < 0.65) & (blue < 0.2)
        price = (blue > 0.6) & (red < 0.3) & (green > 0.35) & (green < 0.6)  # tab:blue
        assert len(_rows(img, orange)) > 100 and _rows(img, orange).min() >= band_top - 1
        assert len(_rows(img, price)) > 100 and _rows(img, price).max() <= price_floor + 1
    held = r._full.held  # type: ignore[union-attr]
    assert set(held.get_ydata()) <= {FULL_TRACK[0], FULL_TRACK[1]}
    labels = [t.get_text() for t in r._full.figure.legends[0].get_texts()]  # type: ignore[union-attr]
    assert labels == ["price", "despiked price", "held signal (band: up = up-trending)"]
    r.render_recent(series(2200, seed=8), tmp_path / "r.png", NOW)
    labels = [t.get_text() for t in r._recent.figure.legends[0].get_texts()]  # type: ignore[union-attr]
    assert labels == ["price", "despiked (scaled)", "trend channel (gapped)",
                      "trend channel (no gap)", "held signal (lower)", "daily signal (upper)"]
    assert set(r._recent.daily.get_ydata()) <= set(DAILY_TRACK)  # type: ignore[union-attr]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # looked at by a person
    for name in ("f.png", "r.png"):
        shutil.copyfile(tmp_path / name, ARTIFACTS / f"symbol_chart_{name}")


def test_long_title_is_shortened_before_the_legend(tmp_path: Path, long_dates: np.ndarray) -> None:
    r = SymbolChartRenderer(long_dates, params())
    s = dataclasses.replace(series(2200, seed=2), company="Cognizant Technology Solutions "
                            "Corporation International Holdings")
    r.render_recent(s, tmp_path / "r.png", NOW)
    fig = r._recent  # type: ignore[union-attr]
    title = fig.title.get_text()
    assert title.startswith("TREND \u2014 Cognizant") and title.endswith("\u2026")
    renderer = fig.canvas.get_renderer()
    legend = fig.figure.legends[0].get_window_extent(renderer)
    assert fig.title.get_window_extent(renderer).x1 < legend.x0
    r.render_recent(series(2200, seed=2), tmp_path / "r2.png", NOW)
    assert fig.title.get_text() == "TREND \u2014 Trend Corp"


def _magenta(img: np.ndarray) -> int:
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return int(((r > 0.6) & (b > 0.6) & (g < 0.45)).sum())


def test_percentile_channels_drawn_only_for_that_method(
    tmp_path: Path, long_dates: np.ndarray, pc_renderer: SymbolChartRenderer
) -> None:
    s = series(2200, seed=4)
    hma = SymbolChartRenderer(long_dates, params("HMAs"))
    for kind in ("full", "recent"):
        pc_path, hma_path = tmp_path / f"pc_{kind}.png", tmp_path / f"hma_{kind}.png"
        getattr(pc_renderer, f"render_{kind}")(s, pc_path, NOW)
        getattr(hma, f"render_{kind}")(s, hma_path, NOW)
        assert _magenta(pixels(pc_path)) > 500
        assert _magenta(pixels(hma_path)) == 0


def test_recent_y_limits(pc_renderer: SymbolChartRenderer, long_dates: np.ndarray,
                         tmp_path: Path) -> None:
    s = series(2200, seed=5)
    pc_renderer.render_recent(s, tmp_path / "r.png", NOW)
    i0 = pc_renderer.recent_start_index
    assert long_dates[i0] >= np.datetime64("2020-01-01") > long_dates[i0 - 1]
    scale = s.close[i0] / s.despiked[i0]
    lo, hi = pc_renderer._recent.price_view  # type: ignore[union-attr]
    assert lo == pytest.approx(0.85 * np.min(s.low_channel[i0:] * scale))  # type: ignore[index]
    assert hi == pytest.approx(1.1 * np.max(s.close[i0:]))
    # the axis reaches below the price view: the view starts at PRICE_BOTTOM of the height
    axis_lo, axis_hi = pc_renderer._recent.ax.get_ylim()  # type: ignore[union-attr]
    assert axis_hi == hi and (lo - axis_lo) / (hi - axis_lo) == pytest.approx(PRICE_BOTTOM)
    hma = SymbolChartRenderer(long_dates, params("HMAs"))
    hma.render_recent(s, tmp_path / "h.png", NOW)
    lo, hi = hma._recent.price_view  # type: ignore[union-attr]
    assert (lo, hi) == pytest.approx((0.9 * np.min(s.close[i0:]), 1.1 * np.max(s.close[i0:])))
    assert hma._recent.ax.get_xlim()[1] == pytest.approx(  # type: ignore[union-attr]
        ch.date_nums(long_dates[-1:])[0] + 10
    )


@pytest.mark.parametrize("kind", ["late", "delisted", "flat", "fall"])
def test_special_series_draw_without_notes(
    tmp_path: Path, pc_renderer: SymbolChartRenderer, kind: str
) -> None:
    s = series(2200, kind, seed=6)
    assert pc_renderer.render_full(s, tmp_path / "f.png", NOW) == []
    assert pc_renderer.render_recent(s, tmp_path / "r.png", NOW) == []
    assert png_size(tmp_path / "f.png") == png_size(tmp_path / "r.png") == (1350, 750)


def test_flat_series_has_nonzero_height(tmp_path: Path, long_dates: np.ndarray) -> None:
    r = SymbolChartRenderer(long_dates, params("SMAs"))
    s = series(2200, "flat", channels=False)
    r.render_full(s, tmp_path / "f.png", NOW)
    r.render_recent(s, tmp_path / "r.png", NOW)
    lo, hi = r._full.price_view  # type: ignore[union-attr]
    assert lo < 1.0 < hi
    lo, hi = r._recent.price_view  # type: ignore[union-attr]
    assert (lo, hi) == pytest.approx((0.9, 1.1))


def test_all_nan_row_draws_an_empty_chart(tmp_path: Path, pc_renderer: SymbolChartRenderer) -> None:
    s = series(2200, "nan", channels=False)
    notes = pc_renderer.render_full(s, tmp_path / "f.png", NOW)
    assert any("no finite price" in n for n in notes)
    notes = pc_renderer.render_recent(s, tmp_path / "r.png", NOW)
    assert any("no finite price" in n for n in notes)
    assert any(n.startswith("gapped channel skipped") for n in notes)
    assert png_size(tmp_path / "f.png") == (1350, 750)


def test_short_history_skips_channels_with_notes(tmp_path: Path) -> None:
    dates = make_dates(30, "2024-01-02")
    r = SymbolChartRenderer(dates, params(recent_start=dt.date(2023, 1, 1)))
    s = series(30, seed=7)
    assert r.render_full(s, tmp_path / "f.png", NOW) == []
    notes = r.render_recent(s, tmp_path / "r.png", NOW)
    assert notes == ["gapped channel skipped: 30 days of history < numdaysinfit 50 + offset 7"]
    tiny = SymbolChartRenderer(dates[:5], params())
    s5 = series(5, seed=8)
    notes = tiny.render_recent(s5, tmp_path / "t.png", NOW)
    assert any(n.startswith("no-gap channel skipped: 5 days") for n in notes)
    assert not any(n.startswith("recent chart") for n in notes)  # all 5 days are shown
    assert tiny.render_full(s5, tmp_path / "t_full.png", NOW) == []
    one = SymbolChartRenderer(dates[:1], params())
    one.render_full(series(1), tmp_path / "one.png", NOW)
    one.render_recent(series(1), tmp_path / "one_r.png", NOW)
    assert png_size(tmp_path / "one_r.png") == (1350, 750)


def test_fewer_than_11_points_after_start(tmp_path: Path) -> None:
    dates = make_dates(300, "2023-01-02")
    start = dates[-4].astype(object)
    r = SymbolChartRenderer(dates, params(recent_start=start))
    assert r.recent_start_index == 300 - 11
    notes = r.render_recent(series(300, seed=9), tmp_path / "r.png", NOW)
    assert notes == [f"recent chart: 4 trading days on or after {start}; showing the last 11"]


@pytest.mark.parametrize("offset", [0, 1])
def test_small_offsets(tmp_path: Path, offset: int) -> None:
    dates = make_dates(400)
    r = SymbolChartRenderer(dates, params(offset=offset, recent_start=dt.date(2016, 6, 1)))
    s = series(400, seed=10)
    assert r.render_recent(s, tmp_path / "r.png", NOW) == []
    fig = r._recent
    assert fig is not None and fig.gapped_dot.get_visible()
    # least-squares lines of the dpg bands of the raw price over the gapped window
    x = ch.date_nums(dates)
    low, high = minmax_channel(s.close, PERIODS)
    e = 399 - offset
    for line, band in zip(fig.gapped[:2], (low, high)):
        slope, icpt = np.polyfit(x[e - 49 : e + 1], band[e - 49 : e + 1], 1)
        assert line.get_xdata() == pytest.approx(x[[e - 49, e]])
        assert line.get_ydata() == pytest.approx(icpt + slope * x[[e - 49, e]])
    slope, icpt = np.polyfit(x[-15:], high[-15:], 1)
    assert fig.nogap[1].get_ydata() == pytest.approx(icpt + slope * x[[-15, -1]])
    assert fig.gapped[2].get_visible() == (offset > 0)  # dotted extension across the gap
    # the dot is the midpoint of the two fitted lines at the last date
    lo_line, hi_line = fig.gapped[2 if offset else 0], fig.gapped[3 if offset else 1]
    mid = 0.5 * (lo_line.get_ydata()[-1] + hi_line.get_ydata()[-1])
    assert fig.gapped_dot.get_ydata()[0] == pytest.approx(mid)


def test_nan_inside_fit_window(tmp_path: Path) -> None:
    dates = make_dates(400)
    r = SymbolChartRenderer(dates, params(recent_start=dt.date(2016, 6, 1)))
    s = series(400, seed=11)
    close = s.close.copy()
    close[-20:-12] = np.nan  # inside both windows
    s2 = SymbolSeries(s.symbol, None, close, s.despiked, s.held, s.daily, s.low_channel,
                      s.hi_channel)
    assert r.render_recent(s2, tmp_path / "r.png", NOW) == []
    assert r.render_full(s2, tmp_path / "f.png", NOW) == []
    close[-60:] = np.nan  # nothing left in either window
    s3 = SymbolSeries(s.symbol, None, close, s.despiked, s.held, s.daily, None, None)
    notes = r.render_recent(s3, tmp_path / "r3.png", NOW)
    assert any(n.startswith("gapped channel skipped: fewer than 2 finite points") for n in notes)
    assert any(n.startswith("no-gap channel skipped: fewer than 2 finite points") for n in notes)
    assert any(n.startswith("percentile channels not given") for n in notes)


def test_unusable_input_raises_value_error(
    tmp_path: Path, pc_renderer: SymbolChartRenderer
) -> None:
    s = series(2200)
    bad = SymbolSeries("BAD", None, s.close[:-1], s.despiked, s.held, s.daily, None, None)
    with pytest.raises(ValueError, match=r"BAD: close has shape \(2199,\), expected \(2200,\)"):
        pc_renderer.render_full(bad, tmp_path / "x.png", NOW)
    with pytest.raises(ValueError, match="strictly increasing"):
        SymbolChartRenderer(make_dates(10)[::-1], params())
    with pytest.raises(ValueError, match="non-empty"):
        SymbolChartRenderer(make_dates(0), params())
    assert not (tmp_path / "x.png").exists()


def test_write_failures_raise_oserror_and_leave_no_file(
    tmp_path: Path, pc_renderer: SymbolChartRenderer
) -> None:
    s = series(2200, seed=12)
    with pytest.raises(OSError):
        pc_renderer.render_full(s, tmp_path / "missing" / "0_X.png", NOW)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(OSError):
        pc_renderer.render_recent(s, tmp_path / "a_file" / "0_recent_X.png", NOW)
    # the destination is a directory: the rename fails after the PNG was written
    (tmp_path / "0_X.png").mkdir()
    with pytest.raises(OSError):
        pc_renderer.render_full(s, tmp_path / "0_X.png", NOW)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0_X.png", "a_file"]
    assert list((tmp_path / "0_X.png").iterdir()) == []
    # the folder disappears between two charts
    out = tmp_path / "web"
    out.mkdir()
    pc_renderer.render_full(s, out / "0_A.png", NOW)
    (out / "0_A.png").unlink()
    out.rmdir()
    with pytest.raises(OSError):
        pc_renderer.render_recent(s, out / "0_recent_A.png", NOW)
    assert not out.exists()


# ---- helpers ----------------------------------------------------------------
def test_encode_png_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    rgba = rng.integers(0, 256, size=(37, 53, 4), dtype=np.uint8)
    data = ch.encode_png(rgba)
    (tmp_path / "x.png").write_bytes(data)
    back = (mpimg.imread(str(tmp_path / "x.png")) * 255).round().astype(np.uint8)
    assert np.array_equal(back, rgba[:, :, :3])
    assert zlib.crc32(data[12:29]) == struct.unpack(">I", data[29:33])[0]  # IHDR CRC


def test_column_reducer_keeps_extremes_and_gaps() -> None:
    rng = np.random.default_rng(14)
    x = np.arange(5000, dtype=float)
    y = np.cumsum(rng.normal(size=5000))
    red = ch.ColumnReducer(x, -0.5, 4999.5, 500)
    xs, ys = red.reduce(y)
    assert len(xs) <= 4 * 500 and len(xs) >= 2 * 500
    assert np.all(np.diff(xs) > 0)
    cols = np.floor((xs + 0.5) / 5000 * 500).astype(int)
    full_cols = np.floor((x + 0.5) / 5000 * 500).astype(int)
    for c in (0, 17, 250, 499):
        seg = y[full_cols == c]
        kept = ys[cols == c]
        assert kept.min() == seg.min() and kept.max() == seg.max()
        assert kept[0] == seg[0] and kept[-1] == seg[-1]
    y[1000:1100] = np.nan  # ten columns without data stay a gap
    xs, ys = red.reduce(y)
    gap = (xs >= 1000) & (xs < 1100)
    assert gap.any() and np.isnan(ys[gap]).all()
    assert np.isfinite(ys[~gap]).all()
    short = ch.ColumnReducer(x[:800], -0.5, 799.5, 500)
    assert short.reduce(y[:800])[0] is short.x  # too short to reduce


def test_fit_line_and_step_points() -> None:
    x = np.arange(20.0) * 1.5
    y = 2.0 + 0.5 * x
    y[5] = np.nan
    a, b = ch.fit_line(x, y, 3, 15)  # type: ignore[misc]
    assert (a, b) == pytest.approx((2.0, 0.5))
    assert ch.fit_line(x, np.full(20, np.nan), 0, 10) is None
    assert ch.fit_line(np.ones(20), y, 0, 10) is None  # one x only
    xs, ys = ch.step_points(np.arange(6.0), np.array([0, 0, 1, 1, 0, 0]), 10.0, 1.0)
    assert list(xs) == [0, 2, 4, 5] and list(ys) == [1, 10, 1, 1]


def test_ticks_stay_in_range_and_are_labelled() -> None:
    for lo, hi in [(0.9, 1.1), (3.2, 870.0), (0.011, 0.5), (5.0, 6.0), (1e-3, 1e7)]:
        ticks, labels = ch.log_ticks(lo, hi)
        assert 3 <= len(ticks) <= 10 and len(labels) == len(ticks)
        assert ticks.min() >= lo * 0.999 and ticks.max() <= hi * 1.001
    ticks, labels = ch.log_ticks(3.2, 870.0)
    assert labels == ["5", "10", "20", "50", "100", "200", "500"]
    ticks, labels = ch.linear_ticks(0.9, 1.1)
    assert labels == ["0.90", "0.95", "1.00", "1.05", "1.10"]
    assert ch.safe_limits(1.0, 1.0) == pytest.approx((0.9, 1.1))
    assert ch.safe_limits(float("nan"), float("nan"), log=True) == (1.0, 10.0)


@pytest.mark.parametrize("company", ["Buy $5 get $10 Corp", "Acme $\\x$ Corp", "50% $ off _^{}"])
def test_company_names_are_drawn_as_text_not_math(tmp_path: Path, company: str) -> None:
    s = series(400)
    s = dataclasses.replace(s, company=company)
    renderer = SymbolChartRenderer(make_dates(400), params())
    assert renderer.render_full(s, tmp_path / "0_X.png", NOW) == []
    assert png_size(tmp_path / "0_X.png") == (1350, 750)
    texts = [t for t in renderer._full.figure.texts if t.get_text()]
    assert any(company in t.get_text() for t in texts)
    assert all(not t.get_parse_math() for t in texts)
