"""The parameter search as a background job (job kind ``optimize``, ``jobs.md``).

:func:`start_optimize` is what ``pytaaa optimize`` calls: it starts the
detached job (``python -m pytaaa.models.optimize_job --json-file CFG ...``)
and returns at once, or runs the same job code in this process (sync).
Either way the job takes the ``optimize`` lock of the model's site folder
(a running search for the same ``webpage`` is superseded), logs a header,
one line per finished trial, the walk-forward summary, each file written and
the total time to ``<webpage>/optimize.log``, keeps ``<webpage>/.pytaaa/optimize.json``
current for ``pytaaa jobs`` and the page banner, and exits 0 (every trial
done), 1 (a trial failed, a runtime error, an unreachable Dask scheduler),
2 (bad config, store or arguments) or 143 (cancelled or superseded).

The trials run on a :class:`~pytaaa.jobs.executors.LocalPool` of ``workers``
processes, or on a Dask cluster when a scheduler address is given
(``--scheduler`` or ``dask_scheduler`` in the config; ``local`` starts a
LocalCluster).  The outputs are the same byte for byte either way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytaaa.jobs.executors import WorkerPool, make_worker_pool
from pytaaa.jobs.joblog import JobLog
from pytaaa.jobs.lifecycle import (
    JobLogError,
    JobOutcome,
    JobResult,
    detached_session,
    in_process_session,
    job_lifecycle,
    job_process,
    log_bad_config,
)
from pytaaa.jobs.paths import JobPaths
from pytaaa.jobs.runtime import (
    EXIT_FAILED,
    JobSession,
    JobStart,
    launch,
    new_job_id,
)
from pytaaa.jobs.status import JobStatus
from pytaaa.models.optimize import IN_YEARS, OUT_YEARS

__all__ = ["KIND", "LOG_NAME", "OptimizeStart", "OptimizeResult", "run_optimize_job",
           "start_optimize", "main"]

KIND = "optimize"
LOG_NAME = "optimize.log"
TITLE = "PyTAAA Strategy Parameter Search"


@dataclass(frozen=True)
class OptimizeStart(JobStart):
    """What :func:`start_optimize` did (see :class:`~pytaaa.jobs.runtime.JobStart`)."""

    trials: int = 0
    done: int = 0
    summary: str = ""

    def sync_text(self) -> str:
        return (f"{self.done - self.failed} of {self.trials} trials done, {self.failed} failed"
                + (f"; {self.summary}" if self.summary else ""))


@dataclass
class OptimizeResult(JobResult):
    """How a search job ended: exit code, state, counts, files, summary lines."""

    total: int = 0
    done: int = 0
    failed: int = 0
    files: list[Path] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def summary_lines(res: Any, dates: Any) -> list[str]:
    """The walk-forward summary: the in-sample best next to the stitched
    out-of-sample curve, over the same out-of-sample span."""
    from pytaaa.engine.backtest import series_stats

    best = res.trial(res.best)
    lines = [f"Best in-sample: trial {res.best}, whole-history Sharpe {best.sharpe:.2f}, "
             f"CAGR {_pct(best.stats['whole']['cagr'])} (chosen knowing the whole history)"]
    wf = res.walk
    if wf is None or not wf.folds:
        lines.append("Walk-forward validation: history too short (needs more than "
                     "the in-sample window)")
        return lines
    s = wf.folds[0].oos_start - 1
    span = f"{dates[s]} .. {dates[-1]}"
    for label, curve in (("walk-forward (out-of-sample)", wf.curve),
                         (f"best in-sample trial {res.best}", wf.best_curve),
                         ("config (trial 0)", wf.config_curve)):
        st = series_stats(curve[s:], dates[s:])
        lines.append(f"{span}, {label}: CAGR {_pct(st['cagr'])}, Sharpe {st['sharpe']:.2f}, "
                     f"max drawdown {_pct(st['max_drawdown'])}")
    return lines


def _compute(session: JobSession, config: Any, n_trials: int, seed: int, pool: WorkerPool,
             windows: tuple[float, float], result: OptimizeResult,
             progress: Callable[[int], None] | None) -> Any:
    from pytaaa.models.optimize import draw_search, load_prices, run_search
    from pytaaa.montecarlo.pool import share_data
    from pytaaa.montecarlo.trials import TrialError, prepare

    log = session.log
    t0 = time.monotonic()
    prices = load_prices(config)
    log.line(f"Data: {len(prices.symbols) - 1} symbols, {len(prices.dates)} days "
             f"({prices.dates[0]} .. {prices.dates[-1]}); cleaned in {time.monotonic() - t0:.1f} s")
    data = prepare(prices, config.valuation)
    if pool.local_files:
        try:
            data = share_data(data, session.work_dir())
        except OSError as exc:
            log.line(f"Cannot share the data through files ({exc.strerror or exc}); "
                     "sending a copy to each worker")
    params = draw_search(config.valuation, n_trials, seed)
    session.status.set_total(n_trials)
    session.status.set_state(JobStatus.RUNNING)
    log.line(f"Running {n_trials} trials on {pool.label}")

    def on_result(item: Any) -> None:
        result.done += 1
        if isinstance(item, TrialError):
            result.failed += 1
            reason = str(item).split(": ", 1)[-1]
            log.line(f"\u2717 Trial {result.done}/{n_trials} (#{item.index}) failed: {reason}")
            session.status.item_done("failed", f"trial {item.index}", reason)
        else:
            log.line(f"Trial {result.done}/{n_trials} complete: "
                     f"CAGR {_pct(item.stats['whole']['cagr'])}, Sharpe {item.sharpe:.2f} "
                     f"(#{item.index}, {item.cpu_seconds:.2f} s CPU)")
            session.status.item_done("created")
        if progress is not None:
            progress(1)

    res = run_search(data, params, pool=pool, on_result=on_result,
                     should_stop=session.should_stop, on_tick=session.status.tick,
                     in_years=windows[0], out_years=windows[1])
    if res.rebuilds:
        log.line(f"A worker process died; the pool was rebuilt {res.rebuilds} time(s)")
    return prices, res


def run_optimize_job(session: JobSession, config: Any, *, trials: int, seed: int,
                     workers: int, scheduler: str | None,
                     windows: tuple[float, float] = (IN_YEARS, OUT_YEARS),
                     progress: Callable[[int], None] | None = None,
                     today: dt.date | None = None) -> OptimizeResult:
    """Run a search of ``config`` under ``session``; return how it ended.

    ``windows``: the walk-forward in-sample and out-of-sample lengths in
    years.  Reads the config's quote store; writes the outputs of
    :mod:`pytaaa.models.optimize_out`, log lines and the status file.  Never
    raises for a trial, input or runtime failure (they end up in the result);
    ``KeyboardInterrupt`` is re-raised after a clean stop.
    """
    from pytaaa.jobs.dask_pool import DaskUnavailable
    from pytaaa.models.optimize import BadSearchInput
    from pytaaa.models.optimize_out import write_outputs

    log = session.log
    result = OptimizeResult(EXIT_FAILED, JobStatus.FAILED, total=trials)
    pool: WorkerPool | None = None

    def end(outcome: JobOutcome) -> None:
        if pool is not None:
            pool.close()
        result.take(outcome)

    def summary(outcome: JobOutcome) -> None:
        log.rule()
        log.line(f"Parameter search {outcome.state.value.upper()}"
                 + (f": {outcome.message}" if outcome.message else ""))
        log.line(f"Trials: {result.done - result.failed} completed, {result.failed} failed, "
                 f"of {result.total}; files written: {len(result.files)}")
        log.line(f"Total time: {result.seconds:.1f} seconds")
        log.rule()

    with job_lifecycle(session, bad_input=(BadSearchInput,), failures=(DaskUnavailable,),
                       on_end=end, summary=summary) as outcome:
        if not outcome.opened(
            session, blocked="another search holds the lock and did not stop",
            stopped="cancelled ({reason}) while waiting for the running search",
        ):
            return result
        try:
            pool = make_worker_pool(scheduler, max(1, min(workers, trials)))
        except ValueError as exc:
            raise BadSearchInput(str(exc)) from None
        prices, res = _compute(session, config, trials, seed, pool, windows, result, progress)
        if res.stopped or session.should_stop():
            outcome.cancelled(f"cancelled ({session.stop.reason or 'stopped'})")
        elif not res.results or res.results[0].index != 0:
            outcome.failed("trial 0 (the config) failed: no output written")
        else:
            result.summary = summary_lines(res, prices.dates)
            for line in result.summary:
                log.line(line)
            name = f"{Path(config.path).stem} ({config.valuation.uptrendSignalMethod})"
            for path in write_outputs(config, res, prices.dates, today or dt.date.today(), name):
                log.line(f"{path.name} written")
                result.files.append(path)
            if result.failed:
                outcome.failed(f"{result.failed} trial(s) failed; see {LOG_NAME}")
            else:
                outcome.succeeded()
    return result


def _header(log: JobLog, config: Any, job_id: str, trials: int, seed: int, workers: int,
            scheduler: str | None, windows: tuple[float, float]) -> None:
    v = config.valuation
    log.rule()
    log.line(f"{TITLE} Started")
    log.line(f"Job id: {job_id} (pid {os.getpid()})")
    log.line(f"Config: {config.path}")
    log.line(f"Trials: {trials}, seed: {seed}, method: {v.uptrendSignalMethod}, "
             f"stockList: {v.stockList}")
    log.line(f"Walk-forward: choose on {windows[0]:g} years in-sample, evaluate on the next "
             f"{windows[1]:g} year(s), rolled over the history")
    log.line(f"Workers: {workers}" + (f", Dask scheduler: {scheduler}" if scheduler else ""))
    log.rule()


def start_optimize(config: Any, *, sync: bool = False, trials: int, seed: int, workers: int,
                   scheduler: str | None = None,
                   windows: tuple[float, float] = (IN_YEARS, OUT_YEARS),
                   today: dt.date | None = None,
                   progress: Callable[[int], None] | None = None) -> OptimizeStart:
    """Start the search of ``config``: detached (default; returns at once) or
    in this process (``sync``).  Returns an :class:`OptimizeStart`; never
    raises for a runtime problem."""
    job_id = new_job_id()
    webpage = Path(config.webpage)
    paths = JobPaths(webpage, KIND)
    grace = float(config.valuation.job_cancel_grace_seconds)
    if not sync:
        args = ["--json-file", str(config.path), "--trials", str(trials), "--seed", str(seed),
                "--workers", str(workers), "--grace", repr(grace),
                "--insample-years", repr(windows[0]), "--outofsample-years", repr(windows[1])]
        if scheduler:
            args += ["--scheduler", scheduler]
        res = launch(paths, module="pytaaa.models.optimize_job", log_name=LOG_NAME,
                     job_id=job_id, workers=workers, write_inputs=None, args=args)
        return OptimizeStart.launched(res, trials=trials)
    try:
        with in_process_session(paths, log_name=LOG_NAME, job_id=job_id, workers=workers,
                                grace=grace) as session:
            _header(session.log, config, job_id, trials, seed, workers, scheduler, windows)
            r = run_optimize_job(session, config, trials=trials, seed=seed, workers=workers,
                                 scheduler=scheduler, windows=windows, progress=progress,
                                 today=today)
    except JobLogError as exc:
        return OptimizeStart("failed", job_id, trials=trials, exit_code=EXIT_FAILED,
                             reason=str(exc))
    log_path = webpage / LOG_NAME
    return OptimizeStart("sync", job_id, log=log_path, trials=trials, done=r.done,
                         failed=r.failed, exit_code=r.exit_code,
                         reason=None if r.state is JobStatus.SUCCEEDED else r.message,
                         summary="\n".join(r.summary))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the detached search job; returns the exit status
    (2 for bad arguments or a bad config, else the job's code)."""
    from pytaaa.config import ConfigError, load_config

    p = argparse.ArgumentParser(prog="python -m pytaaa.models.optimize_job",
                                description="Run the strategy parameter search of a config.")
    p.add_argument("--json-file", required=True, type=Path, help="PyTAAA JSON config file")
    p.add_argument("--trials", type=int, required=True, help="number of trials (>= 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (>= 0)")
    p.add_argument("--workers", type=int, default=2, help="local worker processes")
    p.add_argument("--scheduler", help="Dask scheduler address, or 'local'")
    p.add_argument("--webpage", type=Path, help="site folder (set by the launcher)")
    p.add_argument("--job-id", help="job id (default: a new one)")
    p.add_argument("--grace", type=float, default=5.0, help="seconds before SIGKILL when superseding")
    p.add_argument("--insample-years", type=float, default=IN_YEARS, help="walk-forward in-sample years")
    p.add_argument("--outofsample-years", type=float, default=OUT_YEARS,
                   help="walk-forward out-of-sample years")
    args = p.parse_args(argv)
    if args.trials < 1 or args.workers < 1 or args.seed < 0 or args.grace < 0:
        p.error("--trials and --workers must be at least 1, --seed and --grace at least 0")
    if not (args.insample_years > 0 and args.outofsample_years > 0):
        p.error("--insample-years and --outofsample-years must be positive")
    windows = (args.insample_years, args.outofsample_years)
    stop, joblog, job_id = job_process(args.job_id)
    try:
        config = load_config(args.json_file)
    except ConfigError as exc:
        return log_bad_config(joblog, exc)
    _header(joblog, config, job_id, args.trials, args.seed, args.workers, args.scheduler, windows)
    session = detached_session(Path(config.webpage), KIND, LOG_NAME, job_id=job_id,
                               workers=args.workers, log=joblog, grace=args.grace, stop=stop)
    result = run_optimize_job(session, config, trials=args.trials, seed=args.seed,
                              workers=args.workers, scheduler=args.scheduler, windows=windows)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
