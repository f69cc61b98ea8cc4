"""Helper processes die with the process that started them.

A job (or a daily run drawing charts in-process) starts a fork server and
worker processes.  If that process is killed (SIGKILL, OOM killer), its
helpers must not live on as orphans holding memory and the caller's
stdout/stderr (a cron or CI pipe would never see EOF).  Two mechanisms:

- Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (through :mod:`ctypes`) in the
  fork server and in every worker: the kernel kills each one the moment its
  parent dies, so the chain main → fork server → workers falls as a whole.
- Everywhere: each worker runs a daemon thread that checks every second that
  the process which built the pool is still alive, and exits if not.

This module is preloaded in the fork server; on import there (and only
there) it sets the parent-death signal.  :func:`worker_start` wraps a pool's
initializer.  Workers also get ``/dev/null`` as stdin.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["set_parent_death_signal", "watch_process", "worker_start", "in_fork_server"]

_PR_SET_PDEATHSIG = 1


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux).

    Returns True when set; False on other systems or if ``prctl`` fails.  If
    the parent is already gone (re-parented before the call), exits at once.
    """
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    try:
        # the symbols already loaded in this process (libc among them): no library search,
        # which would start a subprocess (ldconfig) from the fork server
        libc = ctypes.CDLL(None, use_errno=True)
        ok = libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
    if ok and parent == 1:
        os._exit(1)
    return ok


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watch_process(pid: int, interval: float = 1.0) -> threading.Thread:
    """Start a daemon thread that ends this process (exit 1) once ``pid`` is gone.

    Returns the thread.  A portable fallback for systems without
    ``PR_SET_PDEATHSIG``.
    """
    def _watch() -> None:
        while _alive(pid):
            time.sleep(interval)
        os._exit(1)

    thread = threading.Thread(target=_watch, name=f"pytaaa-lifeline-{pid}", daemon=True)
    thread.start()
    return thread


def worker_start(owner: int, initializer: Callable[..., None] | None,
                 initargs: tuple[Any, ...]) -> None:
    """A pool worker's first step: die with the pool's owner ``owner`` (a pid), read
    stdin from ``/dev/null``, then run the pool's own ``initializer(*initargs)``."""
    set_parent_death_signal()
    watch_process(owner)
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
    if initializer is not None:
        initializer(*initargs)


def in_fork_server() -> bool:
    """True in a ``multiprocessing`` fork server (``python -c`` running its ``main``)."""
    return sys.argv[:1] == ["-c"] and "multiprocessing.forkserver" in sys.modules


if in_fork_server():  # preloaded by pytaaa.jobs.pool.make_process_pool
    set_parent_death_signal()
