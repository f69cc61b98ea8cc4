"""Background jobs: the fire-and-forget runtime and the charts job.

- :mod:`~pytaaa.jobs.runtime`: detached start, :class:`~pytaaa.jobs.runtime.JobSession`
  (lock, supersede, status, cancel), exit codes.
- :mod:`~pytaaa.jobs.handoff`: the hand-off file (npz + JSON manifest, no pickle).
- :mod:`~pytaaa.jobs.lock`, :mod:`~pytaaa.jobs.status`, :mod:`~pytaaa.jobs.joblog`,
  :mod:`~pytaaa.jobs.pool`: the parts, usable by any job kind.
- :mod:`~pytaaa.jobs.charts` (``python -m pytaaa.jobs.charts``), :mod:`~pytaaa.jobs.start`
  (:func:`start_charts`), :mod:`~pytaaa.jobs.chart_inputs` (:func:`build_chart_inputs`).

See ``docs/background-jobs.md``.  Importing this package is cheap: the chart
parts are imported on first use.
"""

from __future__ import annotations

from typing import Any

from pytaaa.jobs.status import JobStatus, list_statuses, read_status

__all__ = [
    "JobStatus",
    "read_status",
    "list_statuses",
    "start_charts",
    "build_chart_inputs",
    "ChartJobInputs",
    "ChartsStart",
]

_LAZY = {
    "start_charts": "pytaaa.jobs.start",
    "ChartsStart": "pytaaa.jobs.start",
    "build_chart_inputs": "pytaaa.jobs.chart_inputs",
    "ChartJobInputs": "pytaaa.jobs.chart_inputs",
}


def __getattr__(name: str) -> Any:
    """Import the chart entry points on first access."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pytaaa.jobs' has no attribute {name!r}")
