"""Job status: the state machine, the status file and its web-page mirror.

The job that holds the lock of its kind is the only writer of
``<webpage>/.pytaaa/<kind>.json``; it replaces the file atomically at most a
few times a second (and every few seconds as a heartbeat while it runs).  Next
to every status update it writes ``<webpage>/pytaaa_job_<kind>.js``, a script
the web page re-loads to show a live banner, also from ``file://``::

    window.PYTAAA_JOBS = window.PYTAAA_JOBS || {}; window.PYTAAA_JOBS["charts"] = {...};

Fields: ``kind, job_id, state, pid, pgid, started_at, updated_at,
finished_at, total, done, created, skipped, failed, errors [{item, message}],
log, workers, detached, message, exit_code, heartbeat_seconds``.  ``done``
counts finished items whatever their outcome (``created + skipped + failed``),
so ``done/total`` is the progress.  Times are local ISO 8601 with offset.

:func:`read_status` adds the reading ``died``: a ``running`` job whose lock is
free (the kernel dropped it: the process is gone), or a ``queued`` job whose
process no longer exists.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from pytaaa._io import atomic_write_text
from pytaaa.jobs.lock import lock_is_free
from pytaaa.jobs.paths import STATE_DIR_NAME, JobPaths, validate_kind

__all__ = [
    "JobStatus",
    "StatusWriter",
    "read_status",
    "list_statuses",
    "status_js",
    "now_iso",
    "write_queued",
    "finalize_status",
]

log = logging.getLogger(__name__)

MAX_ERRORS = 100
HEARTBEAT_SECONDS = 5.0


class JobStatus(str, enum.Enum):
    """The state of a job.  ``DIED`` is never written: it is how a dead ``RUNNING`` job reads."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DIED = "died"

    @property
    def finished(self) -> bool:
        return self not in (JobStatus.QUEUED, JobStatus.RUNNING)


def now_iso(clock: Callable[[], dt.datetime] = dt.datetime.now) -> str:
    """The local time as ISO 8601 with its UTC offset, to the second."""
    return clock().astimezone().isoformat(timespec="seconds")


def status_js(kind: str, status: dict[str, Any]) -> str:
    """The text of ``pytaaa_job_<kind>.js`` for ``status``."""
    body = json.dumps(status, ensure_ascii=True, sort_keys=True)
    return (
        "window.PYTAAA_JOBS = window.PYTAAA_JOBS || {}; "
        f"window.PYTAAA_JOBS[{json.dumps(kind)}] = {body};\n"
    )


def _write(paths: JobPaths, status: dict[str, Any]) -> None:
    atomic_write_text(paths.status, json.dumps(status, indent=1, sort_keys=True) + "\n")
    atomic_write_text(paths.status_js, status_js(paths.kind, status))


class StatusWriter:
    """Keeps one job's status and writes it, throttled to ``min_interval`` seconds.

    State changes and :meth:`finish` are written at once; counter updates are
    written when ``min_interval`` (0.5 s) has passed since the last write; :meth:`tick`
    writes a heartbeat every ``HEARTBEAT_SECONDS``.  Write errors are logged
    once and otherwise ignored: a job does not fail because its status cannot
    be written.
    """

    def __init__(
        self,
        paths: JobPaths,
        *,
        job_id: str,
        workers: int,
        log_path: Path | None,
        detached: bool,
        min_interval: float = 0.5,
    ) -> None:
        self.paths = paths
        self.min_interval = min_interval
        self._last_write = 0.0
        self._warned = False
        self.data = new_status(paths.kind, job_id=job_id, pid=os.getpid(),
                               pgid=os.getpgid(0), detached=detached,
                               log=str(log_path) if log_path else None, workers=workers)

    def _flush(self) -> None:
        self.data["updated_at"] = now_iso()
        try:
            _write(self.paths, self.data)
        except OSError as exc:
            if not self._warned:
                log.warning("cannot write job status %s: %s", self.paths.status, exc)
                self._warned = True
        self._last_write = time.monotonic()

    def set_state(self, state: JobStatus, message: str | None = None) -> None:
        """Change the state (written at once)."""
        self.data["state"] = state.value
        if message is not None:
            self.data["message"] = message
        self._flush()

    def set_total(self, total: int) -> None:
        self.data["total"] = int(total)

    def item_done(self, outcome: str, item: str | None = None, message: str | None = None) -> None:
        """Count one finished item: ``outcome`` is ``created``, ``skipped`` or ``failed``."""
        if outcome not in ("created", "skipped", "failed"):
            raise ValueError(f"unknown outcome {outcome!r}")
        self.data[outcome] += 1
        self.data["done"] += 1
        if outcome == "failed" and item is not None:
            errors = self.data["errors"]
            if len(errors) < MAX_ERRORS:
                errors.append({"item": item, "message": message or ""})
        self.maybe_flush()

    def maybe_flush(self) -> None:
        """Write if ``min_interval`` has passed since the last write."""
        if time.monotonic() - self._last_write >= self.min_interval:
            self._flush()

    def tick(self) -> None:
        """Heartbeat: write when ``HEARTBEAT_SECONDS`` passed without a write."""
        if time.monotonic() - self._last_write >= HEARTBEAT_SECONDS:
            self._flush()

    def finish(self, state: JobStatus, exit_code: int, message: str | None = None) -> None:
        """Record the final state, exit code and finish time (written at once)."""
        self.data["finished_at"] = now_iso()
        self.data["exit_code"] = exit_code
        self.set_state(state, message)


def new_status(kind: str, *, job_id: str, pid: int, pgid: int, detached: bool,
               log: str | None, workers: int) -> dict[str, Any]:
    """The status record of a job that has not started work yet (state ``queued``)."""
    stamp = now_iso()
    return {
        "kind": kind,
        "job_id": job_id,
        "state": JobStatus.QUEUED.value,
        "pid": pid,
        "pgid": pgid,
        "detached": detached,
        "started_at": stamp,
        "updated_at": stamp,
        "finished_at": None,
        "total": 0,
        "done": 0,
        "created": 0,
        "skipped": 0,
        "failed": 0,
        "errors": [],
        "log": log,
        "workers": workers,
        "message": None,
        "exit_code": None,
        "heartbeat_seconds": HEARTBEAT_SECONDS,
    }


def write_queued(paths: JobPaths, *, job_id: str, pid: int, log_path: Path, workers: int) -> None:
    """Record a just-spawned job as ``queued`` (only while no job of the kind holds the lock)."""
    if not lock_is_free(paths.lock):
        return
    _write(paths, new_status(paths.kind, job_id=job_id, pid=pid, pgid=pid, detached=True,
                             log=str(log_path), workers=workers))


def finalize_status(paths: JobPaths, state: JobStatus, message: str) -> bool:
    """Close a status left ``running``/``queued`` by a job that is gone.

    Call only while holding the kind's lock.  Rewrites the status with
    ``state``, ``message`` and ``finished_at``; returns whether it did.
    """
    try:
        data = json.loads(paths.status.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict) or data.get("state") not in (
        JobStatus.RUNNING.value,
        JobStatus.QUEUED.value,
    ):
        return False
    stamp = now_iso()
    data.update(state=state.value, message=message, finished_at=stamp, updated_at=stamp)
    _write(paths, data)
    return True


def _pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def read_status(webpage: str | os.PathLike[str], kind: str) -> dict[str, Any] | None:
    """The status of job ``kind`` for site folder ``webpage``, or None if it never ran.

    Reads ``<webpage>/.pytaaa/<kind>.json``.  A ``running`` status whose lock
    is free, or a ``queued`` one whose process is gone, is returned with
    ``state`` ``died`` (and ``died: True``).  An unreadable file is logged and
    returned as None.
    """
    paths = JobPaths(Path(webpage), kind)
    try:
        data = json.loads(paths.status.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("cannot read job status %s: %s", paths.status, exc)
        return None
    if not isinstance(data, dict):
        return None
    state = data.get("state")
    died = False
    if state == JobStatus.RUNNING.value:
        died = lock_is_free(paths.lock)
    elif state == JobStatus.QUEUED.value:
        pid = data.get("pid")
        died = isinstance(pid, int) and not _pid_alive(pid) and lock_is_free(paths.lock)
    data["died"] = died
    if died:
        data["state"] = JobStatus.DIED.value
    return data


def list_statuses(webpage: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The status of every job kind that has a status file under ``webpage``, by kind."""
    state_dir = Path(webpage) / STATE_DIR_NAME
    out = []
    for p in sorted(state_dir.glob("*.json")):
        try:
            validate_kind(p.stem)
        except ValueError:
            continue
        status = read_status(webpage, p.stem)
        if status is not None:
            out.append(status)
    return out
