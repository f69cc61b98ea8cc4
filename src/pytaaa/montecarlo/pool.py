"""The Monte Carlo trial pool: trials on worker processes, data sent once per worker.

:func:`run_trials` runs the trials of :mod:`pytaaa.montecarlo.trials` on the
background-job runtime's process pool (:func:`pytaaa.jobs.pool.make_process_pool`,
an explicit start method) driven by its :class:`~pytaaa.jobs.pool.TaskRunner`
(a dead worker is replaced and its trials re-run; a stop request cancels the
pending trials and terminates the workers).  Each worker receives the shared
data and every trial's parameters once, through the pool initializer; a task
is just a trial index, and a trial's result does not depend on which worker
ran it or how many there are: BLAS is pinned to one thread in every worker.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import functools
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pytaaa._io import atomic_path
from pytaaa.jobs.pool import pin_threads
from pytaaa.montecarlo.trials import (
    MCData,
    TrialError,
    TrialParams,
    TrialResult,
    run_trial,
)

__all__ = [
    "PRELOAD",
    "FAIL_TRIAL_ENV",
    "WorkerPayload",
    "TrialRun",
    "run_trials",
    "injected_failures",
    "share_data",
]

log = logging.getLogger(__name__)

#: Modules imported once in the fork server that starts the trial workers.
PRELOAD = ("pytaaa.montecarlo.pool", "pytaaa.config")

#: Test hook: a comma-separated list of trial indices that raise inside the trial.
FAIL_TRIAL_ENV = "PYTAAA_MC_FAIL_TRIALS"


#: The large arrays of :class:`~pytaaa.montecarlo.trials.MCData` that :func:`share_data` maps.
SHARED_ARRAYS = ("close", "despiked", "tradable")
_NONE = np.empty((0, 0))


def _arrays(data: MCData) -> dict[str, np.ndarray]:
    return {"close": data.prices.close, "despiked": data.prices.despiked,
            "tradable": data.tradable}


def _with_arrays(data: MCData, arrays: Mapping[str, np.ndarray], folder: str | None) -> MCData:
    prices = dataclasses.replace(data.prices, close=arrays["close"], despiked=arrays["despiked"])
    return dataclasses.replace(data, prices=prices, tradable=arrays["tradable"],
                               gauge_sums={}, shared_dir=folder)


def _attach(data: MCData, folder: str) -> MCData:
    """``data`` with its large arrays mapped read-only from ``folder``."""
    maps = {n: np.load(Path(folder) / f"mc_{n}.npy", mmap_mode="r", allow_pickle=False)
            for n in SHARED_ARRAYS}
    return _with_arrays(data, maps, folder)


def share_data(data: MCData, folder: Path) -> MCData:
    """Write the large arrays of ``data`` to ``.npy`` files in ``folder`` (a private
    work folder, e.g. :meth:`pytaaa.jobs.runtime.JobSession.work_dir`) and return
    the same data backed by read-only memory maps of those files.

    The trial workers then map the same pages instead of each receiving a
    copy, and the caller can drop its own copy.  Raises ``OSError`` when the
    files cannot be written (nothing is left half-written).
    """
    folder = Path(folder)
    for name, arr in _arrays(data).items():
        with atomic_path(folder / f"mc_{name}.npy", mode=0o600) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)
    return _attach(data, str(folder))


@dataclass(frozen=True)
class WorkerPayload:
    """What every trial worker receives once: the shared data, all trials'
    parameters, and the trial indices a test asked to fail (:data:`FAIL_TRIAL_ENV`).

    When the data is shared through files (:func:`share_data`) its large arrays
    are left out and each worker maps them from ``data.shared_dir``.
    """

    data: MCData
    trials: tuple[TrialParams, ...]
    fail: frozenset[int] = frozenset()

    @classmethod
    def build(cls, data: MCData, trials: tuple[TrialParams, ...],
              fail: frozenset[int]) -> WorkerPayload:
        if data.shared_dir is not None:
            data = _with_arrays(data, {n: _NONE for n in SHARED_ARRAYS}, data.shared_dir)
        return cls(data, trials, fail)

    def attached(self) -> WorkerPayload:
        """The payload with mapped arrays, as a worker uses it."""
        if self.data.shared_dir is None:
            return self
        return dataclasses.replace(self, data=_attach(self.data, self.data.shared_dir))


class _WorkerState:
    """The payload of one worker process, set once by :func:`_init_worker`."""

    payload: WorkerPayload | None = None


def _pin_blas() -> None:
    """Limit BLAS/OpenMP to one thread in this worker, also when the library was
    loaded before (the runtime's environment variables act only at load time):
    results then do not depend on the core count, and workers do not
    oversubscribe the CPUs."""
    pin_threads()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        log.debug("threadpoolctl not installed: BLAS threads pinned by environment only")
        return
    threadpool_limits(limits=1)


def _init_worker(payload: WorkerPayload) -> None:
    _pin_blas()
    _WorkerState.payload = payload.attached()


def _run_payload(payload: WorkerPayload, index: int) -> TrialResult:
    if payload.data.prices.close.size == 0:
        payload = payload.attached()
    if index in payload.fail:
        raise RuntimeError(f"failure injected by {FAIL_TRIAL_ENV}")
    return run_trial(payload.data, payload.trials[index])


def _run_index(index: int) -> TrialResult:
    """Task function of the local pool: trial ``index`` of the worker's payload."""
    if _WorkerState.payload is None:
        raise RuntimeError("trial worker not initialized")
    return _run_payload(_WorkerState.payload, index)


def injected_failures(environ: Mapping[str, str] | None = None) -> frozenset[int]:
    """Trial indices listed in :data:`FAIL_TRIAL_ENV` (a test hook; empty normally)."""
    spec = (os.environ if environ is None else environ).get(FAIL_TRIAL_ENV, "")
    return frozenset(int(s) for s in spec.replace(" ", "").split(",") if s.isdigit())


@dataclass
class TrialRun:
    """The trials of a run: ``results`` and ``errors`` in trial order, whether the
    run was ``stopped`` before the end, and how often the pool was rebuilt."""

    results: list[TrialResult]
    errors: list[TrialError]
    stopped: bool
    rebuilds: int = 0


def run_trials(
    data: MCData,
    trials: Sequence[TrialParams],
    *,
    workers: int = 2,
    make_executor: Callable[[], cf.Executor] | None = None,
    on_result: Callable[[TrialResult | TrialError], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_tick: Callable[[], None] = lambda: None,
    fail: frozenset[int] | None = None,
) -> TrialRun:
    """Run ``trials`` on worker processes; results do not depend on ``workers``.

    Without ``make_executor`` the pool is the runtime's
    :func:`pytaaa.jobs.pool.make_process_pool` with ``min(workers, len(trials))``
    processes (explicit start method); each worker receives the data and all
    trials' parameters once, through its initializer (data prepared with
    :func:`share_data` is mapped from its files instead), and a task is a
    trial index.  ``make_executor`` may return any ``concurrent.futures.Executor``
    (e.g. Dask's ``Client.get_executor()``); its tasks then carry the data
    (shared files must then be reachable by its workers).
    The runtime's :class:`~pytaaa.jobs.pool.TaskRunner` drives the pool: a
    worker that dies is replaced and its trials re-run; ``should_stop()`` is
    polled and cancels the pending trials and terminates the workers.
    ``on_result`` receives each result or :class:`TrialError` in completion
    order.  ``fail`` (default: :func:`injected_failures`) lists trials to fail.
    """
    from pytaaa.jobs.pool import TaskOutcome, TaskRunner, make_process_pool

    trials = tuple(trials)
    if not trials:
        raise ValueError("no trials to run")
    if [p.index for p in trials] != list(range(len(trials))):
        raise ValueError("trials must be numbered 0..n-1 in order")
    payload = WorkerPayload.build(data, trials, injected_failures() if fail is None else fail)
    results: dict[int, TrialResult] = {}
    errors: dict[int, TrialError] = {}

    def outcome(o: TaskOutcome) -> None:
        index = int(o.item)  # type: ignore[call-overload]
        item: TrialResult | TrialError
        if o.ok:
            item = results[index] = o.value
        else:
            item = errors[index] = TrialError(index, o.error or "unknown error")
        if on_result is not None:
            on_result(item)

    if make_executor is None:
        n = max(1, min(int(workers), len(trials)))
        runner = TaskRunner(
            lambda: make_process_pool(n, _init_worker, (payload,), preload=PRELOAD),
            _run_index, max_outstanding=2 * n, on_outcome=outcome,
            should_stop=should_stop, on_tick=on_tick,
        )
    else:
        runner = TaskRunner(
            make_executor, functools.partial(_run_payload, payload),
            max_outstanding=2 * max(1, int(workers)), on_outcome=outcome,
            should_stop=should_stop, on_tick=on_tick,
        )
    finished = False
    try:
        finished = runner.run(range(len(trials)))
    finally:
        runner.close(cancel=not finished)
    return TrialRun(
        results=[results[i] for i in sorted(results)],
        errors=[errors[i] for i in sorted(errors)],
        stopped=not finished,
        rebuilds=runner.rebuilds,
    )
