"""The computation path every consumer shares: cleaning → signals → ranking → backtest.

- :mod:`~pytaaa.engine.cleaning`: quotes → prices (P), despiked prices (D).
- :mod:`~pytaaa.engine.indicators`: moving averages and channels over ``(N, T)`` arrays.
- :mod:`~pytaaa.engine.signals`: the four signal methods and the monthly hold.
- :mod:`~pytaaa.engine.ranking`: rolling Sharpe, weights, ranks, today's picks.
- :mod:`~pytaaa.engine.backtest`: strategy vs buy-and-hold, statistics, breadth.
- :mod:`~pytaaa.engine.analysis`: all of the above in one :class:`~pytaaa.model.Analysis`.
- :mod:`~pytaaa.engine.outputs`: the ``.params`` data files in PyTAAA's formats.
"""
