"""Several models and the model-switching account (``spec/models.md``).

A *model* is one PyTAAA config (universe, signal method, its own
``performance_store`` and web folder).  A *switching config* adds a
``models`` section naming several models; its account follows, each month,
the model that did best recently, or cash.  Parameter searches over models
live here too.

The selection rule on precomputed series (what the searches reuse):
:func:`~pytaaa.models.switching.score_lookbacks` over a
:class:`~pytaaa.models.switching.ModelSeries` (see
:func:`~pytaaa.models.switching.align_series` and
:func:`~pytaaa.models.series.read_model_series`).
"""

from pytaaa.models.switching import (
    ModelSeries,
    Selection,
    align_series,
    score_lookbacks,
)

__all__ = ["ModelSeries", "Selection", "align_series", "score_lookbacks"]
