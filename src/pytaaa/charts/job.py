"""The charts job: two PNGs per symbol, drawn by a pool of worker processes.

One job code path serves both modes.  Detached (async), it is
``python -m pytaaa.charts.job --data-file F --max-workers N``: it reads and
deletes its hand-off, then runs :func:`run_charts_job`.  In sync mode
:func:`pytaaa.charts.start.start_charts` calls :func:`run_charts_job` in the
calling process.  Either way the job takes the ``charts`` lock of its site
folder (superseding a running charts job), skips every chart whose PNG is
younger than the freshness limit (checked per file before any drawing; the
pool is not even started when everything is fresh), draws the others in two
phases (full history, then recent), logs one line per chart, keeps the status
file current and exits 0 (all done), 1 (some chart failed or a runtime
error), 2 (bad hand-off or arguments) or 143 (cancelled by SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytaaa.jobs.handoff import HandoffError, open_handoff
from pytaaa.jobs.joblog import JobLog
from pytaaa.jobs.lifecycle import (
    JobOutcome,
    JobResult,
    detached_session,
    job_lifecycle,
    job_process,
    summary_word,
)
from pytaaa.jobs.paths import STATE_DIR_NAME, JobPaths
from pytaaa.jobs.pool import TaskOutcome, TaskRunner, make_process_pool
from pytaaa.jobs.runtime import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    JobSession,
)
from pytaaa.jobs.status import JobStatus

if TYPE_CHECKING:  # the chart modules import matplotlib: loaded by the job when it runs
    from pytaaa.charts.inputs import ChartJobSpec
    from pytaaa.charts.worker import WorkerSetup as WorkerSetupT

#: Chart kinds in phase order, with the label used in the log.
CHART_KINDS = (("full", "full history"), ("recent", "recent"))

__all__ = ["ChartJobResult", "run_charts_job", "main", "KIND", "LOG_NAME", "is_fresh"]

KIND = "charts"
LOG_NAME = "plot_generation.log"


@dataclass
class ChartJobResult(JobResult):
    """How a charts job ended: exit code, final state and counts."""

    total: int = 0
    created: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)


class JobSetupError(Exception):
    """The job cannot start (output folder missing and not creatable, not writable)."""


def is_fresh(path: Path, hours: float, now_ts: float) -> bool:
    """True when ``path`` exists and was modified less than ``hours`` before ``now_ts``."""
    try:
        return now_ts - path.stat().st_mtime < hours * 3600.0
    except OSError:
        return False


def prepare_output(spec: ChartJobSpec) -> None:
    """Create the output folder (and its parents) when missing; check it is writable.

    Raises :class:`JobSetupError` with a clear message when it cannot be
    created or a file cannot be created in it.
    """
    out = spec.output_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JobSetupError(
            f"output folder {out} does not exist and cannot be created: {exc.strerror or exc}"
        ) from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".pytaaa-write-test-", dir=out)
        os.close(fd)
        os.unlink(probe)
        JobPaths(out, KIND).ensure_state_dirs()
    except OSError as exc:
        raise JobSetupError(f"output folder {out} is not writable: {exc.strerror or exc}") from None


def _remove_stale_temp_pngs(out: Path) -> int:
    """Remove temporary chart files a killed job left (we hold the charts lock)."""
    n = 0
    for p in out.glob(".0_*.png.*.tmp"):
        with contextlib.suppress(OSError):
            p.unlink()
            n += 1
    return n


class _Run:
    """Bookkeeping of one run: counters, log lines, status, progress."""

    def __init__(self, session: JobSession, spec: ChartJobSpec, log: JobLog,
                 progress: Callable[[int], None] | None) -> None:
        self.session = session
        self.spec = spec
        self.log = log
        self.progress = progress
        self.result = ChartJobResult(EXIT_OK, JobStatus.RUNNING, total=2 * len(spec.symbols))
        self.phase = {"created": 0, "skipped": 0, "failed": 0}

    def _count(self, outcome: str, item: str | None = None, message: str | None = None) -> None:
        setattr(self.result, outcome, getattr(self.result, outcome) + 1)
        self.phase[outcome] += 1
        self.session.status.item_done(outcome, item, message)
        if self.progress is not None:
            self.progress(1)

    def skipped(self, symbol: str, label: str) -> None:
        self.log.item("\u2013", f"{symbol} ({label}, fresh)")
        self._count("skipped")

    def outcome(self, o: TaskOutcome) -> None:
        index, kind = o.item  # type: ignore[misc]
        symbol = self.spec.symbols[index]
        label = dict(CHART_KINDS)[kind]
        if o.ok:
            notes = "; ".join(o.value or [])
            self.log.item("\u2713", f"{symbol} ({label})" + (f" \u2014 {notes}" if notes else ""))
            self._count("created")
        else:
            self.log.item("\u2717", f"{symbol} ({label}): {o.error}")
            self.result.errors.append((f"{symbol} ({label})", o.error or ""))
            self._count("failed", f"{symbol} ({label})", o.error)


def run_charts_job(
    session: JobSession,
    spec: ChartJobSpec,
    *,
    workers: int,
    title: str,
    progress: Callable[[int], None] | None = None,
    executor_factory: Callable[[WorkerSetupT], Executor] | None = None,
) -> ChartJobResult:
    """Run a charts job whose work folder the caller has filled; return how it ended.

    Reads the arrays in ``session.work_dir()``; writes the PNGs of
    ``spec.symbols`` into ``spec.output_dir``, the log lines to
    ``session.log`` and the status file.  ``progress(n)`` is called as items
    finish.  ``executor_factory(setup)`` replaces the local process pool
    (any ``concurrent.futures.Executor`` whose workers ran
    ``init_worker(setup)``).  Never raises for a chart or runtime failure
    (they end up in the result); ``KeyboardInterrupt`` is re-raised after a
    clean stop.
    """
    from pytaaa.charts.symbol import chart_filename
    from pytaaa.charts.worker import (
        FAULTS_ENV,
        PRELOAD,
        WorkerSetup,
        init_worker,
        render_item,
    )

    log = session.log
    run = _Run(session, spec, log, progress)
    result = run.result
    runner: TaskRunner | None = None

    def end(outcome: JobOutcome) -> None:
        if runner is not None:
            runner.close(cancel=outcome.state is JobStatus.CANCELLED)
        result.take(outcome)

    with job_lifecycle(session, on_end=end,
                       summary=lambda _: _summary(log, title, result)) as outcome:
        if not outcome.opened(session, blocked="another charts job holds the lock and did not stop"):
            return result
        session.status.set_total(result.total)
        session.status.set_state(JobStatus.RUNNING)
        stale_tmp = _remove_stale_temp_pngs(spec.output_dir)
        if stale_tmp:
            log.line(f"Removed {stale_tmp} partial chart file(s) left by a killed job")
        setup = WorkerSetup(str(session.work_dir()), spec, os.environ.get(FAULTS_ENV, ""))

        def local_pool(setup: WorkerSetupT) -> Executor:
            return make_process_pool(workers, init_worker, (setup,), preload=PRELOAD)

        factory = executor_factory or local_pool
        runner = TaskRunner(
            lambda: factory(setup),
            render_item,
            max_outstanding=2 * workers,
            on_outcome=run.outcome,
            should_stop=session.should_stop,
            on_tick=session.status.tick,
            on_rebuild=lambda items: log.line(
                f"A worker process died; restarting the pool and retrying {len(items)} chart(s)"
            ),
        )
        now_ts = time.time()
        stopped = False
        for k, (kind, label) in enumerate(CHART_KINDS, start=1):
            log.line(f"Phase {k}: Generating {label} plots...")
            run.phase = {"created": 0, "skipped": 0, "failed": 0}
            todo = []
            for i, symbol in enumerate(spec.symbols):
                path = spec.output_dir / chart_filename(symbol, kind)
                if not spec.force and is_fresh(path, spec.freshness_hours, now_ts):
                    run.skipped(symbol, label)
                else:
                    todo.append((i, kind))
            if todo and not runner.run(todo):
                stopped = True
                break
            p = run.phase
            log.line(f"Phase {k} complete: {p['created']} created, {p['skipped']} skipped, "
                     f"{p['failed']} errors")
        if stopped or session.should_stop():
            outcome.cancelled(f"cancelled ({session.stop.reason})")
        elif result.failed:
            outcome.failed(f"{result.failed} chart(s) failed; see {LOG_NAME}")
        else:
            outcome.succeeded()
    return result


def _summary(log: JobLog, title: str, r: ChartJobResult) -> None:
    word = summary_word(r.state)
    log.rule()
    name = title.removeprefix("PyTAAA ").capitalize()  # "Background plot generation"
    log.line(f"{name} {word}" + (f": {r.message}" if r.message else ""))
    log.line(f"Total time: {r.seconds:.1f} seconds")
    log.line(f"Total plots: {r.created} created, {r.skipped} skipped, {r.failed} errors")
    log.rule()


def header(log: JobLog, title: str, job_id: str, workers: int) -> None:
    """The first lines of a charts job log."""
    log.rule()
    log.line(f"{title} Started")
    log.line(f"Job id: {job_id} (pid {os.getpid()})")
    log.line(f"Max workers: {workers}")
    log.rule()


def _infer_webpage(data_file: Path) -> Path | None:
    parent = data_file.resolve().parent
    if parent.name == "spool" and parent.parent.name == STATE_DIR_NAME:
        return parent.parent.parent
    return None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pytaaa.jobs.charts",
        description="Draw the per-symbol charts described by a hand-off file (the charts job).",
    )
    p.add_argument("--data-file", required=True, type=Path, help="hand-off file (.npz) to read")
    p.add_argument("--max-workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--webpage", type=Path, help="site folder (for the status of a bad hand-off)")
    p.add_argument("--job-id", help="job id (default: a new one)")
    p.add_argument("--handoff-fd", type=int, help="inherited descriptor locking the hand-off")
    p.add_argument("--grace", type=float, default=5.0,
                   help="seconds a superseded job gets before SIGKILL (default 5)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the detached charts job; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.max_workers < 1 or args.grace < 0:
        parser.error("--max-workers must be at least 1 and --grace at least 0")
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING,
                        format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    stop, log, job_id = job_process(args.job_id)
    title = "PyTAAA Background Plot Generation"
    header(log, title, job_id, args.max_workers)
    log.line(f"Loading plot data from {args.data_file}")
    session: JobSession | None = None
    try:
        with open_handoff(args.data_file, KIND, fd=args.handoff_fd) as reader:
            try:
                from pytaaa.charts.inputs import read_chart_handoff
            except ImportError as exc:
                raise JobSetupError(f"cannot load the chart renderer: {exc}") from None
            spec = read_chart_handoff(reader)
            prepare_output(spec)
            session = detached_session(spec.output_dir, KIND, LOG_NAME, job_id=job_id,
                                       workers=args.max_workers, log=log, grace=args.grace,
                                       stop=stop)
            work = session.work_dir()
            for name in reader.arrays:
                reader.copy_to(name, work / f"{name}.npy")
    except (HandoffError, JobSetupError, OSError) as exc:
        bad_input = isinstance(exc, HandoffError)
        text = str(exc)
        log.line(f"\u2717 {'Bad hand-off file' if bad_input else 'Cannot start'}: {text}")
        log.line(f"Removed hand-off file {args.data_file}")
        code = EXIT_BAD_INPUT if bad_input else EXIT_FAILED
        webpage = args.webpage or _infer_webpage(args.data_file)
        if session is None and webpage is not None:
            session = detached_session(webpage, KIND, LOG_NAME, job_id=job_id,
                                       workers=args.max_workers, log=log, grace=args.grace,
                                       stop=stop)
        if session is not None:
            session.fail_without_lock(text, code)
        return code
    finally:
        if args.handoff_fd is not None:
            with contextlib.suppress(OSError):
                os.close(args.handoff_fd)
    log.line(f"Data loaded: {len(spec.symbols)} symbols, {spec.n_days} days; "
             f"hand-off file removed")
    result = run_charts_job(session, spec, workers=args.max_workers, title=title)
    return result.exit_code


def run_as_main() -> None:
    """Run :func:`main` as a process entry point and end the process.

    Everything is written and released when :func:`main` returns: end now,
    whatever thread a broken worker pool may have left waiting (it would
    otherwise delay the exit).
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run_as_main()
