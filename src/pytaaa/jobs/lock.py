"""One job per kind and site folder: the kernel lock, the owner record, supersede.

A running job holds an exclusive ``flock`` on ``<webpage>/.pytaaa/<kind>.lock``
for its whole life; the kernel drops it when the process ends, however it ends.
Right after taking the lock the job records who it is in ``<kind>.owner.json``
(pid, process group, job id, process start time, detached or in-process).

A newer job of the same kind *supersedes* the holder: it asks it to stop
(SIGTERM to its process group for a detached job; a cancel request file,
which every job polls, for an in-process run), escalates to SIGKILL after the
grace period (detached jobs only: an in-process job is part of someone's
program), and waits for the lock.  Jobs are identified by the lock and the
owner record only; the process start time guards against a recycled pid.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from pytaaa._io import atomic_write_text
from pytaaa.jobs.paths import JobPaths, UnsafeStateError, check_private

__all__ = [
    "JobLock",
    "Owner",
    "lock_is_free",
    "read_owner",
    "write_owner",
    "owner_alive",
    "is_pytaaa_job",
    "take_over",
    "cancel_requested",
]


class JobLock:
    """An exclusive, non-inheritable ``flock`` on one lock file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; return whether this object now holds it.

        Creates the lock file (mode 0600) if needed; raises ``OSError`` when it
        cannot be created and :class:`~pytaaa.jobs.paths.UnsafeStateError` when
        it is a symlink, belongs to another user or others can write it.
        """
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafeStateError(self.path, "found a symlink") from None
            raise
        try:
            check_private(self.path, os.fstat(fd), folder=False)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def acquire(
        self,
        timeout: float,
        should_stop: Callable[[], bool] | None = None,
        poll: float = 0.05,
    ) -> bool:
        """Poll for the lock for up to ``timeout`` seconds; False on timeout or stop."""
        deadline = time.monotonic() + timeout
        while True:
            if self.try_acquire():
                return True
            if should_stop is not None and should_stop():
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(poll, left))

    def release(self) -> None:
        """Release the lock (no-op when not held)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def lock_is_free(path: Path) -> bool:
    """True when no process holds the lock at ``path`` (or the file does not exist).

    Probes with a shared non-blocking lock, released at once.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


@dataclass(frozen=True)
class Owner:
    """Who holds a job lock: enough to signal it, and to recognise a recycled pid."""

    pid: int
    pgid: int
    job_id: str
    create_time: float
    detached: bool

    @classmethod
    def me(cls, job_id: str, detached: bool) -> Owner:
        """The owner record of the current process."""
        pid = os.getpid()
        return cls(pid, os.getpgid(0), job_id, psutil.Process(pid).create_time(), detached)


def write_owner(paths: JobPaths, owner: Owner) -> None:
    """Record ``owner`` in ``<kind>.owner.json`` (atomic); call only while holding the lock."""
    atomic_write_text(paths.owner, json.dumps(asdict(owner)) + "\n", mode=0o600)


def read_owner(paths: JobPaths) -> Owner | None:
    """The recorded owner, or None when the record is missing or unreadable."""
    try:
        data = json.loads(paths.owner.read_text(encoding="utf-8"))
        return Owner(
            int(data["pid"]),
            int(data["pgid"]),
            str(data["job_id"]),
            float(data["create_time"]),
            bool(data["detached"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def owner_alive(owner: Owner) -> bool:
    """True when ``owner``'s process still runs (same start time, not a zombie)."""
    try:
        proc = psutil.Process(owner.pid)
        if abs(proc.create_time() - owner.create_time) > 0.05:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def is_pytaaa_job(owner: Owner, lock_path: Path) -> bool:
    """True when ``owner.pid`` is the job the record describes: a process of the current
    user, started when the record says, in the recorded process group, that has the job's
    lock file ``lock_path`` open (a job holds it for its whole life; nothing else does)."""
    try:
        proc = psutil.Process(owner.pid)
        if abs(proc.create_time() - owner.create_time) > 0.05:
            return False
        if hasattr(os, "getuid") and proc.uids().real != os.getuid():
            return False
        if os.getpgid(owner.pid) != owner.pgid:
            return False
        lock = os.path.realpath(lock_path)
        return any(os.path.realpath(f.path) == lock for f in proc.open_files())
    except (psutil.Error, OSError):
        return False


def cancel_requested(paths: JobPaths, job_id: str) -> bool:
    """True when a cancel request for ``job_id`` has been filed."""
    try:
        return paths.cancel.read_text(encoding="utf-8").strip() == job_id
    except OSError:
        return False


def _signal(owner: Owner, sig: int, lock_path: Path) -> None:
    """Send ``sig`` to a detached owner's process group (its own session).

    An in-process (sync) run is part of someone else's program and is never
    signalled: it only gets the cancel request.  Nothing is sent unless the
    process is the recorded one, of this user, holding the job's lock file
    (:func:`is_pytaaa_job`): a forged record cannot aim the signal elsewhere.
    """
    if not owner.detached or not owner_alive(owner) or not is_pytaaa_job(owner, lock_path):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if owner.pgid == owner.pid:
            os.killpg(owner.pgid, sig)
        else:
            os.kill(owner.pid, sig)


def take_over(
    lock: JobLock,
    paths: JobPaths,
    grace: float,
    *,
    note: Callable[[str], None],
    should_stop: Callable[[], bool] = lambda: False,
    give_up_after: float | None = None,
    action: str = "Superseding",
) -> bool:
    """Acquire ``lock``, stopping the job that holds it if necessary.

    Reads the owner record; asks a live owner to stop (SIGTERM to a detached
    owner's process group, a cancel request file for an in-process run), sends SIGKILL to a
    detached owner still alive ``grace`` seconds later, and polls the lock.
    ``note`` receives one line per action, starting with ``action``
    (``"Cancelling"`` for a user's cancel).  Returns True with the lock held,
    False when ``should_stop()`` became true or the lock was not free after
    ``give_up_after`` seconds (default ``grace + 30``).
    """
    if lock.try_acquire():
        return True
    limit = grace + 30.0 if give_up_after is None else give_up_after
    deadline = time.monotonic() + limit
    asked: dict[tuple[int, float], float] = {}
    killed: set[tuple[int, float]] = set()
    while time.monotonic() < deadline:
        owner = read_owner(paths)
        if owner is not None and owner.pid != os.getpid() and owner_alive(owner):
            key = (owner.pid, owner.create_time)
            if key not in asked:
                how = "SIGTERM" if owner.detached else "cancel request (in-process run)"
                note(f"{action} running {paths.kind} job {owner.job_id} (pid {owner.pid}): {how}")
                if owner.detached:
                    _signal(owner, signal.SIGTERM, paths.lock)
                else:
                    with contextlib.suppress(OSError):
                        atomic_write_text(paths.cancel, owner.job_id + "\n", mode=0o600)
                asked[key] = time.monotonic()
            elif (
                owner.detached
                and key not in killed
                and time.monotonic() - asked[key] >= grace
            ):
                note(f"Job {owner.job_id} still running after {grace:g} s: SIGKILL")
                _signal(owner, signal.SIGKILL, paths.lock)
                killed.add(key)
        if lock.acquire(0.1, should_stop):
            return True
        if should_stop():
            return False
    return False
