"""The background-job runtime shared by every job kind (charts, Monte Carlo).

Caller side, :func:`launch`: remove orphaned hand-offs, write the job's
hand-off, rotate the job's log, start ``python -m <module>`` detached (stdin
from /dev/null, stdout and stderr to the log, a new session, every other
descriptor closed, the current interpreter and installed package) and return
at once.  A daemon thread of the caller waits for the child, so a long-lived
caller never accumulates zombies.  Any failure is returned, never raised, and
leaves no hand-off behind.

Job side, :class:`JobSession`: take the kind's lock (superseding a running job
of the same kind and site), record the owner, keep the status file, answer
cancel requests and SIGTERM through a :class:`StopFlag`, clean up what dead
jobs left, and release everything at the end.  The same session code runs in
the calling process for sync mode.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from pytaaa.jobs.handoff import Handoff, WorkDir, cleanup_spool
from pytaaa.jobs.joblog import JobLog, open_log_for_append, rotate_log
from pytaaa.jobs.lock import (
    JobLock,
    Owner,
    cancel_requested,
    lock_is_free,
    take_over,
    write_owner,
)
from pytaaa.jobs.paths import JobPaths
from pytaaa.jobs.pool import THREAD_ENV
from pytaaa.jobs.status import JobStatus, StatusWriter, finalize_status, write_queued

__all__ = [
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_BAD_INPUT",
    "EXIT_CANCELLED",
    "LaunchResult",
    "StopFlag",
    "JobSession",
    "launch",
    "new_job_id",
    "install_sigterm",
    "cancel_job",
]

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 143

#: Environment variables never passed on to a job.
SECRET_ENV = ("PYTAAA_SMTP_PASSWORD",)


def new_job_id(clock: Callable[[], dt.datetime] = dt.datetime.now) -> str:
    """A job id: local start time plus 6 random hex digits, e.g. ``20260224-143215-a1b2c3``."""
    return f"{clock():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class LaunchResult:
    """What :func:`launch` did: ``ok`` with the child's ``pid``, or the ``error``."""

    ok: bool
    job_id: str
    pid: int | None = None
    log: Path | None = None
    error: str | None = None


_Start = TypeVar("_Start", bound="JobStart")


@dataclass(frozen=True)
class JobStart:
    """What starting a job did; each job kind extends it with its own counts.

    ``mode``: ``"async"`` (a job was started: ``pid``, ``job_id``, ``log``),
    ``"sync"`` (run in this process: counts and ``exit_code``), ``"skipped"``
    (nothing to do: ``reason``) or ``"failed"`` (it could not be started or
    could not run: ``reason``).
    """

    mode: str
    job_id: str | None = None
    pid: int | None = None
    log: Path | None = None
    failed: int = 0
    exit_code: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.mode in ("async", "skipped") or (self.mode == "sync" and self.exit_code == 0)

    @classmethod
    def launched(cls: type[_Start], res: LaunchResult, **counts: Any) -> _Start:
        """What :func:`launch` did as a start: ``async`` with the child's pid and
        log, or ``failed`` with the launch error; ``counts`` go to both."""
        if not res.ok:
            return cls("failed", res.job_id, reason=res.error, **counts)
        return cls("async", res.job_id, pid=res.pid, log=res.log, **counts)

    def sync_text(self) -> str:
        """The counts of a sync run, for :meth:`describe`."""
        return f"{self.failed} failed"

    def describe(self) -> str:
        """One line for the daily run's summary."""
        if self.mode == "async":
            return f"background job {self.job_id} started (pid {self.pid}); log: {self.log}"
        if self.mode == "sync":
            text = self.sync_text()
            return text + (f" ({self.reason})" if self.reason else "")
        return f"{self.mode}: {self.reason}"


def child_env() -> dict[str, str]:
    """The environment of a job: the caller's, minus secrets, plus one-thread BLAS."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env.update(THREAD_ENV)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def launch(
    paths: JobPaths,
    *,
    module: str,
    log_name: str,
    job_id: str,
    workers: int,
    write_inputs: Callable[[Path], Handoff] | None,
    args: list[str],
) -> LaunchResult:
    """Start ``python -m module`` detached for job ``paths.kind``; return at once.

    ``write_inputs(spool_dir)`` writes the hand-off, whose path and lock
    descriptor are passed to the child as ``--data-file F --handoff-fd N``
    before ``args``.  The child's output goes to ``<webpage>/<log_name>`` (the
    previous log kept as ``.1``).  Creates the site folder and its state
    folder if missing.  Never raises for a runtime problem: the returned
    :class:`LaunchResult` says what failed, and the failure is logged.
    """
    handoff: Handoff | None = None
    log_path = paths.webpage / log_name
    try:
        paths.webpage.mkdir(parents=True, exist_ok=True)
        paths.ensure_state_dirs()
        cleanup_spool(paths.spool_dir)
        if write_inputs is not None:
            handoff = write_inputs(paths.spool_dir)
        rotate_log(log_path)
        logf = open_log_for_append(log_path)
    except OSError as exc:
        if handoff is not None:
            handoff.discard()
        return _failed(paths, job_id, f"cannot prepare the job ({_os_reason(exc)})")
    cmd = [sys.executable, "-m", module, "--webpage", str(paths.webpage), "--job-id", job_id]
    pass_fds: tuple[int, ...] = ()
    if handoff is not None:
        cmd += ["--data-file", str(handoff.path)]
        if handoff.lock_fd is not None:
            cmd += ["--handoff-fd", str(handoff.lock_fd)]
            pass_fds = (handoff.lock_fd,)
    cmd += args
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            pass_fds=pass_fds,
            env=child_env(),
            cwd=str(paths.state_dir),
        )
    except (OSError, ValueError) as exc:
        if handoff is not None:
            handoff.discard()
        return _failed(paths, job_id, f"cannot start {sys.executable} ({_os_reason(exc)})")
    finally:
        logf.close()
    if handoff is not None:
        handoff.release()
    threading.Thread(
        target=_mark_queued_and_reap,
        args=(proc, paths, job_id, log_path, workers),
        name=f"pytaaa-{paths.kind}-reaper-{proc.pid}",
        daemon=True,
    ).start()
    log.info("started %s job %s (pid %d); log: %s", paths.kind, job_id, proc.pid, log_path)
    return LaunchResult(True, job_id, pid=proc.pid, log=log_path)


def _mark_queued_and_reap(
    proc: subprocess.Popen[bytes], paths: JobPaths, job_id: str, log_path: Path, workers: int
) -> None:
    """Runs in a daemon thread of the caller: record the job as queued, then reap it.

    The status write (two fsynced files) happens here so that the caller
    does not wait for the disk; waiting for the child keeps a long-lived
    caller free of zombies.
    """
    with contextlib.suppress(OSError):
        write_queued(paths, job_id=job_id, pid=proc.pid, log_path=log_path, workers=workers)
    proc.wait()


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)


def _failed(paths: JobPaths, job_id: str, message: str) -> LaunchResult:
    log.error("%s job for %s not started: %s", paths.kind, paths.webpage, message)
    return LaunchResult(False, job_id, error=message)


class StopFlag:
    """Set when the job must stop: SIGTERM, Ctrl-C, or a cancel request for its id."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason

    def __bool__(self) -> bool:
        return self.reason is not None


def install_sigterm(flag: StopFlag) -> None:
    """Make SIGTERM set ``flag`` (call only in a job process's main thread)."""

    def _handler(signum: int, frame: FrameType | None) -> None:
        flag.set("SIGTERM")

    signal.signal(signal.SIGTERM, _handler)


class JobSession:
    """The job side of the runtime for one run of job ``paths.kind``.

    :meth:`open` takes the lock (superseding a running job), records the
    owner, marks the status ``running`` and removes what dead jobs left;
    :meth:`close` records the final state and releases the lock.
    """

    def __init__(
        self,
        paths: JobPaths,
        *,
        job_id: str,
        workers: int,
        log: JobLog,
        log_path: Path | None,
        detached: bool,
        grace: float,
        stop: StopFlag,
    ) -> None:
        self.paths = paths
        self.job_id = job_id
        self.log = log
        self.detached = detached
        self.grace = grace
        self.stop = stop
        self.lock = JobLock(paths.lock)
        self.status = StatusWriter(
            paths, job_id=job_id, workers=workers, log_path=log_path, detached=detached
        )
        self._next_cancel_check = 0.0
        self._work_dir: WorkDir | None = None

    def should_stop(self) -> bool:
        """True once SIGTERM arrived or a cancel request names this job (checked ≤ 5×/s)."""
        if self.stop:
            return True
        now = time.monotonic()
        if self.lock.held and now >= self._next_cancel_check:
            self._next_cancel_check = now + 0.2
            if cancel_requested(self.paths, self.job_id):
                self.stop.set("cancel request")
        return bool(self.stop)

    def open(self) -> bool:
        """Take the lock (superseding a running job) and mark the job running.

        Returns False when the job was stopped, or the lock not obtained, while
        waiting.  Raises ``OSError`` when the state folder cannot be created.
        """
        self.paths.ensure_state_dirs()
        if not take_over(
            self.lock, self.paths, self.grace, note=self.log.line, should_stop=self.should_stop
        ):
            return False
        write_owner(self.paths, Owner.me(self.job_id, self.detached))
        with contextlib.suppress(FileNotFoundError):
            self.paths.cancel.unlink()
        self.status.set_state(JobStatus.RUNNING)
        for p in cleanup_spool(self.paths.spool_dir):
            self.log.line(f"Removed {p.name} left in the spool folder by a dead process")
        self._remove_stale_state_temps()
        return True

    def _remove_stale_state_temps(self) -> None:
        """Remove temporary status files a process killed mid-write left behind."""
        kind = self.paths.kind
        for folder, pattern in (
            (self.paths.state_dir, f".{kind}.*.tmp"),
            (self.paths.webpage, f".pytaaa_job_{kind}.js.*.tmp"),
        ):
            for p in folder.glob(pattern):
                with contextlib.suppress(OSError):
                    p.unlink()

    def work_dir(self) -> Path:
        """A private folder for this job's worker data, removed by :meth:`close`."""
        if self._work_dir is None:
            self.paths.ensure_state_dirs()
            self._work_dir = WorkDir(self.paths.spool_dir, self.paths.kind, self.job_id)
        return self._work_dir.path

    def close(self, state: JobStatus, exit_code: int, message: str | None = None) -> None:
        """Remove the work folder, write the final status and release the lock.

        The status is written last but one, so a finished status means the
        job has cleaned up.
        """
        try:
            if self._work_dir is not None:
                self._work_dir.remove()
            if self.lock.held:
                self.status.finish(state, exit_code, message)
        finally:
            self.lock.release()

    def fail_without_lock(self, message: str, exit_code: int) -> None:
        """Record a failure that happened before the job had started (bad hand-off).

        Writes the ``failed`` status only when no other job of the kind is
        running (its status must not be overwritten); removes the work folder.
        """
        try:
            self.paths.ensure_state_dirs()
            if self.lock.try_acquire():
                self.status.finish(JobStatus.FAILED, exit_code, message)
        except OSError:
            pass
        finally:
            if self._work_dir is not None:
                self._work_dir.remove()
            self.lock.release()


def cancel_job(paths: JobPaths, grace: float, *, note: Callable[[str], None]) -> bool:
    """Stop the running job of ``paths.kind`` (as a superseding job would).

    Asks it to stop (SIGTERM to a detached job's process group, a cancel
    request to an in-process run), sends SIGKILL to a detached job after
    ``grace`` seconds and waits for its lock; then closes its status as
    ``cancelled`` if the job could not record that itself.  Returns False when no job was running; raises ``TimeoutError``
    when the job still holds the lock after ``grace + 30`` seconds.
    """
    if lock_is_free(paths.lock):
        return False
    lock = JobLock(paths.lock)
    if not take_over(lock, paths, grace, note=note, action="Cancelling"):
        raise TimeoutError(f"the {paths.kind} job did not stop; its lock is still held")
    try:
        if finalize_status(paths, JobStatus.CANCELLED, "cancelled (killed by pytaaa jobs cancel)"):
            note("The job was killed before it could record its end; status set to cancelled")
    finally:
        lock.release()
    return True
