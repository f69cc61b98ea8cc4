"""Starting the charts job from the daily run or the CLI.

:func:`start_charts` applies the config: the optional generation window
``plot_generation_hours`` (checked against an injectable ``now``), the mode
``async_plot_generation`` (or an explicit ``sync``), ``plot_generation_workers``
and ``job_cancel_grace_seconds``.  Async: it hands the inputs to a detached
job and returns at once with the job's pid.  Sync: it runs the same job code
in this process (a progress bar when stderr is a terminal) and returns the
counts.  Nothing here raises for a runtime problem: the result says what
happened, and the daily run goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from dataclasses import dataclass
from typing import Any

from pytaaa.charts.inputs import ChartJobInputs, ChartJobSpec, handoff_payload
from pytaaa.charts.job import (
    KIND,
    LOG_NAME,
    JobSetupError,
    header,
    prepare_output,
    run_charts_job,
)
from pytaaa.charts.worker import write_work_arrays
from pytaaa.jobs.handoff import write_handoff
from pytaaa.jobs.lifecycle import JobLogError, in_process_session, terminal_progress
from pytaaa.jobs.paths import JobPaths
from pytaaa.jobs.runtime import (
    EXIT_FAILED,
    JobStart,
    launch,
    new_job_id,
)
from pytaaa.jobs.status import JobStatus

__all__ = ["ChartsStart", "start_charts", "in_generation_window"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChartsStart(JobStart):
    """What :func:`start_charts` did (see :class:`~pytaaa.jobs.runtime.JobStart`);
    ``"skipped"`` means outside the generation window or nothing to chart."""

    created: int = 0
    skipped: int = 0

    def sync_text(self) -> str:
        return f"{self.created} drawn, {self.skipped} fresh, {self.failed} failed"


def in_generation_window(hours: list[int] | None, now: dt.datetime) -> bool:
    """True when ``hours`` is None (any hour) or contains ``now.hour`` (local time)."""
    return hours is None or now.hour in hours


def _run_sync(
    spec: ChartJobSpec, inputs: ChartJobInputs, workers: int, grace: float, show_progress: bool
) -> ChartsStart:
    job_id = new_job_id()
    title = "PyTAAA Plot Generation (in-process)"
    try:
        prepare_output(spec)
        with in_process_session(JobPaths(spec.output_dir, KIND), log_name=LOG_NAME,
                                job_id=job_id, workers=workers, grace=grace) as session:
            header(session.log, title, job_id, workers)
            try:
                write_work_arrays(session.work_dir(), inputs.arrays())
            except OSError as exc:
                session.fail_without_lock(f"cannot write worker data: {exc}", EXIT_FAILED)
                return ChartsStart("failed", job_id, reason=f"cannot write worker data: {exc}",
                                   exit_code=EXIT_FAILED)
            session.log.line(f"Data: {len(spec.symbols)} symbols, {spec.n_days} days")
            with terminal_progress(2 * len(spec.symbols), show_progress, "charts") as progress:
                r = run_charts_job(session, spec, workers=workers, title=title,
                                   progress=progress)
    except (JobSetupError, JobLogError) as exc:
        cause = exc.os_error if isinstance(exc, JobLogError) else exc
        log.error("charts not drawn: %s", cause)
        return ChartsStart("failed", job_id, reason=str(cause), exit_code=EXIT_FAILED)
    log_path = spec.output_dir / LOG_NAME
    reason = None if r.state is JobStatus.SUCCEEDED else r.message
    return ChartsStart("sync", job_id, log=log_path, created=r.created, skipped=r.skipped,
                       failed=r.failed, exit_code=r.exit_code, reason=reason)


def outside_window(config: Any, now: dt.datetime) -> ChartsStart | None:
    """The "skipped" outcome when ``now`` is outside the config's
    ``plot_generation_hours`` (logged), else None.  The daily run asks before it
    builds the charts' inputs (two copies of the price history)."""
    hours = config.valuation.plot_generation_hours
    if in_generation_window(hours, now):
        return None
    reason = (f"outside plot_generation_hours (hour {now.hour} not in "
              f"{sorted(hours or [])}); charts not drawn")
    log.info("charts: %s", reason)
    return ChartsStart("skipped", reason=reason)


def start_charts(
    config: Any,
    inputs: ChartJobInputs,
    *,
    sync: bool | None = None,
    workers: int | None = None,
    force: bool = False,
    now: dt.datetime | None = None,
    ignore_window: bool = False,
) -> ChartsStart:
    """Draw the per-symbol charts of ``inputs``, detached or here, as configured.

    Reads ``config.valuation``: ``plot_generation_hours`` (outside it nothing
    is drawn unless ``ignore_window``), ``async_plot_generation`` (unless
    ``sync`` is given), ``plot_generation_workers`` (unless ``workers``),
    ``job_cancel_grace_seconds``.  ``force`` redraws fresh charts; ``now``
    (default: the clock) decides the window and is printed on the charts.
    Returns a :class:`ChartsStart`; never raises for a runtime problem (it is
    logged and returned as mode ``failed``), ``ValueError`` for ``workers < 1``.
    """
    v = config.valuation
    now = now or dt.datetime.now()
    if not inputs.symbols:
        return ChartsStart("skipped", reason="no symbols to chart")
    skipped = None if ignore_window else outside_window(config, now)
    if skipped is not None:
        return skipped
    n_workers = int(workers if workers is not None else v.plot_generation_workers)
    if n_workers < 1:
        raise ValueError(f"workers must be at least 1, got {n_workers}")
    grace = float(v.job_cancel_grace_seconds)
    run_sync = (not v.async_plot_generation) if sync is None else sync
    spec = inputs.with_options(force=force or inputs.force).spec(now)
    if run_sync:
        return _run_sync(spec, inputs, n_workers, grace,
                         sys.stderr.isatty() and log.isEnabledFor(logging.INFO))
    job_id = new_job_id()
    res = launch(
        JobPaths(spec.output_dir, KIND),
        module="pytaaa.jobs.charts",
        log_name=LOG_NAME,
        job_id=job_id,
        workers=n_workers,
        write_inputs=lambda spool: write_handoff(
            spool, KIND, handoff_payload(spec), inputs.arrays()
        ),
        args=["--max-workers", str(n_workers), "--grace", repr(grace)],
    )
    return ChartsStart.launched(res)
