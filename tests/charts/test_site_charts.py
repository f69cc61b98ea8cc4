"""Tests of the main page's charts (pytaaa.charts.site)."""

from __future__ import annotations

import datetime as dt
import shutil
import struct
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from pytaaa.charts.site import (
    plot_backtest_with_trend,
    plot_new_highs_lows,
    plot_uptrending,
    plot_value_history,
)

T = 1500


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def colored(img: np.ndarray) -> int:
    """Pixels that are clearly not gray (a drawn data line)."""
    return int((img.max(axis=2) - img.min(axis=2) > 0.25).sum())


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(21)
    dates = np.busday_offset(np.datetime64("2015-01-02"), np.arange(T), roll="forward")
    active = np.minimum(100, 40 + np.arange(T) // 20).astype(float)
    up = np.round(active * (0.5 + 0.35 * np.sin(np.arange(T) / 90)))
    lows = np.convolve(rng.poisson(2, T), np.ones(50), "same").astype(float)
    lows[:500] = -100000.0
    return {
        "dates": dates,
        "strategy": 10000 * np.exp(np.cumsum(rng.normal(6e-4, 0.012, T))),
        "buy_hold": 10000 * np.exp(np.cumsum(rng.normal(4e-4, 0.011, T))),
        "up": up,
        "active": active,
        "highs": np.convolve(rng.poisson(3, T), np.ones(50), "same").astype(float),
        "lows": lows,
    }


def draw_all(d: dict[str, np.ndarray], out: Path) -> list[Path]:
    stamps = [dt.datetime(2024, 1, 2, 9) + dt.timedelta(hours=7 * i) for i in range(300)]
    values = 1e5 * np.exp(np.linspace(0, 0.3, 300))
    paths = [out / n for n in ("PyTAAA_value.png", "PyTAAA_numberUptrendingStocks.png",
                               "PyTAAA_backtestWithTrend.png",
                               "PyTAAA_newHighs_newLows_count.png")]
    plot_value_history(stamps, values, values * 0.97, paths[0])
    plot_uptrending(d["dates"], d["up"], d["active"], paths[1])
    pct = 100 * d["up"] / d["active"]
    plot_backtest_with_trend(d["dates"], d["strategy"], d["buy_hold"], pct, paths[2])
    plot_new_highs_lows(d["dates"], d["highs"], d["lows"], paths[3])
    return paths


def test_all_charts_written_at_full_size_and_deterministic(
    tmp_path: Path, data: dict[str, np.ndarray]
) -> None:
    first = draw_all(data, tmp_path)
    contents = [p.read_bytes() for p in first]
    for p in first:
        assert png_size(p) == (1350, 750)
        assert colored(mpimg.imread(str(p))) > 1000
    again = draw_all(data, tmp_path)
    assert [p.read_bytes() for p in again] == contents
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in first)


def _has_message(img: np.ndarray) -> bool:
    centre = img[330:420, 500:850]
    return bool((centre.max(axis=2) < 0.7).any())


def test_empty_and_short_inputs(tmp_path: Path) -> None:
    none = np.array([], dtype="datetime64[D]")
    plot_value_history([], np.array([]), np.array([]), tmp_path / "v.png")
    plot_uptrending(none, np.array([]), np.array([]), tmp_path / "u.png")
    plot_backtest_with_trend(none, np.array([]), np.array([]), np.array([]), tmp_path / "b.png")
    plot_new_highs_lows(none, np.array([]), np.array([]), tmp_path / "n.png")
    for name in ("v", "u", "b", "n"):
        img = mpimg.imread(str(tmp_path / f"{name}.png"))
        assert img.shape == (750, 1350, 3)
        assert colored(img) == 0 and _has_message(img)  # "no data yet", no data line
    one = np.array(["2024-05-02"], dtype="datetime64[D]")
    plot_backtest_with_trend(one, [10000.0], [10000.0], [50.0], tmp_path / "b1.png")
    plot_uptrending(one, [3.0], [0.0], tmp_path / "u1.png")  # no active stock: no percentage
    plot_value_history([dt.datetime(2024, 5, 2, 16)], [1.0], [1.0], tmp_path / "v1.png")
    assert colored(mpimg.imread(str(tmp_path / "b1.png"))) > 0  # a point is drawn
    assert _has_message(mpimg.imread(str(tmp_path / "u1.png")))
    assert colored(mpimg.imread(str(tmp_path / "v1.png"))) > 0


def test_placeholders_are_left_out(tmp_path: Path, data: dict[str, np.ndarray]) -> None:
    lows_nan = np.where(data["lows"] == -100000.0, np.nan, data["lows"])
    plot_new_highs_lows(data["dates"], data["highs"], data["lows"], tmp_path / "a.png")
    plot_new_highs_lows(data["dates"], data["highs"], lows_nan, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    all_placeholder = np.full(T, -100000.0)
    plot_new_highs_lows(data["dates"], all_placeholder, all_placeholder, tmp_path / "c.png")
    assert _has_message(mpimg.imread(str(tmp_path / "c.png")))


def test_value_history_sorts_timestamps(tmp_path: Path) -> None:
    stamps = [dt.datetime(2024, 3, 1) + dt.timedelta(days=i) for i in range(40)]
    v = np.linspace(100.0, 140.0, 40)
    plot_value_history(stamps, v, v, tmp_path / "a.png")
    order = np.random.default_rng(3).permutation(40)
    plot_value_history([stamps[i] for i in order], v[order], v[order], tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_bad_input_and_write_failure(tmp_path: Path, data: dict[str, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="different lengths: dates=1500, uptrend=1500, active=3"):
        plot_uptrending(data["dates"], data["up"], data["active"][:3], tmp_path / "u.png")
    with pytest.raises(ValueError, match="datetime"):
        bad = ["2024-01-01"]
        plot_value_history(bad, [1.0], [1.0], tmp_path / "v.png")  # type: ignore[arg-type]
    with pytest.raises(OSError):
        plot_backtest_with_trend(data["dates"], data["strategy"], data["buy_hold"],
                                 data["up"], tmp_path / "missing" / "b.png")
    (tmp_path / "PyTAAA_value.png").mkdir()  # the rename onto a directory fails
    with pytest.raises(OSError):
        plot_value_history([dt.datetime(2024, 1, 2)], [1.0], [1.0], tmp_path / "PyTAAA_value.png")
    assert [p.name for p in tmp_path.iterdir()] == ["PyTAAA_value.png"]
    assert list((tmp_path / "PyTAAA_value.png").iterdir()) == []


def test_backtest_ignores_non_positive_values(tmp_path: Path, data: dict[str, np.ndarray]) -> None:
    st = data["strategy"].copy()
    st[100:200] = 0.0
    st[300] = -5.0
    pct = 100 * data["up"] / data["active"]
    plot_backtest_with_trend(data["dates"], st, data["buy_hold"], pct, tmp_path / "b.png")
    assert png_size(tmp_path / "b.png") == (1350, 750)


def test_legends_in_the_top_margin_and_labelled_axes(
    tmp_path: Path, data: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every legend sits above the plot (never over a line); the new highs/lows axis and
    both backtest panels say what they show."""
    from pytaaa.charts import site

    figures = []
    real_save = site.save_figure_png
    monkeypatch.setattr(site, "save_figure_png",
                        lambda canvas, path: (figures.append(canvas.figure),
                                              real_save(canvas, path)))
    draw_all(data, tmp_path)
    assert len(figures) == 4
    for fig in figures:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        (legend,) = fig.legends
        box = legend.get_window_extent(renderer)
        assert all(ax.get_legend() is None for ax in fig.axes)
        assert all(not box.overlaps(ax.bbox) for ax in fig.axes)
        assert box.y1 <= fig.bbox.y1 and box.x1 <= fig.bbox.x1
        title = next(t for t in fig.texts if t.get_text())
        assert not title.get_window_extent(renderer).overlaps(box)
    value, uptrending, backtest, breadth = figures
    assert [t.get_text() for t in uptrending.legends[0].get_texts()] == [
        "% up-trending", "50-day average"]
    assert breadth.axes[0].get_ylabel() == site.NEW_HIGHS_LOWS_LABEL
    assert "73- or 293-day high" in site.NEW_HIGHS_LOWS_LABEL
    assert [ax.get_ylabel() for ax in backtest.axes] == ["value (log scale)", "up-trending"]
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts" / "charts"
    artifacts.mkdir(parents=True, exist_ok=True)  # looked at by a person
    for png in tmp_path.glob("PyTAAA_*.png"):
        shutil.copyfile(png, artifacts / png.name)
