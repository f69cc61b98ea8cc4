"""Charts: the two per-symbol charts, the main page's charts, and the charts job.

- :mod:`~pytaaa.charts.symbol`: ``0_<SYM>.png`` and ``0_recent_<SYM>.png``.
- :mod:`~pytaaa.charts.site`: the main page's value and breadth charts.
- :mod:`~pytaaa.charts.drawing`, :mod:`~pytaaa.charts._figure`: shared drawing helpers.
- :mod:`~pytaaa.charts.inputs`, :mod:`~pytaaa.charts.worker`, :mod:`~pytaaa.charts.job`,
  :mod:`~pytaaa.charts.start`: the background job (:func:`~pytaaa.charts.start.start_charts`).
"""
