"""The runtime's WorkerPool interface: a payload reaches each worker once, tasks get
``fn(payload, item)``, and the task runner drives it like any executor."""

from __future__ import annotations

import os

import pytest

from pytaaa.jobs.executors import LocalPool, make_worker_pool
from pytaaa.jobs.pool import TaskOutcome, TaskRunner


class Payload:
    """A payload whose ``on_worker`` records the worker it was prepared in."""

    def __init__(self, factor: int) -> None:
        self.factor = factor
        self.prepared_in: int | None = None

    def on_worker(self) -> Payload:
        self.prepared_in = os.getpid()
        self.calls = 0
        return self


def times_factor(payload: Payload, item: int) -> tuple[int, int, int, int]:
    payload.calls += 1
    if item == 13:
        raise ValueError("unlucky item")
    return item * payload.factor, os.getpid(), payload.prepared_in, payload.calls


def test_local_pool_sends_the_payload_once_per_worker_and_runs_fn_payload_item() -> None:
    outcomes: list[TaskOutcome] = []
    pool = LocalPool(2)
    runner = TaskRunner(lambda: pool.make_executor(Payload(3)), times_factor, max_outstanding=4,
                        on_outcome=outcomes.append)
    try:
        assert runner.run(range(20))
    finally:
        runner.close()
    ok = {o.item: o.value for o in outcomes if o.ok}
    failed = {o.item: o.error for o in outcomes if not o.ok}
    assert failed == {13: "ValueError: unlucky item"}
    assert {k: v[0] for k, v in ok.items()} == {i: 3 * i for i in range(20) if i != 13}
    pids = {v[1] for v in ok.values()}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert all(v[1] == v[2] for v in ok.values())  # prepared in the worker that ran it
    calls = sorted(v[3] for v in ok.values())
    assert len(calls) == 19 and max(calls) >= 10  # the payload stays in the worker between items


def test_make_worker_pool_and_bad_arguments() -> None:
    pool = make_worker_pool(None, 3)
    assert isinstance(pool, LocalPool) and pool.workers == 3 and pool.local_files
    with pytest.raises(ValueError):
        LocalPool(0)
    with pytest.raises(ValueError, match="invalid Dask scheduler address"):
        make_worker_pool("no way", 2)
