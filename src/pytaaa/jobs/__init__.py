"""The background-job runtime shared by every job kind (charts, Monte Carlo).

- :mod:`~pytaaa.jobs.runtime`: detached start (:func:`~pytaaa.jobs.runtime.launch`),
  :class:`~pytaaa.jobs.runtime.JobSession` (lock, supersede, status, cancel), exit codes.
- :mod:`~pytaaa.jobs.lifecycle`: what every job kind does around its work: outcome
  (state, exit code, message) of each way a run ends, the final status and summary, the
  in-process (sync) session, the ``python -m`` entry scaffolding.
- :mod:`~pytaaa.jobs.handoff`: the hand-off file (npz + JSON manifest, no pickle).
- :mod:`~pytaaa.jobs.lock`, :mod:`~pytaaa.jobs.status`, :mod:`~pytaaa.jobs.joblog`,
  :mod:`~pytaaa.jobs.pool`, :mod:`~pytaaa.jobs.paths`: the parts, usable by any job kind.

The jobs themselves live with their features (:mod:`pytaaa.charts.job`,
:mod:`pytaaa.montecarlo.job`); ``python -m pytaaa.jobs.charts`` and
``python -m pytaaa.jobs.montecarlo`` are their entry points under the names of
the user's plans.  See ``docs/background-jobs.md``.
"""

from __future__ import annotations

from pytaaa.jobs.status import JobStatus, list_statuses, read_status

__all__ = ["JobStatus", "read_status", "list_statuses"]
