"""The Monte Carlo backtest and its background job.

- :mod:`~pytaaa.montecarlo.trials`: trial draws and one trial through the engine.
- :mod:`~pytaaa.montecarlo.pool`: trials in parallel worker processes.
- :mod:`~pytaaa.montecarlo.stats`, :mod:`~pytaaa.montecarlo.outputs`,
  :mod:`~pytaaa.montecarlo.plots`: statistics, data files, the two PNGs.
- :mod:`~pytaaa.montecarlo.job`, :mod:`~pytaaa.montecarlo.start`: the background job
  (:func:`~pytaaa.montecarlo.start.start_montecarlo`).
"""
