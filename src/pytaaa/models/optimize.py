"""Strategy parameter search: random trials of one model's parameters (``models.md`` §5).

The search draws trials with the Monte Carlo draws (:func:`pytaaa.montecarlo.trials.draw_trials`)
over wider ranges (``spread``); trial 0 is the config itself.  Each trial is
one full-history backtest through the daily run's own stages
(:func:`pytaaa.montecarlo.trials.run_strategy`) on a
:class:`~pytaaa.jobs.executors.WorkerPool` (local processes or Dask), with
per-horizon statistics.  The best trial is the one with the highest
whole-history Sharpe ratio (in-sample); :mod:`pytaaa.models.walkforward` then
reports what choosing on a rolling in-sample window would have earned out of
sample.  A trial's result depends only on the data, the config, the seed and
its index, never on the pool or the number of workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pytaaa.models.walkforward import WalkForward, walk_forward
from pytaaa.montecarlo.pool import WorkerPayload, injected_failures, run_payload_tasks
from pytaaa.montecarlo.stats import MC_HORIZONS, trial_stats
from pytaaa.montecarlo.trials import (
    MCData,
    TrialError,
    TrialParams,
    draw_trials,
    run_strategy,
)

if TYPE_CHECKING:
    from pytaaa.jobs.executors import WorkerPool
    from pytaaa.model import Prices

__all__ = [
    "DEFAULT_TRIALS",
    "SPREAD",
    "IN_YEARS",
    "OUT_YEARS",
    "SearchTrial",
    "SearchResult",
    "search_trial",
    "load_prices",
    "draw_search",
    "run_search",
]

#: Trials of a search unless ``--trials`` says otherwise (the original's default).
DEFAULT_TRIALS = 250
#: How much wider than the Monte Carlo draws the search draws (x the half-widths).
SPREAD = 2.0
#: Walk-forward window lengths in years: choose in-sample, evaluate out-of-sample.
IN_YEARS = 10.0
OUT_YEARS = 1.0


class BadSearchInput(Exception):
    """The search's input (store, data) cannot be used: exit status 2."""


@dataclass(frozen=True)
class SearchTrial:
    """One trial of a search: ``values`` ``(T,)`` from 10,000, per-horizon
    ``stats`` (label -> CAGR, Sharpe, max and mean drawdown), trades, CPU time."""

    index: int
    values: np.ndarray
    stats: dict[str, dict[str, float]]
    n_trades: int
    cpu_seconds: float

    @property
    def sharpe(self) -> float:
        """Whole-history Sharpe ratio (the in-sample score)."""
        return float(self.stats.get("whole", {}).get("sharpe", float("nan")))


def search_trial(payload: WorkerPayload, index: int) -> SearchTrial:
    """Task function: backtest trial ``index`` of ``payload`` (runs on a worker)."""
    if index in payload.fail:
        raise RuntimeError("failure injected by the test hook")
    c0 = time.process_time()
    data = payload.data
    run = run_strategy(data, payload.trials[index])
    stats = trial_stats(run.values, data.prices.dates, MC_HORIZONS)
    return SearchTrial(index, run.values, stats, int(run.n_trades), time.process_time() - c0)


def load_prices(config: Any) -> Prices:
    """Read the config's quote store and clean it with the configured
    ``LongPeriod``/``stddevThreshold``; raises :class:`BadSearchInput` for a
    store or data that cannot be used."""
    from pytaaa.data.store import StoreError, read_store
    from pytaaa.engine.cleaning import CleaningError, clean

    v = config.valuation
    try:
        quotes = read_store(config.symbols_file)
        return clean(quotes, v.LongPeriod, v.stddevThreshold, v.stale_quote_days)
    except (StoreError, CleaningError) as exc:
        raise BadSearchInput(str(exc)) from None


def draw_search(v: Any, n_trials: int, seed: int, spread: float = SPREAD) -> list[TrialParams]:
    """The trials of a search: trial 0 = ``v``, the others the Monte Carlo draws
    widened by ``spread``.  Raises ``ValueError`` for ``n_trials < 1``."""
    return draw_trials(v, n_trials, seed, spread=spread)


@dataclass
class SearchResult:
    """A finished (or stopped) search: trials and errors in trial order, the
    whole-history ``best`` trial number, and the walk-forward validation
    (None when the search stopped, trial 0 failed, or no trial finished)."""

    params: list[TrialParams]
    results: list[SearchTrial]
    errors: list[TrialError]
    stopped: bool
    rebuilds: int = 0
    best: int = 0
    walk: WalkForward | None = None
    seconds: float = 0.0
    cpu_seconds: float = field(default=0.0)

    def trial(self, index: int) -> SearchTrial | None:
        """The result of trial ``index``, if it finished."""
        for r in self.results:
            if r.index == index:
                return r
        return None


def best_trial(results: list[SearchTrial]) -> int:
    """Number of the trial with the highest whole-history Sharpe (ties: the lowest)."""
    best, score = results[0].index, -np.inf
    for r in results:
        s = r.sharpe if np.isfinite(r.sharpe) else -np.inf
        if s > score:
            best, score = r.index, s
    return best


def run_search(
    data: MCData,
    params: list[TrialParams],
    *,
    workers: int = 2,
    pool: WorkerPool | None = None,
    on_result: Callable[[SearchTrial | TrialError], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_tick: Callable[[], None] = lambda: None,
    fail: frozenset[int] | None = None,
    in_years: float = IN_YEARS,
    out_years: float = OUT_YEARS,
) -> SearchResult:
    """Run every trial of ``params`` on ``pool`` (default: ``workers`` local
    processes), then choose the best and validate walk-forward.

    ``on_result`` receives each trial or :class:`TrialError` as it finishes.
    The walk-forward rows are the finished trials (trial 0 first).  Raises
    ``ValueError`` for trials not numbered 0..n-1.
    """
    from pytaaa.montecarlo.pool import check_trials

    t0 = time.monotonic()
    trials = check_trials(params)
    payload = WorkerPayload.build(data, trials, injected_failures() if fail is None else fail)
    run = run_payload_tasks(payload, search_trial, workers=workers, pool=pool,
                            on_result=on_result, should_stop=should_stop, on_tick=on_tick)
    out = SearchResult(list(trials), run.results, run.errors, run.stopped, run.rebuilds)
    out.cpu_seconds = float(sum(r.cpu_seconds for r in run.results))
    if not run.stopped and run.results and run.results[0].index == 0:
        out.best = best_trial(run.results)
        values = np.vstack([r.values for r in run.results])
        rows = [r.index for r in run.results]
        wf = walk_forward(values, data.prices.dates, in_years, out_years, best=rows.index(out.best))
        out.walk = _renumber(wf, rows)
    out.seconds = time.monotonic() - t0
    return out


def _renumber(wf: WalkForward, rows: list[int]) -> WalkForward:
    """``wf`` with row numbers replaced by trial numbers (rows = finished trials)."""
    from dataclasses import replace

    if rows == list(range(len(rows))):
        return wf
    n = max(rows) + 1

    def spread_rows(a: np.ndarray, fill: float) -> np.ndarray:
        out = np.full(n, fill, dtype=a.dtype)
        out[rows] = a
        return out

    folds = [replace(f, chosen=rows[f.chosen]) for f in wf.folds]
    return replace(wf, folds=folds, best=rows[wf.best],
                   trial_is_sharpe=spread_rows(wf.trial_is_sharpe, np.nan),
                   trial_oos_sharpe=spread_rows(wf.trial_oos_sharpe, np.nan),
                   chosen_count=spread_rows(wf.chosen_count, 0))
