"""The two Monte Carlo PNGs (montecarlo.md §3): size, validity, recent view, no pyplot."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from pytaaa.config import load_config
from pytaaa.engine.backtest import START_VALUE, buy_and_hold
from pytaaa.engine.cleaning import clean
from pytaaa.model import Quotes
from pytaaa.montecarlo.plots import (
    MAIN_PNG,
    RECENT_PNG,
    _table_cells,
    montecarlo_figure,
    plot_data,
    plot_montecarlo,
    recent_start_index,
    recent_view,
    stock_values,
    write_montecarlo_pngs,
)
from pytaaa.montecarlo.trials import draw_trials, prepare, run_trial

WHEN = dt.datetime(2026, 11, 20, 18, 5)


@pytest.fixture(scope="module")
def pdata(synth_quotes_small: Quotes, synth_workspace: Path):
    v = load_config(synth_workspace).valuation
    prices = clean(synth_quotes_small, v.LongPeriod, v.stddevThreshold)
    data = prepare(prices, v)
    results = [run_trial(data, p) for p in draw_trials(v, 3, seed=1)]
    return plot_data(prices, buy_and_hold(prices), results, title="Naz100 HMAs, 3 trials",
                     backtested_at=WHEN)


def png_pixels(path: Path) -> tuple[int, int, np.ndarray]:
    """Width, height and the decoded RGB pixels of an 8-bit RGB PNG (Up filter only)."""
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    h = 0
    while pos < len(raw):
        (n,) = struct.unpack(">I", raw[pos:pos + 4])
        kind, body = raw[pos + 4:pos + 8], raw[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 3 * w + 1)
    assert set(np.unique(rows[:, 0])) <= {2}
    img = np.cumsum(rows[:, 1:].astype(np.int64), axis=0) % 256
    return w, h, img.reshape(h, w, 3).astype(np.uint8)


def test_both_pngs_are_written_1800x1012_and_show_the_curves(pdata, tmp_path: Path) -> None:
    paths = write_montecarlo_pngs(pdata, tmp_path, dt.date(2013, 1, 1))
    assert [p.name for p in paths] == [MAIN_PNG, RECENT_PNG]
    for path in paths:
        w, h, img = png_pixels(path)
        assert (w, h) == (1800, 1012)
        flat = img.reshape(-1, 3).astype(int)
        red = (flat[:, 0] > 180) & (flat[:, 1] < 80) & (flat[:, 2] < 80)  # buy & hold
        blue = (flat[:, 2] > 180) & (flat[:, 0] < 80)  # variable-percent trial 0
        black = flat.sum(axis=1) < 60
        assert red.sum() > 1500 and blue.sum() > 1500 and black.sum() > 3000
    assert list(tmp_path.glob(".*.tmp")) == []
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts" / "charts"
    artifacts.mkdir(parents=True, exist_ok=True)  # looked at by a person
    for path in paths:
        shutil.copyfile(path, artifacts / path.name)


def test_table_holdings_and_legends_sit_beside_the_curves(pdata) -> None:
    """Nothing but the curves inside a panel: the statistics table, today's holdings,
    the trials' final values and every legend are drawn outside all three panels."""
    fig = montecarlo_figure(pdata)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    top, mid, bottom = fig.axes[:3]
    (side,) = [ax for ax in fig.axes if not ax.axison]  # the column beside the panels
    panels = [ax.bbox for ax in fig.axes if ax is not side]
    boxes = {"table": side.tables[0].get_window_extent(renderer),
             "top legend": side.get_legend().get_window_extent(renderer),
             "middle legend": mid.get_legend().get_window_extent(renderer),
             "bottom legend": bottom.get_legend().get_window_extent(renderer)}
    texts = [t for t in side.texts if t.get_text()]
    assert any("Today's holdings" in t.get_text() for t in texts)
    assert any("final value" in t.get_text() for t in texts)
    boxes.update({t.get_text()[:20]: t.get_window_extent(renderer) for t in texts})
    for name, box in boxes.items():
        for panel in panels:
            assert not box.overlaps(panel), f"{name} covers a panel"
        assert box.x1 <= fig.bbox.x1 and box.y0 >= 0, f"{name} leaves the figure"
    assert top.get_legend() is None and not top.texts and not top.tables
    labels = [t.get_text() for t in side.get_legend().get_texts()]
    assert labels == ["trials 10-90 %", "buy & hold", "trial 0 (configured)",
                      "trial 0, variable % invested"]


def test_recent_view_starts_at_the_start_date_rescaled_to_10000(pdata) -> None:
    dates = pdata.dates
    start = (dates[0] + np.timedelta64(800, "D")).astype("datetime64[D]").item()
    view = recent_view(pdata, start)
    assert view.dates[0] >= np.datetime64(start) and view.dates[0] - np.datetime64(start) < 4
    for series in (view.trial0, view.trial0_pctlong, view.buy_hold):
        assert series[0] == START_VALUE
    assert np.all(view.trials[:, 0] == START_VALUE)
    i0 = len(dates) - len(view.dates)
    assert view.trial0[-1] == pytest.approx(START_VALUE * pdata.trial0[-1] / pdata.trial0[i0])
    first = np.isfinite(view.stock_values).argmax(axis=1)
    listed = np.isfinite(view.stock_values).any(axis=1)
    assert np.allclose(view.stock_values[listed, first[listed]], START_VALUE)
    assert [label for label in _table_cells(view)[0]] == ["Life", "3 Yr", "1 Yr", "6 Mo", "3 Mo",
                                                          "1 Mo"]


def test_recent_start_falls_back_to_the_last_four_years() -> None:
    dates = np.arange(np.datetime64("2018-03-01"), np.datetime64("2026-11-21"))
    assert recent_start_index(dates, dt.date(2013, 1, 1)) == int(
        np.searchsorted(dates, np.datetime64("2022-11-20")))
    assert dates[recent_start_index(dates, dt.date(2020, 1, 1))] == np.datetime64("2020-01-01")


def test_full_table_lists_only_the_horizons_the_history_reaches(pdata) -> None:
    labels, cells = _table_cells(pdata)  # about 8 years of history
    assert labels == ["Life", "5 Yr", "3 Yr", "2 Yr", "1 Yr", "6 Mo", "3 Mo", "1 Mo"]
    assert all(len(row) == 6 and row[0].endswith("%") for row in cells)


def test_stock_values_are_nan_outside_the_quote_span() -> None:
    close = np.array([[5.0, 5.0, 10.0, 20.0, 20.0], [1.0, 2.0, 3.0, 4.0, 5.0]])
    out = stock_values(close, np.array([1, 0]), np.array([3, 4]), [0, 1])
    assert np.isnan(out[0, 0]) and np.isnan(out[0, 4])
    assert np.allclose(out[0, 1:4], [10000, 20000, 40000])
    assert np.allclose(out[1], 10000 * close[1])


def test_a_failed_write_leaves_no_file(pdata, tmp_path: Path) -> None:
    target = tmp_path / "missing" / MAIN_PNG
    with pytest.raises(OSError):
        plot_montecarlo(pdata, target)
    assert not target.parent.exists()
    with pytest.raises(ValueError, match="at least 2 dates"):
        plot_montecarlo(dataclasses.replace(pdata, dates=pdata.dates[:1]), tmp_path / MAIN_PNG)
    assert not (tmp_path / MAIN_PNG).exists()


SCRIPT = """
import datetime as dt, sys
import matplotlib
def snapshot():  # reading "backend" would itself load pyplot
    return {k: matplotlib.rcParams[k] for k in matplotlib.rcParams if k != "backend"}
before = snapshot()
from pytaaa.montecarlo.plots import plot_montecarlo, MCPlotData
import numpy as np
n = 300
dates = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-01") + n)
v = 10000 * np.exp(np.linspace(0, 0.2, n))
d = MCPlotData(dates=dates, stock_values=np.vstack([v, v * 1.1]), trials=np.vstack([v, v * 0.9]),
               buy_hold=v, trial0=v, trial0_pctlong=v, uptrend=np.full((2, n), 0.5),
               uptrend0=np.full(n, 0.4), gauge=np.zeros(n), invested=np.ones(n), holdings=(),
               backtested_at=dt.datetime(2026, 1, 1), title="t")
plot_montecarlo(d, sys.argv[1])
assert "matplotlib.pyplot" not in sys.modules, "pyplot imported"
assert snapshot() == before, "rcParams changed"
print("OK")
"""


def test_drawn_without_pyplot_or_global_settings(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "x.png")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("OK") and png_pixels(tmp_path / "x.png")[:2] == (1800, 1012)
