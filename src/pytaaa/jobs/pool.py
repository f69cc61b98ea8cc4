"""Running a job's items on a pool of worker processes, surviving worker crashes.

:func:`make_process_pool` builds a ``ProcessPoolExecutor`` with an explicit
start method (``forkserver`` where available, else ``spawn``; never the
platform default), a per-worker initializer, and modules preloaded in the
fork server.  :class:`TaskRunner` drives any ``concurrent.futures.Executor``
(so a Dask ``Client.get_executor()`` can replace the local pool): it keeps a
bounded number of items in flight, reports each outcome, polls a stop flag,
and when a worker process dies (``BrokenExecutor``) it rebuilds the pool and
re-runs the items that were in flight, each one *alone*; an item that breaks
the pool while running alone has killed its worker twice and is failed.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    CancelledError,
    Executor,
    Future,
    ProcessPoolExecutor,
    wait,
)
from dataclasses import dataclass
from typing import Any

from pytaaa.jobs.lifeline import worker_start

__all__ = [
    "TaskError",
    "TaskOutcome",
    "TaskRunner",
    "make_process_pool",
    "pin_threads",
    "terminate_workers",
    "shutdown_pool",
    "THREAD_ENV",
]

log = logging.getLogger(__name__)

#: Environment variables that limit BLAS / OpenMP thread pools to one thread.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


class TaskError(Exception):
    """Raised by a task function for an item that failed; ``str()`` is the reason."""


@dataclass(frozen=True)
class TaskOutcome:
    """How one item ended: ``ok`` with the task's return ``value``, or ``error``."""

    item: Hashable
    ok: bool
    value: Any = None
    error: str | None = None


def pin_threads() -> None:
    """Limit BLAS/OpenMP thread pools of the current (worker) process to one thread."""
    os.environ.update(THREAD_ENV)


def make_process_pool(
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    preload: Sequence[str] = (),
) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` of at most ``workers`` processes.

    Uses the ``forkserver`` start method (``preload`` modules imported once in
    the server, so workers start in milliseconds) or ``spawn`` where
    forkserver does not exist.  The fork server and every worker die with
    this process (:mod:`pytaaa.jobs.lifeline`).  Raises ``ValueError`` for
    ``workers < 1``.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # the fork server dies with this process (PR_SET_PDEATHSIG acts when the *thread*
        # that started it ends, so only a pool made by the main thread asks for it)
        lifeline = ["pytaaa.jobs.lifeline"] if threading.current_thread() is \
            threading.main_thread() else []
        ctx.set_forkserver_preload(lifeline + list(preload))
    else:
        ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=worker_start,
        initargs=(os.getpid(), initializer, initargs),
    )
    # Start every worker now, before the pool's manager thread exists.  With
    # workers started on demand, a worker dying while another one is being
    # started can leave the new one out of the pool's clean-up, and shutting
    # the broken pool down then waits for it forever (CPython 3.11).
    launch_all = getattr(pool, "_launch_processes", None)
    if callable(launch_all):
        launch_all()
    return pool


def terminate_workers(executor: Executor, sig: int = signal.SIGTERM) -> None:
    """Signal the worker processes of a process pool (no-op for other executors)."""
    if sig == signal.SIGTERM and hasattr(executor, "terminate_workers"):
        executor.terminate_workers()  # Python >= 3.14
        return
    processes = getattr(executor, "_processes", None) or {}
    for proc in list(processes.values()):
        with contextlib.suppress(OSError, AttributeError, ValueError):
            if proc.pid is not None and proc.is_alive():
                os.kill(proc.pid, sig)


def shutdown_pool(executor: Executor, *, cancel: bool, timeout: float = 15.0) -> None:
    """Shut ``executor`` down without ever hanging on a process pool.

    ``cancel`` drops queued work and terminates the workers first.  For a
    process pool, waits at most ``timeout`` seconds for its manager thread,
    then kills every worker it still has (SIGKILL) and waits as long again;
    a pool that still does not stop is logged and abandoned.  Other executors
    are shut down with ``shutdown(wait=True)``.
    """
    thread = getattr(executor, "_executor_manager_thread", None)
    processes = getattr(executor, "_processes", None)  # the live dict, also seen by the thread
    if cancel:
        terminate_workers(executor)
    if thread is None or processes is None:
        executor.shutdown(wait=True, cancel_futures=cancel)
        return
    executor.shutdown(wait=False, cancel_futures=cancel)
    thread.join(timeout)
    if thread.is_alive():
        for proc in list(processes.values()):
            with contextlib.suppress(OSError, AttributeError, ValueError):
                if proc.pid is not None:
                    os.kill(proc.pid, signal.SIGKILL)
        thread.join(timeout)
    if thread.is_alive():
        log.error("a process pool did not shut down within %.0f s; abandoned", 2 * timeout)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TaskError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror} (errno {exc.errno}){where}"
    return f"{type(exc).__name__}: {exc}"


class TaskRunner:
    """Runs ``fn(item)`` for every item on executors made by ``make_executor``.

    - ``max_outstanding``: items submitted but not finished (bounded so that a
      crash implicates few items);
    - ``on_outcome(outcome)``: called in the calling thread for every item;
    - ``should_stop()``: polled every ``poll`` seconds; when true, pending
      items are cancelled, workers are terminated and :meth:`run` returns False;
    - ``on_tick()``: called after each poll (heartbeat, progress);
    - ``on_rebuild(items)``: called when a dead worker forced a new pool.
    """

    def __init__(
        self,
        make_executor: Callable[[], Executor],
        fn: Callable[[Any], Any],
        *,
        max_outstanding: int,
        on_outcome: Callable[[TaskOutcome], None],
        should_stop: Callable[[], bool] = lambda: False,
        on_tick: Callable[[], None] = lambda: None,
        on_rebuild: Callable[[list[Hashable]], None] = lambda items: None,
        poll: float = 0.2,
    ) -> None:
        self._make_executor = make_executor
        self._fn = fn
        self._max_outstanding = max(1, max_outstanding)
        self._on_outcome = on_outcome
        self._should_stop = should_stop
        self._on_tick = on_tick
        self._on_rebuild = on_rebuild
        self._poll = poll
        self._executor: Executor | None = None
        self.rebuilds = 0

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = self._make_executor()
        return self._executor

    def close(self, cancel: bool = False) -> None:
        """Shut the current executor down (terminating its workers when ``cancel``)."""
        ex, self._executor = self._executor, None
        if ex is not None:
            shutdown_pool(ex, cancel=cancel)

    def run(self, items: Iterable[Hashable]) -> bool:
        """Run every item; return True when all finished, False when stopped.

        Outcomes arrive through ``on_outcome`` (ok, failed with the task's
        reason, or failed after killing its worker twice).  The executor stays
        open for another :meth:`run`; call :meth:`close` at the end.
        """
        pending: deque[Hashable] = deque(items)
        suspects: deque[Hashable] = deque()
        inflight: dict[Future[Any], Hashable] = {}
        isolating = False
        empty_rebuilds = 0
        while pending or suspects or inflight:
            if self._should_stop():
                for fut in inflight:
                    fut.cancel()
                self.close(cancel=True)
                return False
            submit_failed = False
            if suspects:
                # after a crash, re-run the implicated items one at a time
                if not inflight:
                    isolating = True
                    submit_failed = not self._submit(suspects, inflight)
            else:
                isolating = False
                while pending and len(inflight) < self._max_outstanding:
                    if not self._submit(pending, inflight):
                        submit_failed = True
                        break
            done: Iterable[Future[Any]] = ()
            if inflight and not submit_failed:
                done, _ = wait(list(inflight), timeout=self._poll, return_when=FIRST_COMPLETED)
            self._on_tick()
            broken = self._collect(done, inflight)
            if submit_failed and not broken:
                broken = self._drain(inflight)
                if not broken:  # the pool broke before taking any item: just rebuild it
                    empty_rebuilds += 1
                    self.rebuilds += 1
                    self.close(cancel=True)
                    if empty_rebuilds > 3:
                        for item in [*suspects, *pending]:
                            self._on_outcome(TaskOutcome(item, False, error="the worker pool "
                                                         "cannot start"))
                        suspects.clear()
                        pending.clear()
                    continue
            empty_rebuilds = 0
            if broken:
                broken += self._drain(inflight)
                if self._should_stop():  # e.g. SIGTERM to the whole process group
                    self.close(cancel=True)
                    return False
                if isolating:
                    for item in broken:
                        self._on_outcome(
                            TaskOutcome(
                                item, False, error="its worker process died twice while running it"
                            )
                        )
                else:
                    suspects.extend(broken)
                self.rebuilds += 1
                log.debug("a worker process died; rebuilding the pool (%d item(s) to retry)",
                          len(suspects))
                self._on_rebuild(list(broken))
                self.close(cancel=True)
        return True

    def _submit(self, source: deque[Hashable], inflight: dict[Future[Any], Hashable]) -> bool:
        """Submit the next item of ``source``; False (item kept) when the pool is broken."""
        item = source[0]
        try:
            fut = self.executor.submit(self._fn, item)
        except BrokenExecutor:
            return False
        source.popleft()
        inflight[fut] = item
        return True

    def _collect(
        self, done: Iterable[Future[Any]], inflight: dict[Future[Any], Hashable]
    ) -> list[Hashable]:
        """Report finished futures; return the items whose pool broke under them."""
        broken: list[Hashable] = []
        for fut in done:
            item = inflight.pop(fut)
            try:
                value = fut.result()
            except (BrokenExecutor, CancelledError):
                broken.append(item)
                continue
            except Exception as exc:  # the task's own failure: report it, go on
                self._on_outcome(TaskOutcome(item, False, error=_describe(exc)))
                continue
            self._on_outcome(TaskOutcome(item, True, value=value))
        return broken

    def _drain(self, inflight: dict[Future[Any], Hashable]) -> list[Hashable]:
        """After a crash, wait for the other in-flight futures; return those that broke too."""
        broken: list[Hashable] = []
        if inflight:
            done, _ = wait(list(inflight), timeout=30)
            broken = self._collect(done, inflight)
            broken += list(inflight.values())
            inflight.clear()
        return broken
