"""The charts job's worker processes: data loaded once, one renderer each.

The job writes the (N, T) arrays as ``.npy`` files into its private work
folder; :func:`init_worker` (the pool initializer) memory-maps them, so the
data reaches a worker once and the rows a worker never draws are never read
(and a drawn row's pages are released again); it builds one
:class:`~pytaaa.charts.symbol.SymbolChartRenderer`, whose figures are reused
for every chart.  A task is ``(symbol index, kind)``.

Fault injection, for the fault tests and for trying the job's error handling
by hand: ``PYTAAA_JOB_FAULTS`` in the *job's* environment, a comma-separated
list of ``ACTION:SYMBOL`` or ``ACTION:SYMBOL/KIND`` with ACTION one of
``raise`` (drawing raises), ``diskfull`` (the PNG write fails with a real
kernel error: the worker's file-size limit is set to 0 for that chart) and
``kill`` (the worker process kills itself with SIGKILL).  Unset, it costs nothing.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import resource
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pytaaa.charts.inputs import ARRAY_NAMES, ChartJobSpec, drawn_line
from pytaaa.charts.symbol import SymbolChartRenderer, SymbolSeries, chart_filename
from pytaaa.jobs.handoff import read_npy_header
from pytaaa.jobs.pool import TaskError, pin_threads

__all__ = ["WorkerSetup", "init_worker", "render_item", "write_work_arrays", "FAULTS_ENV", "PRELOAD"]

FAULTS_ENV = "PYTAAA_JOB_FAULTS"
FAULT_ACTIONS = ("raise", "diskfull", "kill")
#: Modules imported once in the fork server, so workers start without imports.
PRELOAD = ("pytaaa.charts.worker",)


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs besides the arrays (pickled once per worker)."""

    work_dir: str
    spec: ChartJobSpec
    faults: str = ""


class _MappedRows:
    """The rows of an (N, T) ``.npy`` file through a read-only memory map.

    Pages of a row are dropped from this process (``madvise``) once its chart
    is drawn, so a worker's memory does not grow with the universe; the data
    stays in the page cache, shared by all workers.
    """

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as fh:
            shape, fortran, dtype = read_npy_header(fh)
            if fortran or len(shape) != 2:
                raise ValueError(f"{path.name}: expected a C-ordered (N, T) array")
            offset = fh.tell()
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        n, t = shape
        self.array = np.frombuffer(self._map, dtype=dtype, count=n * t, offset=offset)
        self.array = self.array.reshape(n, t)
        self._offset = offset
        self._row_bytes = t * dtype.itemsize

    def row(self, i: int) -> np.ndarray:
        """A private copy of row ``i``."""
        return np.array(self.array[i])

    def drop(self, i: int) -> None:
        """Let this process forget the pages of row ``i``."""
        if not hasattr(self._map, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
            return
        start = self._offset + i * self._row_bytes
        first = start - start % mmap.PAGESIZE
        last = min(start + self._row_bytes, len(self._map))
        if last > first:
            with contextlib.suppress(OSError, ValueError):
                self._map.madvise(mmap.MADV_DONTNEED, first, last - first)


class _Worker:
    """The state of one worker process (built by :func:`init_worker`)."""

    def __init__(self, setup: WorkerSetup) -> None:
        spec = setup.spec
        self.spec = spec
        wd = Path(setup.work_dir)
        dates = np.load(wd / "dates.npy", allow_pickle=False)
        self.rows = {
            name: _MappedRows(wd / f"{name}.npy")
            for name in ARRAY_NAMES
            if name != "dates" and (wd / f"{name}.npy").exists()
        }
        self.renderer = SymbolChartRenderer(dates, spec.params)
        self.faults = parse_faults(setup.faults)

    def series(self, i: int) -> SymbolSeries:
        r = self.rows

        def row(name: str) -> np.ndarray | None:
            return r[name].row(i) if name in r else None

        hidden = row("hidden")
        return SymbolSeries(
            symbol=self.spec.symbols[i],
            company=self.spec.companies[i] or None,
            close=drawn_line(r["close"].row(i), hidden),
            despiked=drawn_line(r["despiked"].row(i), hidden),
            held=r["held"].row(i),
            daily=r["daily"].row(i),
            low_channel=row("low_channel"),
            hi_channel=row("hi_channel"),
        )

    def drop(self, i: int) -> None:
        for rows in self.rows.values():
            rows.drop(i)


_state: dict[str, _Worker] = {}  # this worker process's state, set once by init_worker


def parse_faults(text: str) -> dict[tuple[str, str | None], str]:
    """``"kill:AAA,raise:BBB/recent"`` -> {(symbol, kind or None): action}; bad entries ignored."""
    out: dict[tuple[str, str | None], str] = {}
    for entry in filter(None, (e.strip() for e in (text or "").split(","))):
        action, _, target = entry.partition(":")
        if action not in FAULT_ACTIONS or not target:
            continue
        symbol, _, kind = target.partition("/")
        out[(symbol, kind or None)] = action
    return out


def init_worker(setup: WorkerSetup) -> None:
    """Pool initializer: pin BLAS threads, map the arrays, build the renderer."""
    pin_threads()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the job decides when its workers stop
    _state["worker"] = _Worker(setup)


@contextlib.contextmanager
def _file_size_limit_zero() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)


def render_item(item: tuple[int, str]) -> list[str]:
    """Draw chart ``kind`` of symbol ``index``; return the renderer's notes.

    Raises :class:`TaskError` with the reason when the chart cannot be drawn
    or written (the renderer leaves no partial file).
    """
    index, kind = item
    w = _state["worker"]
    symbol = w.spec.symbols[index]
    path = w.spec.output_dir / chart_filename(symbol, kind)
    action = w.faults.get((symbol, kind)) or w.faults.get((symbol, None))
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    try:
        if action == "raise":
            raise RuntimeError(f"injected fault ({FAULTS_ENV})")
        s = w.series(index)
        w.drop(index)
        draw = w.renderer.render_full if kind == "full" else w.renderer.render_recent
        if action == "diskfull":
            with _file_size_limit_zero():
                return draw(s, path, w.spec.now)
        return draw(s, path, w.spec.now)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise TaskError(f"cannot write {path.name}: {reason} (errno {exc.errno})") from None
    except Exception as exc:  # any drawing error fails this item only
        raise TaskError(f"{type(exc).__name__}: {exc}") from None


def write_work_arrays(work_dir: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the job's arrays as ``.npy`` files for the workers to memory-map.

    The work folder is private scratch space of the running job (mode 0700,
    removed when the job ends), not an output.  Raises ``OSError``.
    """
    for name, a in arrays.items():
        np.save(work_dir / f"{name}.npy", np.ascontiguousarray(a, dtype=ARRAY_NAMES[name]),
                allow_pickle=False)

