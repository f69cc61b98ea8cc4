"""The Monte Carlo job's body: trials on a worker pool, data files, then the two PNGs.

One job code path serves both modes: the detached job
(``python -m pytaaa.montecarlo.start --json-file CFG``, which re-reads the
config and the quote store, the seed's way) and sync mode
(:func:`pytaaa.montecarlo.start.start_montecarlo` in the calling process) both
run :func:`run_montecarlo_job`.  Either way the job takes the
``montecarlo`` lock of its site folder (superseding a running Monte Carlo job
for the same ``webpage``), logs a header, one line per finished trial, each
file written and the total time to ``<webpage>/montecarlo_backtest.log``,
keeps the status file current (total = trials, done = finished trials) and
exits 0 (all trials done), 1 (a trial failed or a runtime error), 2 (bad
config, store or arguments) or 143 (cancelled by SIGTERM or superseded).
The data files are written before the PNGs, so ``succeeded`` means every
file is new.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytaaa.jobs.joblog import JobLog
from pytaaa.jobs.lifecycle import JobResult, job_lifecycle, summary_word
from pytaaa.jobs.runtime import (
    EXIT_FAILED,
    JobSession,
)
from pytaaa.jobs.status import JobStatus

__all__ = ["KIND", "LOG_NAME", "BadInput", "MCJobResult", "run_montecarlo_job", "header"]

KIND = "montecarlo"
LOG_NAME = "montecarlo_backtest.log"


class BadInput(Exception):
    """The job's input (config, quote store) cannot be used: exit status 2."""


@dataclass
class MCJobResult(JobResult):
    """How a Monte Carlo job ended: exit code, final state, trial counts, files."""

    total: int = 0
    done: int = 0
    failed: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def header(log: JobLog, config: Any, *, job_id: str, trials: int, workers: int,
           platform_label: str, title: str, source: str, scheduler: str | None = None) -> None:
    """The first lines of a Monte Carlo job log: config, platform, trials (and
    where the count comes from: ``source``), workers, seed."""
    v = config.valuation
    log.rule()
    log.line(f"{title} Started")
    log.line(f"Job id: {job_id} (pid {os.getpid()})")
    log.line(f"Config: {config.path}")
    log.line(f"Platform: {platform_label}, trials: {trials} ({source})")
    log.line(f"Workers: {workers}, seed: {v.montecarlo_seed}, "
             f"method: {v.uptrendSignalMethod}, stockList: {v.stockList}")
    if scheduler:
        log.line(f"Dask scheduler: {scheduler}")
    log.rule()


def _compute(session: JobSession, config: Any, n_trials: int, workers: int,
             result: MCJobResult, progress: Callable[[int], None] | None,
             scheduler: str | None = None) -> Any:
    """Read the store, run the trials (on the local pool, or on the Dask
    cluster of ``scheduler``); returns ``(prices, data, params, run)``."""
    from pytaaa.data.store import StoreError, read_store
    from pytaaa.engine.cleaning import CleaningError, clean
    from pytaaa.jobs.executors import make_worker_pool
    from pytaaa.montecarlo.pool import run_trials, share_data
    from pytaaa.montecarlo.trials import TrialError, draw_trials, prepare

    v = config.valuation
    log = session.log
    t0 = time.monotonic()
    try:
        quotes = read_store(config.symbols_file)
        prices = clean(quotes, v.LongPeriod, v.stddevThreshold, v.stale_quote_days)
    except (StoreError, CleaningError) as exc:
        raise BadInput(str(exc)) from None
    first, last = prices.dates[0], prices.dates[-1]
    log.line(f"Data: {len(prices.symbols) - 1} symbols, {len(prices.dates)} days "
             f"({first} .. {last}); cleaned in {time.monotonic() - t0:.1f} s "
             f"(despike window LongPeriod {v.LongPeriod}, not varied by the trials)")
    del quotes
    data = prepare(prices, v)
    params = draw_trials(v, n_trials, v.montecarlo_seed)

    def on_result(item: Any) -> None:
        result.done += 1
        if isinstance(item, TrialError):
            result.failed += 1
            reason = str(item).split(": ", 1)[-1]
            result.errors.append((f"trial {item.index}", reason))
            log.line(f"\u2717 Trial {result.done}/{n_trials} (#{item.index}) failed: {reason}")
            session.status.item_done("failed", f"trial {item.index}", reason)
        else:
            whole = item.stats["strategy"].get("whole", {})
            log.line(f"Trial {result.done}/{n_trials} complete: "
                     f"CAGR {100 * whole.get('cagr', float('nan')):.1f} %, "
                     f"Sharpe {whole.get('sharpe', float('nan')):.2f} "
                     f"(#{item.index}, {item.cpu_seconds:.2f} s CPU)")
            session.status.item_done("created")
        if progress is not None:
            progress(1)

    pool = make_worker_pool(scheduler, max(1, min(workers, n_trials)))
    try:
        if pool.local_files:
            try:
                data = share_data(data, session.work_dir())
                prices = data.prices  # memory-mapped: this process drops its own copy
            except OSError as exc:
                log.line(f"Cannot share the data through files ({exc.strerror or exc}); "
                         "sending a copy to each worker")
        session.status.set_total(n_trials)
        session.status.set_state(JobStatus.RUNNING)  # written at once, with the total
        log.line(f"Running {n_trials} trials on {pool.label}")
        run = run_trials(data, params, pool=pool, on_result=on_result,
                         should_stop=session.should_stop, on_tick=session.status.tick)
    finally:
        pool.close()
    if run.rebuilds:
        log.line(f"A worker process died; the pool was rebuilt {run.rebuilds} time(s)")
    return prices, data, params, run


def _write_outputs(session: JobSession, config: Any, prices: Any, params: Any, run: Any,
                   now: dt.datetime, result: MCJobResult) -> None:
    """Statistics, the three data files, then the two PNGs (each logged)."""
    from pytaaa.engine.backtest import buy_and_hold, new_highs_lows
    from pytaaa.montecarlo.outputs import write_data_files
    from pytaaa.montecarlo.plots import plot_data, write_montecarlo_pngs
    from pytaaa.montecarlo.stats import MC_HORIZONS, summarize, trial_stats

    v = config.valuation
    log = session.log
    bh = buy_and_hold(prices)
    summary = summarize(run.results, trial_stats(bh, prices.dates, MC_HORIZONS))
    finals = " / ".join(f"{summary.final[q]:,.0f}" for q in (10, 50, 90))
    cagrs = " / ".join(f"{100 * summary.cagr[q]:.1f} %" for q in (10, 50, 90))
    log.line(f"Final value p10/p50/p90: {finals}; CAGR p10/p50/p90: {cagrs}")
    highs, lows = new_highs_lows(prices)
    for path in write_data_files(
        config.performance_store, dates=prices.dates, buy_hold=bh, new_highs=highs,
        new_lows=lows, v=v, params=params, results=run.results, summary=summary,
    ):
        log.line(f"{path.name} written")
        result.files.append(path)
    if session.should_stop():
        return
    log.line("Generating PNG plots")
    title = f"{v.stockList} {v.uptrendSignalMethod}, {len(run.results)} trials"
    pdata = plot_data(prices, bh, run.results, title=title, backtested_at=now)
    config.webpage.mkdir(parents=True, exist_ok=True)
    for path in write_montecarlo_pngs(pdata, config.webpage, v.montecarlo_recent_start_date):
        log.line(f"{path.name} created")
        result.files.append(path)


def run_montecarlo_job(
    session: JobSession,
    config: Any,
    *,
    trials: int,
    workers: int,
    title: str,
    progress: Callable[[int], None] | None = None,
    now: dt.datetime | None = None,
    scheduler: str | None = None,
) -> MCJobResult:
    """Run a Monte Carlo job for ``config`` under ``session``; return how it ended.

    Reads the config's quote store; writes the data files into
    ``performance_store``, the PNGs into ``webpage``, log lines to
    ``session.log`` and the status file.  ``progress(n)`` is called as trials
    finish; ``now`` (default: the clock) is printed on the charts;
    ``scheduler`` runs the trials on that Dask cluster (``"local"``: a
    LocalCluster) instead of local worker processes.  Never
    raises for a trial, input or runtime failure (they end up in the result);
    ``KeyboardInterrupt`` is re-raised after a clean stop.
    """
    log = session.log
    result = MCJobResult(EXIT_FAILED, JobStatus.FAILED, total=trials)

    with job_lifecycle(session, bad_input=(BadInput,), on_end=result.take,
                       summary=lambda _: _summary(log, result)) as outcome:
        if not outcome.opened(session,
                              blocked="another Monte Carlo job holds the lock and did not stop"):
            return result
        prices, _, params, run = _compute(session, config, trials, workers, result, progress,
                                          scheduler)
        if run.stopped or session.should_stop():
            outcome.cancelled(f"cancelled ({session.stop.reason or 'stopped'})")
        elif not run.results or run.results[0].index != 0:
            outcome.failed("trial 0 (the configured strategy) failed: no output written")
        else:
            _write_outputs(session, config, prices, params, run, now or dt.datetime.now(), result)
            if session.should_stop():
                outcome.cancelled(f"cancelled ({session.stop.reason}) after the data files")
            elif result.failed:
                outcome.failed(f"{result.failed} trial(s) failed; outputs use the other "
                               f"{len(run.results)}; see {LOG_NAME}")
            else:
                outcome.succeeded()
    return result


def _summary(log: JobLog, r: MCJobResult) -> None:
    word = summary_word(r.state)
    log.rule()
    log.line(f"Monte Carlo backtest {word}" + (f": {r.message}" if r.message else ""))
    log.line(f"Trials: {r.done - r.failed} completed, {r.failed} failed, of {r.total}")
    log.line(f"Files written: {len(r.files)}")
    log.line(f"Total time: {r.seconds:.1f} seconds")
    log.rule()
