"""The Monte Carlo trial pool: trials on workers, data sent once per worker.

:func:`run_trials` runs the trials of :mod:`pytaaa.montecarlo.trials` on a
:class:`~pytaaa.jobs.executors.WorkerPool` of the background-job runtime (by
default its local process pool with an explicit start method; or a Dask
cluster, :mod:`pytaaa.jobs.dask_pool`) driven by its
:class:`~pytaaa.jobs.pool.TaskRunner` (a dead worker is replaced and its
trials re-run; a stop request cancels the pending trials and terminates the
workers).  Each worker receives the shared data and every trial's parameters
once; a task is just a trial index, and a trial's result does not depend on
which worker ran it or how many there are: BLAS is pinned to one thread in
every worker.  :func:`run_payload_tasks` is the same machinery for any task
function over the same payload (the parameter search uses it).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pytaaa._io import atomic_path
from pytaaa.montecarlo.trials import (
    MCData,
    TrialError,
    TrialParams,
    TrialResult,
    run_trial,
)

if TYPE_CHECKING:
    from pytaaa.jobs.executors import WorkerPool

__all__ = [
    "PRELOAD",
    "FAIL_TRIAL_ENV",
    "WorkerPayload",
    "TrialRun",
    "run_trials",
    "run_payload_tasks",
    "check_trials",
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

    def on_worker(self) -> WorkerPayload:
        """What a worker's task functions receive (:mod:`pytaaa.jobs.executors`)."""
        return self.attached()


def _run_payload(payload: WorkerPayload, index: int) -> TrialResult:
    """Task function: Monte Carlo trial ``index`` of a worker's payload."""
    if index in payload.fail:
        raise RuntimeError(f"failure injected by {FAIL_TRIAL_ENV}")
    return run_trial(payload.data, payload.trials[index])


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


def run_payload_tasks(
    payload: WorkerPayload,
    fn: Callable[[WorkerPayload, int], Any],
    *,
    workers: int = 2,
    pool: WorkerPool | None = None,
    on_result: Callable[[Any], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_tick: Callable[[], None] = lambda: None,
) -> TrialRun:
    """Run ``fn(payload, i)`` for every trial ``i`` of ``payload`` on ``pool``.

    ``pool`` (default: a :class:`~pytaaa.jobs.executors.LocalPool` of
    ``min(workers, trials)`` processes) receives the payload once; the
    runtime's :class:`~pytaaa.jobs.pool.TaskRunner` keeps twice as many
    trials in flight as the pool has workers, replaces a dead local worker
    and re-runs its trials, and stops when ``should_stop()`` turns true.
    ``on_result`` receives each result or :class:`TrialError` in completion
    order; the returned run lists them in trial order.  The caller closes a
    pool it passed in.
    """
    from pytaaa.jobs.executors import LocalPool
    from pytaaa.jobs.pool import TaskOutcome, TaskRunner

    n_trials = len(payload.trials)
    results: dict[int, Any] = {}
    errors: dict[int, TrialError] = {}

    def outcome(o: TaskOutcome) -> None:
        index = int(o.item)  # type: ignore[call-overload]
        item: Any
        if o.ok:
            item = results[index] = o.value
        else:
            item = errors[index] = TrialError(index, o.error or "unknown error")
        if on_result is not None:
            on_result(item)

    own = pool is None
    if pool is None:
        pool = LocalPool(max(1, min(int(workers), n_trials)))
    work = pool
    runner = TaskRunner(
        lambda: work.make_executor(payload, PRELOAD), fn,
        max_outstanding=2 * max(1, work.workers), on_outcome=outcome,
        should_stop=should_stop, on_tick=on_tick,
    )
    finished = False
    try:
        finished = runner.run(range(n_trials))
    finally:
        runner.close(cancel=not finished)
        if own:
            pool.close()
    return TrialRun(
        results=[results[i] for i in sorted(results)],
        errors=[errors[i] for i in sorted(errors)],
        stopped=not finished,
        rebuilds=runner.rebuilds,
    )


def check_trials(trials: Sequence[TrialParams]) -> tuple[TrialParams, ...]:
    """``trials`` as a tuple; raises ``ValueError`` when empty or not numbered 0..n-1."""
    trials = tuple(trials)
    if not trials:
        raise ValueError("no trials to run")
    if [p.index for p in trials] != list(range(len(trials))):
        raise ValueError("trials must be numbered 0..n-1 in order")
    return trials


def run_trials(
    data: MCData,
    trials: Sequence[TrialParams],
    *,
    workers: int = 2,
    pool: WorkerPool | None = None,
    on_result: Callable[[TrialResult | TrialError], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_tick: Callable[[], None] = lambda: None,
    fail: frozenset[int] | None = None,
) -> TrialRun:
    """Run the Monte Carlo ``trials`` (:func:`run_payload_tasks` with
    :func:`~pytaaa.montecarlo.trials.run_trial`); results do not depend on
    ``workers`` or on the pool.

    Each worker receives the data and all trials' parameters once; data
    prepared with :func:`share_data` is mapped from its files instead (only
    for pools whose workers see this machine's files).  ``fail`` (default:
    :func:`injected_failures`) lists trials to fail (a test hook).  Raises
    ``ValueError`` for no trials or trials not numbered 0..n-1.
    """
    trials = check_trials(trials)
    payload = WorkerPayload.build(data, trials, injected_failures() if fail is None else fail)
    return run_payload_tasks(payload, _run_payload, workers=workers, pool=pool,
                             on_result=on_result, should_stop=should_stop, on_tick=on_tick)
