"""Starting the Monte Carlo job, and its detached entry point.

:func:`start_montecarlo` is what the daily run and ``pytaaa montecarlo`` call.
It skips the run while ``PyTAAA_monteCarloBacktest.png`` is fresher than
``montecarlo_freshness_hours`` (unless ``force``), then either starts the
detached job and returns at once (``async_montecarlo_backtest``, the default)
or runs the same job code in this process (sync).  Nothing here raises for a
runtime problem: the returned :class:`MonteCarloStart` says what happened and
the daily run goes on.

``python -m pytaaa.montecarlo.start --json-file CFG [--trials N] [--workers N] [--scheduler ADDR]``
is the detached job (the seed's runner): it re-reads the config and the quote
store and runs :func:`pytaaa.montecarlo.job.run_montecarlo_job`.  Without
``--json-file`` it exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytaaa.jobs.joblog import JobLog
from pytaaa.jobs.lifecycle import (
    JobLogError,
    detached_session,
    in_process_session,
    job_process,
    log_bad_config,
    terminal_progress,
)
from pytaaa.jobs.paths import JobPaths
from pytaaa.jobs.runtime import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    JobStart,
    StopFlag,
    launch,
    new_job_id,
)
from pytaaa.jobs.status import JobStatus
from pytaaa.montecarlo.job import KIND, LOG_NAME, header, run_montecarlo_job

__all__ = [
    "KIND",
    "LOG_NAME",
    "MAIN_PNG",
    "MonteCarloStart",
    "start_montecarlo",
    "png_age_hours",
    "is_stale",
    "main",
]

log = logging.getLogger(__name__)

#: The chart whose age decides whether the Monte Carlo results are stale.
MAIN_PNG = "PyTAAA_monteCarloBacktest.png"
SYNC_TITLE = "PyTAAA Monte Carlo Backtest (in-process)"
ASYNC_TITLE = "PyTAAA Background Monte Carlo Backtest"


@dataclass(frozen=True)
class MonteCarloStart(JobStart):
    """What :func:`start_montecarlo` did (see :class:`~pytaaa.jobs.runtime.JobStart`);
    ``"skipped"`` means the results are fresh."""

    trials: int = 0
    done: int = 0

    def sync_text(self) -> str:
        return f"{self.done - self.failed} of {self.trials} trials done, {self.failed} failed"


def png_age_hours(config: Any, now: dt.datetime | None = None) -> float | None:
    """Age in hours of ``<webpage>/PyTAAA_monteCarloBacktest.png`` at ``now``
    (default: the clock); None when it does not exist."""
    path = Path(config.webpage) / MAIN_PNG
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    ts = (now or dt.datetime.now()).timestamp()
    return (ts - mtime) / 3600.0


def is_stale(config: Any, now: dt.datetime | None = None) -> bool:
    """True when the main Monte Carlo PNG is missing or at least
    ``montecarlo_freshness_hours`` old at ``now``."""
    age = png_age_hours(config, now)
    return age is None or age >= float(config.valuation.montecarlo_freshness_hours)


def _run_sync(config: Any, trials: int, workers: int, grace: float, platform_label: str,
              source: str, now: dt.datetime, show_progress: bool,
              scheduler: str | None) -> MonteCarloStart:
    job_id = new_job_id()
    webpage = Path(config.webpage)
    try:
        with in_process_session(JobPaths(webpage, KIND), log_name=LOG_NAME, job_id=job_id,
                                workers=workers, grace=grace) as session:
            header(session.log, config, job_id=job_id, trials=trials, workers=workers,
                   platform_label=platform_label, title=SYNC_TITLE, source=source,
                   scheduler=scheduler)
            with terminal_progress(trials, show_progress, "Monte Carlo trials") as progress:
                r = run_montecarlo_job(session, config, trials=trials, workers=workers,
                                       title=SYNC_TITLE, progress=progress, now=now,
                                       scheduler=scheduler)
    except JobLogError as exc:
        log.error("Monte Carlo backtest not run: %s", exc)
        return MonteCarloStart("failed", job_id, trials=trials, reason=str(exc),
                               exit_code=EXIT_FAILED)
    log_path = webpage / LOG_NAME
    reason = None if r.state is JobStatus.SUCCEEDED else r.message
    return MonteCarloStart("sync", job_id, log=log_path, trials=trials, done=r.done,
                           failed=r.failed, exit_code=r.exit_code, reason=reason)


def start_montecarlo(
    config: Any,
    *,
    sync: bool | None = None,
    trials: int | None = None,
    force: bool = False,
    now: dt.datetime | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
) -> MonteCarloStart:
    """Run the Monte Carlo backtest of ``config`` if its results are stale.

    Reads ``config.valuation``: ``montecarlo_freshness_hours`` (a fresher main
    PNG means nothing is done unless ``force``), ``async_montecarlo_backtest``
    (unless ``sync`` is given; default async), ``montecarlo_trials`` (unless
    ``trials``; else the platform table), ``montecarlo_workers`` (unless
    ``workers``), ``dask_scheduler`` (unless ``scheduler``: run the trials on
    that Dask cluster, ``"local"`` a LocalCluster) and
    ``job_cancel_grace_seconds``.  Async: starts the detached
    job (superseding a running one for the same ``webpage``) and returns at
    once without waiting for the child.  Sync: runs the job here.  ``now``
    (default: the clock) decides freshness and is printed on the charts.
    Returns a :class:`MonteCarloStart`; never raises for a runtime problem;
    raises ``ValueError`` for ``trials`` or ``workers`` below 1.
    """
    from pytaaa.montecarlo.trials import (
        detect_platform,
        trial_count,
        trial_count_source,
    )

    v = config.valuation
    now = now or dt.datetime.now()
    if workers is not None and int(workers) < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if not force and not is_stale(config, now):
        age = png_age_hours(config, now) or 0.0
        reason = (f"{MAIN_PNG} is {age:.1f} h old, fresher than montecarlo_freshness_hours "
                  f"({float(v.montecarlo_freshness_hours):g} h); not rerun")
        log.info("Monte Carlo: %s", reason)
        return MonteCarloStart("skipped", reason=reason)
    info = detect_platform()
    n_trials = trial_count(v, trials, info)
    n_workers = int(workers if workers is not None else v.montecarlo_workers)
    scheduler = scheduler or v.dask_scheduler
    grace = float(v.job_cancel_grace_seconds)
    run_sync = (not v.async_montecarlo_backtest) if sync is None else bool(sync)
    if run_sync:
        return _run_sync(config, n_trials, n_workers, grace, info.label,
                         trial_count_source(v, trials), now,
                         sys.stderr.isatty() and log.isEnabledFor(logging.INFO), scheduler)
    job_id = new_job_id()
    args = ["--json-file", str(config.path), "--grace", repr(grace)]
    if trials is not None:
        args += ["--trials", str(n_trials)]
    if workers is not None:
        args += ["--workers", str(n_workers)]
    if scheduler:
        args += ["--scheduler", scheduler]
    res = launch(JobPaths(Path(config.webpage), KIND), module="pytaaa.jobs.montecarlo",
                 log_name=LOG_NAME, job_id=job_id, workers=n_workers, write_inputs=None,
                 args=args)
    return MonteCarloStart.launched(res, trials=n_trials)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pytaaa.jobs.montecarlo",
        description="Run the Monte Carlo backtest of a PyTAAA config (the Monte Carlo job).",
    )
    p.add_argument("--json-file", required=True, type=Path, help="PyTAAA JSON config file")
    p.add_argument("--trials", type=int, help="number of trials (default: config, else platform)")
    p.add_argument("--workers", type=int,
                   help="trial worker processes (default: montecarlo_workers)")
    p.add_argument("--scheduler", help="Dask scheduler address, or 'local' (default: dask_scheduler)")
    p.add_argument("--webpage", type=Path, help="site folder (for the status of a bad config)")
    p.add_argument("--job-id", help="job id (default: a new one)")
    p.add_argument("--grace", type=float, help="seconds a superseded job gets before SIGKILL")
    return p


def _fail_bad_config(args: argparse.Namespace, log_: JobLog, job_id: str, stop: StopFlag,
                     message: str) -> None:
    """Record a bad config as a ``failed`` status when the site folder is known."""
    if args.webpage is None:
        return
    with contextlib.suppress(OSError):
        args.webpage.mkdir(parents=True, exist_ok=True)
    detached_session(args.webpage, KIND, LOG_NAME, job_id=job_id, workers=0, log=log_,
                     grace=0.0, stop=stop).fail_without_lock(message, EXIT_BAD_INPUT)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the detached Monte Carlo job; returns the exit status.

    Reads ``--json-file`` and the store it names.  Exits 2 (argparse) without
    ``--json-file`` or with a bad number, 2 for a bad config, else the job's code.
    """
    from pytaaa.config import ConfigError, load_config
    from pytaaa.montecarlo.trials import (
        detect_platform,
        trial_count,
        trial_count_source,
    )

    parser = _parser()
    args = parser.parse_args(argv)
    if (args.trials is not None and args.trials < 1) or (
        args.workers is not None and args.workers < 1
    ):
        parser.error("--trials and --workers must be at least 1")
    if args.grace is not None and args.grace < 0:
        parser.error("--grace must be at least 0")
    stop, joblog, job_id = job_process(args.job_id)
    try:
        config = load_config(args.json_file)
    except ConfigError as exc:
        joblog.line(f"{ASYNC_TITLE}: job {job_id} (pid {os.getpid()})")
        code = log_bad_config(joblog, exc)
        _fail_bad_config(args, joblog, job_id, stop, f"bad config: {exc}")
        return code
    v = config.valuation
    info = detect_platform()
    n_trials = trial_count(v, args.trials, info)
    workers = int(args.workers or v.montecarlo_workers)
    scheduler = args.scheduler or v.dask_scheduler
    grace = float(v.job_cancel_grace_seconds if args.grace is None else args.grace)
    header(joblog, config, job_id=job_id, trials=n_trials, workers=workers,
           platform_label=info.label, title=ASYNC_TITLE, source=trial_count_source(v, args.trials),
           scheduler=scheduler)
    try:
        Path(config.webpage).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        joblog.line(f"\u2717 Cannot create the site folder {config.webpage}: {exc.strerror or exc}")
        return EXIT_FAILED
    session = detached_session(Path(config.webpage), KIND, LOG_NAME, job_id=job_id,
                               workers=workers, log=joblog, grace=grace, stop=stop)
    result = run_montecarlo_job(session, config, trials=n_trials, workers=workers,
                                title=ASYNC_TITLE, scheduler=scheduler)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
