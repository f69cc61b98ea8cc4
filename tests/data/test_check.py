"""Data-quality findings and repairs (data-quality.md sections 2-4) on hand-made stores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from pytaaa.data.check import check_quotes, daily_report, fix_quotes, run_check
from pytaaa.data.store import read_store, store_location, write_store
from pytaaa.engine.cleaning import clean
from pytaaa.model import Quotes


def _days(t: int, start: str = "2021-01-04") -> np.ndarray:
    d = np.arange(np.datetime64(start), np.datetime64(start) + 2 * t + 10)
    return d[np.is_busday(d)][:t]


def _walk(n: int, t: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 30 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, t)), axis=1))


def messy() -> Quotes:
    t = 400
    close = _walk(8, t)
    close[0, 200] *= 2.5                     # bad print (reverts)
    close[1, 250:] *= 0.5                    # unadjusted 2-for-1 split (before: +733 % silently)
    close[2, 300:] *= 1.8                    # big move that stays
    close[3, 100:103] = np.nan               # gap of 3 days
    close[4, 390:] = np.nan                  # stale: 10 days without a quote
    close[5, :] = np.nan
    close[5, ::10] = _walk(1, t, 2)[0, ::10]  # quotes every two weeks: not daily
    close[6, 50] = -1.0                      # non-positive
    close[6, 60] = np.inf                    # absurd
    close[7, 100:] = np.nan                  # delisted long ago
    return Quotes(_days(t), tuple(f"S{i}" for i in range(8)), close)


def test_every_kind_is_found_with_its_dates():
    q = messy()
    r = check_quotes(q, stale_days=5)
    by = {(f.symbol, f.kind): f for f in r.findings}
    d = q.dates.astype("datetime64[D]")
    assert by[("S0", "bad print")].start == d[200].item()
    split = by[("S1", "suspected split")]
    assert split.start == d[250].item() and split.size == 0.5 and "2-for-1 split" in split.detail
    assert by[("S2", "big move")].start == d[300].item()
    gap = by[("S3", "gap")]
    assert (gap.start, gap.end, gap.size) == (d[100].item(), d[102].item(), 3)
    assert by[("S4", "stale")].size == 10
    assert ("S5", "not daily") in by
    assert by[("S6", "non-positive")].start == d[50].item()
    assert by[("S6", "absurd")].start == d[60].item()
    assert ("S7", "delisted") in by
    assert ("S0", "big move") not in by and ("S1", "big move") not in by
    assert not r.clean and "suspected split" in r.summary()


def test_store_findings_duplicates_weekends_partial_and_empty_last_day():
    q = messy()
    dates = q.dates.copy()
    dates[10] = dates[9]                                     # a repeated date
    dates[20] = np.datetime64("2021-02-06")                  # a Saturday
    close = q.close.copy()
    close[[0, 1], -1] = np.nan
    r = check_quotes(Quotes(dates, q.symbols, close))
    kinds = {f.kind: f for f in r.findings}
    assert kinds["duplicate date"].start == dates[9].item()
    assert kinds["weekend row"].start == dt.date(2021, 2, 6)
    part = kinds["partial update"]
    assert part.size == 2 and "S0, S1" in part.detail
    empty = close.copy()
    empty[:, -1] = np.nan
    r2 = check_quotes(Quotes(q.dates, q.symbols, empty))
    assert [f.kind for f in r2.findings if f.symbol == ""] == ["empty last day"]


def test_stale_store_against_the_exchange_calendar():
    q = Quotes(_days(30, "2026-10-01"), ("A",), _walk(1, 30))
    last = q.dates[-1].astype("datetime64[D]").item()
    r = check_quotes(q, now=dt.datetime.combine(last + dt.timedelta(days=14), dt.time(20)))
    f = next(f for f in r.findings if f.kind == "stale store")
    assert f.size >= 8 and f"data through {last}" in f.detail
    fresh = check_quotes(q, now=dt.datetime.combine(last + dt.timedelta(days=1), dt.time(9)))
    assert not fresh.of_kind("stale store")


def test_fix_repairs_what_it_can_and_the_next_check_is_clean_of_it():
    q = messy()
    r = check_quotes(q)
    fixed, changes = fix_quotes(q, r)
    assert any("bad print" in c for c in changes)
    assert any("multiplied by 0.5" in c for c in changes)
    again = check_quotes(fixed)
    assert not again.of_kind("bad print", "suspected split", "non-positive", "absurd")
    assert again.of_kind("gap", "stale", "delisted", "not daily", "big move")  # not repairable
    np.testing.assert_allclose(fixed.close[1, :250], q.close[1, :250] * 0.5)


def test_run_check_fix_backs_up_the_store_first(tmp_path: Path):
    sym = tmp_path / "naz100_symbols.txt"
    sym.write_text("")
    path, key = store_location(sym)
    write_store(path, key, messy())
    original = path.read_bytes()
    out = run_check(sym, fix=True, now=dt.datetime(2022, 1, 1, 12))
    assert out.backup is not None and out.backup.read_bytes() == original
    assert out.changes and not out.report.of_kind("bad print", "suspected split")
    assert read_store(sym).close.shape == (8, 400)


def test_daily_report_keeps_the_recent_window():
    q = messy()
    p = clean(q, 30, 5.0)
    r = daily_report(p, stale_days=5, warning_days=30)
    kinds = {(f.symbol, f.kind) for f in r.findings}
    assert ("S4", "stale") in kinds and ("S5", "not daily") in kinds
    assert ("S0", "bad print") not in kinds and ("S3", "gap") not in kinds  # long ago
    assert ("S7", "delisted") not in kinds


@pytest.mark.parametrize("bench", [pytest.param(None, marks=pytest.mark.slow)])
def test_check_of_a_large_store_is_fast(bench):
    import time

    from pytaaa.data.synth import synthetic_quotes

    q = synthetic_quotes(n_symbols=100, years=35.0, seed=0)
    t0 = time.perf_counter()
    r = check_quotes(q)
    assert time.perf_counter() - t0 < 3.0 and r.of_kind("bad print")
