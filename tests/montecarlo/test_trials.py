"""Monte Carlo trials: trial count (E2E-06), parameter draws, the pctLong variant,
statistics, and the trial pool (montecarlo.md §1-2)."""

from __future__ import annotations

import datetime as dt
import math
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from pytaaa.config import METHODS, load_config
from pytaaa.engine.analysis import analyze_quotes
from pytaaa.engine.backtest import START_VALUE
from pytaaa.engine.cleaning import clean
from pytaaa.engine.signals import rebalance_days
from pytaaa.model import Quotes
from pytaaa.montecarlo.pool import (
    FAIL_TRIAL_ENV,
    injected_failures,
    run_trials,
    share_data,
)
from pytaaa.montecarlo.stats import (
    MC_HORIZONS,
    beats_score,
    percentiles,
    summarize,
    trial_stats,
    uptrend_quantiles,
    value_band,
)
from pytaaa.montecarlo.trials import (
    PCTLONG_TRIAL0,
    TrialError,
    TrialParams,
    detect_platform,
    draw_trials,
    method_param_names,
    prepare,
    run_trial,
    trial_count,
    trial_count_source,
)


@pytest.fixture(scope="module")
def base_v(synth_workspace: Path):
    return load_config(synth_workspace).valuation


@pytest.fixture(scope="module")
def prices(synth_quotes_small: Quotes, base_v):
    return clean(synth_quotes_small, base_v.LongPeriod, base_v.stddevThreshold)


def _v(base_v, method: str):
    return base_v.model_copy(update={"uptrendSignalMethod": method})


# ---- E2E-06: trial count -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "machine", "bits", "model", "label", "trials"),
    [
        ("Linux", "aarch64", 64, "Raspberry Pi 4 Model B Rev 1.4", "Raspberry Pi", 12),
        ("Linux", "armv7l", 32, "", "32-bit ARM Linux", 12),
        ("Darwin", "arm64", 64, "", "macOS", 13),
        ("Windows", "AMD64", 64, "", "64-bit Windows", 15),
        ("Windows", "x86", 32, "", "Windows x86 (32-bit)", 25),
        ("Linux", "x86_64", 64, "", "Linux x86_64 (64-bit)", 25),
        ("Linux", "aarch64", 64, "", "Linux aarch64 (64-bit)", 25),
    ],
)
def test_e2e06_trial_count_follows_the_platform_table(system, machine, bits, model, label,
                                                       trials) -> None:
    info = detect_platform(system, machine, bits, model)
    assert (info.label, info.trials) == (label, trials)


def test_e2e06_config_and_argument_override_the_platform(base_v) -> None:
    pi = detect_platform("Linux", "armv7l", 32, "")
    assert trial_count(base_v, info=pi) == 12
    v = base_v.model_copy(update={"montecarlo_trials": 4})
    assert trial_count(v, info=pi) == 4
    assert trial_count(v, 7, info=pi) == 7
    with pytest.raises(ValueError, match="at least 1"):
        trial_count(v, 0)
    here = detect_platform()
    assert here.trials == trial_count(base_v) and here.label
    assert trial_count_source(base_v) == "platform table"
    assert trial_count_source(v) == "montecarlo_trials" and trial_count_source(v, 7) == "--trials"


# ---- parameter draws ------------------------------------------------------------------------


def test_trial0_is_the_config_exactly(base_v) -> None:
    for method in METHODS:
        v = _v(base_v, method)
        p0 = draw_trials(v, 3, seed=5)[0]
        assert p0.index == 0
        assert p0.updates == {k: getattr(v, k) for k in method_param_names(method)}
        assert (p0.pct_D, p0.pct_f, p0.pct_slope, p0.pct_intercept, p0.pct_max) == (
            355, 0.90, 5.45, -0.01, 1.25) == tuple(PCTLONG_TRIAL0.values())


def test_draws_depend_on_seed_and_index_only(base_v) -> None:
    a = draw_trials(base_v, 12, seed=3)
    assert a == draw_trials(base_v, 12, seed=3)
    assert a[:5] == draw_trials(base_v, 5, seed=3)  # the count does not change a trial's draw
    b = draw_trials(base_v, 12, seed=4)
    assert a[0] == b[0] and all(x != y for x, y in zip(a[1:], b[1:]))
    with pytest.raises(ValueError):
        draw_trials(base_v, 0)


@pytest.mark.parametrize("method", METHODS)
def test_draws_stay_in_their_ranges(base_v, method: str) -> None:
    v = _v(base_v, method)
    trials = draw_trials(v, 300, seed=11)[1:]
    L, K = v.LongPeriod, v.numberStocksTraded
    for p in trials:
        u = p.updates
        assert round(0.8 * L) <= u["LongPeriod"] <= round(1.2 * L)
        assert abs(u["numberStocksTraded"] - K) <= 1 and 1 <= u["numberStocksTraded"] <= 20
        assert u["monthsToHold"] in v.montecarlo_hold_months
        assert 352 <= p.pct_D <= 704 and 0.88 <= p.pct_f <= 0.999
        assert 2 <= p.pct_slope <= 7 and -0.07 <= p.pct_intercept <= 0.05 and p.pct_max == 1.5
        if method in ("SMAs", "HMAs"):
            assert u["MA2"] < u["MA3"] < u["MA1"]
            assert abs(u["sma2factor"] / v.sma2factor - 1) <= 0.05 + 1e-9
            assert round(0.8 * v.MA1) <= u["MA1"] <= round(1.2 * v.MA1) + 1
        elif method == "percentileChannels":
            assert 0 <= u["lowPct"] <= 50 <= u["hiPct"] <= 100
            assert abs(u["lowPct"] / v.lowPct - 1) <= 0.15 + 1e-9
            assert 1 <= u["minperiod"] < u["maxperiod"]
        else:
            for band in ("narrow", "medium", "wide"):
                lo, hi = u[f"{band}Days_min"], u[f"{band}Days_max"]
                assert lo < hi and abs(lo / getattr(v, f"{band}Days_min") - 1) <= 0.2 + 1e-9
    # the draws really vary
    assert len({p.updates["LongPeriod"] for p in trials}) > 20
    assert len({p.updates["monthsToHold"] for p in trials}) == len(set(v.montecarlo_hold_months))
    assert len({p.pct_D for p in trials}) > 100


# every drawn value changed on its own must change what is simulated
CHANGED = {
    "LongPeriod": 140, "numberStocksTraded": 3, "monthsToHold": 3,
    "MA1": 120, "MA2": 9, "MA3": 35, "sma2factor": 0.95,
    "lowPct": 35.0, "hiPct": 65.0, "minperiod": 7, "maxperiod": 25,
    "narrowDays_min": 12.0, "narrowDays_max": 25.0, "mediumDays_min": 40.0,
    "mediumDays_max": 130.0, "wideDays_min": 120.0, "wideDays_max": 300.0,
    "pct_D": 500, "pct_f": 0.95, "pct_slope": 3.0, "pct_intercept": 0.03, "pct_maxPct": 1.0,
}
PCT_KEYS = {"pct_D": "pct_D", "pct_f": "pct_f", "pct_slope": "pct_slope",
            "pct_intercept": "pct_intercept", "pct_maxPct": "pct_max"}


@pytest.mark.parametrize("method", METHODS)
def test_every_drawn_parameter_changes_the_simulation(base_v, prices, method: str) -> None:
    v = _v(base_v, method)
    data = prepare(prices, v)
    p0 = draw_trials(v, 1)[0]
    r0 = run_trial(data, p0)
    assert set(p0.record()) <= set(CHANGED), "a new drawn parameter needs a case here"
    for name in p0.record():
        if name in PCT_KEYS:
            p = TrialParams(**{**p0.__dict__, PCT_KEYS[name]: CHANGED[name]})
            r = run_trial(data, p)
            assert np.array_equal(r.strategy, r0.strategy), name
            assert not np.array_equal(r.pctlong, r0.pctlong), name
        else:
            p = TrialParams(**{**p0.__dict__, "updates": {**p0.updates, name: CHANGED[name]}})
            r = run_trial(data, p)
            assert not np.array_equal(r.strategy, r0.strategy), name


# ---- one trial -------------------------------------------------------------------------------


def test_trial0_equals_the_daily_run(synth_quotes_small: Quotes, base_v) -> None:
    for method in ("HMAs", "percentileChannels"):
        v = _v(base_v, method)
        daily = analyze_quotes(synth_quotes_small, v)
        r0 = run_trial(prepare(daily.prices, v), draw_trials(v, 1)[0])
        assert np.array_equal(r0.strategy, daily.backtest.strategy)
        frac = np.where(daily.active_count > 0,
                        daily.uptrend_count / np.maximum(daily.active_count, 1), 0.0)
        assert np.array_equal(r0.uptrend, frac)
        assert r0.stats["strategy"]["whole"] == daily.backtest.stats["strategy"]["whole"]
        assert dict(r0.holdings) == {p.symbol: p.weight for p in daily.picks}


def _tiny_quotes() -> Quotes:
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-09"))
    close = np.array([
        [10, 11, 12, 11, 13, 14, 13, 15],
        [np.nan, np.nan, 5, 5.5, 6, 5, 4.5, 5],
        [20, 19, 18, 19, 20, 21, np.nan, np.nan],
    ], dtype=float)
    return Quotes(dates=dates, symbols=("AAA", "BBB", "CCC"), close=close)


def test_market_gauge_matches_a_straightforward_loop(base_v) -> None:
    prices = clean(_tiny_quotes(), 4, 5.0)
    data = prepare(prices, base_v)
    D, f = 2, 0.9
    P = prices.close
    expect = []
    for t in range(P.shape[1]):
        num = den = 0.0
        for i in range(3):
            if prices.tradable()[i, t]:  # listed and not stale on t (causal)
                s = P[i, max(0, t - D): t + 1].mean()
                num += P[i, t] - f * s
                den += f * s
        expect.append(num / den)
    assert np.allclose(data.gauge(D, f), expect, rtol=1e-12)
    assert D in data.gauge_sums  # shared by the next trial with the same period


def test_pctlong_invested_fraction_is_held_between_rebalance_days(base_v, prices) -> None:
    data = prepare(prices, base_v)
    p0 = draw_trials(base_v, 1)[0]
    r = run_trial(data, p0)
    reb = rebalance_days(prices.dates, base_v.monthsToHold)
    q = data.gauge(p0.pct_D, p0.pct_f)
    frac = np.clip((q + p0.pct_intercept) * p0.pct_slope, 0, p0.pct_max)
    first = int(np.flatnonzero(reb)[0])
    assert np.all(r.invested[:first] == 0)
    for t in range(first, len(reb)):
        last = int(np.flatnonzero(reb[: t + 1])[-1])
        assert r.invested[t] == frac[last]
    assert 0 <= r.invested.min() and r.invested.max() <= 1.25 and r.invested.max() > 1.0
    # fully invested at most 100 % -> the plain strategy; never invested -> 10,000 flat
    full = TrialParams(**{**p0.__dict__, "pct_intercept": 100.0, "pct_max": 1.0})
    assert np.allclose(run_trial(data, full).pctlong, r.strategy, rtol=1e-9)
    none = TrialParams(**{**p0.__dict__, "pct_intercept": -100.0})
    assert np.all(run_trial(data, none).pctlong == START_VALUE)


# ---- statistics -------------------------------------------------------------------------------


def _stats(cagr: float, mdd: float) -> dict[str, float]:
    return {"cagr": cagr, "sharpe": 0.0, "max_drawdown": mdd, "mean_drawdown": mdd}


def test_beats_score_weights_horizons_where_both_return_and_drawdown_win() -> None:
    bh = {h: _stats(0.10, -0.10) for h in ("whole", "15y", "10y", "5y", "3y", "2y", "1y", "6m")}
    win = {h: _stats(0.12, -0.05) for h in bh}
    assert beats_score(win, bh) == 1.0
    mixed = dict(win)
    mixed["1y"] = _stats(0.12, -0.20)  # higher return but deeper drawdown: no
    mixed["15y"] = _stats(0.05, -0.05)  # shallower drawdown but lower return: no
    assert beats_score(mixed, bh) == pytest.approx((9.0 - 2.5 - 1.0) / 9.0)
    short = {h: win[h] for h in ("whole", "3y", "2y", "1y")}  # history reaches 3 years
    assert beats_score(short, bh) == 1.0
    assert math.isnan(beats_score({"whole": win["whole"]}, bh))


def test_horizons_reach_down_to_one_month_and_stop_at_the_history() -> None:
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2021-06-01"))
    values = START_VALUE * np.exp(np.linspace(0, 0.3, len(dates)))
    got = trial_stats(values, dates)
    assert list(got) == ["whole", "1y", "6m", "3m", "1m"]
    assert list(MC_HORIZONS)[-3:] == ["6m", "3m", "1m"]
    assert got["1m"]["cagr"] == pytest.approx(got["whole"]["cagr"], rel=1e-6)
    ruined = np.r_[values[:100], np.zeros(len(dates) - 100)]
    with np.errstate(all="raise"):
        assert trial_stats(ruined, dates)["whole"]["cagr"] == -1.0


def test_percentiles_bands_and_uptrend_quantiles() -> None:
    assert percentiles([1, 2, 3, 4, 5]) == {10: 1.4, 50: 3.0, 90: 4.6}
    assert all(math.isnan(x) for x in percentiles([]).values())
    values = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    lo, hi = value_band(values)
    assert np.allclose(lo, [1.2, 12.0]) and np.allclose(hi, [2.8, 28.0])
    med, p90 = uptrend_quantiles(np.array([[0.1, 0.5], [0.2, 0.7], [0.9, 0.6]]))
    assert np.allclose(med, [0.2, 0.6]) and np.allclose(p90, [0.76, 0.68])


def test_summary_across_trials(base_v, prices) -> None:
    data = prepare(prices, base_v)
    results = [run_trial(data, p) for p in draw_trials(base_v, 3, seed=1)]
    from pytaaa.engine.backtest import buy_and_hold

    bh = trial_stats(buy_and_hold(prices), prices.dates)
    s = summarize(results, bh)
    finals = sorted(r.strategy[-1] for r in results)
    assert s.final[50] == pytest.approx(finals[1]) and s.final[10] < s.final[90]
    assert set(s.beats) == {0, 1, 2} and all(0 <= b <= 1 for b in s.beats.values())


# ---- the trial pool ------------------------------------------------------------------------------


def test_injected_failures_parses_the_test_hook() -> None:
    assert injected_failures({}) == frozenset()
    assert injected_failures({FAIL_TRIAL_ENV: "2, 5,x"}) == frozenset({2, 5})


def _pool_workers() -> list[psutil.Process]:
    """Live pool workers of this process: the children of its fork server."""
    out = []
    for child in psutil.Process().children():
        try:
            if "forkserver" in " ".join(child.cmdline()):
                out += [w for w in child.children() if w.status() != psutil.STATUS_ZOMBIE]
        except psutil.Error:
            continue
    return out


def test_pool_results_do_not_depend_on_workers_and_equal_in_process(base_v, prices,
                                                                   tmp_path: Path) -> None:
    v = base_v.model_copy(update={"uptrendSignalMethod": "SMAs"})
    data = prepare(prices, v)
    params = draw_trials(v, 4, seed=2)
    local = [run_trial(data, p) for p in params]
    seen: list[int] = []
    one = run_trials(data, params, workers=1, on_result=lambda r: seen.append(r.index))
    shared = share_data(prepare(prices, v), tmp_path)  # workers map the arrays from files
    assert isinstance(shared.prices.close, np.memmap) and not shared.prices.close.flags.writeable
    two = run_trials(shared, params, workers=2)
    assert sorted(seen) == [0, 1, 2, 3] and not one.stopped and not one.errors
    for a, b, c in zip(local, one.results, two.results):
        for name in ("strategy", "pctlong", "invested", "uptrend", "gauge"):
            assert np.array_equal(getattr(a, name), getattr(b, name))
            assert np.array_equal(getattr(a, name), getattr(c, name))
        assert a.stats == b.stats == c.stats


def test_pool_a_failing_trial_fails_alone_and_stop_cancels(base_v, prices) -> None:
    data = prepare(prices, base_v)
    params = draw_trials(base_v, 4, seed=2)
    got: list[object] = []
    run = run_trials(data, params, workers=2, fail=frozenset({2}), on_result=got.append)
    assert [r.index for r in run.results] == [0, 1, 3] and len(got) == 4
    assert [e.index for e in run.errors] == [2] and isinstance(run.errors[0], TrialError)
    assert "failure injected" in str(run.errors[0])
    # stop after the first result: the rest is cancelled and the workers are gone
    many = draw_trials(base_v, 40, seed=2)
    t0 = time.monotonic()
    done: list[object] = []
    run = run_trials(data, many, workers=2, on_result=done.append,
                     should_stop=lambda: len(done) >= 1)
    assert run.stopped and 1 <= len(run.results) < 40
    assert time.monotonic() - t0 < 60
    deadline = time.monotonic() + 10
    while _pool_workers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pool_workers() == []


def test_run_trials_rejects_bad_numbering(base_v, prices) -> None:
    data = prepare(prices, base_v)
    params = draw_trials(base_v, 3)
    with pytest.raises(ValueError):
        run_trials(data, [params[0], params[2]])
    with pytest.raises(ValueError):
        run_trials(data, [])


def test_data_prepared_once_reports_active_counts(prices, base_v) -> None:
    data = prepare(prices, base_v)
    act = prices.active()
    act[prices.symbols.index("CASH")] = False
    assert np.array_equal(data.active_count, act.sum(axis=0))
    assert not data.tradable[prices.symbols.index("CASH")].any()
    assert data.prices is prices and dt.date.fromisoformat(str(prices.dates[-1]))


def test_a_trial_needs_less_than_one_price_matrix_beyond_the_shared_data() -> None:
    """Issue 10: the Monte Carlo job on 2,000 symbols peaked at 1.4 GB; each trial made a
    full (N, T) score, weights and market-gauge SMA (6.5x the price matrix).  A trial
    now computes weights only for the days a backtest reads."""
    import tracemalloc

    from pytaaa.config import Valuation
    from pytaaa.data.synth import synthetic_quotes

    q = synthetic_quotes(400, 10, seed=1)
    v = Valuation.model_validate(dict(
        symbols_file="s.txt", performance_store="p", webpage="w", stockList="Naz100",
        uptrendSignalMethod="HMAs", numberStocksTraded=7, monthsToHold=1, LongPeriod=104,
        stddevThreshold=5.0, MA1=151, MA2=14, MA3=22, sma2factor=1.0))
    data = prepare(clean(q, v.LongPeriod, v.stddevThreshold), v)
    trial = draw_trials(v, 3, seed=2)[2]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        run_trial(data, trial)
        peak = (tracemalloc.get_traced_memory()[1] - before) / q.close.nbytes
    finally:
        tracemalloc.stop()
    assert peak < 1.5, f"a trial peaked at {peak:.1f} x the price matrix"
