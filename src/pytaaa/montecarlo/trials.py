"""Monte Carlo backtest: trial count, parameter draws and the trials (``montecarlo.md`` §1).

A Monte Carlo run backtests the configured strategy over the whole history
with many randomized variants of its parameters.  Trial 0 uses the configured
parameters exactly (it equals the daily run's backtest); every other trial
draws its own ``LongPeriod`` (the Sharpe window), ``numberStocksTraded``,
``monthsToHold`` and signal-method parameters from its own random stream.

Each trial runs the daily run's own stages (:func:`pytaaa.engine.signals.compute_signals`,
:func:`pytaaa.engine.ranking.rolling_sharpe`, :func:`pytaaa.engine.ranking.target_weights`,
:func:`pytaaa.engine.backtest.simulate`) and a variable-percent-invested ("pctLong")
version of the same portfolio whose invested fraction follows a market gauge Q.

Work that does not depend on a trial's parameters is done once in
:func:`prepare` (cleaning and despiking with the *configured* ``LongPeriod`` and
``stddevThreshold``, tradable spans, active counts, the gauge's price sums):
the trials vary the Sharpe window, not the despike window.  The trials run on
worker processes (:mod:`pytaaa.montecarlo.pool`).  Per-trial random streams come from
``numpy.random.SeedSequence(seed).spawn(n)``, so results do not depend on the
number of workers or the order in which trials finish.
"""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pytaaa._blocks import sum_rows
from pytaaa.engine.backtest import simulate
from pytaaa.engine.indicators import sma
from pytaaa.engine.ranking import rolling_sharpe, target_weights
from pytaaa.engine.signals import compute_signals, rebalance_days
from pytaaa.model import Prices
from pytaaa.montecarlo.stats import MC_HORIZONS, trial_stats

__all__ = [
    "PLATFORM_TRIALS",
    "PCTLONG_TRIAL0",
    "PlatformInfo",
    "TrialParams",
    "TrialResult",
    "MCData",
    "TrialError",
    "detect_platform",
    "trial_count",
    "trial_count_source",
    "method_param_names",
    "draw_trials",
    "prepare",
    "StrategyRun",
    "run_strategy",
    "run_trial",
]

#: Trial counts users of PyTAAA know, by platform (seed FR7).
PLATFORM_TRIALS: dict[str, int] = {
    "Raspberry Pi": 12,
    "32-bit ARM Linux": 12,
    "macOS": 13,
    "64-bit Windows": 15,
}
DEFAULT_TRIALS = 25

#: pctLong parameters of trial 0: SMA period D, factor f, slope, intercept, maxPct.
PCTLONG_TRIAL0: dict[str, float] = {
    "D": 355, "f": 0.90, "slope": 5.45, "intercept": -0.01, "max_pct": 1.25,
}
PCTLONG_MAX_PCT = 1.5

_METHOD_PARAMS: dict[str, tuple[str, ...]] = {
    "SMAs": ("MA1", "MA2", "MA3", "sma2factor"),
    "HMAs": ("MA1", "MA2", "MA3", "sma2factor"),
    "percentileChannels": ("lowPct", "hiPct", "minperiod", "maxperiod"),
    "minmaxChannels": (
        "narrowDays_min", "narrowDays_max", "mediumDays_min", "mediumDays_max",
        "wideDays_min", "wideDays_max",
    ),
}


class TrialError(RuntimeError):
    """A trial that raised; ``index`` is the trial, the message says why."""

    def __init__(self, index: int, message: str) -> None:
        self.index = index
        super().__init__(f"trial {index}: {message}")


# ---- trial count ---------------------------------------------------------------


@dataclass(frozen=True)
class PlatformInfo:
    """The platform label the log shows and the trial count it implies."""

    label: str
    trials: int


def _device_model() -> str:
    try:
        raw = Path("/proc/device-tree/model").read_bytes()
    except OSError:
        return ""
    return raw.decode("ascii", "replace").strip("\x00 \n")


def detect_platform(
    system: str | None = None,
    machine: str | None = None,
    pointer_bits: int | None = None,
    device_model: str | None = None,
) -> PlatformInfo:
    """Classify the platform for the trial-count table.

    Every argument defaults to the running machine (``platform.system()``,
    ``platform.machine()``, the interpreter's pointer size, and on Linux
    ``/proc/device-tree/model``); tests inject them.  Returns a
    :class:`PlatformInfo`: Raspberry Pi or 32-bit ARM Linux 12 trials, macOS 13,
    64-bit Windows 15, anything else 25.  Raises nothing.
    """
    system = platform.system() if system is None else system
    machine = platform.machine() if machine is None else machine
    pointer_bits = (64 if sys.maxsize > 2**32 else 32) if pointer_bits is None else pointer_bits
    if device_model is None:
        device_model = _device_model() if system == "Linux" else ""
    mach = machine.lower()
    if system == "Linux" and "raspberry pi" in device_model.lower():
        label = "Raspberry Pi"
    elif system == "Linux" and mach.startswith(("arm", "aarch")) and pointer_bits == 32:
        label = "32-bit ARM Linux"
    elif system == "Darwin":
        label = "macOS"
    elif system == "Windows" and pointer_bits == 64:
        label = "64-bit Windows"
    else:
        label = f"{system or 'unknown'} {machine or 'unknown'} ({pointer_bits}-bit)"
    return PlatformInfo(label=label, trials=PLATFORM_TRIALS.get(label, DEFAULT_TRIALS))


def trial_count(v: Any, override: int | None = None, info: PlatformInfo | None = None) -> int:
    """Number of trials: ``override`` (e.g. ``--trials``), else ``v.montecarlo_trials``,
    else the platform table (``info`` or :func:`detect_platform`).  Raises
    ``ValueError`` for an override below 1."""
    if override is not None:
        if int(override) < 1:
            raise ValueError(f"the number of trials must be at least 1, got {override}")
        return int(override)
    if getattr(v, "montecarlo_trials", None) is not None:
        return int(v.montecarlo_trials)
    return (info or detect_platform()).trials


def trial_count_source(v: Any, override: int | None = None) -> str:
    """Where :func:`trial_count` takes the count from: ``"--trials"``,
    ``"montecarlo_trials"`` or ``"platform table"``."""
    if override is not None:
        return "--trials"
    if getattr(v, "montecarlo_trials", None) is not None:
        return "montecarlo_trials"
    return "platform table"


# ---- parameter draws -------------------------------------------------------------


@dataclass(frozen=True)
class TrialParams:
    """The parameters of one trial.

    ``updates`` are the :class:`~pytaaa.config.Valuation` keys the trial sets
    (``LongPeriod``, ``numberStocksTraded``, ``monthsToHold`` and the signal
    method's keys, in :func:`method_param_names` order); ``pct_*`` are the
    pctLong gauge's SMA period D, factor f, slope, intercept and maxPct.
    """

    index: int
    updates: dict[str, int | float]
    pct_D: int
    pct_f: float
    pct_slope: float
    pct_intercept: float
    pct_max: float

    def record(self) -> dict[str, int | float]:
        """Every drawn value by name, in a fixed order (the CSV's parameter columns)."""
        out: dict[str, int | float] = dict(self.updates)
        out.update({"pct_D": self.pct_D, "pct_f": self.pct_f, "pct_slope": self.pct_slope,
                    "pct_intercept": self.pct_intercept, "pct_maxPct": self.pct_max})
        return out


def method_param_names(method: str) -> tuple[str, ...]:
    """Names of the drawn strategy parameters for signal ``method`` (fixed order)."""
    return ("LongPeriod", "numberStocksTraded", "monthsToHold") + _METHOD_PARAMS[method]


def _scaled_int(rng: np.random.Generator, value: float, lo: float, hi: float, minimum: int) -> int:
    return max(minimum, int(round(float(value) * rng.uniform(lo, hi))))


def _span(half: float, spread: float) -> tuple[float, float]:
    """The factor range 1 ± ``half`` widened by ``spread`` (1.0: exactly 1 ± half)."""
    half = half * spread if spread != 1.0 else half
    return max(0.05, 1.0 - half), 1.0 + half


def _draw_ma(rng: np.random.Generator, v: Any, spread: float = 1.0) -> dict[str, int | float]:
    lo, hi = _span(0.2, spread)
    ma1 = _scaled_int(rng, v.MA1, lo, hi, 2)
    ma2 = _scaled_int(rng, v.MA2, lo, hi, 1)
    ma3 = _scaled_int(rng, v.MA3, lo, hi, 1)
    if v.MA2 < v.MA3 < v.MA1:  # keep the configured order MA2 < MA3 < MA1
        ma3 = max(ma3, ma2 + 1)
        ma1 = max(ma1, ma3 + 1)
    factor = round(float(v.sma2factor) * rng.uniform(*_span(0.05, spread)), 6)
    return {"MA1": ma1, "MA2": ma2, "MA3": ma3, "sma2factor": factor}


def _draw_percentile(rng: np.random.Generator, v: Any,
                     spread: float = 1.0) -> dict[str, int | float]:
    pct = _span(0.15, spread)
    low = round(min(50.0, max(0.0, float(v.lowPct) * rng.uniform(*pct))), 4)
    high = round(min(100.0, max(50.0, float(v.hiPct) * rng.uniform(*pct))), 4)
    if high <= low:
        high = min(100.0, low + 1.0)
    lo, hi = _span(0.2, spread)
    pmin = _scaled_int(rng, v.minperiod, lo, hi, 1)
    pmax = max(_scaled_int(rng, v.maxperiod, lo, hi, 2), pmin + 1)
    return {"lowPct": low, "hiPct": high, "minperiod": pmin, "maxperiod": pmax}


def _draw_minmax(rng: np.random.Generator, v: Any, spread: float = 1.0) -> dict[str, int | float]:
    out: dict[str, int | float] = {}
    span = _span(0.2, spread)
    for band in ("narrow", "medium", "wide"):
        lo = round(max(1.0, float(getattr(v, f"{band}Days_min")) * rng.uniform(*span)), 4)
        hi = round(max(1.0, float(getattr(v, f"{band}Days_max")) * rng.uniform(*span)), 4)
        if hi <= lo:
            hi = lo + 1.0
        out[f"{band}Days_min"], out[f"{band}Days_max"] = lo, hi
    return out


def _configured(v: Any, index: int) -> TrialParams:
    updates = {k: getattr(v, k) for k in method_param_names(v.uptrendSignalMethod)}
    p = PCTLONG_TRIAL0
    return TrialParams(index, updates, int(p["D"]), p["f"], p["slope"], p["intercept"],
                       p["max_pct"])


def draw_trials(v: Any, n_trials: int, seed: int = 0, spread: float = 1.0) -> list[TrialParams]:
    """Draw the parameters of ``n_trials`` trials from ``seed``.

    Trial 0 is ``v`` exactly (pctLong: D 355, f 0.90, slope 5.45, intercept
    -0.01, maxPct 1.25).  Trial i >= 1 draws from its own generator
    ``default_rng(SeedSequence(seed).spawn(n)[i])``: ``LongPeriod`` x U(0.8, 1.2)
    rounded; ``numberStocksTraded`` + one of {-1, 0, +1} within 1..20;
    ``monthsToHold`` from ``v.montecarlo_hold_months``; the signal method's
    parameters (MA periods x U(0.8, 1.2) keeping MA2 < MA3 < MA1, ``sma2factor``
    x U(0.95, 1.05); ``lowPct``/``hiPct`` x U(0.85, 1.15) clamped to [0, 50] /
    [50, 100] and channel periods x U(0.8, 1.2); channel day ranges x U(0.8, 1.2));
    pctLong D ~ U(352, 704) rounded, f ~ triangular(0.88, 0.91, 0.999), slope ~
    triangular(2, 5, 7), intercept ~ -triangular(-0.05, 0, 0.07), maxPct 1.5.
    ``spread`` widens every strategy range (the parameter search's wider
    draws: factor ranges 1 ± half-width x spread, ``numberStocksTraded`` ±
    round(spread)); 1.0 gives exactly the draws above.
    Reads nothing; raises ``ValueError`` for ``n_trials < 1`` or ``spread <= 0``.
    """
    if n_trials < 1:
        raise ValueError(f"the number of trials must be at least 1, got {n_trials}")
    if not spread > 0:
        raise ValueError(f"the spread of the draws must be positive, got {spread}")
    method = v.uptrendSignalMethod
    step = max(1, int(round(spread)))
    long_span = _span(0.2, spread)
    children = np.random.SeedSequence(int(seed)).spawn(int(n_trials))
    hold_months = list(getattr(v, "montecarlo_hold_months", [1, 1, 1, 2, 2, 3, 4, 6, 12]))
    out = [_configured(v, 0)]
    for i in range(1, n_trials):
        rng = np.random.default_rng(children[i])
        k = v.numberStocksTraded + int(rng.integers(-step, step + 1))
        updates: dict[str, int | float] = {
            "LongPeriod": _scaled_int(rng, v.LongPeriod, *long_span, 2),
            "numberStocksTraded": int(min(20, max(1, k))),
            "monthsToHold": int(hold_months[int(rng.integers(len(hold_months)))]),
        }
        if method in ("SMAs", "HMAs"):
            updates.update(_draw_ma(rng, v, spread))
        elif method == "percentileChannels":
            updates.update(_draw_percentile(rng, v, spread))
        else:
            updates.update(_draw_minmax(rng, v, spread))
        out.append(TrialParams(
            index=i,
            updates=updates,
            pct_D=int(round(rng.uniform(352.0, 704.0))),
            pct_f=float(rng.triangular(0.88, 0.91, 0.999)),
            pct_slope=float(rng.triangular(2.0, 5.0, 7.0)),
            pct_intercept=float(-rng.triangular(-0.05, 0.0, 0.07)),
            pct_max=PCTLONG_MAX_PCT,
        ))
    return out


# ---- shared data and one trial ---------------------------------------------------------


@dataclass
class MCData:
    """Trial-independent inputs, computed once and sent once to each worker.

    ``prices`` are cleaned and despiked with the configured ``LongPeriod`` and
    ``stddevThreshold``; ``v`` is the configured Valuation; ``tradable`` the
    ``(N, T)`` tradable mask (CASH excluded); ``active_count`` ``(T,)`` active
    symbols per day; ``price_sum`` ``(T,)`` the sum of P over tradable symbols.
    ``gauge_sums`` caches, per SMA period D, the sum of SMA_D(P) over tradable
    symbols, so trials with the same D share it.  ``shared_dir`` is the folder
    whose files back the large arrays (:func:`pytaaa.montecarlo.pool.share_data`), if any.
    """

    prices: Prices
    v: Any
    tradable: np.ndarray
    active_count: np.ndarray
    price_sum: np.ndarray
    gauge_sums: dict[int, np.ndarray] = field(default_factory=dict)
    shared_dir: str | None = None

    def gauge(self, period: int, factor: float) -> np.ndarray:
        """Market gauge Q_t = sum(P - f*SMA_D(P)) / sum(f*SMA_D(P)) over tradable symbols."""
        period = int(period)
        sums = self.gauge_sums.get(period)
        if sums is None:
            close = self.prices.close
            sums = sum_rows(*close.shape, lambda b: np.where(self.tradable[b],
                                                             sma(close[b], period), 0.0))
            self.gauge_sums[period] = sums
        denom = float(factor) * sums
        with np.errstate(invalid="ignore", divide="ignore"):
            q = np.where(denom > 0, self.price_sum / np.where(denom > 0, denom, 1.0) - 1.0, 0.0)
        return q


def prepare(prices: Prices, v: Any) -> MCData:
    """The trial-independent data of a Monte Carlo run for cleaned ``prices``."""
    cash = prices.symbols.index("CASH")
    tradable = prices.tradable()
    tradable[cash] = False
    active = prices.active()
    active[cash] = False
    return MCData(
        prices=prices,
        v=v,
        tradable=tradable,
        active_count=active.sum(axis=0).astype(np.float64),
        price_sum=np.where(tradable, prices.close, 0.0).sum(axis=0),
    )


@dataclass(frozen=True)
class TrialResult:
    """One trial's series ``(T,)`` and statistics.

    ``strategy`` and ``pctlong`` are portfolio values from 10,000; ``invested``
    the pctLong invested fraction in force each day (0 before the first
    rebalance); ``gauge`` the market gauge Q; ``uptrend`` the fraction of active
    symbols whose held signal is 1; ``stats`` maps ``"strategy"``/``"pctlong"``
    -> horizon label -> CAGR, Sharpe, max and mean drawdown; ``holdings`` the
    last day's target weights ``(symbol, weight)`` (CASH included when held).
    """

    index: int
    strategy: np.ndarray
    pctlong: np.ndarray
    invested: np.ndarray
    gauge: np.ndarray
    uptrend: np.ndarray
    stats: dict[str, dict[str, dict[str, float]]]
    holdings: tuple[tuple[str, float], ...]
    n_trades: int
    cpu_seconds: float


@dataclass(frozen=True)
class StrategyRun:
    """The configured strategy backtested with one trial's parameters.

    ``values`` ``(T,)`` from 10,000; ``weights`` the target weights ``(N,)`` of
    each rebalance day and of the last day, by day index (the only days a
    backtest reads: a trial never holds an ``(N, T)`` weights array);
    ``rebalance`` ``(T,)`` rebalance days; ``held`` ``(N, T)`` held signal;
    ``valuation`` the trial's Valuation; ``stale`` the ``(N, T)`` stale mask the
    backtest used (trial-independent, kept so a trial computes it once).
    """

    values: np.ndarray
    n_trades: int
    weights: dict[int, np.ndarray]
    rebalance: np.ndarray
    held: np.ndarray
    valuation: Any
    stale: np.ndarray


def run_strategy(data: MCData, params: TrialParams) -> StrategyRun:
    """The daily run's signals, ranking and backtest with ``params.updates``
    (the one computation path every trial and search uses).  Reads nothing;
    raises whatever a stage raises."""
    prices = data.prices
    vt = data.v.model_copy(update=params.updates)
    cash = prices.symbols.index("CASH")
    sig = compute_signals(prices, vt)
    reb = rebalance_days(prices.dates, vt.monthsToHold)
    days = np.union1d(np.flatnonzero(reb), [len(prices.dates) - 1])
    score = rolling_sharpe(prices, vt.LongPeriod, days=days)
    by_day = target_weights(score, sig.held[:, days], prices, vt, days=days)
    weights = {int(d): by_day[:, j] for j, d in enumerate(days)}
    stale = prices.stale()
    values, n_trades, _ = simulate(prices.close, weights, reb, cash, float(vt.trade_cost),
                                   int(vt.numberStocksTraded), quoted=prices.quoted_mask(),
                                   stale=stale)
    return StrategyRun(values, n_trades, weights, reb, sig.held, vt, stale)


def run_trial(data: MCData, params: TrialParams) -> TrialResult:
    """Backtest one trial: the daily run's signals, ranking and backtest with the
    trial's parameters, plus the pctLong variant.  Reads nothing; raises whatever
    a stage raises (the caller records the trial as failed)."""
    c0 = time.process_time()
    prices = data.prices
    run = run_strategy(data, params)
    vt, weights, reb, strategy = run.valuation, run.weights, run.rebalance, run.values
    cash = prices.symbols.index("CASH")
    k = int(vt.numberStocksTraded)
    cost = float(vt.trade_cost)
    masks = {"quoted": prices.quoted_mask(), "stale": run.stale}
    q = data.gauge(params.pct_D, params.pct_f)
    frac = np.clip((q + params.pct_intercept) * params.pct_slope, 0.0, params.pct_max)
    pctlong, _, _ = simulate(prices.close, weights, reb, cash, cost, k, invested=frac, **masks)
    t = len(prices.dates)
    last_reb = np.where(reb, np.arange(t), -1)
    np.maximum.accumulate(last_reb, out=last_reb)
    invested = np.where(last_reb >= 0, frac[np.maximum(last_reb, 0)], 0.0)
    held = run.held.copy()
    held[cash] = 0
    up = held.sum(axis=0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        uptrend = np.where(data.active_count > 0, up / np.maximum(data.active_count, 1.0), 0.0)
    stats = {
        "strategy": trial_stats(strategy, prices.dates, MC_HORIZONS),
        "pctlong": trial_stats(pctlong, prices.dates, MC_HORIZONS),
    }
    last = weights[t - 1]
    holdings = tuple((prices.symbols[i], float(last[i])) for i in np.flatnonzero(last > 0))
    return TrialResult(
        index=params.index, strategy=strategy, pctlong=pctlong, invested=invested, gauge=q,
        uptrend=uptrend, stats=stats, holdings=holdings, n_trades=run.n_trades,
        cpu_seconds=time.process_time() - c0,
    )
