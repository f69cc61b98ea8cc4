"""The "Model switching" section of a switching account's main page (``spec/models.md`` §3).

:func:`switching_context` turns a :class:`~pytaaa.models.account.SwitchingOutcome`
into what ``templates/_switching.html.j2`` shows: the recommendation, the model
the user follows (and a warning when they differ), the per-model table (metrics
and ranks per lookback, score, normalized score), the switch history and the
chart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytaaa.models.account import SwitchingOutcome
from pytaaa.models.plot import PLOT_FILE
from pytaaa.models.recommend import METRIC_LABELS
from pytaaa.models.settings import METRICS
from pytaaa.site.context import image_ref

__all__ = ["SWITCHES_SHOWN", "switching_context"]

#: How many of the newest switches the page lists.
SWITCHES_SHOWN = 12
_PERCENT = {"annualized_return", "max_drawdown", "avg_drawdown"}


def _cell(metric: str, v: float) -> str:
    return f"{v * 100:.1f}%" if metric in _PERCENT else f"{v:.2f}"


def switching_context(outcome: SwitchingOutcome, webpage: Path) -> dict[str, Any]:
    """The template context of the section (reads the chart's mtime in ``webpage``)."""
    rec = outcome.recommendation
    rows = []
    for r in rec.rows:
        cells = {lb: [(_cell(m, v), k) for m, v, k in zip(METRICS, r.metrics[lb], r.ranks[lb])]
                 for lb in rec.lookbacks} if r.present else {}
        rows.append({"name": r.name, "present": r.present, "position": r.position,
                     "score": r.score, "normalized": r.normalized, "cells": cells})
    switches = [{"date": s.date.isoformat(), "from_model": s.from_model, "to_model": s.to_model}
                for s in reversed(rec.switches)]
    settings = outcome.settings
    return {
        "recommended": rec.model,
        "followed": outcome.followed,
        "mismatch": outcome.mismatch,
        "in_force": rec.in_force,
        "value": float(rec.selection.values[-1]),
        "date": rec.date.isoformat(),
        "lookbacks": list(rec.lookbacks),
        "frequency": settings.trading_frequency,
        "weights": [(METRIC_LABELS[m], f"{settings.weights[m]:g}") for m in METRICS],
        "metric_labels": [METRIC_LABELS[m] for m in METRICS],
        "rows": rows,
        "switches": switches[:SWITCHES_SHOWN],
        "more_switches": max(0, len(switches) - SWITCHES_SHOWN),
        "notes": list(outcome.notes) + list(outcome.problems),
        "chart": image_ref(webpage, PLOT_FILE, "Models rebased to 10,000, the switching "
                           "portfolio (thick) and the model in force"),
    }
