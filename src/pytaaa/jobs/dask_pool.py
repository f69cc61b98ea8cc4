"""A :class:`~pytaaa.jobs.executors.WorkerPool` on a Dask cluster (optional extra ``dask``).

``DaskPool("tcp://host:8786")`` connects a ``dask.distributed.Client`` to a
running scheduler; ``DaskPool("local", workers=N)`` starts a ``LocalCluster``
of N single-threaded worker processes on this machine and stops it on
:meth:`~DaskPool.close`.  The payload is scattered to every worker once
(``broadcast``); each task carries only its item.  A worker lost mid-run has
its tasks re-run elsewhere by the scheduler (a task whose workers died three
times fails with ``KilledWorker``).  Results do not depend on which worker
ran a task: the task functions are the same as on the local pool, BLAS is
pinned to one thread in every worker.

Workers must run the same pytaaa (and numpy) version as the job; they need
no access to the job's files.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from pytaaa.jobs.executors import WorkerPool, prepare_worker

__all__ = ["DaskPool", "DaskUnavailable", "check_address", "LOCAL"]

log = logging.getLogger(__name__)

#: The scheduler "address" that starts a LocalCluster for the job.
LOCAL = "local"
_ADDRESS_RE = re.compile(r"^(tcp|tls|ws|wss|inproc)://[^\s/]+(:\d+)?/?$|^[A-Za-z0-9_.\-]+:\d+$")


class DaskUnavailable(RuntimeError):
    """Dask is not installed, or the scheduler cannot be reached."""


def check_address(address: str) -> str:
    """Return ``address`` if it names a scheduler (``tcp://host:port``,
    ``host:port``) or is ``"local"``; raise ``ValueError`` naming it otherwise."""
    address = str(address).strip()
    if address == LOCAL or _ADDRESS_RE.match(address):
        return address
    raise ValueError(f"invalid Dask scheduler address {address!r}: expected tcp://HOST:PORT, "
                     "HOST:PORT or 'local'")


_PREPARED: dict[int, tuple[Any, Any]] = {}


def _run_on_worker(fn: Callable[[Any, Any], Any], payload: Any, item: Any) -> Any:
    """Task wrapper on a Dask worker: prepare the (scattered, shared) payload
    once per worker, then run ``fn``."""
    key = id(payload)
    entry = _PREPARED.get(key)
    if entry is None or entry[0] is not payload:
        _PREPARED.clear()  # one payload per worker at a time
        entry = _PREPARED[key] = (payload, prepare_worker(payload))
    return fn(entry[1], item)


class _DaskExecutor(cf.Executor):
    """``submit(fn, item)`` = ``fn(payload, item)`` on the cluster."""

    def __init__(self, client: Any, payload_future: Any) -> None:
        self._inner = client.get_executor(pure=False)
        self._payload = payload_future

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        if kwargs or len(args) != 1:
            raise TypeError("submit(fn, item): exactly one item")
        return self._inner.submit(_run_on_worker, fn, self._payload, args[0])

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            for fut in list(self._inner._futures):
                fut.cancel()
        self._inner.shutdown(wait=wait and not cancel_futures)


class DaskPool(WorkerPool):
    """The workers of a Dask cluster (see the module docstring).

    ``address``: ``tcp://host:port`` / ``host:port`` of a running scheduler,
    or ``"local"`` for a LocalCluster of ``workers`` processes.  Raises
    ``ValueError`` for a malformed address and :class:`DaskUnavailable` when
    dask is not installed or the scheduler does not answer within ``timeout``
    seconds.
    """

    local_files = False

    def __init__(self, address: str, *, workers: int = 2, timeout: float = 20.0) -> None:
        self.address = check_address(address)
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            raise DaskUnavailable(
                "the Dask executor needs the optional extra: pip install 'pytaaa[dask]' "
                f"({exc})") from None
        self._cluster: Any = None
        try:
            if self.address == LOCAL:
                self._cluster = LocalCluster(
                    n_workers=int(workers), threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.CRITICAL,
                )
                self.client = Client(self._cluster, timeout=timeout)
            else:
                self.client = Client(self.address, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise DaskUnavailable(f"cannot reach the Dask scheduler {self.address}: {exc}") from None
        n = len(self.client.scheduler_info(n_workers=-1).get("workers", {}))
        self.workers = max(1, n)
        where = "a LocalCluster" if self._cluster is not None else f"scheduler {self.address}"
        self.label = f"Dask: {n} worker(s) on {where}"
        self._scattered: tuple[Any, Any] | None = None

    def make_executor(self, payload: Any, preload: Sequence[str] = ()) -> cf.Executor:
        if self._scattered is None or self._scattered[0] is not payload:
            fut = self.client.scatter(payload, broadcast=True, hash=False)
            self._scattered = (payload, fut)
            log.info("payload scattered to the Dask workers")
        return _DaskExecutor(self.client, self._scattered[1])

    def close(self) -> None:
        self._scattered = None
        try:
            self.client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()
