"""The recommendation of a switching config for a date, with its ranking table.

:func:`recommend` runs the switching rule (:func:`~pytaaa.models.switching.score_lookbacks`)
over the whole history of the models, then scores every model once more on the
last day of the data: that choice is the recommendation for the next decision
day.  The result carries, per model, the five metrics and their ranks per
lookback, the weighted score, the normalized score
(``(raw - central) / std``, mean of the five metrics, then of the lookbacks),
and the history of switches.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytaaa.models.settings import METRICS, SwitchingSettings
from pytaaa.models.switching import (
    ModelSeries,
    Selection,
    rank_scores,
    score_lookbacks,
    window_metrics,
)

__all__ = ["METRIC_LABELS", "ModelRow", "Recommendation", "Switch", "recommend"]

METRIC_LABELS = {
    "annualized_return": "Ann. return",
    "sharpe_ratio": "Sharpe",
    "sortino_ratio": "Sortino",
    "max_drawdown": "Max DD",
    "avg_drawdown": "Mean DD",
}


@dataclass(frozen=True)
class ModelRow:
    """One model on the recommendation day.

    ``metrics[L]`` / ``ranks[L]``: the five metrics and their ranks for lookback
    L (empty when the model does not exist over the longest lookback: then
    ``present`` is False and ``score``/``normalized`` are None).
    """

    name: str
    present: bool
    metrics: dict[int, list[float]] = field(default_factory=dict)
    ranks: dict[int, list[int]] = field(default_factory=dict)
    score: float | None = None
    normalized: float | None = None
    position: int | None = None  # 1 = recommended


@dataclass(frozen=True)
class Switch:
    """A change of model: decided at the close of ``date``, in force from the next day."""

    date: dt.date
    from_model: str
    to_model: str


@dataclass(frozen=True)
class Recommendation:
    """The outcome of :func:`recommend` (see the module docstring)."""

    date: dt.date
    model: str
    in_force: str
    rows: tuple[ModelRow, ...]
    lookbacks: tuple[int, ...]
    weights: dict[str, float]
    switches: tuple[Switch, ...]
    selection: Selection
    warnings: tuple[str, ...] = ()

    @property
    def series(self) -> ModelSeries:
        return self.selection.series

    def table(self) -> str:
        """A plain-text table: one line per model, best first."""
        head = f"{'#':>2}  {'model':<16}{'score':>7}{'norm.':>8}"
        for lb in self.lookbacks:
            head += f"  | L={lb:<4}" + "".join(f"{METRIC_LABELS[m]:>12}" for m in METRICS)
        lines = [head]
        for r in self.rows:
            if not r.present:
                lines.append(f"{'-':>2}  {r.name:<16}{'absent (not enough history)':>15}")
                continue
            line = f"{r.position:>2}  {r.name:<16}{r.score:7.2f}{r.normalized:8.2f}"
            for lb in self.lookbacks:
                line += "  |       " + "".join(
                    f"{v:9.3f}({k})" for v, k in zip(r.metrics[lb], r.ranks[lb]))
            lines.append(line)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (run summary, ``--json`` output)."""
        return {
            "date": self.date.isoformat(),
            "recommended": self.model,
            "in_force": self.in_force,
            "lookbacks": list(self.lookbacks),
            "ranking": [{"model": r.name, "position": r.position, "score": r.score,
                         "normalized": r.normalized} for r in self.rows],
            "warnings": list(self.warnings),
        }


def _day(series: ModelSeries, i: int) -> dt.date:
    return series.dates[i].astype("datetime64[D]").item()


def recommend(settings: SwitchingSettings, series: ModelSeries,
              warnings: tuple[str, ...] | list[str] = ()) -> Recommendation:
    """Recommendation on the last day of ``series`` under ``settings``.

    Reads the lookbacks, weights, normalization and decision frequency of
    ``settings``.  Returns a :class:`Recommendation`; raises ``ValueError`` for
    an empty series.
    """
    if not len(series.dates):
        raise ValueError("the model series are empty")
    cash = next((m.name for m in settings.models if m.kind == "cash"), "cash")
    w = [settings.weights[m] for m in METRICS]
    sel = score_lookbacks(series, settings.lookbacks, w,
                          frequency=settings.trading_frequency, cash=cash)
    last = np.array([len(series.dates) - 1])
    metrics = np.stack([window_metrics(series.values, last, lb) for lb in settings.lookbacks])
    ranks, scores = rank_scores(metrics, w)
    score = scores[:, 0]
    present = np.isfinite(score)
    order = sorted(np.flatnonzero(present), key=lambda i: (score[i], series.names[i]))
    chosen = series.names[order[0]] if order else cash
    central = np.array([settings.central_values[m] for m in METRICS])
    std = np.array([settings.std_values[m] for m in METRICS])
    rows = []
    position = {int(i): k + 1 for k, i in enumerate(order)}
    for i, name in enumerate(series.names):
        if not present[i]:
            rows.append(ModelRow(name, False))
            continue
        mets = {lb: [float(x) for x in metrics[k, :, i, 0]]
                for k, lb in enumerate(settings.lookbacks)}
        rks = {lb: [int(x) for x in ranks[k, :, i, 0]] for k, lb in enumerate(settings.lookbacks)}
        norm = float(np.mean((metrics[:, :, i, 0] - central) / std))
        rows.append(ModelRow(name, True, mets, rks, float(score[i]), norm, position[i]))
    rows.sort(key=lambda r: (r.position is None, r.position or 0, r.name))
    switches = []
    prev = cash
    for d, c in zip(sel.days, sel.choice):
        name = series.names[int(c)]
        if name != prev:
            switches.append(Switch(_day(series, int(d)), prev, name))
            prev = name
    return Recommendation(
        date=_day(series, len(series.dates) - 1),
        model=chosen,
        in_force=series.names[int(sel.held[-1])],
        rows=tuple(rows),
        lookbacks=tuple(settings.lookbacks),
        weights=dict(settings.weights),
        switches=tuple(switches),
        selection=sel,
        warnings=tuple(warnings),
    )
