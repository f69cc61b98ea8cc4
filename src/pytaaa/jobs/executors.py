"""Where a job's items run: the narrow executor interface of the runtime.

A job that runs many independent items (Monte Carlo trials, search trials)
hands its large read-only inputs — the *payload* — to a :class:`WorkerPool`
once, and then submits small items.  :meth:`WorkerPool.make_executor`
returns a ``concurrent.futures.Executor`` on which ``submit(fn, item)`` runs
``fn(payload, item)`` on a worker that already holds the payload, so the
runtime's :class:`~pytaaa.jobs.pool.TaskRunner` drives every kind of pool the
same way.  ``fn`` must be a module-level function (it is pickled by name).

- :class:`LocalPool` (today's default): worker processes on this machine
  (:func:`~pytaaa.jobs.pool.make_process_pool`, explicit start method); the
  payload reaches each worker through the pool initializer; a dead worker
  breaks the pool and the task runner rebuilds it.
- :class:`pytaaa.jobs.dask_pool.DaskPool`: the workers of a Dask cluster;
  the payload is scattered to them once.

A payload may define ``on_worker()``: it is called once in each worker and
its return value is what ``fn`` receives (e.g. to map shared files there).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from pytaaa.jobs.pool import make_process_pool, pin_threads, shutdown_pool

__all__ = ["WorkerPool", "LocalPool", "make_worker_pool", "prepare_worker"]

log = logging.getLogger(__name__)


def prepare_worker(payload: Any) -> Any:
    """Run in a worker before its first item: pin BLAS/OpenMP to one thread
    (so results do not depend on the core count) and return what the task
    functions receive: ``payload.on_worker()`` if it has one, else ``payload``."""
    from threadpoolctl import threadpool_limits

    pin_threads()
    threadpool_limits(limits=1)
    hook = getattr(payload, "on_worker", None)
    return hook() if callable(hook) else payload


class WorkerPool(ABC):
    """Workers that receive one payload once and then run ``fn(payload, item)``.

    ``workers`` is the number of items run at once (a hint for how many items
    the caller keeps in flight); ``label`` says where they run, for the log;
    ``local_files`` tells whether the workers can read this machine's files
    (memory-mapped data), so a job knows whether it may share data that way.
    """

    workers: int = 1
    label: str = ""
    local_files: bool = True

    @abstractmethod
    def make_executor(self, payload: Any, preload: Sequence[str] = ()) -> cf.Executor:
        """An executor whose ``submit(fn, item)`` runs ``fn(payload, item)`` on a
        worker; ``preload`` names modules the workers may import up front.
        Called again after a dead worker broke the previous one."""

    def close(self) -> None:
        """Release what the pool holds beyond its executors (connections, clusters)."""

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _WorkerState:
    """The payload of one local worker process, set once by :func:`_install`."""

    payload: Any = None
    ready: bool = False


def _install(payload: Any) -> None:
    _WorkerState.payload = prepare_worker(payload)
    _WorkerState.ready = True


def _call(fn: Callable[[Any, Any], Any], item: Any) -> Any:
    if not _WorkerState.ready:
        raise RuntimeError("worker not initialized")
    return fn(_WorkerState.payload, item)


class _LocalExecutor(cf.Executor):
    """A process pool whose workers hold the payload (see :class:`LocalPool`)."""

    def __init__(self, pool: cf.ProcessPoolExecutor) -> None:
        self.pool = pool

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        if kwargs or len(args) != 1:
            raise TypeError("submit(fn, item): exactly one item")
        return self.pool.submit(_call, fn, args[0])

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        shutdown_pool(self.pool, cancel=cancel_futures)


class LocalPool(WorkerPool):
    """``workers`` processes on this machine (the runtime's process pool)."""

    local_files = True

    def __init__(self, workers: int) -> None:
        if int(workers) < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = int(workers)
        self.label = f"{self.workers} local worker process(es)"

    def make_executor(self, payload: Any, preload: Sequence[str] = ()) -> cf.Executor:
        return _LocalExecutor(make_process_pool(self.workers, _install, (payload,), preload))


def make_worker_pool(scheduler: str | None, workers: int) -> WorkerPool:
    """A :class:`LocalPool` of ``workers`` processes when ``scheduler`` is empty,
    else a :class:`~pytaaa.jobs.dask_pool.DaskPool` on that scheduler
    (``"local"``: a LocalCluster of ``workers`` processes).  Raises
    ``ValueError`` for a bad address or worker count and
    :class:`~pytaaa.jobs.dask_pool.DaskUnavailable` when Dask is missing or
    the scheduler does not answer."""
    if not scheduler:
        return LocalPool(workers)
    from pytaaa.jobs.dask_pool import DaskPool

    return DaskPool(scheduler, workers=workers)
