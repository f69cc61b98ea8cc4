"""The lifecycle every job kind shares, written once.

- :class:`JobOutcome`: how a run ended, as (``JobStatus``, exit code, message).
- :class:`JobResult`: what a run returns (each kind adds its counts).
- :func:`job_lifecycle`: a context manager around a job's body that maps an
  escaping exception to an outcome (bad input: exit 2; the kind's own
  failures: exit 1; ``KeyboardInterrupt``: cancelled, re-raised; any other
  error: ``job error: {type}: {exc}``, exit 1), then runs the kind's end step
  and its summary (only while the lock is held) and closes the session.
- :meth:`JobOutcome.opened`: open the session, or record why it could not be.
- :func:`in_process_session`: the sync path of a ``start_*`` function (rotate
  and open the log, a session in this process, close the log).
- :func:`terminal_progress`: the progress bar of an in-process run on a terminal.
- :func:`job_process`, :func:`detached_session`, :func:`log_bad_config`: the
  scaffolding of a ``python -m`` entry point.

Nothing here knows a job kind: the callers pass their texts and exceptions.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pytaaa.jobs.joblog import JobLog, open_log_for_append, rotate_log
from pytaaa.jobs.paths import JobPaths
from pytaaa.jobs.runtime import (
    EXIT_BAD_INPUT,
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    JobSession,
    StopFlag,
    install_sigterm,
    new_job_id,
)
from pytaaa.jobs.status import JobStatus

__all__ = [
    "JobOutcome",
    "JobResult",
    "JobLogError",
    "job_lifecycle",
    "in_process_session",
    "job_process",
    "detached_session",
    "log_bad_config",
    "terminal_progress",
    "summary_word",
]

#: The mark in front of a log line that says why a job failed or stopped.
FAIL_MARK = "\u2717"


@dataclass
class JobOutcome:
    """How a job run ended: ``state``, ``exit_code`` and ``message`` (None when
    there is nothing to say); ``seconds`` is set by :func:`job_lifecycle`.

    A fresh outcome is a failure with exit 1 and no message: a body that ends
    without saying otherwise failed.
    """

    state: JobStatus = JobStatus.FAILED
    exit_code: int = EXIT_FAILED
    message: str | None = None
    seconds: float = 0.0

    def succeeded(self) -> None:
        """The job did all it had to: ``succeeded``, exit 0, no message."""
        self.state, self.exit_code, self.message = JobStatus.SUCCEEDED, EXIT_OK, None

    def cancelled(self, message: str) -> None:
        """The job was stopped (SIGTERM, cancel request, Ctrl-C): exit 143."""
        self.state, self.exit_code, self.message = JobStatus.CANCELLED, EXIT_CANCELLED, message

    def failed(self, message: str | None, exit_code: int = EXIT_FAILED) -> None:
        """The job failed: exit ``exit_code`` (1, or 2 for bad input)."""
        self.state, self.exit_code, self.message = JobStatus.FAILED, exit_code, message

    def opened(self, session: JobSession, *, blocked: str,
               stopped: str = "cancelled ({reason}) while waiting for the running job") -> bool:
        """Open ``session`` (take the lock, mark it running); True when it is open.

        Otherwise record why and log it after the failure mark: ``stopped``
        (``{reason}`` is replaced by the stop reason; cancelled, exit 143)
        when the job was stopped while waiting, else ``blocked`` (failed,
        exit 1).  Raises what :meth:`JobSession.open` raises.
        """
        if session.open():
            return True
        if session.stop:
            self.cancelled(stopped.format(reason=session.stop.reason))
        else:
            self.failed(blocked)
        session.log.line(f"{FAIL_MARK} {self.message}")
        return False


@dataclass
class JobResult:
    """What a job run returns: ``exit_code``, final ``state``, ``message`` and
    ``seconds``; each job kind extends it with its counts and files."""

    exit_code: int
    state: JobStatus
    message: str | None = None
    seconds: float = 0.0

    def take(self, outcome: JobOutcome) -> None:
        """Copy the ending of :class:`JobOutcome` ``outcome`` into this result."""
        self.state, self.exit_code = outcome.state, outcome.exit_code
        self.message, self.seconds = outcome.message, outcome.seconds


def summary_word(state: JobStatus) -> str:
    """The word a job's closing summary uses for ``state``: ``COMPLETED``,
    ``FINISHED WITH ERRORS``, ``CANCELLED``, else the state in capitals."""
    return {
        JobStatus.SUCCEEDED: "COMPLETED",
        JobStatus.FAILED: "FINISHED WITH ERRORS",
        JobStatus.CANCELLED: "CANCELLED",
    }.get(state, state.value.upper())


@contextlib.contextmanager
def job_lifecycle(
    session: JobSession,
    *,
    bad_input: tuple[type[Exception], ...] = (),
    failures: tuple[type[Exception], ...] = (),
    on_end: Callable[[JobOutcome], None] | None = None,
    summary: Callable[[JobOutcome], None] | None = None,
) -> Iterator[JobOutcome]:
    """Run a job's body under ``session``; yield the :class:`JobOutcome` it fills in.

    An exception escaping the body becomes the outcome and a log line: one of
    ``bad_input`` fails with exit 2 and its text, one of ``failures`` with
    exit 1 and its text, any other ``Exception`` with exit 1 and
    ``job error: {type}: {exc}``; ``KeyboardInterrupt`` sets the stop flag,
    cancels (``interrupted``) and is re-raised after the end step.  At the
    end, whatever happened: ``outcome.seconds`` is set, ``on_end(outcome)``
    runs (the kind's clean-up and result), then ``summary(outcome)`` if the
    session still holds the lock, and the session is closed with the outcome.
    """
    t0 = time.monotonic()
    outcome = JobOutcome()
    log = session.log
    try:
        yield outcome
    except bad_input as exc:
        outcome.failed(str(exc), EXIT_BAD_INPUT)
        log.line(f"{FAIL_MARK} {outcome.message}")
    except failures as exc:
        outcome.failed(str(exc))
        log.line(f"{FAIL_MARK} {outcome.message}")
    except KeyboardInterrupt:
        session.stop.set("interrupted")
        outcome.cancelled("interrupted")
        raise
    except Exception as exc:  # a runtime error of the job itself: record it, exit 1
        outcome.failed(f"job error: {type(exc).__name__}: {exc}")
        log.line(f"{FAIL_MARK} {outcome.message}")
    finally:
        outcome.seconds = time.monotonic() - t0
        try:
            if on_end is not None:
                on_end(outcome)
            if summary is not None and session.lock.held:
                summary(outcome)
        finally:
            session.close(outcome.state, outcome.exit_code, outcome.message)


class JobLogError(Exception):
    """The log of an in-process run could not be opened; ``os_error`` says why."""

    def __init__(self, message: str, os_error: OSError) -> None:
        super().__init__(message)
        self.os_error = os_error


@contextlib.contextmanager
def in_process_session(paths: JobPaths, *, log_name: str, job_id: str, workers: int,
                       grace: float) -> Iterator[JobSession]:
    """A session for running job ``paths.kind`` in this process (sync mode).

    Creates the site folder, rotates ``<webpage>/<log_name>`` (the previous
    log kept as ``.1``) and opens it; yields a non-detached
    :class:`JobSession` logging there with its own :class:`StopFlag`; closes
    the log at the end.  Raises :class:`JobLogError` (``cannot open the log
    PATH: REASON``) when the folder or the log cannot be made.
    """
    log_path = paths.webpage / log_name
    try:
        paths.webpage.mkdir(parents=True, exist_ok=True)
        rotate_log(log_path)
        stream = open_log_for_append(log_path)
    except OSError as exc:
        raise JobLogError(f"cannot open the log {log_path}: {exc.strerror or exc}", exc) from None
    joblog = JobLog(stream)
    try:
        yield JobSession(paths, job_id=job_id, workers=workers, log=joblog, log_path=log_path,
                         detached=False, grace=grace, stop=StopFlag())
    finally:
        joblog.close()


@contextlib.contextmanager
def terminal_progress(total: int, enabled: bool,
                      label: str) -> Iterator[Callable[[int], None] | None]:
    """A transient ``rich`` progress bar named ``label`` for ``total`` items.

    Yields ``advance(n)`` (n more items done) or, when not ``enabled`` or
    ``total`` is not positive, None; the bar disappears at the end.
    """
    if not enabled or total <= 0:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeRemainingColumn,
    )

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def job_process(job_id: str | None) -> tuple[StopFlag, JobLog, str]:
    """Set up a detached job process (call from its main thread).

    Returns a :class:`StopFlag` that SIGTERM sets, a :class:`JobLog` on
    standard output (the launcher sends it to the job's log file) and the job
    id: ``job_id`` or, when None or empty, a new one.
    """
    stop = StopFlag()
    install_sigterm(stop)
    return stop, JobLog(sys.stdout), job_id or new_job_id()


def detached_session(webpage: Path, kind: str, log_name: str, *, job_id: str, workers: int,
                     log: JobLog, grace: float, stop: StopFlag) -> JobSession:
    """The :class:`JobSession` of a detached job of ``kind`` for site folder
    ``webpage``, whose log is ``<webpage>/<log_name>``."""
    return JobSession(JobPaths(webpage, kind), job_id=job_id, workers=workers, log=log,
                      log_path=webpage / log_name, detached=True, grace=grace, stop=stop)


def log_bad_config(log: JobLog, error: Exception) -> int:
    """Log every line of a config error as ``✗ Bad config: LINE``; return exit code 2."""
    for line in str(error).splitlines():
        log.line(f"{FAIL_MARK} Bad config: {line}")
    return EXIT_BAD_INPUT
