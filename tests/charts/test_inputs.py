"""Chart inputs from an analysis: no line before a symbol's first quote nor while it is
stale, and a symbol stale today says "last quote ..." (data-quality.md section 4)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from pytaaa.charts.inputs import build_chart_inputs
from pytaaa.charts.worker import WorkerSetup, _Worker, write_work_arrays
from pytaaa.config import Valuation
from pytaaa.engine.analysis import analyze_quotes
from pytaaa.model import Quotes
from pytaaa.site.context import symbol_rows


def test_late_and_delisted_symbols_are_not_drawn_flat(tmp_path):
    """Before: a late listing was drawn flat at its first price for years before it
    existed and a delisted one flat at its last price for decades."""
    t = 600
    rng = np.random.default_rng(3)
    close = 20 * np.exp(np.cumsum(rng.normal(0.0005, 0.01, (3, t)), axis=1))
    close[1, :250] = np.nan          # listed late
    close[2, 400:] = np.nan          # delisted
    d = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + 2 * t)
    d = d[np.is_busday(d)][:t]
    q = Quotes(d, ("AAA", "LATE", "GONE"), close)
    v = Valuation.model_validate(dict(
        symbols_file=str(tmp_path / "s.txt"), performance_store=str(tmp_path / "p"),
        webpage=str(tmp_path / "w"), stockList="Naz100", uptrendSignalMethod="SMAs",
        numberStocksTraded=2, monthsToHold=1, LongPeriod=40, stddevThreshold=5.0, MA1=60,
        MA2=5, MA3=12, sma2factor=1.0))
    a = analyze_quotes(q, v)
    cfg = SimpleNamespace(valuation=v, webpage=tmp_path / "w")
    inputs = build_chart_inputs(cfg, a, {"GONE": "Gone Corp"})
    late, gone = inputs.symbols.index("LATE"), inputs.symbols.index("GONE")
    late_close, gone_close = inputs.line("close", late), inputs.line("close", gone)
    assert np.isnan(late_close[:250]).all() and np.isfinite(late_close[250:]).all()
    assert np.isfinite(gone_close[:400]).all()
    assert np.isnan(gone_close[406:]).all()            # stale after 5 days
    assert np.isnan(inputs.line("despiked", gone)[406:]).all()
    # the lines are blanked where they are drawn: the inputs hold views, not copies
    assert np.shares_memory(inputs.close, a.prices.close)
    last = d[399].astype("datetime64[D]").item().isoformat()
    assert inputs.companies[gone] == f"Gone Corp \u2014 last quote {last}"
    # what a chart worker draws from the written arrays: the same blanked lines
    work = tmp_path / "work"
    work.mkdir()
    write_work_arrays(work, inputs.arrays())
    worker = _Worker(WorkerSetup(str(work), inputs.spec()))
    for i in (late, gone):
        s = worker.series(i)
        np.testing.assert_array_equal(s.close, inputs.line("close", i))
        np.testing.assert_array_equal(s.despiked, inputs.line("despiked", i))
    rows = {r.symbol: r for r in symbol_rows(a, {}, ["AAA", "GONE"], 20)}
    assert rows["AAA"].flag == "" and rows["GONE"].flag == f"delisted or stale: last quote {last}"
