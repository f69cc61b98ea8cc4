"""Several models and the model-switching account (``spec/models.md``).

A *model* is one PyTAAA config (universe, signal method, its own
``performance_store`` and web folder).  A *switching config* adds a
``models`` section naming several models; its account follows, each month,
the model that did best recently, or cash.  Parameter searches over models
live here too.
"""
