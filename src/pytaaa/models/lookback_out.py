"""Outputs of the lookback search, and writing a chosen row into the switching config.

- ``<performance_store>/abacus_best_performers.csv``: one row per new best
  (row 0 = the configured lookbacks): the iteration that found it, the
  lookbacks, the five metric weights, the (blended) score, and for each
  period (``full``, and ``focus1``/``focus2`` when blending) the switching
  portfolio's five metrics and normalized score;
- ``<webpage>/abacus_lookback_search.png``: the best lookbacks' switching
  portfolio next to the configured lookbacks' and the models (focus periods
  shaded), and the score of each new best by iteration.

:func:`apply_row` writes a row's lookbacks into
``recommendation_mode.default_lookbacks`` after a backup.  Files are written
atomically (:mod:`pytaaa._io`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from pytaaa._io import atomic_write_bytes, atomic_write_text
from pytaaa.models.lookback import LookbackOutcome, LookbackScorer
from pytaaa.models.optimize_out import find_csv_row
from pytaaa.models.settings import METRICS

__all__ = ["CSV_NAME", "PNG_NAME", "csv_text", "plot_search", "apply_row", "LookbackApplyError"]

CSV_NAME = "abacus_best_performers.csv"
PNG_NAME = "abacus_lookback_search.png"


class LookbackApplyError(ValueError):
    """A row that cannot be applied (missing CSV or row, invalid result)."""


def _num(x: float) -> str:
    return f"{float(x):.6f}" if math.isfinite(float(x)) else ""


def csv_text(outcome: LookbackOutcome, scorer: LookbackScorer) -> str:
    """The best-performers CSV (see the module docstring)."""
    labels = [label for label, *_ in scorer.spans]
    header = ["row", "iteration", "lookbacks"] + [f"{m}_weight" for m in METRICS] + ["score"]
    for label in labels:
        header += [f"{label}_{m}" for m in METRICS] + [f"{label}_normalized"]
    rows = [",".join(header)]
    for k, r in enumerate(outcome.rows):
        ev = r.evaluation
        row = [str(k), str(r.iteration), " ".join(str(x) for x in ev.lookbacks)]
        row += [_num(w) for w in scorer.weights] + [_num(ev.score)]
        for label in labels:
            row += [_num(x) for x in ev.metrics[label]] + [_num(ev.normalized[label])]
        rows.append(",".join(row))
    return "\n".join(rows) + "\n"


def plot_search(outcome: LookbackOutcome, scorer: LookbackScorer, path: Path) -> Path:
    """The search's PNG (see the module docstring); written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from pytaaa.charts.drawing import save_figure_png

    series = scorer.series
    x = np.asarray(series.dates).astype("datetime64[D]").astype(np.float64)
    fig = Figure(figsize=(12, 8), dpi=100)
    canvas = FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, height_ratios=(3, 1))
    for i, name in enumerate(series.names):
        top.plot(x, series.values[i], lw=0.7, alpha=0.6, label=name)
    first, best = outcome.rows[0].evaluation, outcome.best.evaluation
    for ev, color, text in ((first, "black", "configured"), (best, "red", "best")):
        lbs = " / ".join(str(v) for v in ev.lookbacks)
        top.plot(x, scorer.selection(ev.lookbacks).values, color=color, lw=1.8,
                 label=f"switching, {text} lookbacks {lbs} (score {ev.score:.3f})")
    for label, a, b, _w in scorer.spans:
        if label != "full":
            top.axvspan(x[a], x[b], color="gold", alpha=0.15)
    top.set_yscale("log")
    top.legend(loc="upper left", fontsize=7)
    top.set_title(f"Lookback search: {outcome.done} iterations, {outcome.scored} distinct "
                  f"lookback sets, {len(outcome.rows)} new bests")
    its = [r.iteration for r in outcome.rows] + [max(outcome.done - 1, 0)]
    scores = [r.evaluation.score for r in outcome.rows]
    bottom.step(its, scores + scores[-1:], where="post", color="red")
    bottom.set_xlabel("iteration")
    bottom.set_ylabel("best score")
    top.xaxis_date()
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    save_figure_png(canvas, path)
    return path


def _row(csv_path: Path, row: int) -> dict[str, str]:
    try:
        rec = find_csv_row(csv_path, "row", row)
    except OSError as exc:
        raise LookbackApplyError(f"{csv_path}: cannot read the search results: "
                                 f"{exc.strerror or exc}") from None
    if rec is None:
        raise LookbackApplyError(f"{csv_path}: no row {row}")
    return rec


def apply_row(config: Any, row: int, now: dt.datetime | None = None) -> tuple[list[int], Path]:
    """Write the lookbacks of ``row`` of the config's ``abacus_best_performers.csv``
    into ``recommendation_mode.default_lookbacks``.

    The config is first copied to ``<config>.<YYYYmmdd-HHMMSS>.bak``; the
    result must still load as a switching config, else the original is put
    back.  Returns the lookbacks and the backup; raises
    :class:`LookbackApplyError` for a missing CSV or row or an invalid result.
    """
    from pytaaa.config import ConfigError, load_config
    from pytaaa.models.settings import read_switching

    rec = _row(Path(config.performance_store) / CSV_NAME, row)
    try:
        lookbacks = [int(x) for x in (rec.get("lookbacks") or "").split()]
    except ValueError:
        raise LookbackApplyError(f"row {row}: lookbacks {rec.get('lookbacks')!r} are not "
                                 "integers") from None
    cfg_path = Path(config.path)
    original = cfg_path.read_bytes()
    doc = json.loads(original)
    doc.setdefault("recommendation_mode", {})["default_lookbacks"] = lookbacks
    mode = cfg_path.stat().st_mode & 0o777
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    backup = cfg_path.with_name(f"{cfg_path.name}.{stamp}.bak")
    atomic_write_bytes(backup, original, mode=0o600)
    atomic_write_text(cfg_path, json.dumps(doc, indent=2) + "\n", mode=mode)
    try:
        read_switching(load_config(cfg_path))
    except ConfigError as exc:
        atomic_write_bytes(cfg_path, original, mode=mode)
        raise LookbackApplyError(f"row {row} makes the config invalid (left unchanged): "
                                 f"{exc}") from None
    return lookbacks, backup
