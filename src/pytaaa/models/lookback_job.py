"""The lookback search as a background job (job kind ``lookback_search``, ``jobs.md``).

:func:`start_lookback_search` is what ``pytaaa models search`` calls: it
starts ``python -m pytaaa.models.lookback_job --json-file CFG ...`` detached
and returns at once, or runs the same job code in this process (sync).  The
job takes the ``lookback_search`` lock of the switching account's site folder
(superseding a running search), logs ``[HH:MM:SS]`` lines (header, every new
best, progress every 5,000 iterations, the files, total time) to
``<webpage>/lookback_search.log``, keeps ``<webpage>/.pytaaa/lookback_search.json``
current for ``pytaaa jobs`` and the page banner (total = iterations), and
exits 0 (done), 1 (a runtime error), 2 (bad config or no model series) or
143 (cancelled or superseded).

The iterations run in the job process, in order, from one seeded stream (the
refinement depends on the best so far), so the rows depend on the seed only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

__all__ = ["KIND", "LOG_NAME", "LookbackStart", "run_lookback_job", "start_lookback_search",
           "main"]

KIND = "lookback_search"
LOG_NAME = "lookback_search.log"
PROGRESS_EVERY = 5000


@dataclass(frozen=True)
class LookbackStart(JobStart):
    """What :func:`start_lookback_search` did (see :class:`~pytaaa.jobs.runtime.JobStart`)."""

    iterations: int = 0
    best: str = ""

    def sync_text(self) -> str:
        return f"{self.iterations} iterations" + (f"; {self.best}" if self.best else "")


@dataclass
class LookbackResult(JobResult):
    """How a lookback-search job ended."""

    done: int = 0
    best: str = ""
    files: list[Path] = field(default_factory=list)


class _BadInput(Exception):
    pass


def _load(config: Any) -> Any:
    """Switching settings, search settings, model series; :class:`_BadInput` when unusable."""
    from pytaaa.models.lookback import LookbackScorer, read_search_settings
    from pytaaa.models.series import NoModelsError, read_model_series
    from pytaaa.models.settings import SwitchingConfigError, read_switching

    try:
        settings = read_switching(config)
        search = read_search_settings(config.raw if isinstance(config.raw, dict) else {},
                                      config.path)
        series, warnings = read_model_series(settings)
        return settings, search, LookbackScorer(series, settings, search), warnings
    except (SwitchingConfigError, NoModelsError, ValueError) as exc:
        raise _BadInput(str(exc)) from None


def _describe(ev: Any) -> str:
    per = ", ".join(f"{k} {v:.3f}" for k, v in ev.normalized.items())
    return (f"lookbacks {' / '.join(str(x) for x in ev.lookbacks)}: score {ev.score:.4f} "
            f"(normalized: {per})")


def run_lookback_job(session: JobSession, config: Any, *, iterations: int | None, seed: int,
                     progress: Callable[[int], None] | None = None) -> LookbackResult:
    """Run the lookback search of switching ``config`` under ``session``.

    Reads the models' series; writes the CSV and the PNG of
    :mod:`pytaaa.models.lookback_out`, log lines and the status.  Never raises
    for an input or runtime failure; ``KeyboardInterrupt`` is re-raised.
    """
    from pytaaa._io import atomic_write_text
    from pytaaa.models.lookback import run_lookback_search
    from pytaaa.models.lookback_out import CSV_NAME, PNG_NAME, csv_text, plot_search

    log = session.log
    result = LookbackResult(EXIT_FAILED, JobStatus.FAILED)

    def summary(outcome: JobOutcome) -> None:
        log.line(f"Lookback search {outcome.state.value.upper()}"
                 + (f": {outcome.message}" if outcome.message else "")
                 + f"; total time {outcome.seconds:.1f} s")

    t0 = time.monotonic()
    with job_lifecycle(session, bad_input=(_BadInput,), on_end=result.take,
                       summary=summary) as outcome:
        waiting = "stopped while waiting for the running search"
        if not outcome.opened(session, blocked=waiting, stopped=waiting):
            return result
        settings, search, scorer, warnings = _load(config)
        for w in warnings:
            log.line(f"Warning: {w}")
        n = int(iterations or search.iterations)
        series = scorer.series
        log.line(f"Models: {', '.join(series.names)}; {len(series.dates)} days "
                 f"({series.dates[0]} .. {series.dates[-1]}), {len(scorer.days)} decision days")
        log.line(f"Lookbacks in [{search.min_lookback}, {search.max_lookback}], {n} iterations, "
                 f"seed {seed}; score over " + ", ".join(
                     f"{label} ({series.dates[a]} .. {series.dates[b]}, weight {w:g})"
                     for label, a, b, w in scorer.spans))
        log.line(f"Precomputed the window metrics of {search.max_lookback - search.min_lookback + 1}"
                 f" lookbacks in {time.monotonic() - t0:.1f} s")
        session.status.set_total(n)
        session.status.set_state(JobStatus.RUNNING)

        def on_best(row: Any) -> None:
            log.line(f"New best at iteration {row.iteration}: {_describe(row.evaluation)}")

        def on_progress(i: int) -> None:
            session.status.data["done"] = session.status.data["created"] = i
            session.status.maybe_flush()
            if i % PROGRESS_EVERY == 0:
                log.line(f"Iteration {i}/{n}")
            if progress is not None:
                progress(i)

        out = run_lookback_search(scorer, settings.lookbacks, seed, n, on_best=on_best,
                                  on_progress=on_progress, should_stop=session.should_stop)
        result.done = out.done
        session.status.data["done"] = session.status.data["created"] = out.done
        if out.stopped or session.should_stop():
            outcome.cancelled(f"cancelled ({session.stop.reason or 'stopped'})")
        else:
            result.best = f"best {_describe(out.best.evaluation)}"
            log.line(f"Done: {out.done} iterations, {out.scored} distinct lookback sets; "
                     f"{result.best}")
            csv_path = Path(config.performance_store) / CSV_NAME
            csv_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(csv_path, csv_text(out, scorer))
            Path(config.webpage).mkdir(parents=True, exist_ok=True)
            png = plot_search(out, scorer, Path(config.webpage) / PNG_NAME)
            for p in (csv_path, png):
                log.line(f"{p.name} written")
                result.files.append(p)
            log.line(f"Write row N into the config: pytaaa models apply --json {config.path} "
                     f"--row N (row {len(out.rows) - 1} is the best)")
            outcome.succeeded()
    return result


def _header(log: JobLog, config: Any, job_id: str, iterations: int | None, seed: int) -> None:
    log.rule()
    log.line("PyTAAA Lookback Search Started")
    log.line(f"Job id: {job_id} (pid {os.getpid()}); config: {config.path}")
    log.line(f"Iterations: {iterations or 'monte_carlo.max_iterations'}, seed: {seed}")
    log.rule()


def start_lookback_search(config: Any, *, sync: bool = False, iterations: int | None = None,
                          seed: int = 0) -> LookbackStart:
    """Start the lookback search of switching ``config``: detached (default,
    returns at once) or in this process (``sync``).  Never raises for a
    runtime problem."""
    job_id = new_job_id()
    webpage = Path(config.webpage)
    paths = JobPaths(webpage, KIND)
    grace = float(config.valuation.job_cancel_grace_seconds)
    if not sync:
        args = ["--json-file", str(config.path), "--seed", str(seed), "--grace", repr(grace)]
        if iterations:
            args += ["--iterations", str(iterations)]
        res = launch(paths, module="pytaaa.models.lookback_job", log_name=LOG_NAME,
                     job_id=job_id, workers=1, write_inputs=None, args=args)
        return LookbackStart.launched(res)
    try:
        with in_process_session(paths, log_name=LOG_NAME, job_id=job_id, workers=1,
                                grace=grace) as session:
            _header(session.log, config, job_id, iterations, seed)
            r = run_lookback_job(session, config, iterations=iterations, seed=seed)
    except JobLogError as exc:
        return LookbackStart("failed", job_id, exit_code=EXIT_FAILED, reason=str(exc))
    log_path = webpage / LOG_NAME
    return LookbackStart("sync", job_id, log=log_path, iterations=r.done, exit_code=r.exit_code,
                         reason=None if r.state is JobStatus.SUCCEEDED else r.message,
                         best=r.best)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the detached lookback search; returns the exit status."""
    from pytaaa.config import ConfigError, load_config

    p = argparse.ArgumentParser(prog="python -m pytaaa.models.lookback_job",
                                description="Run the lookback search of a switching config.")
    p.add_argument("--json-file", required=True, type=Path, help="switching config")
    p.add_argument("--iterations", type=int, help="iterations (default: max_iterations)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--webpage", type=Path, help="site folder (set by the launcher)")
    p.add_argument("--job-id", help="job id (default: a new one)")
    p.add_argument("--grace", type=float, default=5.0, help="seconds before SIGKILL")
    args = p.parse_args(argv)
    if (args.iterations is not None and args.iterations < 1) or args.seed < 0 or args.grace < 0:
        p.error("--iterations must be at least 1, --seed and --grace at least 0")
    stop, joblog, job_id = job_process(args.job_id)
    try:
        config = load_config(args.json_file)
    except ConfigError as exc:
        return log_bad_config(joblog, exc)
    _header(joblog, config, job_id, args.iterations, args.seed)
    session = detached_session(Path(config.webpage), KIND, LOG_NAME, job_id=job_id, workers=1,
                               log=joblog, grace=args.grace, stop=stop)
    return run_lookback_job(session, config, iterations=args.iterations, seed=args.seed).exit_code


if __name__ == "__main__":
    sys.exit(main())
